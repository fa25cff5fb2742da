/** @internal */
import * as Streaming from "@switchyard/core/Streaming"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const encoder = new TextEncoder()

/**
 * How a format writes its event stream: the text of what one pull handed over, the text that
 * ends a whole stream, and the text of a failure after the start.
 *
 * @internal
 */
export interface Writer<A, E> {
  readonly frame: (chunk: Chunk.Chunk<A>) => string
  readonly end: () => string
  readonly onError: (cause: Cause.Cause<E>) => Effect.Effect<string>
}

/**
 * Writes a pull's elements, everything a pull hands over as one network chunk. A failure after
 * the start becomes the writer's last text (its in-band error) and ends the stream.
 *
 * @internal
 */
export const encode = <A, E>(pull: Streaming.Pull<A, E>, writer: Writer<A, E>): Streaming.Pull<Uint8Array, never> => {
  let ended = false
  const last = (text: string) => {
    ended = true
    return text === "" ? Chunk.empty<Uint8Array>() : Chunk.of(encoder.encode(text))
  }
  return Effect.suspend(() =>
    ended ? Streaming.endPull : Effect.matchCauseEffect(pull, {
      onSuccess: (chunk) => {
        if (Chunk.isEmpty(chunk)) return Effect.succeed(Chunk.empty<Uint8Array>())
        const text = writer.frame(chunk)
        return Effect.succeed(text === "" ? Chunk.empty<Uint8Array>() : Chunk.of(encoder.encode(text)))
      },
      onFailure: (cause): Streaming.Pull<Uint8Array, never> => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && Option.isNone(failure.value)) return Effect.succeed(last(writer.end()))
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        // A failure, or a defect (a cause without failures, so of any error type).
        const error = Option.isSome(failure) && Option.isSome(failure.value)
          ? Cause.fail(failure.value.value)
          : cause as Cause.Cause<never>
        return Effect.map(writer.onError(error), last)
      }
    })
  )
}
