/**
 * Retries of one target as a `Schedule`: exponential backoff with jitter, capped, waiting
 * what an upstream's `Retry-After` asks (itself capped), and only for failures worth another
 * attempt.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import type { GatewayError } from "./GatewayError.js"
import { isRetryable } from "./GatewayError.js"
import type { RetryConfig } from "./Routing.js"

/** @since 0.1.0 @category Defaults */
export const defaults = { initialBackoffMillis: 100, maxBackoffMillis: 10_000, maxRetryAfterMillis: 30_000 } as const

/**
 * Whether a target's failure deserves another attempt on the same target: a retryable failure
 * (network, timeout, 408, 409, 429, 5xx), narrowed to the listed statuses when
 * `on_status_codes` is set (which may also list a status that is otherwise terminal).
 *
 * @since 0.1.0 @category Predicates
 */
export const worthRetrying = (retry: RetryConfig | undefined) => (error: GatewayError): boolean => {
  const statuses = retry?.on_status_codes
  if (error._tag === "ProviderStatusError" && statuses !== undefined && statuses.length > 0) {
    return statuses.includes(error.status)
  }
  return isRetryable(error)
}

/**
 * The delay an upstream asked for, if any.
 *
 * @since 0.1.0 @category Predicates
 */
export const retryAfterMillis = (error: GatewayError): number | undefined =>
  error._tag === "ProviderStatusError" ? error.retryAfterMillis : undefined

/**
 * At most `attempts - 1` retries while `worthRetrying`; the n-th waits about
 * `initial_backoff_ms * 2^(n-1)` (uniformly jittered between 0.8 and 1.2 times, at most
 * `max_backoff_ms`), or exactly the upstream's `Retry-After` when it sent one (at most
 * `max_retry_after_ms`).
 *
 * @since 0.1.0 @category Constructors
 */
export const schedule = (retry: RetryConfig): Schedule.Schedule<GatewayError, GatewayError> => {
  const maxBackoff = retry.max_backoff_ms ?? defaults.maxBackoffMillis
  const maxRetryAfter = retry.max_retry_after_ms ?? defaults.maxRetryAfterMillis
  return Schedule.exponential(Duration.millis(retry.initial_backoff_ms ?? defaults.initialBackoffMillis)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(maxBackoff))),
    Schedule.intersect(Schedule.recurs(retry.attempts - 1)),
    Schedule.whileInput(worthRetrying(retry)),
    Schedule.passthrough,
    Schedule.modifyDelay((error, delay) => {
      const asked = retryAfterMillis(error)
      return asked === undefined ? delay : Duration.millis(Math.min(Math.max(0, asked), maxRetryAfter))
    })
  )
}

const built = new WeakMap<RetryConfig, Schedule.Schedule<GatewayError, GatewayError>>()

/**
 * `schedule(retry)`, built once per configuration object.
 *
 * @since 0.1.0 @category Constructors
 */
export const scheduleOf = (retry: RetryConfig): Schedule.Schedule<GatewayError, GatewayError> => {
  let s = built.get(retry)
  if (s === undefined) built.set(retry, s = schedule(retry))
  return s
}
