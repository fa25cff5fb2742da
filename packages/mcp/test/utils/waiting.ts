/**
 * Waiting on real I/O from tests that run on the TestClock. Sockets and child processes make
 * progress only while the event loop turns, which Effect's clock does not control: these helpers
 * give it a few milliseconds at a time until a condition holds (and fail after about 5 s). Every
 * timeout and backoff still runs on the TestClock, advanced by the tests themselves.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

const turn = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

/** Checks `condition` after each turn of the event loop until it holds. */
export const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, what: string): Effect.Effect<void, E, R> => {
  const attempt = (left: number): Effect.Effect<void, E, R> =>
    Effect.flatMap(condition, (holds) =>
      holds ? Effect.void : left === 0 ? Effect.dieMessage(`still waiting for ${what}`) : Effect.zipRight(turn, attempt(left - 1)))
  return attempt(1000)
}

/** Lets pending I/O run its course, for a check that something did not happen. */
export const settle = Effect.repeatN(turn, 20)

/** Waits until a fiber sleeps `millis` from now on the TestClock (the next reconnection attempt). */
export const sleeping = (millis: number): Effect.Effect<void> =>
  eventually(
    Effect.zipWith(Clock.currentTimeMillis, TestClock.sleeps(), (now, sleeps) => Chunk.some(sleeps, (end) => end === now + millis)),
    `a sleep of ${millis} ms`
  )
