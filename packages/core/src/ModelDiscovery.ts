/**
 * Background model discovery: every provider's `listModels` is called at start (without
 * holding the gateway up) and then on an interval, on the Clock. The latest good list of each
 * provider is kept: a listing that fails or times out is logged and leaves the previous one.
 *
 * ```ts
 * const discovery = yield* ModelDiscovery.make(registry.all())
 * const models = yield* discovery.models // providers in registration order
 * ```
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { ModelInfo } from "./ChatSchema.js"
import type { Provider } from "./Provider.js"

/** @since 0.1.0 @category Defaults */
export const defaults = { interval: Duration.minutes(10), timeout: Duration.seconds(5) } as const

/** @since 0.1.0 @category Models */
export interface Options {
  /** Time between the end of one refresh and the start of the next. Default: 10 minutes. */
  readonly interval?: Duration.DurationInput
  /** How long one provider's listing may take. Default: 5 seconds. */
  readonly timeout?: Duration.DurationInput
}

/** @since 0.1.0 @category Models */
export interface ModelDiscovery {
  /**
   * The latest lists, providers in registration order, each model owned as its provider says; a
   * provider never listed contributes nothing. Before anything is listed it waits (at most the
   * timeout) for the first refresh, so the first caller does not see an empty list.
   */
  readonly models: Effect.Effect<ReadonlyArray<ModelInfo>>
}

/**
 * Starts discovery in the Scope: the refresh loop is a fiber of the Scope and stops with it.
 * Returns at once; the first listing runs in the background.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (
  providers: ReadonlyArray<Provider>,
  options?: Options
): Effect.Effect<ModelDiscovery, never, Scope.Scope> =>
  Effect.gen(function*() {
    const interval = options?.interval ?? defaults.interval
    const timeout = options?.timeout ?? defaults.timeout
    /** One slot per provider, in registration order: undefined until its first good listing. */
    const lists = yield* Ref.make<ReadonlyArray<ReadonlyArray<ModelInfo> | undefined>>(providers.map(() => undefined))
    const firstRefresh = yield* Deferred.make<void>()

    const list = (provider: Provider, index: number) =>
      provider.listModels.pipe(
        Effect.timeout(timeout),
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            Effect.logWarning(`listing the models of provider '${provider.name}' failed; keeping its last list`, cause),
          onSuccess: (models) =>
            Ref.update(lists, (current) => current.map((slot, i) => i === index ? models : slot))
        })
      )

    const refresh = Effect.forEach(providers, list, { concurrency: "unbounded", discard: true }).pipe(
      Effect.zipRight(Deferred.succeed(firstRefresh, undefined))
    )
    yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(interval)))

    const latest = Effect.map(Ref.get(lists), (current) => current.flatMap((slot) => slot ?? []))
    const models = Effect.flatMap(Ref.get(lists), (current) =>
      current.some((slot) => slot !== undefined)
        ? latest
        : Deferred.await(firstRefresh).pipe(Effect.timeout(timeout), Effect.ignore, Effect.zipRight(latest)))

    return { models }
  })
