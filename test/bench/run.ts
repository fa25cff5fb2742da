/**
 * The load benchmark: Switchyard against the upstream alone and against the cheapest proxy
 * Node can do, in one run, on one machine. See README.md beside this file.
 *
 *   npx -y pnpm@10.34.9 bench [-- --quick] [--duration S] [--warmup S] [--connections N]
 *     [--runs N] [--unloaded-duration S] [--settle S] [--targets direct,forwarder,switchyard]
 *     [--modes json,stream] [--out FILE]
 *
 * Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_RUNS,
 * BENCH_UNLOADED_DURATION, BENCH_SETTLE (flags win).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, release, tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { type Measurement, measure, type Mode, stopLoad, verify } from "./load.js"
import {
  type Child,
  cpuSeconds,
  peakRssMiB,
  pinningDisabled,
  pinSelf,
  spawnNode,
  stop,
  stopAll
} from "./processes.js"
import { type Cell, type Parameters, render, type Summary } from "./report.js"

const here = import.meta.dirname
const repoRoot = resolve(here, "../..")

// ---------------------------------------------------------------------------------------------
// Parameters

const usage = `usage: run.ts [--quick] [--duration S] [--warmup S] [--connections N] [--runs N]
  [--unloaded-duration S] [--settle S] [--targets direct,forwarder,switchyard] [--modes json,stream] [--out FILE]
Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_RUNS, BENCH_UNLOADED_DURATION, BENCH_SETTLE
--settle: extra load before the first run of each cell, so a fresh process is past its JIT warmup`

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

const allTargets = ["direct", "forwarder", "switchyard"] as const
type TargetName = typeof allTargets[number]
const allModes: ReadonlyArray<Mode> = ["json", "stream"]

const listOf = <A extends string>(name: string, raw: string | undefined, all: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (raw === undefined) return all
  const picked = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  for (const p of picked) if (!all.includes(p as A)) fail(`--${name}: unknown '${p}' (known: ${all.join(", ")})`)
  return all.filter((a) => picked.includes(a))
}

const params: Parameters = {
  quick,
  connections: numberOf("--connections", values.connections, process.env.BENCH_CONNECTIONS, 64, 1, true),
  duration: numberOf("--duration", values.duration, process.env.BENCH_DURATION, quick ? 3 : 10, 1, true),
  warmup: numberOf("--warmup", values.warmup, process.env.BENCH_WARMUP, quick ? 1 : 2, 0, true),
  runs: numberOf("--runs", values.runs, process.env.BENCH_RUNS, quick ? 1 : 3, 1, true),
  unloadedDuration: numberOf("--unloaded-duration", values["unloaded-duration"], process.env.BENCH_UNLOADED_DURATION, quick ? 1 : 3, 1, true),
  settle: numberOf("--settle", values.settle, process.env.BENCH_SETTLE, quick ? 1 : 5, 0, true),
  chunks: 20,
  pinning: pinningDisabled
}
const targets = listOf("targets", values.targets, allTargets)
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

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

// ---------------------------------------------------------------------------------------------
// The processes

const nodeEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  // Nothing from the caller's environment may add providers or change the config.
  for (const k of ["OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GATEWAY_CONFIG", "PORT", "NODE_OPTIONS"]) delete env[k]
  return env
}

const startUpstream = async () => {
  const { child, match } = await spawnNode({
    name: "upstream",
    cpu: 1,
    cwd: repoRoot,
    env: nodeEnv(),
    args: ["--import", "tsx", "packages/providers-mock/src/bin.ts", "--host", "127.0.0.1", "--port", "0", "--chunks", String(params.chunks)],
    ready: /^(http:\/\/\S+)\s*$/m,
    timeoutMs: 30_000
  })
  return { child, baseUrl: match } // e.g. http://127.0.0.1:41234/v1
}

const startForwarder = async (upstreamBaseUrl: string): Promise<{ child: Child; url: string }> => {
  const { child, match } = await spawnNode({
    name: "forwarder",
    cpu: 0,
    cwd: repoRoot,
    env: nodeEnv(),
    args: ["--import", "tsx", relative(repoRoot, join(here, "forwarder.ts")), "--upstream", upstreamBaseUrl],
    ready: /Listening on (http:\/\/\S+)/,
    timeoutMs: 30_000
  })
  return { child, url: match }
}

const startSwitchyard = async (upstreamBaseUrl: string, configDir: string): Promise<{ child: Child; url: string }> => {
  const config = join(configDir, "switchyard.yaml")
  writeFileSync(
    config,
    [
      "providers:",
      "  - name: upstream",
      "    type: openai",
      `    base_url: ${upstreamBaseUrl}`,
      "    api_key: bench",
      "server:",
      "  host: 127.0.0.1",
      ""
    ].join("\n")
  )
  const { child, match } = await spawnNode({
    name: "switchyard",
    cpu: 0,
    cwd: repoRoot,
    env: { ...nodeEnv(), PORT: "0" },
    args: ["--import", "tsx", "packages/server/src/bin.ts", "serve", "--config", config],
    ready: /Listening on http:\/\/[^\s"]+:(\d+)/,
    timeoutMs: 60_000
  })
  return { child, url: `http://127.0.0.1:${match}` }
}

// ---------------------------------------------------------------------------------------------
// Measuring

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a")

const measureCell = async (target: TargetName, mode: Mode, url: string, measured: Child): Promise<Cell> => {
  const loaded: Array<Measurement> = []
  const unloaded: Array<Measurement> = []
  const cpuPerRequest: Array<number> = []
  const cpuShare: Array<number> = []
  for (let run = 1; run <= params.runs; run++) {
    checkInterrupted()
    const warmup = params.warmup + (run === 1 ? params.settle : 0)
    if (warmup > 0) await measure(url, mode, params.connections, warmup)
    checkInterrupted()
    const cpuBefore = cpuSeconds(measured.pid)
    const m = await measure(url, mode, params.connections, params.duration)
    const cpuAfter = cpuSeconds(measured.pid)
    checkInterrupted()
    const u = await measure(url, mode, 1, params.unloadedDuration)
    if (!measured.alive()) throw new Error(`${measured.name} died during ${target} ${mode}. Its output:\n${measured.output()}`)
    loaded.push(m)
    unloaded.push(u)
    const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : Number.NaN
    cpuPerRequest.push(m.ok > 0 ? (cpu / m.ok) * 1e6 : Number.NaN)
    cpuShare.push(cpu / m.seconds)
    const bad = m.non2xx + m.errors + u.non2xx + u.errors
    log(
      `  ${target} ${mode} run ${run}/${params.runs}: ${fmt(m.requestsPerSecond, 0)} req/s, p50 ${fmt(m.p50)} ms, ` +
        `p99 ${fmt(m.p99)} ms, unloaded p50 ${fmt(u.p50, 3)} ms, ${measured.name} CPU ${fmt(cpuShare.at(-1)! * 100, 0)}%, ` +
        `${fmt(cpuPerRequest.at(-1)!, 0)} µs/req${bad > 0 ? `, ${m.non2xx + u.non2xx} non-2xx and ${m.errors + u.errors} errors (FLAGGED)` : ""}`
    )
  }
  return {
    target,
    mode,
    requestsPerSecond: median(loaded.map((m) => m.requestsPerSecond)),
    p50: median(loaded.map((m) => m.p50)),
    p99: median(loaded.map((m) => m.p99)),
    unloadedP50: median(unloaded.map((m) => m.p50)),
    cpuMicrosPerRequest: median(cpuPerRequest),
    cpuShare: median(cpuShare),
    peakRssMiB: undefined,
    non2xx: [...loaded, ...unloaded].reduce((n, m) => n + m.non2xx, 0),
    errors: [...loaded, ...unloaded].reduce((n, m) => n + m.errors, 0),
    runsRequestsPerSecond: loaded.map((m) => m.requestsPerSecond)
  }
}

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

// ---------------------------------------------------------------------------------------------

const main = async (): Promise<void> => {
  if (pinningDisabled !== undefined) log(`NOTE: ${pinningDisabled}.`)
  pinSelf(1)
  const startedAt = new Date()
  const perCell = params.settle + params.runs * (params.warmup + params.duration + params.unloadedDuration)
  log(
    `Switchyard bench: ${targets.join(", ")} x ${modes.join(", ")}; ${params.connections} connections, ` +
      `${params.warmup} s warmup + ${params.duration} s, ${params.runs} run(s); about ` +
      `${Math.ceil((perCell * targets.length * modes.length) / 60)} min of load.`
  )
  const configDir = mkdtempSync(join(tmpdir(), "switchyard-bench-"))
  try {
    const upstream = await startUpstream()
    log(`upstream: ${upstream.baseUrl} (pid ${upstream.child.pid})`)
    const cells: Array<Cell> = []
    for (const target of targets) {
      checkInterrupted()
      const proxy = target === "direct"
        ? undefined
        : target === "forwarder"
        ? await startForwarder(upstream.baseUrl)
        : await startSwitchyard(upstream.baseUrl, configDir)
      const measured = proxy?.child ?? upstream.child
      const base = proxy?.url ?? new URL(upstream.baseUrl).origin
      const url = `${base}/v1/chat/completions`
      log(`${target}: ${url} (pid ${measured.pid})`)
      for (const mode of modes) await verify(target, url, mode)
      const mine: Array<Cell> = []
      for (const mode of modes) mine.push(await measureCell(target, mode, url, measured))
      // Read at the end of this target's runs, while the process still lives.
      const rss = peakRssMiB(measured.pid)
      for (const c of mine) cells.push({ ...c, peakRssMiB: rss })
      if (proxy !== undefined) await stop(proxy.child)
    }
    await stop(upstream.child)
    const markdown = render({ params, machine: machine(), startedAt, cells, modes })
    process.stdout.write(`${markdown}\n`)
    mkdirSync(dirname(outFile), { recursive: true })
    writeFileSync(outFile, `${markdown}\n`)
    log(`written to ${relative(process.cwd(), outFile)}`)
  } finally {
    await stopAll()
    rmSync(configDir, { recursive: true, force: true })
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
