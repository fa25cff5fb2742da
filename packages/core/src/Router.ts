/**
 * Runs a plan: each candidate in turn, each attempt through the target's circuit breaker,
 * request timeout and retry `Schedule`, every attempt a span. A retryable failure (or a status
 * the target's `on_status_codes` lists) moves a pool plan on to the next candidate; a terminal
 * one is the answer at once. Targets whose circuit is open are skipped without a call; when
 * every candidate was skipped the request fails fast with `CircuitOpen`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Deadlines from "./Deadlines.js"
import type { GatewayError } from "./GatewayError.js"
import { CircuitOpen, isRetryable, ProviderTimeout } from "./GatewayError.js"
import type * as LatencyStats from "./LatencyStats.js"
import type { CallOptions } from "./Provider.js"
import type { RoutingTrace } from "./RequestContext.js"
import * as RetryPolicy from "./RetryPolicy.js"
import type { Timeouts } from "./Routing.js"
import type { Candidate, Plan } from "./RoutingStrategy.js"
import type * as Streaming from "./Streaming.js"

/** What one request's routing did, filled in as it runs. @since 0.1.0 @category Models */
export type Trace = RoutingTrace

/** One call to one candidate. @since 0.1.0 @category Models */
export type Attempt<A, R> = (candidate: Candidate, options: CallOptions) => Effect.Effect<A, GatewayError, R>

/** @since 0.1.0 @category Models */
export interface Served<A> {
  readonly value: A
  readonly candidate: Candidate
}

/** @since 0.1.0 @category Models */
export interface Router {
  /**
   * Tries `candidates` (default: the plan's) until one attempt succeeds. `attempt` is one call
   * to one candidate; it is wrapped here, not by the caller.
   */
  readonly run: <A, R>(
    plan: Plan,
    attempt: Attempt<A, R>,
    trace: Trace,
    candidates?: ReadonlyArray<Candidate>
  ) => Effect.Effect<Served<A>, GatewayError, R>
  /**
   * The pull of a stream `candidate` served, watched: a gap between chunks longer than its idle
   * timeout fails it with an idle `ProviderTimeout`, and a failure after it was served counts
   * against its circuit breaker like a failed attempt.
   */
  readonly watch: <A>(
    pull: Streaming.Pull<A, GatewayError>,
    candidate: Candidate
  ) => Streaming.Pull<A, GatewayError>
}

/**
 * Whether a candidate's failure hands the request to the next candidate of a pool plan.
 *
 * @since 0.1.0 @category Predicates
 */
export const movesOn = (candidate: Candidate, error: GatewayError): boolean =>
  isRetryable(error) || RetryPolicy.worthRetrying(candidate.target?.retry)(error)

/** @since 0.1.0 @category Constructors */
export const make = (options: {
  readonly breakers: CircuitBreaker.Service
  readonly latency: LatencyStats.Service
  readonly deadlines: Deadlines.Deadlines
  /** The defaults of every target. */
  readonly timeouts?: Timeouts | undefined
}): Effect.Effect<Router> =>
  Effect.map(Effect.clock, (clock) => {
    const { breakers, deadlines, latency } = options

    /** A span per attempt, when a tracer is on to receive it (a span costs ~15 µs even unrecorded). */
    const traced = <A, R>(
      effect: Effect.Effect<A, GatewayError, R>,
      plan: Plan,
      candidate: Candidate,
      attempt: number
    ): Effect.Effect<A, GatewayError, R> =>
      Effect.withFiberRuntime((fiber) =>
        fiber.getFiberRef(FiberRef.currentTracerEnabled)
          ? Effect.withSpan(effect, "Gateway.attempt", {
            kind: "client",
            captureStackTrace: false,
            attributes: {
              "switchyard.target": candidate.key,
              "switchyard.provider": candidate.provider.name,
              "switchyard.model": plan.model,
              "switchyard.attempt": attempt,
              ...(candidate.label !== undefined ? { "switchyard.variant": candidate.label } : {})
            }
          })
          : effect
      )

    const once = <A, R>(
      plan: Plan,
      candidate: Candidate,
      attempt: Attempt<A, R>,
      trace: Trace
    ): Effect.Effect<A, GatewayError, R> => {
      const timeout = candidate.target?.timeouts?.request ?? options.timeouts?.request
      const callOptions: CallOptions = timeout === undefined ? {} : { timeoutMillis: timeout }
      // Providers that enforce the timeout on the wire are trusted to; others are bounded here.
      const bounded = timeout === undefined || candidate.provider.enforcesTimeouts === true
        ? attempt(candidate, callOptions)
        : Deadlines.within(
          deadlines,
          timeout,
          () => new ProviderTimeout({ provider: candidate.provider.name, afterMillis: timeout }),
          attempt(candidate, callOptions)
        )
      const call = Effect.suspend(() => traced(bounded, plan, candidate, ++trace.attempts))
      const timed = plan.mode !== "least-latency" ? call : Effect.suspend(() => {
        const start = clock.unsafeCurrentTimeMillis()
        return Effect.tap(call, () => latency.record(candidate.key, clock.unsafeCurrentTimeMillis() - start))
      })
      const breaker = candidate.target?.circuit_breaker
      return breaker === undefined ? timed : CircuitBreaker.protect(breakers, candidate.key, breaker, timed)
    }

    /** Retries start after a first failure: a call that succeeds pays for no Schedule. */
    const withRetries = <A, R>(
      plan: Plan,
      candidate: Candidate,
      attempt: Attempt<A, R>,
      trace: Trace
    ): Effect.Effect<A, GatewayError, R> => {
      const single = once(plan, candidate, attempt, trace)
      const retry = candidate.target?.retry
      if (retry === undefined || retry.attempts <= 1) return single
      const schedule = RetryPolicy.scheduleOf(retry)
      return Effect.catchAll(single, (first) =>
        Effect.flatMap(Schedule.driver(schedule), (driver) => {
          const again = (error: GatewayError): Effect.Effect<A, GatewayError, R> =>
            Effect.matchEffect(driver.next(error), {
              onFailure: () => Effect.fail(error),
              onSuccess: () => Effect.catchAll(single, again)
            })
          return again(first)
        }))
    }

    const run = <A, R>(
      plan: Plan,
      attempt: Attempt<A, R>,
      trace: Trace,
      candidates: ReadonlyArray<Candidate> = plan.candidates
    ): Effect.Effect<Served<A>, GatewayError, R> => Effect.suspend(() => {
      const skipped: Array<CircuitOpen> = []
      const from = (i: number, last: GatewayError | undefined): Effect.Effect<Served<A>, GatewayError, R> => {
        const candidate = candidates[i]
        if (candidate === undefined) {
          if (last !== undefined) return Effect.fail(last)
          return Effect.fail(new CircuitOpen({
            targets: skipped.flatMap((e) => e.targets),
            retryAfterMillis: Math.min(...skipped.map((e) => e.retryAfterMillis))
          }))
        }
        return Effect.matchEffect(withRetries(plan, candidate, attempt, trace), {
          onSuccess: (value) => Effect.succeed({ value, candidate }),
          onFailure: (error) => {
            if (error._tag === "CircuitOpen") {
              skipped.push(error)
              return from(i + 1, last)
            }
            return plan.failover && movesOn(candidate, error) ? from(i + 1, error) : Effect.fail(error)
          }
        })
      }
      return from(0, undefined)
    })

    const watch: Router["watch"] = (pull, candidate) => {
      const idle = candidate.target?.timeouts?.stream_idle ?? options.timeouts?.stream_idle
      const bounded = idle === undefined ? pull : Deadlines.within(
        deadlines,
        idle,
        () => Option.some(new ProviderTimeout({ provider: candidate.provider.name, afterMillis: idle, idle: true })),
        pull
      )
      const breaker = candidate.target?.circuit_breaker
      if (breaker === undefined) return bounded
      return Effect.tapError(bounded, (failure) =>
        Option.isSome(failure) && CircuitBreaker.isFailure(failure.value)
          ? breakers.onFailure(candidate.key, breaker)
          : Effect.void)
    }

    return { run, watch }
  })
