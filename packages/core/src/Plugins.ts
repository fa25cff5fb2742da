/**
 * The ordered plugin pipeline: `beforeRequest` (guardrails, transforms, limits, cache lookup),
 * `afterResponse` (output guardrails, cache store) and `onError`. Empty by default.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ChatRequest, ChatResponse } from "./ChatSchema.js"
import type { GatewayError } from "./GatewayError.js"
import type { RequestContext } from "./RequestContext.js"

/** @since 0.1.0 @category Models */
export interface Plugin {
  readonly name: string
  /** May rewrite the request or refuse it (fail with `RequestRejected`). */
  readonly beforeRequest?: (req: ChatRequest, ctx: RequestContext) => Effect.Effect<ChatRequest, GatewayError>
  /** Sees complete (non-streamed) responses; may rewrite or refuse them. */
  readonly afterResponse?: (res: ChatResponse, ctx: RequestContext) => Effect.Effect<ChatResponse, GatewayError>
  /** Observes failures; cannot change them. */
  readonly onError?: (error: GatewayError, ctx: RequestContext) => Effect.Effect<void>
}

/** @since 0.1.0 @category Models */
export interface Service {
  readonly plugins: ReadonlyArray<Plugin>
  /**
   * Whether a plugin reads or rewrites requests or responses: then every request is
   * translated to the canonical format, never forwarded as it came (`Passthrough`).
   */
  readonly readsBodies: boolean
  readonly beforeRequest: (req: ChatRequest, ctx: RequestContext) => Effect.Effect<ChatRequest, GatewayError>
  readonly afterResponse: (res: ChatResponse, ctx: RequestContext) => Effect.Effect<ChatResponse, GatewayError>
  readonly onError: (error: GatewayError, ctx: RequestContext) => Effect.Effect<void>
}

/** @since 0.1.0 @category Context */
export class Plugins extends Context.Tag("@switchyard/core/Plugins")<Plugins, Service>() {}

const chain = <A>(
  steps: ReadonlyArray<(a: A, ctx: RequestContext) => Effect.Effect<A, GatewayError>>
): (a: A, ctx: RequestContext) => Effect.Effect<A, GatewayError> =>
  steps.length === 0
    ? Effect.succeed
    : (a, ctx) => Effect.reduce(steps, a, (acc, step) => step(acc, ctx))

/** @since 0.1.0 @category Constructors */
export const make = (plugins: ReadonlyArray<Plugin>): Service => {
  const observers = plugins.flatMap((p) => (p.onError ? [p.onError] : []))
  return Plugins.of({
    plugins,
    readsBodies: plugins.some((p) => p.beforeRequest !== undefined || p.afterResponse !== undefined),
    beforeRequest: chain(plugins.flatMap((p) => (p.beforeRequest ? [p.beforeRequest] : []))),
    afterResponse: chain(plugins.flatMap((p) => (p.afterResponse ? [p.afterResponse] : []))),
    onError: observers.length === 0
      ? () => Effect.void
      : (error, ctx) => Effect.forEach(observers, (f) => f(error, ctx), { discard: true })
  })
}

/** @since 0.1.0 @category Layers */
export const layer = (plugins: ReadonlyArray<Plugin>): Layer.Layer<Plugins> => Layer.succeed(Plugins, make(plugins))

/** @since 0.1.0 @category Layers */
export const layerEmpty: Layer.Layer<Plugins> = layer([])
