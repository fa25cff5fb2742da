/**
 * Mid-stream failover. Once a stream's first chunk has gone to the client, a retry can no
 * longer start the answer over. When the upstream then breaks, stalls past its idle timeout or
 * sends an in-band error, the answer is continued on the next candidate: the text already
 * delivered is sent as an assistant prefill, and the continuation's chunks are rewritten to
 * the first stream's id, creation time and model, without a second role delta, so the client
 * reads one uninterrupted answer.
 *
 * It cannot continue a tool call half sent, several choices, or on a provider that does not
 * take a prefill: then the failure stands and the stream ends with an error event.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { ChatChunk, ChatRequest } from "./ChatSchema.js"
import type { GatewayError } from "./GatewayError.js"
import type { CallOptions } from "./Provider.js"
import * as Router from "./Router.js"
import type { Candidate, Plan } from "./RoutingStrategy.js"
import * as Streaming from "./Streaming.js"

/**
 * A stream that is open and has produced its first chunk, and the scope holding its upstream
 * (none when it lives in the request's scope: an attempt mid-stream failover may abandon has one).
 *
 * @since 0.1.0 @category Models
 */
export interface Opened {
  readonly pull: Streaming.Pull<ChatChunk, GatewayError>
  readonly scope: Scope.CloseableScope | undefined
}

/** @since 0.1.0 @category Models */
export interface Options {
  readonly router: Router.Router
  readonly plan: Plan
  readonly trace: Router.Trace
  /** The request the first candidate was sent. */
  readonly request: ChatRequest
  readonly served: Router.Served<Opened>
  /** Opens `request` on a candidate and waits for its first chunk (one attempt). */
  readonly open: (candidate: Candidate, request: ChatRequest, options: CallOptions) => Effect.Effect<Opened, GatewayError, Scope.Scope>
  /** Called each time the answer moves to another provider. */
  readonly onFailover: (from: Candidate, to: Candidate) => void
}

/** What has gone to the client so far, and whether it can still be continued elsewhere. */
interface Delivered {
  text: string
  /** A tool call, a refusal or a second choice: nothing a prefill can carry on. */
  continuable: boolean
  /** A choice already has its finish reason: only the usage chunk was still to come. */
  finished: boolean
  identity: Pick<ChatChunk, "id" | "created" | "model"> | undefined
}

const observe = (delivered: Delivered, chunk: ChatChunk): void => {
  delivered.identity ??= { id: chunk.id, created: chunk.created, model: chunk.model }
  for (const choice of chunk.choices) {
    if (choice.index !== 0 || choice.delta.tool_calls !== undefined || typeof choice.delta.refusal === "string") {
      delivered.continuable = false
    }
    if (typeof choice.delta.content === "string") delivered.text += choice.delta.content
    if (choice.finish_reason != null) delivered.finished = true
  }
}

/** A continuation chunk as part of the first answer; `undefined` when nothing is left of it. */
const asFirst = (identity: NonNullable<Delivered["identity"]>, chunk: ChatChunk): ChatChunk | undefined => {
  const choices = chunk.choices.flatMap((choice) => {
    if (choice.delta.role === undefined) return [choice]
    const { role: _, ...delta } = choice.delta
    const empty = (delta.content === undefined || delta.content === "") && delta.tool_calls === undefined &&
      choice.finish_reason == null
    return empty ? [] : [{ ...choice, delta }]
  })
  if (choices.length === 0 && chunk.usage == null) return undefined
  return { ...chunk, ...identity, choices }
}

/**
 * The served stream as a pull that continues on the plan's next candidates (those that take a
 * prefill) when it fails after its first chunk.
 *
 * @since 0.1.0 @category Constructors
 */
export const continuing = (options: Options): Effect.Effect<Streaming.Pull<ChatChunk, GatewayError>, never, Scope.Scope> =>
  Effect.map(Effect.scope, (requestScope) => {
    const { plan, router, trace } = options
    const delivered: Delivered = { text: "", continuable: true, finished: false, identity: undefined }
    let current = options.served.candidate
    let scope = options.served.value.scope
    let source = router.watch(options.served.value.pull, current)
    let continued = false

    const passOn = (chunks: Chunk.Chunk<ChatChunk>): Chunk.Chunk<ChatChunk> => {
      if (!continued) {
        for (const chunk of chunks) observe(delivered, chunk)
        return chunks
      }
      const out: Array<ChatChunk> = []
      for (const chunk of chunks) {
        const rewritten = asFirst(delivered.identity!, chunk)
        if (rewritten === undefined) continue
        observe(delivered, rewritten)
        out.push(rewritten)
      }
      return Chunk.unsafeFromArray(out)
    }

    /** The plan's candidates after the current one; with text delivered, those that take a prefill. */
    const remaining = (): Array<Candidate> => {
      if (!plan.failover) return []
      const after = plan.candidates.slice(plan.candidates.indexOf(current) + 1)
      return delivered.text === "" ? after : after.filter((c) => c.provider.supportsPrefill === true)
    }

    const continueAfter = (error: GatewayError): Streaming.Pull<ChatChunk, GatewayError> => {
      if (delivered.finished) return Streaming.endPull
      const next = delivered.continuable && Router.movesOn(current, error) ? remaining() : []
      if (next.length === 0) return Effect.fail(Option.some(error))
      // Only a role delta went out: the next target answers the original request afresh.
      const request: ChatRequest = delivered.text === "" ? options.request : {
        ...options.request,
        messages: [...options.request.messages, { role: "assistant", content: delivered.text, prefix: true }]
      }
      const broken = current
      return (scope === undefined ? Effect.void : Scope.close(scope, Exit.void)).pipe(
        Effect.zipRight(router.run(plan, (c, call) => options.open(c, request, call), trace, next)),
        Effect.provideService(Scope.Scope, requestScope),
        Effect.mapError(Option.some),
        Effect.flatMap((served) => {
          current = served.candidate
          scope = served.value.scope
          source = router.watch(served.value.pull, current)
          continued = true
          options.onFailover(broken, current)
          return pull
        })
      )
    }

    const pull: Streaming.Pull<ChatChunk, GatewayError> = Effect.suspend(() =>
      Effect.matchEffect(source, {
        onSuccess: (chunks) => Effect.succeed(passOn(chunks)),
        onFailure: Option.match({ onNone: () => Streaming.endPull, onSome: continueAfter })
      })
    )
    return pull
  })
