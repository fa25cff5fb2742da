/**
 * Many slow streams held open through a proxy at once, as when every client waits on a model
 * that produces a token a second: what the proxy's memory does with the number of open
 * streams, not with the request rate.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { Pool } from "undici"
import { chatBody, loadStopped, requestHeaders } from "./load.js"
import { peakRssMiB, rssMiB } from "./processes.js"

export interface SlowStreamsOptions {
  /** The proxy's chat completions URL. */
  readonly url: string
  /** The proxy's process, whose memory is sampled. */
  readonly pid: number
  readonly streams: number
  /** How long all of them are held open once they are (or once `rampSeconds` have passed). */
  readonly holdSeconds: number
  readonly rampSeconds: number
  /** A stream counts as receiving when its last chunk is at most this old. */
  readonly receivingWindowMs: number
}

export interface SlowStreams {
  readonly streams: number
  /** Answered 200. */
  readonly opened: number
  /** Not 200, or failed before the streams were closed on purpose. */
  readonly failed: number
  /** Seconds until every stream was answered (or failed), capped at `rampSeconds`. */
  readonly rampSeconds: number
  /** VmRSS before the first request. */
  readonly idleRssMiB: number | undefined
  /** The highest VmRSS sampled (every 250 ms), and the streams open and receiving then. */
  readonly peakRssMiB: number | undefined
  readonly openAtPeak: number
  readonly receivingAtPeak: number
  /** VmHWM at the end of the hold: the true peak, startup included. */
  readonly hwmMiB: number | undefined
}

const pending = 0
const open = 1
const ended = 2
const failed = 3

/** Opens `streams` streaming requests at once, holds them while reading, then aborts them all. */
export const holdSlowStreams = async (options: SlowStreamsOptions): Promise<SlowStreams> => {
  const target = new URL(options.url)
  const pool = new Pool(target.origin, { connections: options.streams, pipelining: 1 })
  const state = new Uint8Array(options.streams)
  const lastChunkAt = new Float64Array(options.streams)
  let answered = 0
  let closing = false
  const body = chatBody("stream")
  const idleRssMiB = rssMiB(options.pid)

  for (let i = 0; i < options.streams; i++) {
    const settle = (to: number): void => {
      if (state[i] === pending) answered++
      state[i] = to
    }
    pool.request({ method: "POST", path: target.pathname, headers: requestHeaders, body }).then(
      (res) => {
        if (res.statusCode !== 200) {
          settle(failed)
          res.body.resume()
          return
        }
        settle(open)
        res.body.on("data", () => {
          lastChunkAt[i] = performance.now()
        })
        res.body.once("end", () => settle(ended))
        res.body.once("error", () => {
          if (!closing) settle(failed)
        })
      },
      () => {
        if (!closing) settle(failed)
      }
    )
  }

  let peak: { readonly rss: number; readonly open: number; readonly receiving: number } | undefined
  const sample = (): void => {
    const rss = rssMiB(options.pid)
    if (rss === undefined || (peak !== undefined && rss <= peak.rss)) return
    const now = performance.now()
    let openNow = 0
    let receiving = 0
    for (let i = 0; i < options.streams; i++) {
      if (state[i] !== open) continue
      openNow++
      if (now - lastChunkAt[i]! <= options.receivingWindowMs) receiving++
    }
    peak = { rss, open: openNow, receiving }
  }
  const sampler = setInterval(sample, 250)
  const started = performance.now()
  try {
    const rampUntil = started + options.rampSeconds * 1000
    while (answered < options.streams && performance.now() < rampUntil && !loadStopped()) await sleep(50)
    const rampSeconds = (performance.now() - started) / 1000
    const holdUntil = performance.now() + options.holdSeconds * 1000
    while (performance.now() < holdUntil && !loadStopped()) await sleep(50)
    sample()
    return {
      streams: options.streams,
      opened: state.reduce((n, s) => n + (s === open || s === ended ? 1 : 0), 0),
      failed: state.reduce((n, s) => n + (s === failed ? 1 : 0), 0),
      rampSeconds,
      idleRssMiB,
      peakRssMiB: peak?.rss,
      openAtPeak: peak?.open ?? 0,
      receivingAtPeak: peak?.receiving ?? 0,
      hwmMiB: peakRssMiB(options.pid)
    }
  } finally {
    clearInterval(sampler)
    closing = true
    await pool.destroy()
  }
}
