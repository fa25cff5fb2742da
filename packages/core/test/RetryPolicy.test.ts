import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import type { GatewayError } from "@switchyard/core/GatewayError"
import {
  InvalidRequest,
  ProviderOutputError,
  ProviderStatusError,
  ProviderTimeout,
  ProviderUnreachable
} from "@switchyard/core/GatewayError"
import * as RetryPolicy from "@switchyard/core/RetryPolicy"
import type { RetryConfig } from "@switchyard/core/Routing"

const status = (code: number, retryAfterMillis?: number) =>
  new ProviderStatusError({
    provider: "p",
    status: code,
    body: "{}",
    ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
  })
const unreachable = new ProviderUnreachable({ provider: "p", detail: "ECONNRESET" })
const timeout = new ProviderTimeout({ provider: "p", afterMillis: 1000 })
const malformed = new ProviderOutputError({ provider: "p", detail: "not JSON" })

/** Jitter pinned: Random 0 waits 0.8 times the backoff, 0.5 exactly it, 1 1.2 times it. */
const jitterAt = (u: number) => Effect.withRandom(Random.fixed([u]))

/**
 * Retries, under `RetryPolicy.schedule(retry)`, a call that fails with `failures` in turn and
 * then succeeds (resolving to its attempt count); records the Clock's time of every attempt.
 * Runs forked: drive it with TestClock. Jitter is pinned to 1x unless `withRandom` says otherwise.
 */
const retried = (
  retry: RetryConfig,
  failures: ReadonlyArray<GatewayError>,
  withRandom: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = jitterAt(0.5)
) =>
  Effect.gen(function*() {
    const attempts: Array<number> = []
    const call = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      attempts.push(now)
      const failure = failures[attempts.length - 1]
      return failure === undefined ? Effect.succeed(attempts.length) : Effect.fail(failure)
    })
    const fiber = yield* Effect.fork(withRandom(Effect.retry(call, RetryPolicy.schedule(retry))))
    return { attempts, fiber }
  })

const always = (error: GatewayError) => Array.from({ length: 20 }, () => error)

describe("RetryPolicy.schedule", () => {
  describe("backoff", () => {
    it.effect("the first attempt runs at once; the n-th retry waits initial * 2^(n-1)", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried({ attempts: 4, initial_backoff_ms: 100 }, always(status(503)))
        yield* TestClock.adjust(0)
        assert.deepStrictEqual(attempts, [0])
        yield* TestClock.adjust(99)
        assert.deepStrictEqual(attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 100])
        yield* TestClock.adjust(199)
        assert.deepStrictEqual(attempts, [0, 100])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 100, 300])
        yield* TestClock.adjust(399)
        assert.deepStrictEqual(attempts, [0, 100, 300])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 100, 300, 700])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(attempts, [0, 100, 300, 700])
        assert.deepStrictEqual(yield* Effect.flip(Fiber.join(fiber)), status(503))
      }))

    it.effect("jitter stretches each backoff between 0.8 and 1.2 times", () =>
      Effect.gen(function*() {
        const low = yield* retried({ attempts: 4, initial_backoff_ms: 100 }, always(status(503)), jitterAt(0))
        const high = yield* retried({ attempts: 4, initial_backoff_ms: 100 }, always(status(503)), jitterAt(1))
        yield* TestClock.adjust(10_000)
        assert.deepStrictEqual(low.attempts, [0, 80, 240, 560])
        assert.deepStrictEqual(high.attempts, [0, 120, 360, 840])
      }))

    it.effect("with a real Random the backoffs spread over the whole 0.8x..1.2x band and never leave it", () =>
      Effect.gen(function*() {
        const runs = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (seed) =>
            retried({ attempts: 4, initial_backoff_ms: 1000 }, always(unreachable), Effect.withRandom(Random.make(`jitter-${seed}`)))
        )
        yield* TestClock.adjust("1 minute")
        const ratios = runs.flatMap(({ attempts }) => {
          assert.strictEqual(attempts.length, 4)
          return [1, 2, 3].map((n) => (attempts[n]! - attempts[n - 1]!) / (1000 * 2 ** (n - 1)))
        })
        for (const ratio of ratios) {
          assert.isAtLeast(ratio, 0.8)
          assert.isAtMost(ratio, 1.2)
        }
        assert.isBelow(Math.min(...ratios), 0.85)
        assert.isAbove(Math.max(...ratios), 1.15)
      }))

    it.effect("a backoff never exceeds max_backoff_ms, jitter included", () =>
      Effect.gen(function*() {
        const { attempts } = yield* retried(
          { attempts: 5, initial_backoff_ms: 1000, max_backoff_ms: 1500 },
          always(status(500)),
          jitterAt(1)
        )
        yield* TestClock.adjust(1199)
        assert.deepStrictEqual(attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 1200])
        yield* TestClock.adjust("1 minute")
        // 2400, 4800 and 9600 are all cut to 1500.
        assert.deepStrictEqual(attempts, [0, 1200, 2700, 4200, 5700])
      }))

    it.effect("defaults: 100 ms initial backoff, 10 s at most", () =>
      Effect.gen(function*() {
        const { attempts } = yield* retried({ attempts: 10 }, always(timeout))
        yield* TestClock.adjust("1 minute")
        const delays = attempts.slice(1).map((t, i) => t - attempts[i]!)
        assert.deepStrictEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000])
      }))
  })

  describe("Retry-After", () => {
    it.effect("waits exactly what the upstream asked, whatever the jitter", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried(
          { attempts: 2, initial_backoff_ms: 100 },
          [status(429, 2500)],
          Effect.withRandom(Random.make("retry-after"))
        )
        yield* TestClock.adjust(2499)
        assert.deepStrictEqual(attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 2500])
        assert.strictEqual(yield* Fiber.join(fiber), 2)
      }))

    it.effect("is not cut by max_backoff_ms, only by max_retry_after_ms", () =>
      Effect.gen(function*() {
        const honoured = yield* retried({ attempts: 2, max_backoff_ms: 1000 }, [status(503, 20_000)])
        const capped = yield* retried({ attempts: 2, max_retry_after_ms: 5000 }, [status(429, 60_000)])
        yield* TestClock.adjust(4999)
        assert.deepStrictEqual(capped.attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(capped.attempts, [0, 5000])
        yield* TestClock.adjust(14_999)
        assert.deepStrictEqual(honoured.attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(honoured.attempts, [0, 20_000])
      }))

    it.effect("the default cap is 30 s", () =>
      Effect.gen(function*() {
        const { attempts } = yield* retried({ attempts: 2 }, [status(429, 120_000)])
        yield* TestClock.adjust(29_999)
        assert.deepStrictEqual(attempts, [0])
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(attempts, [0, 30_000])
      }))

    it.effect("zero (or a negative value) retries at once", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried({ attempts: 3, initial_backoff_ms: 1000 }, [status(429, 0), status(429, -5)])
        yield* TestClock.adjust(0)
        assert.deepStrictEqual(attempts, [0, 0, 0])
        assert.strictEqual(yield* Fiber.join(fiber), 3)
      }))

    it.effect("a failure without Retry-After backs off by its own position in the sequence", () =>
      Effect.gen(function*() {
        const { attempts } = yield* retried({ attempts: 3, initial_backoff_ms: 100 }, [status(429, 3000), status(503)])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(attempts, [0, 3000, 3200])
      }))

    it.effect("does not make a terminal failure retryable", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried({ attempts: 3 }, [status(400, 10)])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(attempts, [0])
        assert.deepStrictEqual(yield* Effect.flip(Fiber.join(fiber)), status(400, 10))
      }))
  })

  describe("which failures, how many times", () => {
    it.effect("at most attempts - 1 retries, then the last failure", () =>
      Effect.gen(function*() {
        const three = yield* retried({ attempts: 3 }, [status(500), status(502), status(503), status(504)])
        const one = yield* retried({ attempts: 1 }, [status(500)])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(three.attempts.length, 3)
        assert.deepStrictEqual(yield* Effect.flip(Fiber.join(three.fiber)), status(503))
        assert.strictEqual(one.attempts.length, 1)
        assert.deepStrictEqual(yield* Effect.flip(Fiber.join(one.fiber)), status(500))
      }))

    it.effect("a success ends the retries", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried({ attempts: 5 }, [unreachable, timeout])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(attempts.length, 3)
        assert.strictEqual(yield* Fiber.join(fiber), 3)
      }))

    it.effect("retries network failures, timeouts, 408, 409, 429 and 5xx", () =>
      Effect.gen(function*() {
        const fibers = yield* Effect.forEach(
          [unreachable, timeout, status(408), status(409), status(429), status(500), status(503), status(599)],
          (error) => retried({ attempts: 2 }, [error])
        )
        yield* TestClock.adjust("1 minute")
        for (const { attempts, fiber } of fibers) {
          assert.strictEqual(attempts.length, 2)
          assert.strictEqual(yield* Fiber.join(fiber), 2)
        }
      }))

    it.effect("does not retry other 4xx, malformed answers or gateway-side errors", () =>
      Effect.gen(function*() {
        const errors = [status(400), status(401), status(404), status(422), malformed, new InvalidRequest({ message: "bad" })]
        const fibers = yield* Effect.forEach(errors, (error) => retried({ attempts: 5 }, [error]))
        yield* TestClock.adjust("1 minute")
        for (const [i, { attempts, fiber }] of fibers.entries()) {
          assert.strictEqual(attempts.length, 1, errors[i]!._tag)
          const exit = yield* Fiber.await(fiber)
          assert.deepStrictEqual(exit, Exit.fail(errors[i]!))
        }
      }))

    it.effect("stops at the first failure not worth retrying", () =>
      Effect.gen(function*() {
        const { attempts, fiber } = yield* retried({ attempts: 5 }, [status(503), status(400), status(503)])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(attempts.length, 2)
        assert.deepStrictEqual(yield* Effect.flip(Fiber.join(fiber)), status(400))
      }))

    it.effect("on_status_codes narrows the retried statuses, and may list a terminal one", () =>
      Effect.gen(function*() {
        const retry = { attempts: 2, on_status_codes: [429, 400] }
        const listed = yield* Effect.forEach([status(429), status(400)], (error) => retried(retry, [error]))
        const unlisted = yield* retried(retry, [status(503)])
        const network = yield* retried(retry, [unreachable])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(listed.map((r) => r.attempts.length), [2, 2])
        assert.strictEqual(unlisted.attempts.length, 1)
        assert.strictEqual(network.attempts.length, 2)
      }))
  })
})

describe("RetryPolicy.worthRetrying", () => {
  it("is isRetryable without a status list", () => {
    const worth = RetryPolicy.worthRetrying(undefined)
    assert.isTrue(worth(status(429)))
    assert.isTrue(worth(status(500)))
    assert.isTrue(worth(unreachable))
    assert.isTrue(worth(timeout))
    assert.isFalse(worth(status(400)))
    assert.isFalse(worth(malformed))
  })

  it("an empty status list is no list", () => {
    const worth = RetryPolicy.worthRetrying({ attempts: 3, on_status_codes: [] })
    assert.isTrue(worth(status(503)))
    assert.isFalse(worth(status(404)))
  })

  it("a status list decides statuses only", () => {
    const worth = RetryPolicy.worthRetrying({ attempts: 3, on_status_codes: [404] })
    assert.isTrue(worth(status(404)))
    assert.isFalse(worth(status(503)))
    assert.isTrue(worth(timeout))
    assert.isFalse(worth(malformed))
  })
})

describe("RetryPolicy.retryAfterMillis", () => {
  it("is the status error's Retry-After, if any", () => {
    assert.strictEqual(RetryPolicy.retryAfterMillis(status(429, 1500)), 1500)
    assert.strictEqual(RetryPolicy.retryAfterMillis(status(429)), undefined)
    assert.strictEqual(RetryPolicy.retryAfterMillis(unreachable), undefined)
  })
})
