/**
 * The SSE chat stream's decoder. Plain code, no Stream: it runs once per network chunk.
 *
 * @internal
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import * as EventStream from "@switchyard/core/EventStream"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import * as Wire from "./wire.js"

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
export const makeDecoder = (provider: string, redact: Redactor): (text: string) => Upstream.Decoded<ChatChunk> => {
  let parsed: Array<EventStream.Event> = []
  const parser = EventStream.makeParser((event) => parsed.push(event))
  return (text) => {
    parser.feed(text)
    const events = parsed
    parsed = []
    const chunks: Array<ChatChunk> = []
    for (const event of events) {
      if (event.event === "message") {
        if (event.data === "[DONE]") return { items: chunks, done: true }
        const result = Wire.parseChunk(provider, event.data, redact)
        if (Wire.isChunkFailure(result)) return { items: chunks, done: true, failure: result }
        chunks.push(result)
      } else if (event.event === "error") {
        return { items: chunks, done: true, failure: Wire.parseErrorEvent(provider, event.data, redact) }
      }
    }
    return { items: chunks, done: false }
  }
}
