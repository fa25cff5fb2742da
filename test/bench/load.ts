/**
 * The load: autocannon, in this process, with latencies recorded at full resolution (its own
 * histogram keeps whole milliseconds, too coarse for sub-millisecond overheads), and a
 * one-off correctness check of a target before it is measured.
 */
import autocannon from "autocannon"
import { request } from "undici"

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

/** Stops the load in progress, if any (for SIGINT). */
export const stopLoad = (): void => current?.stop()

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
        headers: { "content-type": "application/json", authorization: "Bearer bench" },
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

/**
 * One request of each kind, checked in full: a 200 whose JSON has `choices`; a 200
 * `text/event-stream` of `data:` events with `choices` that ends with `data: [DONE]`.
 * Throws with what was wrong and what came back.
 */
export const verify = async (name: string, url: string, mode: Mode): Promise<void> => {
  const res = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer bench" },
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
