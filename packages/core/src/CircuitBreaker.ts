/**
 * Circuit breakers keyed by target. Closed: calls go through and consecutive failures are
 * counted; at `failure_threshold` the circuit opens. Open: calls are refused at once with
 * `CircuitOpen` until `timeout` has passed. Half-open: one probe at a time goes through;
 * `success_threshold` consecutive successful probes close the circuit, a failed one opens it
 * again. Time is the Clock's, so `TestClock` drives the transitions.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { GatewayError } from "./GatewayError.js"
import { CircuitOpen, isRetryable } from "./GatewayError.js"
import type { CircuitBreakerConfig } from "./Routing.js"

/** @since 0.1.0 @category Defaults */
export const defaults = { failureThreshold: 5, successThreshold: 1, timeoutMillis: 30_000 } as const

/** @since 0.1.0 @category Models */
export type State = "closed" | "open" | "half-open"

/**
 * What `admit` hands a call: which opening of the circuit it belongs to, and whether it is the
 * half-open probe. A result reported with an older ticket (a call let through before the
 * circuit last opened) changes nothing.
 *
 * @since 0.1.0 @category Models
 */
export interface Ticket {
  readonly epoch: number
  readonly probe: boolean
}

/** @since 0.1.0 @category Models */
export interface Service {
  /** Lets a call to `target` through (taking the probe slot when half-open), or refuses it. */
  readonly admit: (target: string, config: CircuitBreakerConfig) => Effect.Effect<Ticket, CircuitOpen>
  /** Without a ticket, a result observed now (a stream that broke after it was served). */
  readonly onSuccess: (target: string, config: CircuitBreakerConfig, ticket?: Ticket) => Effect.Effect<void>
  readonly onFailure: (target: string, config: CircuitBreakerConfig, ticket?: Ticket) => Effect.Effect<void>
  /** An admitted call ended with neither outcome (it was interrupted): frees the probe slot. */
  readonly onCancel: (target: string, ticket?: Ticket) => Effect.Effect<void>
  readonly state: (target: string, config: CircuitBreakerConfig) => Effect.Effect<State>
}

/** @since 0.1.0 @category Context */
export class CircuitBreakers extends Context.Tag("@switchyard/core/CircuitBreakers")<CircuitBreakers, Service>() {}

interface Circuit {
  state: State
  /** Consecutive failures while closed; consecutive successful probes while half-open. */
  count: number
  openedAt: number
  probing: boolean
  /** How many times it has opened: the generation of the tickets it hands out. */
  epoch: number
}

const timeoutOf = (config: CircuitBreakerConfig) => config.timeout ?? defaults.timeoutMillis

/**
 * In-memory circuits, one per target name, on the Clock of the Effect that builds them.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: Effect.Effect<Service> = Effect.map(Effect.clock, (clock) => {
  const circuits = new Map<string, Circuit>()
  const circuit = (target: string): Circuit => {
    let c = circuits.get(target)
    if (c === undefined) {
      c = { state: "closed", count: 0, openedAt: 0, probing: false, epoch: 0 }
      circuits.set(target, c)
    }
    return c
  }
  /** Moves an open circuit whose timeout has passed to half-open. */
  const current = (c: Circuit, config: CircuitBreakerConfig, now: number): State => {
    if (c.state === "open" && now - c.openedAt >= timeoutOf(config)) {
      c.state = "half-open"
      c.count = 0
      c.probing = false
    }
    return c.state
  }
  const open = (c: Circuit, now: number) => {
    c.state = "open"
    c.openedAt = now
    c.count = 0
    c.probing = false
    c.epoch++
  }
  const stale = (c: Circuit, ticket: Ticket | undefined) => ticket !== undefined && ticket.epoch !== c.epoch
  return CircuitBreakers.of({
    admit: (target, config) =>
      Effect.suspend((): Effect.Effect<Ticket, CircuitOpen> => {
        const c = circuit(target)
        const now = clock.unsafeCurrentTimeMillis()
        const state = current(c, config, now)
        if (state === "closed") return Effect.succeed({ epoch: c.epoch, probe: false })
        if (state === "half-open" && !c.probing) {
          c.probing = true
          return Effect.succeed({ epoch: c.epoch, probe: true })
        }
        // Open, or half-open with its probe in flight (then the probe decides soon).
        const retryAfterMillis = state === "open" ? c.openedAt + timeoutOf(config) - now : 0
        return Effect.fail(new CircuitOpen({ targets: [target], retryAfterMillis }))
      }),
    onSuccess: (target, config, ticket) =>
      Effect.sync(() => {
        const c = circuit(target)
        if (stale(c, ticket)) return
        if (c.state === "half-open") {
          c.probing = false
          if (++c.count >= (config.success_threshold ?? defaults.successThreshold)) {
            c.state = "closed"
            c.count = 0
          }
        } else if (c.state === "closed") c.count = 0
      }),
    onFailure: (target, config, ticket) =>
      Effect.sync(() => {
        const c = circuit(target)
        if (stale(c, ticket)) return
        const now = clock.unsafeCurrentTimeMillis()
        if (c.state === "half-open") open(c, now)
        else if (c.state === "closed" && ++c.count >= (config.failure_threshold ?? defaults.failureThreshold)) open(c, now)
      }),
    onCancel: (target, ticket) =>
      Effect.sync(() => {
        const c = circuits.get(target)
        if (c !== undefined && !stale(c, ticket) && c.state === "half-open") c.probing = false
      }),
    state: (target, config) => Effect.sync(() => current(circuit(target), config, clock.unsafeCurrentTimeMillis()))
  })
})

/** @since 0.1.0 @category Layers */
export const layer: Layer.Layer<CircuitBreakers> = Layer.effect(CircuitBreakers, make)

/**
 * Whether a failure counts against the target's health: retryable failures (the upstream is
 * down, slow or overloaded) and malformed answers do; a terminal 4xx means the upstream is
 * healthy and the request was wrong.
 *
 * @since 0.1.0 @category Predicates
 */
export const isFailure = (error: GatewayError): boolean => isRetryable(error) || error._tag === "ProviderOutputError"

/**
 * Runs `effect` through `target`'s circuit: refused at once while open, its outcome recorded
 * under the ticket it was let through with (an interruption between the two cannot lose a
 * probe slot).
 *
 * @since 0.1.0 @category Combinators
 */
export const protect = <A, R>(
  breakers: Service,
  target: string,
  config: CircuitBreakerConfig,
  effect: Effect.Effect<A, GatewayError, R>
): Effect.Effect<A, GatewayError, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(breakers.admit(target, config), (ticket) =>
      Effect.onExit(restore(effect), (exit) => {
        if (Exit.isSuccess(exit)) return breakers.onSuccess(target, config, ticket)
        const failure = Cause.failureOption(exit.cause)
        if (failure._tag === "Some") {
          return isFailure(failure.value)
            ? breakers.onFailure(target, config, ticket)
            : breakers.onSuccess(target, config, ticket)
        }
        return Cause.isInterruptedOnly(exit.cause)
          ? breakers.onCancel(target, ticket)
          : breakers.onFailure(target, config, ticket)
      }))
  )
