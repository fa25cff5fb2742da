/**
 * The load: autocannon, in this process, with latencies recorded at full resolution (its own
 * histogram keeps whole milliseconds, too coarse for sub-millisecond overheads); the time to
 * the first byte of a stream, one request at a time; and a one-off correctness check of a
 * target before it is measured.
 */
import autocannon from "autocannon"
import { Client, request } from "undici"

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

const percentile = (sorted: Float64Array, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

/** Runs `seconds` of load at `connections` against `url` (POST of `mode`'s body). */
export const measure = (url: string, mode: Mode, connections: number, seconds: number): Promise<Measurement> =>
  new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16)
    let n = 0
    let ok = 0
    const instance = autocannon(
      {
        url,
        method: "POST",
        headers: requestHeaders,
        body: chatBody(mode),
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
export const timeToFirstByte = async (url: string, seconds: number): Promise<FirstByte> => {
  const target = new URL(url)
  const client = new Client(target.origin, { pipelining: 1, keepAliveTimeout: 30_000 })
  const body = chatBody("stream")
  const samples: Array<number> = []
  let errors = 0
  const until = performance.now() + seconds * 1000
  try {
    while (performance.now() < until && !loadStopped()) {
      const sent = performance.now()
      try {
        const res = await client.request({ method: "POST", path: target.pathname, headers: requestHeaders, body })
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
 * One request of each kind, checked in full: a 200 whose JSON has `choices`; a 200
 * `text/event-stream` of `data:` events with `choices` that ends with `data: [DONE]`.
 * Throws with what was wrong and what came back.
 */
export const verify = async (name: string, url: string, mode: Mode): Promise<void> => {
  const res = await request(url, {
    method: "POST",
    headers: requestHeaders,
    body: chatBody(mode),
    headersTimeout: 10_000,
    bodyTimeout: 10_000
  })
  const text = await res.body.text()
  const wrong = (why: string): Error =>
    new Error(`${name} (${mode}) answered wrongly: ${why}.\nstatus ${res.statusCode}, content-type ${String(res.headers["content-type"])}\n${text.slice(0, 2000)}`)
  if (res.statusCode !== 200) throw wrong("status is not 200")
  if (mode === "json") {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw wrong("the body is not JSON")
    }
    const choices = (json as { choices?: unknown }).choices
    if (!Array.isArray(choices) || choices.length === 0) throw wrong("the JSON has no choices")
    return
  }
  if (!String(res.headers["content-type"]).startsWith("text/event-stream")) throw wrong("not text/event-stream")
  const events = text.split(/\r?\n\r?\n/).map((e) => e.trim()).filter((e) => e.length > 0)
  if (events.at(-1) !== "data: [DONE]") throw wrong("the stream does not end with `data: [DONE]`")
  const chunks = events.slice(0, -1).filter((e) => e.startsWith("data: {") && e.includes("\"choices\""))
  if (chunks.length === 0) throw wrong("the stream has no chunk with choices")
}
