/**
 * The benchmark's report: the issue-3 targets checked, then one markdown table per part (load
 * target x mode, fast path vs translated path, pipeline stages, 60 ms latency sweep, slow
 * streams), the machine and the parameters.
 */
import type { PathCell } from "./criticalPath.js"
import type { Mode } from "./load.js"
import type { SlowStreams } from "./slow.js"

export const allParts = ["load", "formats", "stages", "sweep", "slow", "path"] as const
export type Part = typeof allParts[number]

export interface Parameters {
  readonly quick: boolean
  readonly parts: ReadonlyArray<Part>
  readonly connections: number
  readonly duration: number
  readonly warmup: number
  readonly runs: number
  readonly unloadedDuration: number
  readonly settle: number
  readonly chunks: number
  /** Node flags of the Switchyard process (and of the stage benchmark). */
  readonly switchyardNodeFlags: ReadonlyArray<string>
  readonly sweep: {
    readonly latencyMs: number
    readonly connections: ReadonlyArray<number>
    readonly warmup: number
    readonly duration: number
  }
  readonly slow: {
    readonly streams: number
    readonly holdSeconds: number
    readonly chunkDelayMs: number
    readonly chunks: number
    readonly receivingWindowMs: number
  }
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
  /** Streams only: request sent to first body byte, one connection. */
  readonly firstByteP50: number | undefined
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

export interface StageRow {
  readonly stage: string
  /** CPU µs per request. */
  readonly json: number
  readonly stream: number
}

export interface Stages {
  /** The first row is the baseline. */
  readonly rows: ReadonlyArray<StageRow>
  readonly rounds: number
  readonly inFlight: number
  /** Handled by the counting hook, and dropped because its queue was full. */
  readonly hookEvents: number
  readonly hookEventsDropped: number
}

export interface SweepCell {
  readonly target: string
  readonly connections: number
  readonly requestsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly cpuShare: number
  readonly non2xx: number
  readonly errors: number
}

export interface SlowCell extends SlowStreams {
  readonly target: string
  /** The proxy's own open-file limit. */
  readonly openFilesLimit: number | undefined
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
  readonly minutes: number
  readonly cells: ReadonlyArray<Cell>
  readonly modes: ReadonlyArray<Mode>
  /** The formats part: targets `direct`, `fast path` and `translated` (formats.ts). */
  readonly formats: ReadonlyArray<Cell>
  readonly stages: Stages | undefined
  readonly sweep: ReadonlyArray<SweepCell>
  readonly slow: ReadonlyArray<SlowCell>
  readonly path: ReadonlyArray<PathCell>
}

const num = (x: number | undefined, digits: number): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : "n/a")
const signed = (x: number | undefined, digits: number): string =>
  x !== undefined && Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(digits)}` : "n/a"
const minus = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a - b

const table = (header: ReadonlyArray<string>, textColumns: number, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i < textColumns ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

/** Minimum slow-stream resources: two sockets per stream in the proxy, plus headroom. */
export const openFilesNeeded = (streams: number): number => 2 * streams + 100

/** Also printed by `stages.ts` on its own. */
export const renderStages = ({ rows }: Stages): string => {
  const base = rows[0]
  return table(
    ["stage", "µs/req json", "µs/req stream", "delta vs baseline (json / stream)"],
    1,
    rows.map((r) => [
      r.stage,
      num(r.json, 1),
      num(r.stream, 1),
      r === base ? "" : `${signed(minus(r.json, base?.json), 1)} / ${signed(minus(r.stream, base?.stream), 1)}`
    ])
  )
}

interface Check {
  readonly target: string
  readonly measured: string
  /** `undefined`: not measured in this run. */
  readonly met: boolean | undefined
  readonly why?: string
}

const checks = ({ cells, params, slow }: Summary): ReadonlyArray<Check> => {
  const find = (target: string, mode: Mode) => cells.find((c) => c.target === target && c.mode === mode)
  const ratio = (mode: Mode): number | undefined => {
    const s = find("switchyard", mode)
    const f = find("forwarder", mode)
    return s === undefined || f === undefined ? undefined : s.requestsPerSecond / f.requestsPerSecond
  }
  const atMost = (target: string, value: number | undefined, limit: number, format: (x: number) => string): Check =>
    value === undefined || !Number.isFinite(value)
      ? { target, measured: "not measured", met: undefined }
      : { target, measured: format(value), met: value <= limit }
  const atLeast = (target: string, value: number | undefined, limit: number, format: (x: number) => string): Check =>
    value === undefined || !Number.isFinite(value)
      ? { target, measured: "not measured", met: undefined }
      : { target, measured: format(value), met: value >= limit }
  const ms = (x: number): string => `${signed(x, 3)} ms`
  const mib = (x: number): string => `${x.toFixed(0)} MiB`
  const json = find("switchyard", "json")
  const stream = find("switchyard", "stream")
  const rssUnderLoad = [json?.peakRssMiB, stream?.peakRssMiB].filter((x) => x !== undefined)
  const held = slow.find((s) => s.target === "switchyard")
  const slowCheck = atMost(`${params.slow.streams} concurrent slow streams: peak RSS <= 500 MiB`, held?.hwmMiB, 500, mib)
  return [
    atLeast("non-streaming req/s >= 0.6x the forwarder", ratio("json"), 0.6, (x) => `${x.toFixed(2)}x`),
    atLeast(`streaming (${params.chunks}-chunk SSE) req/s >= 0.4x the forwarder`, ratio("stream"), 0.4, (x) => `${x.toFixed(2)}x`),
    atMost("added latency unloaded, non-streaming: +p50 <= 0.35 ms", minus(json?.unloadedP50, find("direct", "json")?.unloadedP50), 0.35, ms),
    atMost("time to first byte of a stream, unloaded: +p50 <= 0.5 ms over direct", minus(stream?.firstByteP50, find("direct", "stream")?.firstByteP50), 0.5, ms),
    atMost(`peak RSS under the ${params.connections}-connection load <= 300 MiB`, rssUnderLoad.length === 0 ? undefined : Math.max(...rssUnderLoad), 300, mib),
    held !== undefined && slowCheck.met === true && held.opened < held.streams
      ? { ...slowCheck, met: false, why: `only ${held.opened} of ${held.streams} streams were answered` }
      : slowCheck
  ]
}

/**
 * One line each on the platform floor (`floor.ts`: @effect/platform's server answering
 * constants) and the platform forwarder (`platformForwarder.ts`: that server forwarding through
 * Switchyard's HTTP transport, no gateway): req/s over the forwarder's, and CPU per request
 * beside Switchyard's, per mode.
 */
const platformLines = ({ cells, modes }: Summary): ReadonlyArray<string> => {
  const find = (target: string, mode: Mode) => cells.find((c) => c.target === target && c.mode === mode)
  const line = (target: string, what: string, meaning: string): ReadonlyArray<string> => {
    const measured = modes.flatMap((m) => {
      const c = find(target, m)
      return c === undefined ? [] : [c]
    })
    if (measured.length === 0) return []
    const ratios = measured.map((c) => {
      const f = find("forwarder", c.mode)
      return `${c.mode} ${f === undefined ? "n/a" : `${num(c.requestsPerSecond / f.requestsPerSecond, 2)}x`}`
    })
    const cpu = measured.map((c) => {
      const s = find("switchyard", c.mode)
      return `${c.mode} ${num(c.cpuMicrosPerRequest, 0)}${s === undefined ? "" : ` of Switchyard's ${num(s.cpuMicrosPerRequest, 0)}`}`
    })
    const flagged = measured.some((c) => c.non2xx + c.errors > 0)
    return [
      "",
      `${what}: ${ratios.join(", ")} the forwarder's req/s (CPU µs/req: ${cpu.join(", ")}): ${meaning}` +
      (flagged ? " **It answered with errors in this run: not a result.**" : "")
    ]
  }
  return [
    ...line(
      "platform-floor",
      "Platform floor (constant answers, no upstream)",
      "the ceiling for any gateway whose responses go through @effect/platform's server as Effect values (event streams read from a pull, as Switchyard writes them)."
    ),
    ...line(
      "platform-forwarder",
      "Platform forwarder (that server forwarding through Switchyard's HTTP transport, no gateway)",
      "the ceiling for a gateway on this server and this transport; what Switchyard costs above it is the gateway's own work."
    )
  ]
}

const renderChecks = (summary: Summary): string => {
  const flagged = summary.cells.some((c) => c.target === "switchyard" && c.non2xx + c.errors > 0) ||
    summary.sweep.some((c) => c.target === "switchyard" && c.non2xx + c.errors > 0)
  return [
    table(
      ["issue 3 target (Switchyard)", "measured", "status"],
      3,
      checks(summary).map((c) => [
        c.target,
        c.measured,
        c.met === undefined ? "not measured" : c.met ? "met" : `**not met**${c.why === undefined ? "" : ` (${c.why})`}`
      ])
    ),
    ...platformLines(summary),
    ...(flagged ? ["", "**Switchyard answered with errors in this run (see below): its figures are not results.**"] : [])
  ].join("\n")
}

/** The targets of a full load part (run.ts takes them from targets.ts, which this module does not import). */
const loadTargets = ["direct", "forwarder", "platform-floor", "platform-forwarder", "switchyard"]

const renderLoad = ({ cells, modes }: Summary): ReadonlyArray<string> => {
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
      isDirect ? "" : signed(minus(c.p50, direct?.p50), 2),
      isDirect ? "" : signed(minus(c.p99, direct?.p99), 2),
      num(c.unloadedP50, 3),
      isDirect ? "" : signed(minus(c.unloadedP50, direct?.unloadedP50), 3),
      c.mode === "stream" ? num(c.firstByteP50, 3) : "",
      c.mode === "stream" && !isDirect ? signed(minus(c.firstByteP50, direct?.firstByteP50), 3) : "",
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
    "TTFB p50 ms",
    "+TTFB p50 vs direct",
    "CPU µs/req",
    "CPU use",
    "peak RSS MiB",
    "req/s vs forwarder",
    "non-2xx / errors"
  ]
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
    "## Throughput and latency",
    "",
    table(header, 2, rows),
    "",
    "Latencies in ms, measured by the load generator to the last byte of the answer. `+` columns: minus direct's in the same mode. " +
    "TTFB: one connection, streaming requests one after another, from sending the request to the first byte of the body. " +
    "CPU µs/req and CPU use: the proxy process (for direct, the upstream) during the measured run; 100% is one core. " +
    "Peak RSS: VmHWM of that process at the end of its runs. req/s vs forwarder: 1.00x is as cheap as a proxy on Node gets. " +
    "platform-floor proxies nothing (it answers constants itself), so its `+` columns are not a proxy's added latency: its req/s vs forwarder " +
    "and CPU µs/req are what @effect/platform's server costs per request; platform-forwarder adds the upstream exchange through Switchyard's " +
    "HTTP transport, and nothing else.",
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
    ...(modes.length < 2 || !loadTargets.every((t) => cells.some((c) => c.target === t))
      ? ["", "(A partial run: not every target or mode was measured.)"]
      : [])
  ]
}

/** The formats part's rows, in order (formats.ts `formatPaths`, which this module does not import). */
const formatRows = ["direct", "fast path", "translated"]

const renderFormats = ({ formats, modes }: Summary): ReadonlyArray<string> => {
  const find = (path: string, mode: Mode) => formats.find((c) => c.target === path && c.mode === mode)
  const has = (mode: Mode) => modes.includes(mode)
  // direct's row gives its own unloaded p50 and TTFB; the others what they add to direct's.
  const latency = (c: Cell | undefined, direct: Cell | undefined, pick: (c: Cell) => number | undefined): string =>
    c === undefined ? "n/a" : c === direct ? num(pick(c), 3) : signed(minus(pick(c), direct === undefined ? undefined : pick(direct)), 3)
  const rows = formatRows.map((path) => {
    const columns = (mode: Mode): ReadonlyArray<string> => {
      const c = find(path, mode)
      const direct = find("direct", mode)
      return [
        num(c?.requestsPerSecond, 0),
        c === undefined || direct === undefined ? "n/a" : `${num(c.requestsPerSecond / direct.requestsPerSecond, 2)}x`,
        num(c?.cpuMicrosPerRequest, 0),
        latency(c, direct, (x) => x.unloadedP50),
        ...(mode === "stream" ? [latency(c, direct, (x) => x.firstByteP50)] : [])
      ]
    }
    const mine = formats.filter((c) => c.target === path)
    const non2xx = mine.reduce((n, c) => n + c.non2xx, 0)
    const errors = mine.reduce((n, c) => n + c.errors, 0)
    return [
      path,
      ...(has("json") ? columns("json") : []),
      ...(has("stream") ? columns("stream") : []),
      non2xx + errors > 0 ? `**${non2xx} / ${errors} FLAGGED**` : "0 / 0"
    ]
  })
  const header = [
    "path",
    ...(has("json") ? ["json req/s", "json vs direct", "json CPU µs/req", "json +unloaded p50 ms"] : []),
    ...(has("stream") ? ["stream req/s", "stream vs direct", "stream CPU µs/req", "stream +unloaded p50 ms", "stream +TTFB p50 ms"] : []),
    "non-2xx / errors"
  ]
  const translationCost = modes.flatMap((mode) => {
    const fast = find("fast path", mode)
    const translated = find("translated", mode)
    return fast === undefined || translated === undefined ? [] : [
      `${mode} ${signed(translated.cpuMicrosPerRequest - fast.cpuMicrosPerRequest, 0)} µs/req ` +
      `(${num(translated.cpuMicrosPerRequest / fast.cpuMicrosPerRequest, 2)}x the fast path's CPU, ${num(translated.requestsPerSecond / fast.requestsPerSecond, 2)}x its req/s)`
    ]
  })
  const perRun = formats.map((c) => `- ${c.target} ${c.mode}: ${c.runsRequestsPerSecond.map((r) => r.toFixed(0)).join(", ")}`).join("\n")
  const flagged = formats.filter((c) => c.non2xx + c.errors > 0)
  return [
    "## Fast path vs translated path (Anthropic Messages in, Anthropic upstream)",
    "",
    table(header, 1, rows),
    "",
    "**direct** is the load generator on the Anthropic upstream itself (`test/bench/anthropicUpstream.ts`, prebuilt answers); " +
    "**fast path** goes through Switchyard's `anthropic` provider, which forwards the request as it came with only `model` rewritten and sends the answer's bytes back unchanged; " +
    "**translated** goes through the same gateway process's `anthropic-translated` provider (`passthrough: false`), which decodes the request to the canonical " +
    "(OpenAI chat) request and has the Anthropic adapter encode it again, and decodes the answer (JSON or events) to canonical and encodes it back to Anthropic's format.",
    "",
    ...(translationCost.length === 0 ? [] : [`Translation over the fast path, in the gateway's CPU: ${translationCost.join("; ")}.`, ""]),
    "Requests: `POST /v1/messages` with `x-api-key` and `anthropic-version: 2023-06-01`, model `anthropic/claude-bench` (fast path), " +
    "`anthropic-translated/claude-bench` (translated) or `claude-bench` (direct), `max_tokens`, a system prompt and one user message; " +
    "stream = `\"stream\": true`, an event stream of 20 `text_delta` events, read to the end. Load settings as for the load part. " +
    "CPU µs/req: the gateway process (for direct, the upstream) during the measured run. `+` columns: minus direct's in the same mode; " +
    "direct's row gives its own unloaded p50 and TTFB p50 in ms.",
    "",
    "req/s of each run (for spread):",
    "",
    perRun,
    ...(flagged.length === 0
      ? []
      : ["", `**Flagged**: ${flagged.map((c) => `${c.target} ${c.mode} (${c.non2xx} non-2xx, ${c.errors} errors)`).join("; ")}: not results.`])
  ]
}

/** The routing layer's cost: fallback over three targets, the first healthy, against `single`. */
const routingLine = ({ rows }: Stages): string | undefined => {
  const single = rows.find((r) => r.stage.includes("strategy single"))
  const fallback = rows.find((r) => r.stage.startsWith("+ fallback over a,b,c (a healthy)"))
  const guarded = rows.find((r) => r.stage.startsWith("+ fallback over a,b,c with retries"))
  if (single === undefined || fallback === undefined) return undefined
  const versus = (row: StageRow) =>
    `${signed(minus(row.json, single.json), 1)} / ${signed(minus(row.stream, single.stream), 1)} µs`
  return `**Routing layer** (json / stream, against \`single\`): fallback over 3 targets with the first healthy ${versus(fallback)}` +
    (guarded === undefined ? "" : `; the same with retries, circuit breakers and a request timeout on every target ${versus(guarded)}`) +
    "."
}

const renderStageSection = (stages: Stages): ReadonlyArray<string> => [
  "## Pipeline stages (in process, no HTTP)",
  "",
  renderStages(stages),
  "",
  ...(routingLine(stages) === undefined ? [] : [routingLine(stages)!, ""]),
  "CPU µs per `gateway.chat` (json) and per `gateway.chatStream` in `Effect.scoped`, its pull read to the end as the HTTP layer does (stream), " +
  `${stages.inFlight} requests in flight, gateways built from \`@switchyard/core\`'s public Layers around a provider that answers at once ` +
  "(a fixed ChatResponse; 20 content chunks and a usage chunk in one pull, through `openStream`). Every row is the baseline (no alias, no plugin, `Hooks.layerNone`, " +
  "one provider, no targets) with one stage on, each measured in a fresh process pinned to CPU 0: after a warm-up, " +
  `${stages.rounds} rounds of json then stream, the median shown. The last row measures the baseline again: its delta is the noise. ` +
  `The counting hook handled ${stages.hookEvents} events and its queue dropped ${stages.hookEventsDropped}. ` +
  "The baseline includes the Effect runtime's own cost per request."
]

const renderPath = ({ params, path }: Summary): ReadonlyArray<string> => [
  "## One unloaded request, split at the proxy's sockets",
  "",
  table(
    ["target", "mode", "requests", "request -> upstream write µs", "upstream write -> its first bytes µs", "its first bytes -> first byte out µs", "request -> first byte out µs"],
    2,
    path.map((c) => [c.target, c.mode, String(c.requests), num(c.toUpstream, 0), num(c.upstream, 0), num(c.fromUpstream, 0), num(c.toFirstByte, 0)])
  ),
  "",
  "Medians, on the proxy's own clock (`test/bench/stamps.ts`, preloaded with `--import`): from the server's `request` event (the request's " +
    "headers parsed) to its first write to the upstream, from there to the first bytes read back (the upstream's own time, the loopback, and whatever the proxy is still busy with when they arrive), " +
    "and from those to the proxy's first write to the client (for a stream, the response's headers and first events). " +
    `1 connection, one request at a time, for ${params.unloadedDuration} s per cell, after ${params.warmup} s at 8 connections. ` +
    "The platform floor has no upstream: only its request -> first byte. The stamps cost each proxy alike (a clock read and an array push per socket operation)."
]

const renderSweep = ({ params, sweep }: Summary): ReadonlyArray<string> => {
  const ideal = (connections: number): number => connections / (params.sweep.latencyMs / 1000)
  return [
    `## Upstream with ${params.sweep.latencyMs} ms latency, non-streaming`,
    "",
    table(
      ["target", "clients", "req/s", "% of ideal", "p50 ms", "p99 ms", "CPU use", "non-2xx / errors"],
      1,
      sweep.map((c) => [
        c.target,
        String(c.connections),
        num(c.requestsPerSecond, 0),
        `${num((c.requestsPerSecond / ideal(c.connections)) * 100, 1)}%`,
        num(c.p50, 1),
        num(c.p99, 1),
        `${num(c.cpuShare * 100, 0)}%`,
        c.non2xx + c.errors > 0 ? `**${c.non2xx} / ${c.errors} FLAGGED**` : "0 / 0"
      ])
    ),
    "",
    `A second mock upstream answers every request after ${params.sweep.latencyMs} ms (\`--latency-ms\`). Ideal: clients / ${params.sweep.latencyMs / 1000} s ` +
    `(${params.sweep.connections.map((n) => `${n}: ${ideal(n).toFixed(0)}`).join(", ")} req/s). ` +
    `Each target: a fresh proxy process, the levels in increasing order, each ${params.sweep.warmup} s warmup then ${params.sweep.duration} s measured. ` +
    "CPU use: the proxy (for direct, the upstream); direct shows what the load generator itself reaches."
  ]
}

const renderSlow = ({ params, slow }: Summary): ReadonlyArray<string> => {
  const needed = openFilesNeeded(params.slow.streams)
  const low = slow.filter((s) => s.openFilesLimit !== undefined && s.openFilesLimit < needed)
  return [
    `## ${params.slow.streams} concurrent slow streams`,
    "",
    table(
      ["proxy", "answered", "failed", "ramp s", "idle RSS MiB", "peak RSS MiB (sampled)", "open at peak", "receiving at peak", "VmHWM MiB", "open-file limit"],
      1,
      slow.map((s) => [
        s.target,
        `${s.opened} / ${s.streams}`,
        s.failed > 0 ? `**${s.failed}**` : "0",
        num(s.rampSeconds, 1),
        num(s.idleRssMiB, 0),
        num(s.peakRssMiB, 0),
        String(s.openAtPeak),
        String(s.receivingAtPeak),
        num(s.hwmMiB, 0),
        s.openFilesLimit === undefined ? "n/a" : Number.isFinite(s.openFilesLimit) ? String(s.openFilesLimit) : "unlimited"
      ])
    ),
    "",
    `A fresh proxy in front of a third mock upstream that sends one chunk every ${params.slow.chunkDelayMs} ms (${params.slow.chunks} chunks); ` +
    `${params.slow.streams} streaming requests opened at once, held ${params.slow.holdSeconds} s once all are answered, then aborted. ` +
    `VmRSS sampled every 250 ms; "receiving": a chunk arrived in the last ${params.slow.receivingWindowMs} ms. VmHWM: the process's peak, startup included.`,
    ...(low.length === 0 ? [] : [
      "",
      `**Open-file limit too low** for ${low.map((s) => s.target).join(", ")}: ${params.slow.streams} streams need about ${needed} descriptors in the proxy ` +
      "(two sockets each); raise `ulimit -n` (the hard limit: Node raises its soft limit to it)."
    ])
  ]
}

export const render = (summary: Summary): string => {
  const { machine, params, startedAt } = summary
  return [
    `# Switchyard load benchmark${params.quick ? " (quick smoke run: not for comparison)" : ""}`,
    "",
    `Run ${startedAt.toISOString()} on commit ${machine.commit}; ${summary.minutes.toFixed(1)} min.`,
    "",
    `- Machine: ${machine.cpu}, ${machine.cpus} CPUs; ${machine.os}; Node ${machine.node}; autocannon ${machine.autocannon}.`,
    params.pinning === undefined
      ? "- Placement: the proxy (forwarder, platform floor, platform forwarder or Switchyard) and the stage benchmark pinned to CPU 0; the upstreams (the mock and the Anthropic one) and the load generator (autocannon, inside the bench process) pinned to CPU 1."
      : `- Placement: NOT PINNED (${params.pinning}); numbers are less comparable.`,
    "- Processes: plain `node` on compiled JavaScript, no tsx: Switchyard from `packages/server/dist/switchyard.mjs` (built at start by " +
    "`packages/server/scripts/build.mjs`); the forwarder, the platform floor and forwarder, the mock upstreams, the Anthropic upstream and the stage benchmark bundled by esbuild the same way. " +
    `Switchyard's Node flags: ${params.switchyardNodeFlags.length === 0 ? "none" : `\`${params.switchyardNodeFlags.join(" ")}\``}.`,
    `- Load: ${params.connections} connections, ${params.warmup} s warmup then ${params.duration} s measured, ${params.runs} run(s) per cell, median shown ` +
    `(the first run of each cell after ${params.settle} s more warmup, for the JIT); ` +
    `unloaded (and TTFB, for streams): 1 connection for ${params.unloadedDuration} s after each loaded run.`,
    `- Requests: \`POST /v1/chat/completions\` for \`gpt-4o-mini\`; json = non-streaming, stream = \`stream: true\`, the whole SSE body read. ` +
    `Upstream: the mock (\`providers-mock\`), no latency, 16 tokens, streams of ${params.chunks} content chunks, one HTTP chunk per event, written one after another without delay.`,
    `- Targets: direct = the load generator on the upstream itself; forwarder = bare node:http + undici Pool (\`test/bench/forwarder.ts\`), ` +
    "the cheapest proxy on Node; platform-floor = @effect/platform's Node HTTP server composed as Switchyard's, answering the mock's answers " +
    "as prebuilt constants without any upstream (`test/bench/floor.ts`; load part only); platform-forwarder = that server forwarding to the upstream " +
    "through Switchyard's HTTP transport with no gateway (`test/bench/platformForwarder.ts`); switchyard = `switchyard serve` with one openai provider pointing at the upstream.",
    "",
    "## Targets",
    "",
    renderChecks(summary),
    ...(params.parts.includes("load") ? ["", ...renderLoad(summary)] : []),
    ...(summary.formats.length === 0 ? [] : ["", ...renderFormats(summary)]),
    ...(summary.stages === undefined ? [] : ["", ...renderStageSection(summary.stages)]),
    ...(summary.sweep.length === 0 ? [] : ["", ...renderSweep(summary)]),
    ...(summary.slow.length === 0 ? [] : ["", ...renderSlow(summary)]),
    ...(summary.path.length === 0 ? [] : ["", ...renderPath(summary)])
  ].join("\n")
}
