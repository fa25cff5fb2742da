/**
 * Rolling latency windows keyed by target, for the `least-latency` strategy: the latest
 * samples (at most `maxSamples`) younger than the window, summarised by their median. Time is
 * the Clock's, so `TestClock` ages samples out.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** @since 0.1.0 @category Defaults */
export const defaults = { windowMillis: 5 * 60_000, maxSamples: 100 } as const

/** @since 0.1.0 @category Models */
export interface Service {
  readonly record: (target: string, millis: number) => Effect.Effect<void>
  /** The median of `target`'s samples younger than `windowMillis`; none when it has none (untried). */
  readonly median: (target: string, windowMillis: number) => Effect.Effect<Option.Option<number>>
}

/** @since 0.1.0 @category Context */
export class LatencyStats extends Context.Tag("@switchyard/core/LatencyStats")<LatencyStats, Service>() {}

interface Sample {
  readonly at: number
  readonly millis: number
}

/** @since 0.1.0 @category Constructors */
export const make = (options?: { readonly maxSamples?: number }): Effect.Effect<Service> =>
  Effect.map(Effect.clock, (clock) => {
    const maxSamples = options?.maxSamples ?? defaults.maxSamples
    const windows = new Map<string, Array<Sample>>()
    return LatencyStats.of({
      record: (target, millis) =>
        Effect.sync(() => {
          let samples = windows.get(target)
          if (samples === undefined) windows.set(target, samples = [])
          samples.push({ at: clock.unsafeCurrentTimeMillis(), millis })
          if (samples.length > maxSamples) samples.shift()
        }),
      median: (target, windowMillis) =>
        Effect.sync(() => {
          const samples = windows.get(target)
          if (samples === undefined) return Option.none()
          // Other strategies may ask with wider windows: filter, do not prune (`maxSamples` bounds the memory).
          const since = clock.unsafeCurrentTimeMillis() - windowMillis
          const sorted: Array<number> = []
          for (const sample of samples) if (sample.at >= since) sorted.push(sample.millis)
          if (sorted.length === 0) return Option.none()
          sorted.sort((a, b) => a - b)
          const mid = sorted.length >> 1
          return Option.some(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2)
        })
    })
  })

/** @since 0.1.0 @category Layers */
export const layer: Layer.Layer<LatencyStats> = Layer.effect(LatencyStats, make())
