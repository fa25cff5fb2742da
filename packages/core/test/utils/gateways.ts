/**
 * Gateways for tests: the whole facade over `TestProvider`s, and hooks that keep every event.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Gateway from "@switchyard/core/Gateway"
import * as Hooks from "@switchyard/core/Hooks"
import type * as Routing from "@switchyard/core/Routing"
import type * as TestProvider from "@switchyard/core/TestProvider"

/** A gateway over `providers` (registered in order) with `config`; `hooks` default to none. */
export const gatewayWith = (
  config: Routing.RoutingConfig,
  providers: ReadonlyArray<TestProvider.TestProvider>,
  hooks: Layer.Layer<Hooks.Hooks> = Hooks.layerNone
) =>
  Gateway.layer(config).pipe(
    Layer.orDie,
    Layer.provide(Layer.mergeAll(Layer.empty, ...providers.map((p) => p.layer))),
    Layer.provide(Layer.merge(Gateway.defaults, hooks))
  )

/** A hooks layer that keeps every event, in order. */
export const recordingHooks = () => {
  const events: Array<Hooks.RequestEvent> = []
  return { events, layer: Hooks.layer((event) => Effect.sync(() => void events.push(event))) }
}
