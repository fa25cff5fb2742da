/**
 * The load benchmark: Switchyard against the upstream alone, against the cheapest proxy Node
 * can do and against @effect/platform's server answering constants (what the platform itself
 * costs), in one run, on one machine; Anthropic Messages through the fast path and the
 * translated path side by side; plus the cost of each pipeline stage, a sweep against a slow
 * upstream and many slow streams held open. See README.md beside this file.
 *
 *   npx -y pnpm@10.34.9 bench [-- --quick] [--duration S] [--warmup S] [--connections N]
 *     [--runs N] [--unloaded-duration S] [--settle S] [--targets direct,forwarder,platform-floor,platform-forwarder,switchyard]
 *     [--modes json,stream] [--parts load,formats,stages,sweep,slow,path] [--streams N] [--out FILE]
 *
 * Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_RUNS,
 * BENCH_UNLOADED_DURATION, BENCH_SETTLE, BENCH_STREAMS (flags win).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, release, tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildAll, type Bundles } from "./build.js"
import { runCriticalPath } from "./criticalPath.js"
import { runFormats } from "./formats.js"
import { chat, fmt, measure, measureCell, type Mode, stopLoad, verify, withCpu } from "./load.js"
import {
  type Child,
  openFilesLimit,
  peakRssMiB,
  pinningDisabled,
  pinSelf,
  spawnNode,
  stop,
  stopAll
} from "./processes.js"
import {
  allParts,
  type Cell,
  openFilesNeeded,
  type Parameters,
  type Part,
  render,
  renderStages,
  type SlowCell,
  type Stages,
  type Summary,
  type SweepCell
} from "./report.js"
import { holdSlowStreams } from "./slow.js"
import { allTargets, nodeEnv, type ProxyOptions, startTarget, startUpstream, type TargetName } from "./targets.js"

/**
 * Node flags of the Switchyard process (and of the in-process stage benchmark): the ones the
 * root `start` script runs the bundle with. The report prints them.
 */
const SWITCHYARD_NODE_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=32"]

const here = import.meta.dirname
const repoRoot = resolve(here, "../..")

// ---------------------------------------------------------------------------------------------
// Parameters

const usage = `usage: run.ts [--quick] [--duration S] [--warmup S] [--connections N] [--runs N]
  [--unloaded-duration S] [--settle S] [--targets direct,forwarder,platform-floor,platform-forwarder,switchyard] [--modes json,stream]
  [--parts load,formats,stages,sweep,slow,path] [--streams N] [--out FILE]
Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_RUNS, BENCH_UNLOADED_DURATION, BENCH_SETTLE, BENCH_STREAMS
--settle: extra load before the first run of each cell, so a fresh process is past its JIT warmup
--streams: how many concurrent slow streams the slow part holds open (default 1000)
platform-floor (@effect/platform's server answering constants, no upstream) is measured in the load part only
formats (Anthropic Messages: direct, fast path, translated) takes --modes and the load settings, not --targets`

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const { values } = (() => {
  try {
    return parseArgs({
      // `pnpm bench -- --quick` may hand the script a literal `--`.
      args: process.argv.slice(2).filter((a) => a !== "--"),
      options: {
        quick: { type: "boolean" },
        duration: { type: "string" },
        warmup: { type: "string" },
        connections: { type: "string" },
        runs: { type: "string" },
        "unloaded-duration": { type: "string" },
        settle: { type: "string" },
        targets: { type: "string" },
        modes: { type: "string" },
        parts: { type: "string" },
        streams: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    })
  } catch (error) {
    return fail((error as Error).message)
  }
})()
if (values.help === true) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const quick = values.quick === true
const numberOf = (name: string, flag: string | undefined, env: string | undefined, preset: number, min: number, integer: boolean): number => {
  const raw = flag ?? (env !== undefined && env !== "" ? env : undefined)
  if (raw === undefined) return preset
  const n = Number(raw)
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    return fail(`${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got '${raw}'`)
  }
  return n
}

const allModes: ReadonlyArray<Mode> = ["json", "stream"]

const listOf = <A extends string>(name: string, raw: string | undefined, all: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (raw === undefined) return all
  const picked = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  for (const p of picked) if (!all.includes(p as A)) fail(`--${name}: unknown '${p}' (known: ${all.join(", ")})`)
  return all.filter((a) => picked.includes(a))
}

// A slow stream must outlive the ramp and the hold: it is aborted, never finished.
const slowRampSeconds = 5
const slowHoldSeconds = quick ? 5 : 10

const params: Parameters = {
  quick,
  parts: listOf("parts", values.parts, allParts),
  connections: numberOf("--connections", values.connections, process.env.BENCH_CONNECTIONS, 64, 1, true),
  duration: numberOf("--duration", values.duration, process.env.BENCH_DURATION, quick ? 3 : 10, 1, true),
  warmup: numberOf("--warmup", values.warmup, process.env.BENCH_WARMUP, quick ? 1 : 2, 0, true),
  runs: numberOf("--runs", values.runs, process.env.BENCH_RUNS, quick ? 1 : 3, 1, true),
  unloadedDuration: numberOf("--unloaded-duration", values["unloaded-duration"], process.env.BENCH_UNLOADED_DURATION, quick ? 1 : 3, 1, true),
  settle: numberOf("--settle", values.settle, process.env.BENCH_SETTLE, quick ? 1 : 5, 0, true),
  chunks: 20,
  switchyardNodeFlags: SWITCHYARD_NODE_FLAGS,
  sweep: { latencyMs: 60, connections: [50, 200, 500], warmup: 1, duration: quick ? 2 : 5 },
  slow: {
    streams: numberOf("--streams", values.streams, process.env.BENCH_STREAMS, 1000, 1, true),
    holdSeconds: slowHoldSeconds,
    chunkDelayMs: 1000,
    chunks: slowRampSeconds + slowHoldSeconds + 5,
    receivingWindowMs: 2000
  },
  pinning: pinningDisabled
}
const targets = listOf("targets", values.targets, allTargets)
/**
 * The platform floor answers by itself, without the upstream: a sweep against a slow upstream or
 * slow streams would not measure it, so it is in the load part only.
 */
const proxiedTargets = targets.filter((t) => t !== "platform-floor")
const modes = listOf("modes", values.modes, allModes)
// A quick smoke run does not overwrite the committed results.
const outFile = resolve(values.out ?? join(here, "results", quick ? "quick.md" : "latest.md"))

// ---------------------------------------------------------------------------------------------
// Signals and cleanup

let interrupted = false
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupted) process.exit(130) // a second ^C: the exit hook SIGKILLs the children
  interrupted = true
  process.stderr.write(`\n${signal}: stopping the load and every process started...\n`)
  stopLoad()
  void stopAll().finally(() => process.exit(130))
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
const checkInterrupted = (): void => {
  if (interrupted) throw new Error("interrupted")
}

const began = performance.now()
const log = (line: string): void => {
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}\n`)
}

const stopProxy = async (target: TargetName, started: { readonly child: Child }): Promise<void> => {
  // For direct, `child` is the upstream, stopped by whoever started it.
  if (target !== "direct") await stop(started.child)
}

// ---------------------------------------------------------------------------------------------
// Throughput and latency at `connections`, and unloaded

const runLoad = async (proxies: ProxyOptions): Promise<ReadonlyArray<Cell>> => {
  const upstream = await startUpstream(proxies.bundles, repoRoot, "upstream", ["--chunks", String(params.chunks)])
  log(`upstream: ${upstream.baseUrl} (pid ${upstream.child.pid})`)
  const cells: Array<Cell> = []
  for (const target of targets) {
    checkInterrupted()
    const started = await startTarget(target, proxies, upstream)
    log(`${target}: ${started.url} (pid ${started.child.pid})`)
    for (const mode of modes) await verify(target, started.url, chat, mode)
    const mine: Array<Cell> = []
    for (const mode of modes) {
      mine.push(await measureCell({ target, mode, url: started.url, traffic: chat, measured: started.child, settings: params, log }))
    }
    // Read at the end of this target's runs, while the process still lives.
    const rss = peakRssMiB(started.child.pid)
    for (const c of mine) cells.push({ ...c, peakRssMiB: rss })
    await stopProxy(target, started)
  }
  await stop(upstream.child)
  return cells
}

// ---------------------------------------------------------------------------------------------
// Pipeline stages, in process

const runStages = async (bundles: Bundles): Promise<Stages> => {
  log("stages: the gateway pipeline in process, one stage on at a time")
  const { child, match } = await spawnNode({
    name: "stages",
    cpu: 0,
    cwd: repoRoot,
    env: nodeEnv(),
    args: [...SWITCHYARD_NODE_FLAGS, bundles.stages, ...(quick ? ["--quick"] : [])],
    ready: /^stages: (\{.*\})\n/m,
    timeoutMs: 120_000
  })
  await stop(child)
  const stages = JSON.parse(match) as Stages
  log(`stages:\n${renderStages(stages)}`)
  return stages
}

// ---------------------------------------------------------------------------------------------
// A slow upstream: how close to clients / latency each target gets

const runSweep = async (proxies: ProxyOptions): Promise<ReadonlyArray<SweepCell>> => {
  const { latencyMs, connections, warmup, duration } = params.sweep
  const upstream = await startUpstream(proxies.bundles, repoRoot, "upstream (latency)", ["--latency-ms", String(latencyMs), "--chunks", String(params.chunks)])
  log(`sweep: upstream with ${latencyMs} ms latency: ${upstream.baseUrl} (pid ${upstream.child.pid})`)
  const cells: Array<SweepCell> = []
  for (const target of proxiedTargets) {
    checkInterrupted()
    const started = await startTarget(target, proxies, upstream)
    await verify(target, started.url, chat, "json")
    for (const n of connections) {
      checkInterrupted()
      await measure(started.url, chat, "json", n, warmup)
      checkInterrupted()
      const { result: m, cpu } = await withCpu(started.child, () => measure(started.url, chat, "json", n, duration))
      const ideal = n / (latencyMs / 1000)
      log(
        `  ${target} at ${n} clients: ${fmt(m.requestsPerSecond, 0)} req/s (${fmt((m.requestsPerSecond / ideal) * 100, 1)}% of ${ideal.toFixed(0)}), ` +
          `p50 ${fmt(m.p50, 1)} ms, p99 ${fmt(m.p99, 1)} ms${m.non2xx + m.errors > 0 ? `, ${m.non2xx} non-2xx and ${m.errors} errors (FLAGGED)` : ""}`
      )
      cells.push({ target, connections: n, requestsPerSecond: m.requestsPerSecond, p50: m.p50, p99: m.p99, cpuShare: cpu / m.seconds, non2xx: m.non2xx, errors: m.errors })
    }
    if (!started.child.alive()) throw new Error(`${started.child.name} died during the sweep. Its output:\n${started.child.output()}`)
    await stopProxy(target, started)
  }
  await stop(upstream.child)
  return cells
}

// ---------------------------------------------------------------------------------------------
// Many slow streams held open at once

const runSlow = async (proxies: ProxyOptions): Promise<ReadonlyArray<SlowCell>> => {
  const { streams, holdSeconds, chunkDelayMs, chunks, receivingWindowMs } = params.slow
  const needed = openFilesNeeded(streams)
  const ownLimit = openFilesLimit("self")
  if (ownLimit !== undefined && ownLimit < needed) {
    log(`WARNING: the open-file limit is ${ownLimit}; ${streams} slow streams need about ${needed} in the proxy. Raise \`ulimit -n\`.`)
  }
  const upstream = await startUpstream(proxies.bundles, repoRoot, "upstream (slow)", [
    "--chunks",
    String(chunks),
    "--chunk-delay-ms",
    String(chunkDelayMs)
  ])
  log(`slow streams: upstream with a chunk every ${chunkDelayMs} ms: ${upstream.baseUrl} (pid ${upstream.child.pid})`)
  const cells: Array<SlowCell> = []
  for (const target of proxiedTargets) {
    if (target === "direct") continue
    checkInterrupted()
    const started = await startTarget(target, proxies, upstream)
    const held = await holdSlowStreams({
      url: started.url,
      pid: started.child.pid,
      streams,
      holdSeconds,
      rampSeconds: slowRampSeconds,
      receivingWindowMs
    })
    const limit = openFilesLimit(started.child.pid)
    log(
      `  ${target}: ${held.opened}/${streams} answered, ${held.failed} failed, ramp ${fmt(held.rampSeconds, 1)} s; peak RSS ${fmt(held.peakRssMiB ?? Number.NaN, 0)} MiB ` +
        `with ${held.openAtPeak} open and ${held.receivingAtPeak} receiving; VmHWM ${fmt(held.hwmMiB ?? Number.NaN, 0)} MiB; open-file limit ${limit ?? "?"}`
    )
    if (!started.child.alive()) throw new Error(`${started.child.name} died holding slow streams. Its output:\n${started.child.output()}`)
    cells.push({ ...held, target, openFilesLimit: limit })
    await stopProxy(target, started)
  }
  await stop(upstream.child)
  return cells
}

// ---------------------------------------------------------------------------------------------

const git = (args: ReadonlyArray<string>): string | undefined => {
  try {
    return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

const machine = (): Summary["machine"] => {
  const require = createRequire(join(here, "run.ts"))
  const autocannonVersion = (() => {
    try {
      return (JSON.parse(readFileSync(require.resolve("autocannon/package.json"), "utf8")) as { version: string }).version
    } catch {
      return "?"
    }
  })()
  const commit = git(["rev-parse", "--short", "HEAD"])
  const dirty = git(["status", "--porcelain"])
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cpus: cpus().length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    autocannon: autocannonVersion,
    commit: commit === undefined ? "unknown" : `${commit}${dirty !== undefined && dirty !== "" ? " (with uncommitted changes)" : ""}`
  }
}

const estimatedMinutes = (): number => {
  const has = (part: Part) => params.parts.includes(part)
  const perCell = params.settle + params.runs * (params.warmup + params.duration + params.unloadedDuration)
  const cells = (n: number): number => perCell * n * modes.length + (modes.includes("stream") ? n * params.runs * params.unloadedDuration : 0)
  const load = cells(targets.length)
  const formats = cells(3)
  const sweep = proxiedTargets.length * params.sweep.connections.length * (params.sweep.warmup + params.sweep.duration)
  const slow = proxiedTargets.filter((t) => t !== "direct").length * (params.slow.holdSeconds + 5)
  const path = targets.filter((t) => t !== "direct").length * modes.length * (params.warmup + params.unloadedDuration + 1)
  const seconds = (has("load") ? load : 0) + (has("formats") ? formats : 0) + (has("stages") ? (quick ? 12 : 25) : 0) + (has("sweep") ? sweep : 0) + (has("slow") ? slow : 0) + (has("path") ? path : 0)
  return Math.ceil(seconds / 60)
}

const main = async (): Promise<void> => {
  if (pinningDisabled !== undefined) log(`NOTE: ${pinningDisabled}.`)
  pinSelf(1)
  const startedAt = new Date()
  log(
    `Switchyard bench: ${params.parts.join(", ")}; ` +
      `${params.parts.some((p) => p !== "formats" && p !== "stages") ? `${targets.join(", ")} x ` : ""}${modes.join(", ")}; ${params.connections} connections, ` +
      `${params.warmup} s warmup + ${params.duration} s, ${params.runs} run(s); about ${estimatedMinutes()} min.`
  )
  const workDir = mkdtempSync(join(tmpdir(), "switchyard-bench-"))
  try {
    log("building: packages/server/scripts/build.mjs, and bundling the forwarder, the platform floor and forwarder, the upstreams and the stage benchmark")
    const bundles = await buildAll(repoRoot, workDir)
    const proxies: ProxyOptions = { bundles, repoRoot, configDir: workDir, switchyardNodeFlags: SWITCHYARD_NODE_FLAGS }
    const cells = params.parts.includes("load") ? await runLoad(proxies) : []
    checkInterrupted()
    const formats = params.parts.includes("formats") ? await runFormats({ proxies, settings: params, modes, log }) : []
    checkInterrupted()
    const stages = params.parts.includes("stages") ? await runStages(bundles) : undefined
    checkInterrupted()
    const sweep = params.parts.includes("sweep") ? await runSweep(proxies) : []
    checkInterrupted()
    const slow = params.parts.includes("slow") ? await runSlow(proxies) : []
    checkInterrupted()
    const path = params.parts.includes("path")
      ? await runCriticalPath({
        proxies,
        targets,
        modes,
        chunks: params.chunks,
        warmupSeconds: params.warmup,
        seconds: params.unloadedDuration,
        workDir,
        log
      })
      : []
    const minutes = (Date.now() - startedAt.getTime()) / 60_000
    const markdown = render({ params, machine: machine(), startedAt, minutes, cells, modes, formats, stages, sweep, slow, path })
    process.stdout.write(`${markdown}\n`)
    mkdirSync(dirname(outFile), { recursive: true })
    writeFileSync(outFile, `${markdown}\n`)
    log(`written to ${relative(process.cwd(), outFile)}`)
  } finally {
    await stopAll()
    rmSync(workDir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    if (!interrupted) process.stderr.write(`\nbench failed: ${error instanceof Error ? error.message : String(error)}\n`)
    await stopAll()
    process.exit(interrupted ? 130 : 1)
  }
)
