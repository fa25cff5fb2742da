import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as LatencyStats from "@switchyard/core/LatencyStats"

const minute = 60_000

const recordAll = (stats: LatencyStats.Service, target: string, samples: ReadonlyArray<number>) =>
  Effect.forEach(samples, (millis) => stats.record(target, millis), { discard: true })

describe("LatencyStats", () => {
  it.effect("an untried target has no median", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.none())
    }))

  it.effect("the median of an odd number of samples is the middle one, whatever the order", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* recordAll(stats, "a", [900, 120, 5, 300, 150])
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(150))
      yield* recordAll(stats, "b", [42])
      assert.deepStrictEqual(yield* stats.median("b", minute), Option.some(42))
    }))

  it.effect("the median of an even number of samples is the mean of the middle two", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* recordAll(stats, "a", [400, 100, 1000, 200])
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(300))
    }))

  it.effect("one slow outlier does not move the median", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* recordAll(stats, "a", [100, 110, 90, 60_000, 105])
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(105))
    }))

  it.effect("targets are kept apart", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* recordAll(stats, "a", [100, 100])
      yield* recordAll(stats, "b", [900])
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(100))
      assert.deepStrictEqual(yield* stats.median("b", minute), Option.some(900))
      assert.deepStrictEqual(yield* stats.median("c", minute), Option.none())
    }))

  it.effect("samples age out of the window on the Clock", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* stats.record("a", 100)
      yield* TestClock.adjust("30 seconds")
      yield* stats.record("a", 200)
      yield* TestClock.adjust("30 seconds")
      yield* stats.record("a", 600)
      // Now 60 s: the samples are 60 s, 30 s and 0 s old.
      assert.deepStrictEqual(yield* stats.median("a", 45_000), Option.some(400))
      yield* TestClock.adjust("14999 millis")
      assert.deepStrictEqual(yield* stats.median("a", 45_000), Option.some(400))
      yield* TestClock.adjust("2 millis")
      assert.deepStrictEqual(yield* stats.median("a", 45_000), Option.some(600))
      yield* TestClock.adjust("45 seconds")
      assert.deepStrictEqual(yield* stats.median("a", 45_000), Option.none())
    }))

  it.effect("a target whose samples all aged out is untried again, then measured afresh", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* recordAll(stats, "a", [5000, 5000, 5000])
      yield* TestClock.adjust("6 minutes")
      assert.deepStrictEqual(yield* stats.median("a", 5 * minute), Option.none())
      yield* stats.record("a", 80)
      assert.deepStrictEqual(yield* stats.median("a", 5 * minute), Option.some(80))
    }))

  it.effect("keeps only the latest maxSamples samples", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make({ maxSamples: 3 })
      yield* recordAll(stats, "a", [1000, 1000, 1, 2, 3])
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(2))
    }))

  it.effect("keeps 100 samples by default", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      // 100 slow then 51 fast: the window keeps 49 slow and 51 fast, so the median is fast.
      yield* recordAll(stats, "a", Array.from({ length: 100 }, () => 1000))
      yield* recordAll(stats, "a", Array.from({ length: 51 }, () => 1))
      assert.deepStrictEqual(yield* stats.median("a", minute), Option.some(1))
    }))

  // The window is a parameter of each query: a narrow query must not evict samples that a
  // later, wider one (another strategy sharing the service) still counts.
  it.effect("a query with a narrow window does not take samples away from a wider one", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.make()
      yield* stats.record("a", 100)
      yield* TestClock.adjust("50 seconds")
      yield* stats.record("a", 300)
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* stats.median("a", 2 * minute), Option.some(200))
      assert.deepStrictEqual(yield* stats.median("a", 30_000), Option.some(300))
      assert.deepStrictEqual(yield* stats.median("a", 2 * minute), Option.some(200))
    }))

  it.effect("layer provides a service with the default window of 5 minutes", () =>
    Effect.gen(function*() {
      const stats = yield* LatencyStats.LatencyStats
      assert.strictEqual(LatencyStats.defaults.windowMillis, 5 * minute)
      yield* stats.record("a", 250)
      assert.deepStrictEqual(yield* stats.median("a", LatencyStats.defaults.windowMillis), Option.some(250))
    }).pipe(Effect.provide(LatencyStats.layer)))
})
