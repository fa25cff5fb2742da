/**
 * Stream helpers shared by the gateway, the provider adapters and the HTTP layer.
 *
 * A `Pull` is what a Stream is read with (the element type of `Stream.toPull`): each evaluation
 * hands over the next chunk, fails with `None` at the end and with `Some(error)` on a failure.
 * The hot path passes pulls between stages and makes at most one Stream of them, at the edge
 * (none on Node's server, where the HTTP layer reads the last pull itself), because every
 * Stream that is run (or turned into a pull) starts a channel executor, a forked fiber and a
 * scope: about 150 µs of CPU per request here, whatever the stream holds.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** @since 0.1.0 @category Models */
export type Pull<A, E> = Effect.Effect<Chunk.Chunk<A>, Option.Option<E>>

/** The pull of a finished stream. @since 0.1.0 @category Constructors */
export const endPull: Pull<never, never> = Effect.fail(Option.none())

/**
 * The stream a pull produces, one stage: nothing runs until the stream is. A channel that reads
 * the pull and writes each chunk, which costs the executor less per pull than
 * `Stream.repeatEffectChunkOption`'s unfold.
 *
 * @since 0.1.0 @category Conversions
 */
export const toStream = <A, E>(pull: Pull<A, E>): Stream.Stream<A, E> => {
  const loop: Channel.Channel<Chunk.Chunk<A>, unknown, E, unknown, unknown, unknown> = Channel.unwrap(
    Effect.matchCause(pull, {
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isNone(failure)) return Channel.failCause(cause as Cause.Cause<never>)
        return Option.isNone(failure.value) ? Channel.void : Channel.fail(failure.value.value)
      },
      onSuccess: (chunk) => Channel.zipRight(Channel.write(chunk), loop)
    })
  )
  return Stream.fromChannel(loop)
}

/**
 * A pull that hands over `first` before reading `rest`.
 *
 * @since 0.1.0 @category Combinators
 */
export const prepend = <A, E>(first: Chunk.Chunk<A>, rest: Pull<A, E>): Pull<A, E> => {
  let head: Chunk.Chunk<A> | undefined = first
  return Effect.suspend(() => {
    if (head === undefined) return rest
    const chunk = head
    head = undefined
    return Effect.succeed(chunk)
  })
}

/**
 * Pulls until the first non-empty chunk and returns a pull that starts with it; `None` when
 * the source ended first. A failure before the first element fails this Effect: the moment a
 * caller can still retry or fall back, since nothing has been forwarded yet.
 *
 * @since 0.1.0 @category Combinators
 */
export const awaitFirstPull = <A, E>(pull: Pull<A, E>): Effect.Effect<Option.Option<Pull<A, E>>, E> => {
  const loop: Effect.Effect<Option.Option<Pull<A, E>>, E> = Effect.matchEffect(pull, {
    onFailure: Option.match({ onNone: () => Effect.succeedNone, onSome: Effect.fail }),
    onSuccess: (chunk) => Chunk.isEmpty(chunk) ? loop : Effect.succeedSome(prepend(chunk, pull))
  })
  return loop
}
