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

/**
 * One call of one of the gateway's own tools (an MCP server's) during a request's tool loop:
 * the audit trail of what ran on whose behalf.
 *
 * @since 0.1.0 @category Models
 */
export interface ToolCallEvent {
  readonly requestId: string
  /** The tool's name as the model called it. */
  readonly tool: string
  readonly callId: string
  readonly outcome: "success" | "error"
  readonly latencyMs: number
  /** The error result's text, for an `error`. */
  readonly error: string | undefined
}

/** @since 0.1.0 @category Models */
export interface Service {
  readonly publish: (event: RequestEvent) => Effect.Effect<void>
  readonly publishToolCall: (event: ToolCallEvent) => Effect.Effect<void>
  /** Events dropped because the queue was full. */
  readonly dropped: Effect.Effect<number>
}

/** @since 0.1.0 @category Context */
export class Hooks extends Context.Tag("@switchyard/core/Hooks")<Hooks, Service>() {}

/** @since 0.1.0 @category Layers */
export const layerNone: Layer.Layer<Hooks> = Layer.succeed(Hooks, {
  publish: () => Effect.void,
  publishToolCall: () => Effect.void,
  dropped: Effect.succeed(0)
})

type Queued =
  | { readonly _tag: "Request"; readonly event: RequestEvent }
  | { readonly _tag: "ToolCall"; readonly event: ToolCallEvent }

/**
 * Runs `handler` on a background fiber for every published request event (and `onToolCall`, if
 * given, for every tool call event), `capacity` events queued at most.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (
  handler: (event: RequestEvent) => Effect.Effect<void>,
  options?: {
    readonly capacity?: number
    readonly onToolCall?: ((event: ToolCallEvent) => Effect.Effect<void>) | undefined
  }
): Layer.Layer<Hooks> =>
  Layer.scoped(
    Hooks,
    Effect.gen(function*() {
      const queue = yield* Queue.dropping<Queued>(options?.capacity ?? 4096)
      let dropped = 0
      const onToolCall = options?.onToolCall
      const handle = (queued: Queued) =>
        Effect.catchAllCause(
          queued._tag === "Request" ? handler(queued.event) : onToolCall === undefined ? Effect.void : onToolCall(queued.event),
          (cause) => Effect.logWarning("request hook failed", cause)
        )
      yield* Queue.take(queue).pipe(Effect.flatMap(handle), Effect.forever, Effect.forkScoped)
      // On shutdown, events already accepted are still handled.
      yield* Effect.addFinalizer(() => Effect.flatMap(Queue.takeAll(queue), Effect.forEach(handle, { discard: true })))
      const offer = (queued: Queued) => Effect.map(Queue.offer(queue, queued), (accepted) => void (accepted || dropped++))
      return Hooks.of({
        publish: (event) => offer({ _tag: "Request", event }),
        publishToolCall: onToolCall === undefined ? () => Effect.void : (event) => offer({ _tag: "ToolCall", event }),
        dropped: Effect.sync(() => dropped)
      })
    })
  )
