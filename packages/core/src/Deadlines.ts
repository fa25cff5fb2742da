/**
 * Timeouts for the hot path. `Effect.timeout` races the work against a sleep on two forked
 * fibers: about 60 µs of CPU per call here, more than a whole proxied request should cost.
 * Deadlines are instead plain entries, and one sleeping fiber waits on the Clock for the
 * earliest of them: adding one costs a list append, and only a deadline earlier than every
 * pending one restarts the sleeper (a server's timeouts are mostly the same length, so that is
 * rare). In tests `TestClock` drives them like any other sleep, one wake per deadline.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/** @since 0.1.0 @category Models */
export interface Deadlines {
  /** Calls `onExpire` once `millis` have passed on the Clock, unless the returned function is called first. */
  readonly after: (millis: number, onExpire: () => void) => Cancel
}

/** Cancels a deadline; calling it after it fired, or twice, does nothing. @since 0.1.0 @category Models */
export type Cancel = () => void

/**
 * A pending deadline, linked into the list of pending ones. A list rather than a `Set`: with a
 * long-lived `Set` that every request is added to and deleted from, V8's scavenger kept the
 * requests' objects alive until they were promoted (about 1.2 MB per scavenge at 3,200 requests
 * a second, measured with `--trace-gc-nvp`); a linked entry is unlinked and forgotten.
 */
interface Entry {
  readonly at: number
  readonly onExpire: () => void
  previous: Entry | undefined
  next: Entry | undefined
  pending: boolean
}

/**
 * Deadlines on the current Clock; pending ones are dropped when the Scope closes.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  let first: Entry | undefined
  let last: Entry | undefined
  let sleeper: Fiber.RuntimeFiber<void> | undefined
  let wakeAt = Infinity
  let closed = false

  const unlink = (entry: Entry): void => {
    if (!entry.pending) return
    entry.pending = false
    if (entry.previous === undefined) first = entry.next
    else entry.previous.next = entry.next
    if (entry.next === undefined) last = entry.previous
    else entry.next.previous = entry.previous
    entry.previous = entry.next = undefined
  }

  const expire = () => {
    const now = clock.unsafeCurrentTimeMillis()
    const due: Array<Entry> = []
    for (let entry = first; entry !== undefined; entry = entry.next) {
      if (entry.at <= now) due.push(entry)
    }
    for (const entry of due) unlink(entry)
    for (const entry of due) entry.onExpire()
  }

  const sleepUntilEarliest = (): void => {
    sleeper?.unsafeInterruptAsFork(FiberId.none)
    sleeper = undefined
    wakeAt = Infinity
    for (let entry = first; entry !== undefined; entry = entry.next) wakeAt = Math.min(wakeAt, entry.at)
    if (wakeAt === Infinity || closed) return
    const delay = Math.max(0, wakeAt - clock.unsafeCurrentTimeMillis())
    sleeper = runFork(Effect.zipRight(
      clock.sleep(Duration.millis(delay)),
      Effect.sync(() => {
        sleeper = undefined
        expire()
        sleepUntilEarliest()
      })
    ))
  }

  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      closed = true
      while (first !== undefined) unlink(first)
      sleeper?.unsafeInterruptAsFork(FiberId.none)
    })
  )

  return {
    after: (millis, onExpire) => {
      const entry: Entry = { at: clock.unsafeCurrentTimeMillis() + millis, onExpire, previous: undefined, next: undefined, pending: false }
      if (!closed) {
        entry.pending = true
        entry.previous = last
        if (last === undefined) first = entry
        else last.next = entry
        last = entry
        if (entry.at < wakeAt) sleepUntilEarliest()
      }
      return () => unlink(entry)
    }
  }
})

/**
 * Runs `effect` on a child fiber and fails with `onTimeout()` when it has not finished within
 * `millis`, interrupting it. One fork, where `Effect.timeout` races two.
 *
 * @since 0.1.0 @category Combinators
 */
export const within = <A, E, R, E2>(
  deadlines: Deadlines,
  millis: number,
  onTimeout: () => E2,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Effect.fork(effect), (fiber) =>
    Effect.async<A, E | E2>((resume) => {
      let settled = false
      const cancel = deadlines.after(millis, () => {
        if (settled) return
        settled = true
        fiber.unsafeInterruptAsFork(FiberId.none)
        resume(Effect.fail(onTimeout()))
      })
      fiber.addObserver((exit: Exit.Exit<A, E>) => {
        cancel()
        if (settled) return
        settled = true
        resume(exit)
      })
      return Effect.suspend(() => {
        cancel()
        return Fiber.interrupt(fiber)
      })
    }))
