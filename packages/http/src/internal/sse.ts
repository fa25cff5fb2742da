/** @internal */
import type * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

/** @internal */
export const done: Uint8Array = encoder.encode("data: [DONE]\n\n")

/**
 * One `data:` event.
 *
 * @internal
 */
export const event = (data: unknown): Uint8Array => encoder.encode(`data: ${JSON.stringify(data)}\n\n`)

/** Every element a pull hands over becomes one network chunk: one string, one encode. */
const frame = <A>(chunk: Chunk.Chunk<A>): Chunk.Chunk<Uint8Array> => {
  if (Chunk.isEmpty(chunk)) return Chunk.empty()
  let text = ""
  for (const item of chunk) text += `data: ${JSON.stringify(item)}\n\n`
  return Chunk.of(encoder.encode(text))
}

/**
 * Frames a stream as Server-Sent Events ending with `data: [DONE]`. A failure after the start
 * becomes one last in-band event (`onError`'s) and ends the stream without `[DONE]`.
 *
 * @internal
 */
export const encode = <A, E>(
  stream: Stream.Stream<A, E>,
  onError: (cause: Cause.Cause<E>) => Effect.Effect<unknown>
): Stream.Stream<Uint8Array> =>
  stream.pipe(
    Stream.mapChunks(frame),
    Stream.concat(Stream.succeed(done)),
    Stream.catchAllCause((cause) => Stream.map(Stream.fromEffect(onError(cause)), event))
  )
