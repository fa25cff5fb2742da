/**
 * The load: autocannon, in this process, with latencies recorded at full resolution (its own
 * histogram keeps whole milliseconds, too coarse for sub-millisecond overheads); the time to
 * the first byte of a stream, one request at a time; a one-off correctness check of a target
 * before it is measured; and one cell (a target in a mode: loaded runs, unloaded p50, TTFB, CPU
 * per request) put together from them. What is sent and how an answer is checked is a `Traffic`:
 * `chat` (OpenAI chat completions) for the load, sweep and slow parts; `formats.ts` has its own.
 */
import autocannon from "autocannon"
import { Client, request } from "undici"
import { type Child, cpuSeconds } from "./processes.js"
import type { Cell } from "./report.js"

export type Mode = "json" | "stream"

export const chatBody = (mode: Mode): string =>
  JSON.stringify({
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You are a load benchmark." },
      { role: "user", content: "Say something of average length, please." }
    ],
    ...(mode === "stream" ? { stream: true } : {})
  })

export interface Measurement {
  readonly requestsPerSecond: number
  readonly p50: number
  readonly p99: number
  /** 2xx responses measured. */
  readonly ok: number
  readonly non2xx: number
  /** Connection errors, timeouts and body mismatches. */
  readonly errors: number
  readonly seconds: number
}

let current: autocannon.Instance | undefined
let stopped = false

/** Stops the load in progress, if any, and any later one (for SIGINT). */
export const stopLoad = (): void => {
  stopped = true
  current?.stop()
}

/** Whether `stopLoad` was called: longer measurements check it to end early. */
export const loadStopped = (): boolean => stopped

export const requestHeaders = { "content-type": "application/json", authorization: "Bearer bench" } as const

/** A 200 answer, read in full. */
export interface Answer {
  readonly contentType: string
  readonly text: string
}

/** What the load sends, and how `verify` checks what comes back. */
export interface Traffic {
  /** The request body of `mode` (the same for every request). */
  readonly body: (mode: Mode) => string
  readonly headers: Readonly<Record<string, string>>
  /** Why a 200 answer to `body(mode)` is wrong, or `undefined` when it is right. */
  readonly wrong: (mode: Mode, answer: Answer) => string | undefined
}

/** The non-empty events of an SSE body, trimmed. */
export const sseEvents = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n\r?\n/).map((e) => e.trim()).filter((e) => e.length > 0)

/** The body parsed as JSON, or `undefined` when it is not JSON. */
export const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * OpenAI chat completions (`chatBody`): JSON with `choices`; a `text/event-stream` of `data:`
 * events with `choices` that ends with `data: [DONE]`.
 */
export const chat: Traffic = {
  body: chatBody,
  headers: requestHeaders,
  wrong: (mode, { contentType, text }) => {
    if (mode === "json") {
      const json = parsed(text)
      if (json === undefined) return "the body is not JSON"
      const choices = (json as { choices?: unknown }).choices
      return !Array.isArray(choices) || choices.length === 0 ? "the JSON has no choices" : undefined
    }
    if (!contentType.startsWith("text/event-stream")) return "not text/event-stream"
    const events = sseEvents(text)
    if (events.at(-1) !== "data: [DONE]") return "the stream does not end with `data: [DONE]`"
    const chunks = events.slice(0, -1).filter((e) => e.startsWith("data: {") && e.includes("\"choices\""))
    return chunks.length === 0 ? "the stream has no chunk with choices" : undefined
  }
}

const percentile = (sorted: Float64Array, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

/** Runs `seconds` of load at `connections` against `url` (POST of `traffic`'s body of `mode`). */
export const measure = (url: string, traffic: Traffic, mode: Mode, connections: number, seconds: number): Promise<Measurement> =>
  new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16)
    let n = 0
    let ok = 0
    const instance = autocannon(
      {
        url,
        method: "POST",
        headers: traffic.headers,
        body: traffic.body(mode),
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10
      },
      (error, result) => {
        current = undefined
        if (error !== null && error !== undefined) return reject(error)
        const sorted = latencies.subarray(0, n).sort()
        resolve({
          requestsPerSecond: ok / result.duration,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          ok,
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts + result.mismatches,
          seconds: result.duration
        })
      }
    )
    current = instance
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return
      ok++
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[n++] = responseTime
    })
  })

export interface FirstByte {
  /** ms from sending the request to the first byte of the body. */
  readonly p50: number
  readonly ok: number
  /** Failed requests, non-200 answers and empty bodies. */
  readonly errors: number
}

/**
 * Streaming requests one after another over one keep-alive connection for `seconds`, each
 * timed from sending it to the first byte of its body, and read to the end.
 */
export const timeToFirstByte = async (url: string, traffic: Traffic, seconds: number): Promise<FirstByte> => {
  const target = new URL(url)
  const client = new Client(target.origin, { pipelining: 1, keepAliveTimeout: 30_000 })
  const body = traffic.body("stream")
  const samples: Array<number> = []
  let errors = 0
  const until = performance.now() + seconds * 1000
  try {
    while (performance.now() < until && !loadStopped()) {
      const sent = performance.now()
      try {
        const res = await client.request({ method: "POST", path: target.pathname, headers: traffic.headers, body })
        const firstByte = await new Promise<number | undefined>((resolve, reject) => {
          let at: number | undefined
          res.body.on("data", () => {
            at ??= performance.now()
          })
          res.body.once("end", () => resolve(at))
          res.body.once("error", reject)
        })
        if (res.statusCode === 200 && firstByte !== undefined) samples.push(firstByte - sent)
        else errors++
      } catch {
        errors++
      }
    }
  } finally {
    await client.close()
  }
  const sorted = Float64Array.from(samples).sort()
  return { p50: percentile(sorted, 50), ok: samples.length, errors }
}

/**
 * One request of `mode`, checked in full: a 200 that `traffic.wrong` finds nothing wrong with.
 * Throws with what was sent, what was wrong and what came back.
 */
export const verify = async (name: string, url: string, traffic: Traffic, mode: Mode): Promise<void> => {
  const body = traffic.body(mode)
  const res = await request(url, {
    method: "POST",
    headers: traffic.headers,
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000
  })
  const text = await res.body.text()
  const contentType = String(res.headers["content-type"])
  const why = res.statusCode !== 200 ? "status is not 200" : traffic.wrong(mode, { contentType, text })
  if (why === undefined) return
  throw new Error(
    `${name} (${mode}) answered wrongly: ${why}.\nsent: POST ${url} ${JSON.stringify(traffic.headers)}\n${body}\n` +
      `came back: status ${res.statusCode}, content-type ${contentType}\n${text.slice(0, 2000)}`
  )
}

// ---------------------------------------------------------------------------------------------
// One cell: a target in a mode, measured `runs` times

/** The load settings of a cell (run.ts's `Parameters` has them). */
export interface CellSettings {
  readonly connections: number
  readonly duration: number
  readonly warmup: number
  /** Extra warmup before the first run. */
  readonly settle: number
  readonly runs: number
  readonly unloadedDuration: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a")

/** CPU seconds `child` used while `f` ran (NaN when /proc does not tell), and what `f` returned. */
export const withCpu = async <A>(child: Child, f: () => Promise<A>): Promise<{ readonly result: A; readonly cpu: number }> => {
  const before = cpuSeconds(child.pid)
  const result = await f()
  const after = cpuSeconds(child.pid)
  return { result, cpu: before !== undefined && after !== undefined ? after - before : Number.NaN }
}

const checkStopped = (): void => {
  if (stopped) throw new Error("interrupted")
}

export interface CellOptions {
  /** The cell's name in the report and the log. */
  readonly target: string
  readonly mode: Mode
  readonly url: string
  readonly traffic: Traffic
  /** The process whose CPU is counted (the proxy; for direct, the upstream). */
  readonly measured: Child
  readonly settings: CellSettings
  readonly log: (line: string) => void
}

/**
 * `runs` times: warmup (plus `settle` before the first), `duration` s at `connections` with the
 * CPU of `measured` counted, then 1 connection for `unloadedDuration` s (and, for streams, as
 * long for the time to first byte); medians over the runs. `peakRssMiB` is left to the caller,
 * which reads it once all of a process's cells are done.
 */
export const measureCell = async ({ target, mode, url, traffic, measured, settings, log }: CellOptions): Promise<Cell> => {
  const loaded: Array<Measurement> = []
  const unloaded: Array<Measurement> = []
  const firstBytes: Array<FirstByte> = []
  const cpuPerRequest: Array<number> = []
  const cpuShare: Array<number> = []
  for (let run = 1; run <= settings.runs; run++) {
    checkStopped()
    const warmup = settings.warmup + (run === 1 ? settings.settle : 0)
    if (warmup > 0) await measure(url, traffic, mode, settings.connections, warmup)
    checkStopped()
    const { result: m, cpu } = await withCpu(measured, () => measure(url, traffic, mode, settings.connections, settings.duration))
    checkStopped()
    const u = await measure(url, traffic, mode, 1, settings.unloadedDuration)
    const f = mode === "stream" ? await timeToFirstByte(url, traffic, settings.unloadedDuration) : undefined
    if (!measured.alive()) throw new Error(`${measured.name} died during ${target} ${mode}. Its output:\n${measured.output()}`)
    loaded.push(m)
    unloaded.push(u)
    if (f !== undefined) firstBytes.push(f)
    cpuPerRequest.push(m.ok > 0 ? (cpu / m.ok) * 1e6 : Number.NaN)
    cpuShare.push(cpu / m.seconds)
    const non2xx = m.non2xx + u.non2xx
    const errors = m.errors + u.errors + (f?.errors ?? 0)
    log(
      `  ${target} ${mode} run ${run}/${settings.runs}: ${fmt(m.requestsPerSecond, 0)} req/s, p50 ${fmt(m.p50)} ms, ` +
        `p99 ${fmt(m.p99)} ms, unloaded p50 ${fmt(u.p50, 3)} ms${f === undefined ? "" : `, TTFB p50 ${fmt(f.p50, 3)} ms`}, ` +
        `${measured.name} CPU ${fmt(cpuShare.at(-1)! * 100, 0)}%, ${fmt(cpuPerRequest.at(-1)!, 0)} µs/req` +
        `${non2xx + errors > 0 ? `, ${non2xx} non-2xx and ${errors} errors (FLAGGED)` : ""}`
    )
  }
  return {
    target,
    mode,
    requestsPerSecond: median(loaded.map((m) => m.requestsPerSecond)),
    p50: median(loaded.map((m) => m.p50)),
    p99: median(loaded.map((m) => m.p99)),
    unloadedP50: median(unloaded.map((m) => m.p50)),
    firstByteP50: firstBytes.length === 0 ? undefined : median(firstBytes.map((f) => f.p50)),
    cpuMicrosPerRequest: median(cpuPerRequest),
    cpuShare: median(cpuShare),
    peakRssMiB: undefined,
    non2xx: [...loaded, ...unloaded].reduce((n, m) => n + m.non2xx, 0),
    errors: [...loaded, ...unloaded].reduce((n, m) => n + m.errors, 0) + firstBytes.reduce((n, f) => n + f.errors, 0),
    runsRequestsPerSecond: loaded.map((m) => m.requestsPerSecond)
  }
}
