/**
 * Name -> Provider. Filled while Layers build: each provider package's `layer` registers its
 * provider here, so a gateway is composed by merging provider Layers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Provider } from "./Provider.js"

/** @since 0.1.0 @category Models */
export interface Service {
  readonly register: (provider: Provider) => Effect.Effect<void>
  readonly get: (name: string) => Option.Option<Provider>
  /** Providers in registration order: the default fallback order. */
  readonly all: () => ReadonlyArray<Provider>
}

/** @since 0.1.0 @category Context */
export class ProviderRegistry extends Context.Tag("@switchyard/core/ProviderRegistry")<ProviderRegistry, Service>() {}

/** @since 0.1.0 @category Constructors */
export const make: Effect.Effect<Service> = Effect.sync(() => {
  const providers = new Map<string, Provider>()
  return ProviderRegistry.of({
    register: (provider) =>
      Effect.suspend(() =>
        providers.has(provider.name)
          ? Effect.dieMessage(`Two providers are named '${provider.name}': provider names must be unique`)
          : Effect.sync(() => void providers.set(provider.name, provider))
      ),
    get: (name) => Option.fromNullable(providers.get(name)),
    all: () => Array.from(providers.values())
  })
})

/** @since 0.1.0 @category Layers */
export const layer: Layer.Layer<ProviderRegistry> = Layer.effect(ProviderRegistry, make)

/**
 * A Layer that builds a provider and adds it to the registry. Provider packages wrap their
 * `make` with this; tests use it to register a fake. What the provider acquires in its Scope
 * (connection pools, timers) lives as long as the Layer.
 *
 * @since 0.1.0 @category Layers
 */
export const register = <E, R>(
  provider: Effect.Effect<Provider, E, R>
): Layer.Layer<never, E, Exclude<R, Scope.Scope> | ProviderRegistry> =>
  Layer.scopedDiscard(Effect.flatMap(
    Effect.zip(ProviderRegistry, provider),
    ([registry, p]) => registry.register(p)
  ))
