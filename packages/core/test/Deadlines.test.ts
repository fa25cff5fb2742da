import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Deadlines from "../src/Deadlines.js"

describe("Deadlines", () => {
  it.scoped("a deadline fires once its time has passed on the Clock, not before", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<string> = []
      deadlines.after(10 * 60_000, () => fired.push("10 min"))
      deadlines.after(1000, () => fired.push("1 s"))
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(fired, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(fired, ["1 s"])
      yield* TestClock.adjust("9 minutes")
      assert.deepStrictEqual(fired, ["1 s"])
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(fired, ["1 s", "10 min"])
    }))

  it.scoped("a cancelled deadline never fires; a later one still does", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<number> = []
      const cancel = deadlines.after(100, () => fired.push(100))
      deadlines.after(200, () => fired.push(200))
      cancel()
      cancel()
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(fired, [200])
    }))

  it.scoped("deadlines cancelled first, in the middle and last leave the others to fire, and new ones join", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<number> = []
      const cancels = [100, 200, 300, 400, 500].map((millis) => deadlines.after(millis, () => fired.push(millis)))
      cancels[0]!()
      cancels[2]!()
      cancels[4]!()
      deadlines.after(50, () => fired.push(50))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(fired, [50, 200, 400])
      cancels[1]!()
      const cancelLate = deadlines.after(100, () => fired.push(-1))
      cancelLate()
      deadlines.after(100, () => fired.push(1100))
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(fired, [50, 200, 400, 1100])
    }))

  it.scoped("an earlier deadline added while the sleeper waits for a later one wakes it in time", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<string> = []
      deadlines.after(60_000, () => fired.push("late"))
      yield* TestClock.adjust("10 seconds")
      deadlines.after(5_000, () => fired.push("early"))
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(fired, ["early"])
    }))

  it.effect("pending deadlines are dropped when the Scope closes", () =>
    Effect.gen(function*() {
      const fired: Array<number> = []
      yield* Effect.scoped(Effect.map(Deadlines.make, (d) => d.after(100, () => fired.push(1))))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(fired, [])
    }))

  describe("within", () => {
    it.scoped("passes the result of an effect that finishes in time, and its failure", () =>
      Effect.gen(function*() {
        const deadlines = yield* Deadlines.make
        const fiber = yield* Effect.fork(Deadlines.within(deadlines, 1000, () => "late", Effect.as(Effect.sleep("999 millis"), 42)))
        yield* TestClock.adjust("999 millis")
        assert.strictEqual(yield* Fiber.join(fiber), 42)
        const failed = yield* Effect.flip(Deadlines.within(deadlines, 1000, () => "late", Effect.fail("own")))
        assert.strictEqual(failed, "own")
      }))

    it.scoped("fails with onTimeout at the deadline and interrupts the effect", () =>
      Effect.gen(function*() {
        const deadlines = yield* Deadlines.make
        let interrupted = false
        const slow = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void (interrupted = true))))
        const fiber = yield* Effect.fork(Effect.flip(Deadlines.within(deadlines, 1000, () => "late", slow)))
        yield* TestClock.adjust("999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* Fiber.join(fiber), "late")
        yield* Effect.yieldNow()
        assert.isTrue(interrupted)
      }))

    it.scoped("interrupting the caller interrupts the effect and cancels the deadline", () =>
      Effect.gen(function*() {
        const deadlines = yield* Deadlines.make
        let interrupted = false
        let timedOut = false
        const slow = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void (interrupted = true))))
        const fiber = yield* Effect.fork(Deadlines.within(deadlines, 1000, () => (timedOut = true), slow))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.interrupt(fiber)
        assert.isTrue(interrupted)
        yield* TestClock.adjust("1 second")
        assert.isFalse(timedOut)
      }))
  })
})
