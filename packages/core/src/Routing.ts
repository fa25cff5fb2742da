/**
 * Routing configuration (Ferro's `strategy`, `targets`, `aliases`) and its interpretation:
 * which providers may serve a model, in which order, with which retry `Schedule`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { GatewayError } from "./GatewayError.js"
import { isRetryable, ModelNotFound } from "./GatewayError.js"
import type { Provider } from "./Provider.js"
import type * as ProviderRegistry from "./ProviderRegistry.js"

/** @since 0.1.0 @category Schemas */
export const RetryConfig = Schema.Struct({
  /** Attempts per target, the first included: 1 means no retry. */
  attempts: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  /** When set, only these upstream statuses are retried (transport errors and timeouts always are). */
  on_status_codes: Schema.optional(Schema.Array(Schema.Int)),
  /** Base of the exponential backoff: delay = initial * 2^(attempt-1). Default 100 ms. */
  initial_backoff_ms: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type RetryConfig = typeof RetryConfig.Type

/** @since 0.1.0 @category Schemas */
export const Target = Schema.Struct({
  virtual_key: Schema.String,
  weight: Schema.optional(Schema.Number),
  retry: Schema.optional(RetryConfig)
})
export type Target = typeof Target.Type

/** @since 0.1.0 @category Schemas */
export const Strategy = Schema.Struct({ mode: Schema.Literal("single", "fallback") })
export type Strategy = typeof Strategy.Type

/** @since 0.1.0 @category Schemas */
export const RoutingConfig = Schema.Struct({
  strategy: Schema.optional(Strategy),
  targets: Schema.optional(Schema.Array(Target)),
  aliases: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type RoutingConfig = typeof RoutingConfig.Type

/** One provider to try, with its retry policy. @since 0.1.0 @category Models */
export interface Candidate {
  readonly provider: Provider
  readonly retry: RetryConfig | undefined
}

/** @since 0.1.0 @category Models */
export interface Route {
  /** The upstream model id: alias resolved, provider prefix stripped. */
  readonly model: string
  readonly candidates: ReadonlyArray<Candidate>
}

/**
 * Retries a target's call while the error is retryable (and, when `on_status_codes` is set,
 * its status is listed), with exponential backoff, at most `attempts - 1` times.
 *
 * @since 0.1.0 @category Retry
 */
export const retrySchedule = (retry: RetryConfig): Schedule.Schedule<unknown, GatewayError> => {
  const statuses = retry.on_status_codes
  const worthRetrying = (error: GatewayError) =>
    statuses !== undefined && statuses.length > 0 && error._tag === "ProviderStatusError"
      ? statuses.includes(error.status)
      : isRetryable(error)
  return Schedule.exponential(Duration.millis(retry.initial_backoff_ms ?? 100)).pipe(
    Schedule.intersect(Schedule.recurs(retry.attempts - 1)),
    Schedule.whileInput(worthRetrying)
  )
}

/** @since 0.1.0 @category Routing */
export const resolveAlias = (config: RoutingConfig, model: string): string => config.aliases?.[model] ?? model

/**
 * The providers that may serve `model`. A `provider/model` prefix naming a registered provider
 * pins that provider (prefix stripped). Otherwise the configured targets whose provider serves
 * the model, in order (only the first for `single`), or, with no targets configured, every
 * registered provider that serves it, in registration order.
 *
 * @since 0.1.0 @category Routing
 */
export const resolve = (
  config: RoutingConfig,
  registry: ProviderRegistry.Service,
  model: string
): Effect.Effect<Route, ModelNotFound> => {
  const slash = model.indexOf("/")
  if (slash > 0) {
    const pinned = registry.get(model.slice(0, slash))
    if (pinned._tag === "Some") {
      const target = config.targets?.find((t) => t.virtual_key === pinned.value.name)
      return Effect.succeed({ model: model.slice(slash + 1), candidates: [{ provider: pinned.value, retry: target?.retry }] })
    }
  }
  const candidates: Array<Candidate> = []
  if (config.targets !== undefined && config.targets.length > 0) {
    for (const target of config.targets) {
      const provider = registry.get(target.virtual_key)
      if (provider._tag === "Some" && provider.value.serves(model)) {
        candidates.push({ provider: provider.value, retry: target.retry })
      }
    }
  } else {
    for (const provider of registry.all()) {
      if (provider.serves(model)) candidates.push({ provider, retry: undefined })
    }
  }
  if (candidates.length === 0) return Effect.fail(new ModelNotFound({ model }))
  return Effect.succeed({ model, candidates: config.strategy?.mode === "single" ? candidates.slice(0, 1) : candidates })
}

/**
 * Runs `attempt` against each candidate in order, each with its retry schedule, until one
 * succeeds; fails with the last error when all fail.
 *
 * @since 0.1.0 @category Routing
 */
export const firstSuccess = <A, E extends GatewayError, R>(
  candidates: ReadonlyArray<Candidate>,
  attempt: (provider: Provider) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.firstSuccessOf(candidates.map((c) =>
    c.retry === undefined || c.retry.attempts <= 1
      ? attempt(c.provider)
      : Effect.retry(attempt(c.provider), retrySchedule(c.retry))
  ))
