/**
 * What every inbound wire format supplies besides its request decoder and response encoder:
 * the writer of its event stream. A format's stream is written from canonical chunks (OpenAI
 * Chat Completions chunks) as they arrive; each call returns the Server-Sent Events text to send
 * now ("" when the chunk produces no event yet, because the format sends a piece only once it is
 * whole).
 *
 * @since 0.1.0
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import type { ErrorInfo } from "../HttpErrors.js"

/**
 * One stream's writer: stateful, made for one response.
 *
 * @since 0.1.0 @category Models
 */
export interface StreamEncoder {
  /** The events one canonical chunk produces. */
  readonly chunk: (chunk: ChatChunk) => string
  /** The events that close a stream that ended normally (after the last chunk). */
  readonly end: () => string
  /** The format's in-band error event, for a failure after the stream started. */
  readonly error: (info: ErrorInfo) => string
}

/**
 * One Server-Sent Event: an `event:` line when the format names its events, and one `data:`
 * line of JSON.
 *
 * @since 0.1.0 @category Constructors
 */
export const event = (name: string | undefined, data: unknown): string =>
  name === undefined ? `data: ${JSON.stringify(data)}\n\n` : `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
