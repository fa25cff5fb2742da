/**
 * The pass-through fast path of an HTTP adapter (`Passthrough` in core): the client's body
 * forwarded with only the model rewritten, the answer's text handed back in the pieces it
 * arrived in (in whole events when some must be rewritten), and the usage read from it on the
 * way, without decoding what is only forwarded.
 * An adapter gives how its vendor addresses a request and where its answers say what was used.
 *
 * @since 0.1.0
 */
import type { Usage } from "@switchyard/core/ChatSchema"
import * as EventStream from "@switchyard/core/EventStream"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import type { Pull } from "@switchyard/core/Streaming"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import type * as HttpTransport from "./HttpTransport.js"
import type * as Upstream from "./Upstream.js"
import { isRecord } from "./Wire.js"

/** @since 0.1.0 @category Models */
export interface Options {
  readonly format: Passthrough.Format
  /** The request that carries `request` to `model` upstream, with `timeoutMillis` to answer. */
  readonly request: (
    request: Passthrough.Request,
    model: string,
    timeoutMillis: number
  ) => Effect.Effect<HttpTransport.Request, ProviderError>
  /** The usage a whole JSON answer reports. */
  readonly usage: (answer: Record<string, unknown>) => Usage | undefined
  /**
   * Where a stream reports usage: the events whose data contain `marker`; `read` is given the
   * first and the last of them (Anthropic counts input in `message_start`, output in
   * `message_delta`; Gemini repeats the running total in every event).
   */
  readonly streamUsage: {
    readonly marker: string
    readonly read: (first: Record<string, unknown>, last: Record<string, unknown>) => Usage | undefined
  }
  /**
   * Text that only the vendor's last event contains (`event: message_stop`): the stream is
   * whole once that event's blank line has passed, and cut short if the body ends before.
   * Absent: the body's end is the stream's.
   */
  readonly endMarker?: string | undefined
  /** What the adapter adds to its failures (Gemini's retry delay from the error's details). */
  readonly mapError?: ((error: ProviderError) => ProviderError) | undefined
  /**
   * The failure a whole 2xx answer reports in its body (some OpenAI-compatible servers answer
   * an error with a 200), so that it is retried or failed over like any other.
   */
  readonly failure?: ((answer: Record<string, unknown>, body: string) => ProviderError | undefined) | undefined
  /**
   * How a stream is read in whole events rather than in the pieces they arrived in: given the
   * request, what becomes of one event, or `undefined` to forward every byte as it came.
   */
  readonly events?: ((request: Passthrough.Request) => ((event: string) => Event) | undefined) | undefined
}

/**
 * One whole event of a forwarded stream: the text the client gets ("" leaves it out: what the
 * gateway asked for on the client's behalf, say), or the in-band error it reports, where the
 * stream fails as a translated one does (the client gets the route's error event instead).
 *
 * @since 0.1.0 @category Models
 */
export type Event = string | { readonly failure: ProviderError }

/**
 * The body with `model` in place of the client's, every other byte as the client sent it when
 * the model is already the one (a JSON body keeps its fields and their order either way).
 *
 * @since 0.1.0 @category Requests
 */
export const withModel = (request: Passthrough.Request, model: string): string =>
  request.body.model === model ? request.text : JSON.stringify({ ...request.body, model })

const contentType = (headers: HttpTransport.ResponseHeaders, fallback: string): string => {
  const value = headers["content-type"]
  return typeof value === "string" ? value : fallback
}

const parseRecord = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return isRecord(value) ? value : undefined
  } catch {
    return undefined
  }
}

const blankLine = /\r?\n\r?\n/

/**
 * Follows a Server-Sent Events body as it passes: keeps the data of the first and the last
 * event that contain the usage marker (parsed only when the usage is asked for), and sees the
 * end marker. A piece may end in the middle of a line: its tail waits for the next piece.
 */
const follower = (options: Options) => {
  const { marker, read } = options.streamUsage
  const endMarker = options.endMarker
  let first: string | undefined
  let last: string | undefined
  let carry = ""
  /** The text from the end marker on, once seen. */
  let sinceEnd: string | undefined
  const see = (piece: string): boolean => {
    const text = carry === "" ? piece : carry + piece
    let from = 0
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, from)) {
      const start = text.lastIndexOf("\n", at) + 1
      const end = text.indexOf("\n", at)
      if (end === -1) break
      const line = text.slice(start, end)
      if (line.startsWith("data:")) {
        first ??= line.slice(5)
        last = line.slice(5)
      }
      from = end
    }
    carry = text.slice(text.lastIndexOf("\n") + 1)
    if (endMarker === undefined) return false
    if (sinceEnd === undefined) {
      const at = text.indexOf(endMarker)
      if (at === -1) return false
      sinceEnd = text.slice(at)
    } else sinceEnd += piece
    return blankLine.test(sinceEnd)
  }
  const usage = (): Usage | undefined => {
    if (first === undefined || last === undefined) return undefined
    const a = parseRecord(first)
    const b = first === last ? a : parseRecord(last)
    return a === undefined || b === undefined ? undefined : read(a, b)
  }
  return { see, usage }
}

/**
 * The data of one whole Server-Sent Event, read by core's `EventStream` parser.
 *
 * @since 0.1.0 @category Streams
 */
export const dataOf = (event: string): string => {
  let data = ""
  EventStream.makeParser((parsed) => {
    data = parsed.data
  }).feed(event)
  return data
}

const blankLines = /\r?\n\r?\n/g

/**
 * Whole events only, each read by `read`; an event not yet whole waits for the piece that ends it
 * (a client cannot use half an event anyway). Nothing is read after a failure.
 */
const wholeEvents = (read: (event: string) => Event) => {
  let carry = ""
  return (piece: string): { readonly text: string; readonly failure?: ProviderError } => {
    const text = carry === "" ? piece : carry + piece
    let out = ""
    let from = 0
    blankLines.lastIndex = 0
    for (let match = blankLines.exec(text); match !== null; match = blankLines.exec(text)) {
      const end = match.index + match[0].length
      const event = read(text.slice(from, end))
      if (typeof event !== "string") {
        carry = ""
        return { text: out, failure: event.failure }
      }
      out += event
      from = end
    }
    carry = text.slice(from)
    return { text: out }
  }
}

/**
 * The adapter's `Passthrough`, over its `Upstream` (its credentials, timeouts and error mapping).
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (upstream: Upstream.Upstream, options: Options): Passthrough.Passthrough => {
  const mapError = options.mapError ?? identity
  const mapPull = options.mapError === undefined
    ? identity<Pull<string, ProviderError>>
    : (pull: Pull<string, ProviderError>) => Effect.mapError(pull, Option.map(mapError))
  return {
    formats: [options.format],
    forward: (request, model, call) =>
    Effect.flatMap(options.request(request, model, upstream.timeoutFor(call)), (http) =>
      upstream.exchange(http, (body, headers) => {
        const answer = parseRecord(body)
        const failure = answer === undefined ? undefined : options.failure?.(answer, body)
        if (failure !== undefined) return Either.left(failure)
        return Either.right({
          body,
          contentType: contentType(headers, "application/json"),
          usage: answer === undefined ? undefined : options.usage(answer)
        })
      })).pipe(Effect.mapError(mapError)),
  forwardStream: (request, model, call) =>
    Effect.flatMap(options.request(request, model, upstream.timeoutFor(call)), (http) => {
      const follow = follower(options)
      const read = options.events?.(request)
      const events = read === undefined ? undefined : wholeEvents(read)
      return Effect.map(
        upstream.stream(
          http,
          (piece) => {
            const done = follow.see(piece)
            if (events === undefined) return { items: [piece], done }
            const { text, failure } = events(piece)
            const items = text === "" ? [] : [text]
            return failure === undefined ? { items, done } : { items, done: true, failure }
          },
          { endEventRequired: options.endMarker !== undefined }
        ),
        (pull): Passthrough.StreamAnswer => ({ pull: mapPull(pull), contentType: "text/event-stream", usage: follow.usage })
      )
    }).pipe(Effect.mapError(mapError))
  }
}
