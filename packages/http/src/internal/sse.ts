/** @internal */
import * as Streaming from "@switchyard/core/Streaming"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"

const encoder = new TextEncoder()

/** @internal */
export const done: Uint8Array = encoder.encode("data: [DONE]\n\n")

/**
 * One `data:` event.
 *
 * @internal
 */
export const event = (data: unknown): Uint8Array => encoder.encode(`data: ${JSON.stringify(data)}\n\n`)

/** Everything a pull hands over becomes one network chunk: one string, one encode. */
const frame = <A>(chunk: Chunk.Chunk<A>): Chunk.Chunk<Uint8Array> => {
  let text = ""
  for (const item of chunk) text += `data: ${JSON.stringify(item)}\n\n`
  return Chunk.of(encoder.encode(text))
}

/**
 * Frames a pull's elements as Server-Sent Events ending with `data: [DONE]`, as one Stream of
 * one stage. A failure after the start becomes one last in-band event (`onError`'s) and ends the
 * stream without `[DONE]`.
 *
 * @internal
 */
export const encode = <A, E>(
  pull: Streaming.Pull<A, E>,
  onError: (cause: Cause.Cause<E>) => Effect.Effect<unknown>
): Stream.Stream<Uint8Array> => {
  let ended = false
  const last = (bytes: Uint8Array) => {
    ended = true
    return Chunk.of(bytes)
  }
  return Streaming.toStream(Effect.suspend(() =>
    ended ? Streaming.endPull : Effect.matchCauseEffect(pull, {
      onSuccess: (chunk) => Effect.succeed(Chunk.isEmpty(chunk) ? Chunk.empty<Uint8Array>() : frame(chunk)),
      onFailure: (cause): Streaming.Pull<Uint8Array, never> => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && Option.isNone(failure.value)) return Effect.succeed(last(done))
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        // A failure, or a defect (a cause without failures, so of any error type).
        const error = Option.isSome(failure) && Option.isSome(failure.value)
          ? Cause.fail(failure.value.value)
          : cause as Cause.Cause<never>
        return Effect.map(onError(error), (body) => last(event(body)))
      }
    })
  ))
}
