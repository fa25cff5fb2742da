/**
 * The `path` part: one unloaded request (one connection, one request at a time) split at the
 * proxy's sockets, from inside the proxy (stamps.ts, preloaded): the request handed to the
 * handler -> the request written to the upstream -> the upstream's first bytes read -> the first
 * bytes written to the client. What the proxy does before the upstream call and after its
 * answer, apart from the upstream's own time, for the forwarder, the platform floor (no
 * upstream: request -> first byte only) and Switchyard.
 */
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { chat, measure, median, type Mode, verify } from "./load.js"
import type { Stamp } from "./stamps.js"
import { type ProxyOptions, startTarget, startUpstream, type TargetName } from "./targets.js"
import { stop } from "./processes.js"

/** Medians over the measured requests, in µs. */
export interface PathCell {
  readonly target: TargetName
  readonly mode: Mode
  readonly requests: number
  readonly toUpstream: number | undefined
  readonly upstream: number | undefined
  readonly fromUpstream: number | undefined
  readonly toFirstByte: number
}

interface Split {
  upstreamWrite?: number
  upstreamRead?: number
  clientWrite?: number
}

/** Each request's first upstream write, the first upstream read after it, then the first client write. */
const split = (stamps: ReadonlyArray<readonly [number, Stamp]>, proxied: boolean) => {
  const requests: Array<{ readonly at: number; readonly split: Split }> = []
  let current: Split | undefined
  for (const [at, stamp] of stamps) {
    if (stamp === "request") {
      current = {}
      requests.push({ at, split: current })
    } else if (current === undefined) continue
    else if (stamp === "upstream-write") current.upstreamWrite ??= at
    else if (stamp === "upstream-read" && current.upstreamWrite !== undefined) current.upstreamRead ??= at
    else if (stamp === "client-write" && (!proxied || current.upstreamRead !== undefined)) current.clientWrite ??= at
  }
  return requests.filter(({ split }) => split.clientWrite !== undefined && (!proxied || split.upstreamRead !== undefined))
}

const stampsOf = async (pid: number, file: string): Promise<ReadonlyArray<readonly [number, Stamp]>> => {
  rmSync(file, { force: true })
  process.kill(pid, "SIGUSR2")
  for (let waited = 0; waited < 5_000; waited += 50) {
    await sleep(50)
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as ReadonlyArray<readonly [number, Stamp]>
  }
  throw new Error(`no stamps from pid ${pid} in ${file}`)
}

export const runCriticalPath = async (options: {
  readonly proxies: ProxyOptions
  readonly targets: ReadonlyArray<TargetName>
  readonly modes: ReadonlyArray<Mode>
  readonly chunks: number
  readonly warmupSeconds: number
  readonly seconds: number
  readonly workDir: string
  readonly log: (line: string) => void
}): Promise<ReadonlyArray<PathCell>> => {
  const { proxies, workDir, log } = options
  const file = join(workDir, "stamps.json")
  const instrumented: ProxyOptions = {
    ...proxies,
    instrument: { nodeFlags: ["--import", proxies.bundles.stamps], env: { BENCH_STAMPS_FILE: file } }
  }
  const upstream = await startUpstream(proxies.bundles, proxies.repoRoot, "upstream", ["--chunks", String(options.chunks)])
  const cells: Array<PathCell> = []
  for (const target of options.targets.filter((t) => t !== "direct")) {
    const started = await startTarget(target, instrumented, upstream)
    const proxied = target !== "platform-floor"
    for (const mode of options.modes) {
      await verify(target, started.url, chat, mode)
      await measure(started.url, chat, mode, 8, options.warmupSeconds)
      await stampsOf(started.child.pid, file)
      await measure(started.url, chat, mode, 1, options.seconds)
      const requests = split(await stampsOf(started.child.pid, file), proxied)
      const of = (f: (s: Split, at: number) => number) => median(requests.map(({ at, split }) => f(split, at)))
      const cell: PathCell = {
        target,
        mode,
        requests: requests.length,
        toUpstream: proxied ? of((s, at) => s.upstreamWrite! - at) : undefined,
        upstream: proxied ? of((s) => s.upstreamRead! - s.upstreamWrite!) : undefined,
        fromUpstream: proxied ? of((s) => s.clientWrite! - s.upstreamRead!) : undefined,
        toFirstByte: of((s, at) => s.clientWrite! - at)
      }
      log(
        `  path ${target} ${mode}: ${requests.length} requests; request -> first byte ${cell.toFirstByte.toFixed(0)} µs` +
          (proxied ? ` (to upstream ${cell.toUpstream!.toFixed(0)}, upstream ${cell.upstream!.toFixed(0)}, back ${cell.fromUpstream!.toFixed(0)})` : "")
      )
      cells.push(cell)
    }
    await stop(started.child)
  }
  await stop(upstream.child)
  return cells
}
