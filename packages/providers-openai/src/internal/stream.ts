/**
 * Reading upstream bodies: the SSE chat stream, and capped error bodies.
 *
 * @internal
 */
import * as Sse from "@effect/experimental/Sse"
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Errors from "./errors.js"
import type { Redactor } from "./redact.js"
import * as Wire from "./wire.js"

const eventEnd = /\r\n\r\n|\n\n|\r\r/g

/**
 * Feeds text to the parser one event at a time. The parser rescans its whole buffer for every
 * line it finds, so one network chunk holding a burst of events (an upstream that writes a
 * whole answer at once) costs quadratic time: 22 events in 4 KB took 335 µs, 176 events in
 * 32 KB 20 ms. Split at event boundaries, each feed scans one event.
 */
const feedByEvent = (parser: Sse.Parser, text: string): ReturnType<Sse.Parser["feed"]> => {
  let start = 0
  eventEnd.lastIndex = 0
  for (let match = eventEnd.exec(text); match !== null; match = eventEnd.exec(text)) {
    const end = match.index + match[0].length
    const error = parser.feed(text.slice(start, end))
    if (error !== undefined) return error
    start = end
  }
  return start < text.length ? parser.feed(text.slice(start)) : undefined
}

type Decoder = Channel.Channel<
  Chunk.Chunk<ChatChunk>,
  Chunk.Chunk<string>,
  ProviderError,
  ProviderError,
  void,
  unknown
>

/**
 * Text of a `text/event-stream` body -> chat chunks, in one pass per chunk of text with plain
 * code (no Effect per event). SSE framing is `@effect/experimental/Sse`'s parser; each `data`
 * payload is `JSON.parse`d:
 * - `data: [DONE]` ends the chunks (what follows is not decoded) and calls `onDone`;
 * - an `{"error": ...}` payload or an `event: error` fails the stream, after the chunks decoded
 *   before it are emitted;
 * - events of other names are skipped, and so are `retry:` fields (see below).
 *
 * Why not `Sse.makeChannel()`: on a `retry:` field it fails its mailbox, sleeps for the given
 * time and restarts, which delays the stream and loses an already parsed event (seen with
 * @effect/experimental 0.61.1). Reconnecting makes no sense for a POST, so the parser is driven
 * directly and `retry:` is ignored.
 *
 * @internal
 */
export const decodeEventStream = (provider: string, redact: Redactor, onDone: () => void = () => {}): Decoder =>
  Channel.suspend(() => {
    let parsed: Array<Sse.Event> = []
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event") parsed.push(event)
    })

    const emitThen = (out: Array<ChatChunk>, next: Decoder): Decoder =>
      out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)

    const loop: Decoder = Channel.readWithCause({
      onInput: (texts: Chunk.Chunk<string>) => {
        let failure: ProviderError | undefined
        for (const text of Chunk.toReadonlyArray(texts)) {
          const error = feedByEvent(parser, text)
          if (error !== undefined) {
            failure = Errors.outputError(provider, `unreadable event stream: ${error.message}`, redact)
            break
          }
        }
        const events = parsed
        parsed = []
        const out: Array<ChatChunk> = []
        for (const event of events) {
          if (event.event === "message") {
            if (event.data === "[DONE]") {
              onDone()
              return emitThen(out, Channel.void)
            }
            const result = Wire.parseChunk(provider, event.data, redact)
            if (Wire.isChunkFailure(result)) return emitThen(out, Channel.fail(result))
            out.push(result)
          } else if (event.event === "error") {
            return emitThen(out, Channel.fail(Wire.parseErrorEvent(provider, event.data, redact)))
          }
        }
        return emitThen(out, failure === undefined ? loop : Channel.fail(failure))
      },
      onFailure: (cause) => Channel.failCause(cause),
      onDone: () => Channel.void
    })
    return loop
  })

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
 * The body of a `text/event-stream` answer as chat chunks. After `data: [DONE]` the rest of the
 * body is read and discarded (at most `drainAfterDoneMillis`) so the connection can be reused;
 * the stream ends when that is done. The bytes' own failure (the connection broke) is mapped by
 * the caller.
 *
 * @internal
 */
export const chatChunks = (
  bytes: Stream.Stream<Uint8Array, ProviderError>,
  provider: string,
  redact: Redactor
): Effect.Effect<Stream.Stream<ChatChunk, ProviderError>, never, Scope.Scope> =>
  Effect.map(Stream.toPull(bytes), (pull) => {
    let done = false
    const drainRest = Effect.suspend(() =>
      done
        ? pull.pipe(Effect.forever, Effect.timeout(drainAfterDoneMillis), Effect.ignore)
        : Effect.void
    )
    return Stream.repeatEffectChunkOption(pull).pipe(
      Stream.decodeText(),
      Stream.pipeThroughChannel(decodeEventStream(provider, redact, () => {
        done = true
      })),
      Stream.concat(Stream.execute(drainRest))
    )
  })

/**
 * Reads a body up to `maxBytes` (then stops, so the rest is discarded with the connection) and
 * decodes it as UTF-8. A body that fails half way gives what was read; none gives "".
 *
 * @internal
 */
export const readCapped = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  maxBytes: number
): Effect.Effect<string, never, R> =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    return bytes.pipe(
      Stream.runFoldWhile(0, (size) => size < maxBytes, (size, part) => {
        parts.push(part)
        return size + part.length
      }),
      Effect.ignore,
      Effect.map(() => {
        let size = 0
        for (const part of parts) size += part.length
        const all = new Uint8Array(Math.min(size, maxBytes))
        let offset = 0
        for (const part of parts) {
          if (offset >= all.length) break
          const take = part.subarray(0, all.length - offset)
          all.set(take, offset)
          offset += take.length
        }
        return new TextDecoder().decode(all)
      })
    )
  })
