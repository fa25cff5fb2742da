/**
 * The accounting stage: one event per finished request (usage, cost, latency, outcome). Hooks
 * never sit on the response path: `publish` only offers to a bounded queue; a full queue
 * drops the event and counts it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Capabilities from "./Capabilities.js"
import type { Usage } from "./ChatSchema.js"

/** What a request asked for. @since 0.1.0 @category Models */
export type Operation = Capabilities.Operation | "count_tokens"

/** @since 0.1.0 @category Models */
export interface RequestEvent {
  readonly requestId: string
  readonly ingress: string
  /** `chat` (streamed or not), `embeddings`, `images`, or `count_tokens` (a vendor's own token count). */
  readonly operation: Operation
  readonly model: string
  /** The provider that answered (for a stream, the one that sent the first chunk). */
  readonly provider: string | undefined
  /** The `ab-test` variant's label. */
  readonly variant: string | undefined
  readonly stream: boolean
  readonly outcome: "success" | "error" | "interrupted"
  readonly status: number
  readonly latencyMs: number
  /** Upstream calls made, retries and failovers included. */
  readonly attempts: number
  /** Times a broken stream was continued on another provider. */
  readonly failovers: number
  readonly usage: Usage | undefined
  readonly costUsd: number | undefined
  readonly error: string | undefined
}

/** @since 0.1.0 @category Models */
export interface Service {
  readonly publish: (event: RequestEvent) => Effect.Effect<void>
  /** Events dropped because the queue was full. */
  readonly dropped: Effect.Effect<number>
}

/** @since 0.1.0 @category Context */
export class Hooks extends Context.Tag("@switchyard/core/Hooks")<Hooks, Service>() {}

/** @since 0.1.0 @category Layers */
export const layerNone: Layer.Layer<Hooks> = Layer.succeed(Hooks, { publish: () => Effect.void, dropped: Effect.succeed(0) })

/**
 * Runs `handler` on a background fiber for every published event, `capacity` events queued at most.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (
  handler: (event: RequestEvent) => Effect.Effect<void>,
  options?: { readonly capacity?: number }
): Layer.Layer<Hooks> =>
  Layer.scoped(
    Hooks,
    Effect.gen(function*() {
      const queue = yield* Queue.dropping<RequestEvent>(options?.capacity ?? 4096)
      let dropped = 0
      const handle = (event: RequestEvent) =>
        Effect.catchAllCause(handler(event), (cause) => Effect.logWarning("request hook failed", cause))
      yield* Queue.take(queue).pipe(Effect.flatMap(handle), Effect.forever, Effect.forkScoped)
      // On shutdown, events already accepted are still handled.
      yield* Effect.addFinalizer(() => Effect.flatMap(Queue.takeAll(queue), Effect.forEach(handle, { discard: true })))
      return Hooks.of({
        publish: (event) => Effect.map(Queue.offer(queue, event), (accepted) => void (accepted || dropped++)),
        dropped: Effect.sync(() => dropped)
      })
    })
  )
