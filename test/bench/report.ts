/**
 * The benchmark's report: one markdown table (target x mode), the machine and the parameters.
 */
import type { Mode } from "./load.js"

export interface Parameters {
  readonly quick: boolean
  readonly connections: number
  readonly duration: number
  readonly warmup: number
  readonly runs: number
  readonly unloadedDuration: number
  readonly settle: number
  readonly chunks: number
  /** Why nothing is pinned, when it is not. */
  readonly pinning: string | undefined
}

export interface Cell {
  readonly target: string
  readonly mode: Mode
  /** Medians over the runs. Latencies in ms. */
  readonly requestsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly unloadedP50: number
  /** CPU time of the measured process (the proxy; the upstream for direct) per request. */
  readonly cpuMicrosPerRequest: number
  /** That CPU time over the wall time: 1.0 is one core saturated. */
  readonly cpuShare: number
  readonly peakRssMiB: number | undefined
  /** Summed over every run, loaded and unloaded. */
  readonly non2xx: number
  readonly errors: number
  readonly runsRequestsPerSecond: ReadonlyArray<number>
}

export interface Summary {
  readonly params: Parameters
  readonly machine: {
    readonly cpu: string
    readonly cpus: number
    readonly node: string
    readonly os: string
    readonly autocannon: string
    readonly commit: string
  }
  readonly startedAt: Date
  readonly cells: ReadonlyArray<Cell>
  readonly modes: ReadonlyArray<Mode>
}

const num = (x: number | undefined, digits: number): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : "n/a")
const signed = (x: number | undefined, digits: number): string =>
  x !== undefined && Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(digits)}` : "n/a"

export const render = ({ cells, machine, modes, params, startedAt }: Summary): string => {
  const find = (target: string, mode: Mode) => cells.find((c) => c.target === target && c.mode === mode)
  const rows = cells.map((c) => {
    const direct = find("direct", c.mode)
    const forwarder = find("forwarder", c.mode)
    const isDirect = c.target === "direct"
    const flagged = c.non2xx + c.errors > 0
    return [
      c.target,
      c.mode,
      num(c.requestsPerSecond, 0),
      num(c.p50, 2),
      num(c.p99, 2),
      isDirect ? "" : signed(direct === undefined ? undefined : c.p50 - direct.p50, 2),
      isDirect ? "" : signed(direct === undefined ? undefined : c.p99 - direct.p99, 2),
      num(c.unloadedP50, 3),
      isDirect ? "" : signed(direct === undefined ? undefined : c.unloadedP50 - direct.unloadedP50, 3),
      num(c.cpuMicrosPerRequest, 0),
      `${num(c.cpuShare * 100, 0)}%`,
      num(c.peakRssMiB, 0),
      isDirect ? "" : forwarder === undefined ? "n/a" : `${num(c.requestsPerSecond / forwarder.requestsPerSecond, 2)}x`,
      flagged ? `**${c.non2xx} / ${c.errors} FLAGGED**` : "0 / 0"
    ]
  })
  const header = [
    "target",
    "mode",
    "req/s",
    "p50 ms",
    "p99 ms",
    "+p50 vs direct",
    "+p99 vs direct",
    "unloaded p50 ms",
    "+unloaded p50",
    "CPU µs/req",
    "CPU use",
    "peak RSS MiB",
    "req/s vs forwarder",
    "non-2xx / errors"
  ]
  const table = [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i < 2 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")
  const perRun = cells
    .map((c) => `- ${c.target} ${c.mode}: ${c.runsRequestsPerSecond.map((r) => r.toFixed(0)).join(", ")}`)
    .join("\n")
  const flagged = cells.filter((c) => c.non2xx + c.errors > 0)
  // When the forwarder keeps up with direct, CPU 1 (load generator + upstream) is what limits
  // both, and the forwarder's loaded latency deltas are within noise.
  const capped = modes.filter((m) => {
    const d = find("direct", m)
    const f = find("forwarder", m)
    return d !== undefined && f !== undefined && f.requestsPerSecond >= 0.9 * d.requestsPerSecond
  })
  return [
    `# Switchyard load benchmark${params.quick ? " (quick smoke run: not for comparison)" : ""}`,
    "",
    `Run ${startedAt.toISOString()} on commit ${machine.commit}.`,
    "",
    `- Machine: ${machine.cpu}, ${machine.cpus} CPUs; ${machine.os}; Node ${machine.node}; autocannon ${machine.autocannon}.`,
    params.pinning === undefined
      ? "- Placement: the proxy (forwarder or Switchyard) pinned to CPU 0; the upstream and the load generator (autocannon, inside the bench process) pinned to CPU 1."
      : `- Placement: NOT PINNED (${params.pinning}); numbers are less comparable.`,
    `- Load: ${params.connections} connections, ${params.warmup} s warmup then ${params.duration} s measured, ${params.runs} run(s) per cell, median shown ` +
    `(the first run of each cell after ${params.settle} s more warmup, for the JIT); ` +
    `unloaded: 1 connection for ${params.unloadedDuration} s after each loaded run.`,
    `- Requests: \`POST /v1/chat/completions\` for \`gpt-4o-mini\`; json = non-streaming, stream = \`stream: true\`, the whole SSE body read. ` +
    `Upstream: the mock (\`providers-mock\`), no latency, 16 tokens, streams of ${params.chunks} content chunks written at once.`,
    `- Targets: direct = the load generator on the upstream itself; forwarder = bare node:http + undici Pool (\`test/bench/forwarder.ts\`), ` +
    "the cheapest proxy on Node; switchyard = `switchyard serve` with one openai provider pointing at the upstream.",
    "",
    table,
    "",
    "Latencies in ms, measured by the load generator to the last byte of the answer. `+` columns: minus direct's in the same mode. " +
    "CPU µs/req and CPU use: the proxy process (for direct, the upstream) during the measured run; 100% is one core. " +
    "Peak RSS: VmHWM of that process at the end of its runs. req/s vs forwarder: 1.00x is as cheap as a proxy on Node gets.",
    "",
    `req/s of each run (for spread):`,
    "",
    perRun,
    ...(capped.length === 0 ? [] : [
      "",
      `Note (${capped.join(", ")}): the forwarder serves about as many req/s as direct, so CPU 1 (the load generator and the upstream) ` +
      "is the limit there, not the proxy: the forwarder's loaded +p50/+p99 are within noise (even negative), its unloaded +p50 is its real added latency, " +
      "and req/s vs forwarder slightly flatters any proxy that is slower than the forwarder (compare CPU µs/req instead)."
    ]),
    ...(flagged.length === 0
      ? []
      : ["", `**Flagged**: ${flagged.map((c) => `${c.target} ${c.mode} (${c.non2xx} non-2xx, ${c.errors} errors)`).join("; ")}.`]),
    ...(modes.length < 2 || cells.length < 6 ? ["", "(A partial run: not every target or mode was measured.)"] : [])
  ].join("\n")
}
