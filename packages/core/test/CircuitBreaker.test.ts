import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as CircuitBreaker from "@switchyard/core/CircuitBreaker"
import type { GatewayError } from "@switchyard/core/GatewayError"
import {
  CircuitOpen,
  InvalidRequest,
  ProviderOutputError,
  ProviderStatusError,
  ProviderTimeout,
  ProviderUnreachable
} from "@switchyard/core/GatewayError"
import type { CircuitBreakerConfig } from "@switchyard/core/Routing"

const status = (code: number) => new ProviderStatusError({ provider: "p", status: code, body: "{}" })
const unreachable = new ProviderUnreachable({ provider: "p", detail: "ECONNREFUSED" })

/** Opens after 3 failures, for 10 s. */
const config: CircuitBreakerConfig = { failure_threshold: 3, timeout: 10_000 }

/** `admit`'s outcome: undefined when let through, else the refusal. */
const admitted = (breakers: CircuitBreaker.Service, target: string, c: CircuitBreakerConfig = config) =>
  Effect.match(breakers.admit(target, c), { onFailure: (e) => e, onSuccess: () => undefined })

const failTimes = (breakers: CircuitBreaker.Service, target: string, n: number, c: CircuitBreakerConfig = config) =>
  Effect.repeatN(breakers.onFailure(target, c), n - 1)

describe("CircuitBreaker", () => {
  describe("closed", () => {
    it.effect("lets calls through until failure_threshold consecutive failures open it", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        assert.strictEqual(yield* breakers.state("a", config), "closed")
        yield* failTimes(breakers, "a", 2)
        assert.strictEqual(yield* breakers.state("a", config), "closed")
        assert.strictEqual(yield* admitted(breakers, "a"), undefined)
        yield* breakers.onFailure("a", config)
        assert.strictEqual(yield* breakers.state("a", config), "open")
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 10_000 }))
      }))

    it.effect("a success resets the count of consecutive failures", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 2)
        yield* breakers.onSuccess("a", config)
        yield* failTimes(breakers, "a", 2)
        assert.strictEqual(yield* breakers.state("a", config), "closed")
        yield* breakers.onFailure("a", config)
        assert.strictEqual(yield* breakers.state("a", config), "open")
      }))

    it.effect("defaults: opens after 5 failures, for 30 s", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 4, {})
        assert.strictEqual(yield* breakers.state("a", {}), "closed")
        yield* breakers.onFailure("a", {})
        assert.deepStrictEqual(yield* admitted(breakers, "a", {}), new CircuitOpen({ targets: ["a"], retryAfterMillis: 30_000 }))
        yield* TestClock.adjust("29999 millis")
        assert.strictEqual(yield* breakers.state("a", {}), "open")
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* breakers.state("a", {}), "half-open")
      }))

    it.effect("each target has its own circuit", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* failTimes(breakers, "b", 2)
        assert.strictEqual(yield* breakers.state("a", config), "open")
        assert.strictEqual(yield* breakers.state("b", config), "closed")
        assert.strictEqual(yield* admitted(breakers, "b"), undefined)
      }))
  })

  describe("open", () => {
    it.effect("refuses with the time left before a probe, counted on the Clock", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("4 seconds")
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 6000 }))
        yield* TestClock.adjust("5999 millis")
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 1 }))
        assert.strictEqual(yield* breakers.state("a", config), "open")
      }))

    it.effect("late failures of calls let through before it opened do not push the timeout back", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("6 seconds")
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("4 seconds")
        assert.strictEqual(yield* breakers.state("a", config), "half-open")
      }))
  })

  describe("half-open", () => {
    const opened = Effect.gen(function*() {
      const breakers = yield* CircuitBreaker.make
      yield* failTimes(breakers, "a", 3)
      yield* TestClock.adjust("10 seconds")
      return breakers
    })

    it.effect("after the timeout lets one probe through at a time", () =>
      Effect.gen(function*() {
        const breakers = yield* opened
        assert.strictEqual(yield* breakers.state("a", config), "half-open")
        assert.strictEqual(yield* admitted(breakers, "a"), undefined)
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 0 }))
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 0 }))
        assert.strictEqual(yield* breakers.state("a", config), "half-open")
      }))

    it.effect("a successful probe closes it (success_threshold 1)", () =>
      Effect.gen(function*() {
        const breakers = yield* opened
        yield* breakers.admit("a", config)
        yield* breakers.onSuccess("a", config)
        assert.strictEqual(yield* breakers.state("a", config), "closed")
        assert.strictEqual(yield* admitted(breakers, "a"), undefined)
        assert.strictEqual(yield* admitted(breakers, "a"), undefined)
        // Closed afresh: it takes failure_threshold failures again to open.
        yield* failTimes(breakers, "a", 2)
        assert.strictEqual(yield* breakers.state("a", config), "closed")
      }))

    it.effect("success_threshold consecutive successful probes close it, one after the other", () =>
      Effect.gen(function*() {
        const c = { ...config, success_threshold: 3 }
        const breakers = yield* opened
        for (let probe = 1; probe <= 2; probe++) {
          assert.strictEqual(yield* admitted(breakers, "a", c), undefined)
          assert.strictEqual((yield* admitted(breakers, "a", c))?._tag, "CircuitOpen")
          yield* breakers.onSuccess("a", c)
          assert.strictEqual(yield* breakers.state("a", c), "half-open")
        }
        yield* breakers.admit("a", c)
        yield* breakers.onSuccess("a", c)
        assert.strictEqual(yield* breakers.state("a", c), "closed")
      }))

    it.effect("a failed probe opens it again for a whole timeout, and the successes so far are forgotten", () =>
      Effect.gen(function*() {
        const c = { ...config, success_threshold: 2 }
        const breakers = yield* opened
        yield* breakers.admit("a", c)
        yield* breakers.onSuccess("a", c)
        yield* TestClock.adjust("3 seconds")
        yield* breakers.admit("a", c)
        yield* breakers.onFailure("a", c)
        assert.strictEqual(yield* breakers.state("a", c), "open")
        assert.deepStrictEqual(yield* admitted(breakers, "a", c), new CircuitOpen({ targets: ["a"], retryAfterMillis: 10_000 }))
        yield* TestClock.adjust("10 seconds")
        yield* breakers.admit("a", c)
        yield* breakers.onSuccess("a", c)
        assert.strictEqual(yield* breakers.state("a", c), "half-open")
        yield* breakers.admit("a", c)
        yield* breakers.onSuccess("a", c)
        assert.strictEqual(yield* breakers.state("a", c), "closed")
      }))

    it.effect("a cancelled probe frees the slot for the next", () =>
      Effect.gen(function*() {
        const breakers = yield* opened
        yield* breakers.admit("a", config)
        yield* breakers.onCancel("a")
        assert.strictEqual(yield* breakers.state("a", config), "half-open")
        assert.strictEqual(yield* admitted(breakers, "a"), undefined)
        assert.strictEqual((yield* admitted(breakers, "a"))?._tag, "CircuitOpen")
      }))

    it.effect("cancelling changes nothing while closed or open", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* breakers.onCancel("never-seen")
        yield* failTimes(breakers, "a", 2)
        yield* breakers.onCancel("a")
        yield* breakers.onFailure("a", config)
        assert.strictEqual(yield* breakers.state("a", config), "open")
        yield* breakers.onCancel("a")
        assert.deepStrictEqual(yield* admitted(breakers, "a"), new CircuitOpen({ targets: ["a"], retryAfterMillis: 10_000 }))
      }))
  })

  describe("protect", () => {
    /** Runs `outcome` through target `a`'s circuit; counts how often it actually ran. */
    const guarded = (breakers: CircuitBreaker.Service, outcome: Effect.Effect<string, GatewayError>) => {
      let runs = 0
      const call = CircuitBreaker.protect(breakers, "a", config, Effect.suspend(() => (runs++, outcome)))
      return { call, runs: () => runs }
    }

    /** Forks `effect` through target `a`'s circuit; returns once it runs (so was let through). */
    const started = (breakers: CircuitBreaker.Service, c: CircuitBreakerConfig, effect: Effect.Effect<string>) =>
      Effect.gen(function*() {
        const running = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          CircuitBreaker.protect(breakers, "a", c, Effect.zipRight(Deferred.succeed(running, undefined), effect))
        )
        yield* Deferred.await(running)
        return fiber
      })

    it.effect("records retryable failures and refuses at once, without calling, once open", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        const { call, runs } = guarded(breakers, Effect.fail(status(503)))
        for (let i = 0; i < 3; i++) assert.deepStrictEqual(yield* Effect.flip(call), status(503))
        assert.deepStrictEqual(yield* Effect.flip(call), new CircuitOpen({ targets: ["a"], retryAfterMillis: 10_000 }))
        assert.strictEqual(runs(), 3)
      }))

    it.effect("timeouts, unreachable upstreams, malformed answers and defects count as failures", () =>
      Effect.gen(function*() {
        const outcomes: Array<Effect.Effect<string, GatewayError>> = [
          Effect.fail(new ProviderTimeout({ provider: "p", afterMillis: 100 })),
          Effect.fail(new ProviderOutputError({ provider: "p", detail: "not JSON" })),
          Effect.dieMessage("bug")
        ]
        const breakers = yield* CircuitBreaker.make
        for (const outcome of outcomes) yield* Effect.exit(guarded(breakers, outcome).call)
        assert.strictEqual(yield* breakers.state("a", config), "open")
      }))

    it.effect("a success, or a terminal 4xx, resets the failure count", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        const failing = guarded(breakers, Effect.fail(unreachable)).call
        for (const healthy of [Effect.succeed("ok"), Effect.fail(status(400)), Effect.fail(status(404))]) {
          yield* Effect.exit(failing)
          yield* Effect.exit(failing)
          assert.deepStrictEqual(yield* Effect.exit(guarded(breakers, healthy).call), yield* Effect.exit(healthy))
          assert.strictEqual(yield* breakers.state("a", config), "closed")
        }
        yield* Effect.exit(failing)
        yield* Effect.exit(failing)
        assert.strictEqual(yield* breakers.state("a", config), "closed")
        yield* Effect.exit(failing)
        assert.strictEqual(yield* breakers.state("a", config), "open")
      }))

    it.effect("a probe answered with a terminal 4xx closes the circuit: the upstream is up", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual(yield* Effect.flip(guarded(breakers, Effect.fail(status(422))).call), status(422))
        assert.strictEqual(yield* breakers.state("a", config), "closed")
      }))

    it.effect("a failed probe reopens the circuit", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("10 seconds")
        yield* Effect.exit(guarded(breakers, Effect.fail(status(500))).call)
        assert.strictEqual(yield* breakers.state("a", config), "open")
      }))

    it.effect("while a probe is in flight others are refused; an interrupted probe frees the slot", () =>
      Effect.gen(function*() {
        const breakers = yield* CircuitBreaker.make
        yield* failTimes(breakers, "a", 3)
        yield* TestClock.adjust("10 seconds")
        const probe = yield* started(breakers, config, Effect.never)
        const other = guarded(breakers, Effect.succeed("ok"))
        assert.deepStrictEqual(yield* Effect.flip(other.call), new CircuitOpen({ targets: ["a"], retryAfterMillis: 0 }))
        assert.strictEqual(other.runs(), 0)
        yield* Fiber.interrupt(probe)
        assert.strictEqual(yield* breakers.state("a", config), "half-open")
        assert.strictEqual(yield* other.call, "ok")
        assert.strictEqual(yield* breakers.state("a", config), "closed")
      }))

    // The service cannot tell a probe's outcome from that of a call let through while the
    // circuit was still closed: such a late success frees the probe slot (and counts as a
    // probe) while the real probe is still in flight, so a second concurrent call gets through.
    it.effect("a late success of a call let through while closed does not let a second probe in", () =>
      Effect.gen(function*() {
        const c = { ...config, success_threshold: 2 }
        const breakers = yield* CircuitBreaker.make
        const release = yield* Deferred.make<void>()
        const slow = yield* started(breakers, c, Effect.as(Deferred.await(release), "slow"))
        yield* failTimes(breakers, "a", 3, c)
        yield* TestClock.adjust("10 seconds")
        const probe = yield* started(breakers, c, Effect.never)
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(yield* Fiber.join(slow), "slow")
        const second = yield* Effect.exit(breakers.admit("a", c))
        yield* Fiber.interrupt(probe)
        assert.deepStrictEqual(second, Exit.fail(new CircuitOpen({ targets: ["a"], retryAfterMillis: 0 })))
      }))
  })
})

describe("CircuitBreaker.isFailure", () => {
  it("the upstream's health: retryable failures and malformed answers count, a terminal 4xx does not", () => {
    assert.isTrue(CircuitBreaker.isFailure(status(500)))
    assert.isTrue(CircuitBreaker.isFailure(status(429)))
    assert.isTrue(CircuitBreaker.isFailure(status(408)))
    assert.isTrue(CircuitBreaker.isFailure(unreachable))
    assert.isTrue(CircuitBreaker.isFailure(new ProviderTimeout({ provider: "p", afterMillis: 1 })))
    assert.isTrue(CircuitBreaker.isFailure(new ProviderOutputError({ provider: "p", detail: "x" })))
    assert.isFalse(CircuitBreaker.isFailure(status(400)))
    assert.isFalse(CircuitBreaker.isFailure(status(401)))
    assert.isFalse(CircuitBreaker.isFailure(status(404)))
    assert.isFalse(CircuitBreaker.isFailure(new InvalidRequest({ message: "bad" })))
  })
})

describe("CircuitBreaker.layer", () => {
  it.effect("provides in-memory circuits on the Clock", () =>
    Effect.gen(function*() {
      const breakers = yield* CircuitBreaker.CircuitBreakers
      yield* failTimes(breakers, "a", 3)
      assert.strictEqual(yield* breakers.state("a", config), "open")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* breakers.state("a", config), "half-open")
    }).pipe(Effect.provide(CircuitBreaker.layer)))
})
