/**
 * Reading upstream bodies: the SSE chat stream, and capped error bodies. Plain code over pulls
 * of text, no Stream: it runs once per network chunk.
 *
 * @internal
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import * as EventStream from "@switchyard/core/EventStream"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type * as Streaming from "@switchyard/core/Streaming"
import * as Effect from "effect/Effect"
import type { Redactor } from "./redact.js"
import * as Wire from "./wire.js"

/** What one piece of body text decoded to. @internal */
export interface Decoded {
  readonly chunks: Array<ChatChunk>
  /** `data: [DONE]` was seen: what follows is not decoded. */
  readonly done: boolean
  /** The stream failed after `chunks`. */
  readonly failure: ProviderError | undefined
}

/**
 * A decoder of `text/event-stream` text into chat chunks (framing by core's `EventStream`);
 * each `data` payload is `JSON.parse`d:
 * - `data: [DONE]` ends the chunks;
 * - an `{"error": ...}` payload or an `event: error` fails the stream, after the chunks decoded
 *   before it;
 * - events of other names are skipped.
 *
 * @internal
 */
export const makeDecoder = (provider: string, redact: Redactor): (text: string) => Decoded => {
  let parsed: Array<EventStream.Event> = []
  const parser = EventStream.makeParser((event) => parsed.push(event))
  return (text) => {
    parser.feed(text)
    const events = parsed
    parsed = []
    const chunks: Array<ChatChunk> = []
    for (const event of events) {
      if (event.event === "message") {
        if (event.data === "[DONE]") return { chunks, done: true, failure: undefined }
        const result = Wire.parseChunk(provider, event.data, redact)
        if (Wire.isChunkFailure(result)) return { chunks, done: true, failure: result }
        chunks.push(result)
      } else if (event.event === "error") {
        return { chunks, done: true, failure: Wire.parseErrorEvent(provider, event.data, redact) }
      }
    }
    return { chunks, done: false, failure: undefined }
  }
}

/**
 * How long the rest of a body is still read after `data: [DONE]` before the request is aborted.
 * Upstreams end the body right after `[DONE]`, but its last bytes (the chunked-encoding
 * terminator) often arrive a moment later: aborting before them makes undici destroy the
 * connection instead of returning it to the keep-alive pool.
 *
 * @internal
 */
export const drainAfterDoneMillis = 1000

/**
 * Reads a body's text up to `maxChars` (then stops). A body that fails half way gives what was
 * read; none gives "".
 *
 * @internal
 */
export const readCapped = <E>(pull: Streaming.Pull<string, E>, maxChars: number): Effect.Effect<string> => {
  let text = ""
  const loop: Effect.Effect<string> = Effect.matchEffect(pull, {
    onFailure: () => Effect.sync(() => text.slice(0, maxChars)),
    onSuccess: (chunk) => {
      for (const piece of chunk) text += piece
      return text.length >= maxChars ? Effect.succeed(text.slice(0, maxChars)) : loop
    }
  })
  return Effect.suspend(() => loop)
}
