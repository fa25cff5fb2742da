/**
 * Stream helpers shared by the gateway and the provider adapters.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Pulls `stream` until its first chunk, in the current Scope, and returns the whole stream,
 * that chunk first; `None` when it ended without an element. A failure before the first
 * element is a failure of this Effect: the moment a caller can still retry or fall back,
 * since nothing has been forwarded yet.
 *
 * @since 0.1.0 @category Combinators
 */
export const awaitFirst = <A, E, R>(
  stream: Stream.Stream<A, E, R>
): Effect.Effect<Option.Option<Stream.Stream<A, E, R>>, E, R | Scope.Scope> =>
  Effect.flatMap(Stream.toPull(stream), (pull) =>
    Effect.matchEffect(pull, {
      onFailure: Option.match({ onNone: () => Effect.succeedNone, onSome: Effect.fail }),
      onSuccess: (first) =>
        Effect.succeedSome(Stream.concat(Stream.fromChunk(first), Stream.repeatEffectChunkOption(pull)))
    }))
