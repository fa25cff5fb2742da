/**
 * What every inbound wire format supplies besides its request decoder and response encoder
 * (the writer of its event stream), and the small pieces the formats' codecs share. A format's stream is written from canonical chunks (OpenAI
 * Chat Completions chunks) as they arrive; each call returns the Server-Sent Events text to send
 * now ("" when the chunk produces no event yet, because the format sends a piece only once it is
 * whole).
 *
 * @since 0.1.0
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { ErrorInfo } from "../HttpErrors.js"
import { fromParseError } from "../HttpErrors.js"

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
 * What ends an OpenAI-family event stream (Chat Completions, legacy Completions).
 *
 * @since 0.1.0 @category Constructors
 */
export const done = (): string => "data: [DONE]\n\n"

/**
 * One Server-Sent Event: an `event:` line when the format names its events, and one `data:`
 * line of JSON.
 *
 * @since 0.1.0 @category Constructors
 */
export const event = (name: string | undefined, data: unknown): string =>
  name === undefined ? `data: ${JSON.stringify(data)}\n\n` : `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * A struct that lets fields it does not name pass, like every canonical schema.
 *
 * @since 0.1.0 @category Building blocks
 */
export const openStruct = <Fields extends Schema.Struct.Fields>(fields: Fields) => Schema.Struct(fields, Extra)

/**
 * An optional request field the gateway cannot honour: absent or `null` passes, any other
 * value fails with `message` (prefixed with the field's path).
 *
 * @since 0.1.0 @category Building blocks
 */
export const refused = (message: string) =>
  Schema.optional(Schema.NullOr(Schema.Unknown.pipe(Schema.filter(() => false, { message: () => message }))))

/**
 * An optional boolean field the gateway honours only when it is `false`.
 *
 * @since 0.1.0 @category Building blocks
 */
export const onlyFalse = (message: string) =>
  Schema.optional(Schema.NullOr(Schema.Boolean.pipe(Schema.filter((b) => !b, { message: () => message }))))

/**
 * A decoder of a request body: anything but a JSON object is refused, and a Schema failure
 * becomes an `InvalidRequest` naming the bad field.
 *
 * @since 0.1.0 @category Building blocks
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (body: unknown): Either.Either<A, InvalidRequest> =>
    Predicate.isRecord(body)
      ? Either.mapLeft(decode(body), fromParseError)
      : Either.left(new InvalidRequest({ message: "The request body must be a JSON object." }))
}

/**
 * The canonical id without Chat Completions' `chatcmpl-` prefix: the stem other formats put
 * their own prefix on.
 *
 * @since 0.1.0 @category Building blocks
 */
export const idStem = (id: string): string => (id.startsWith("chatcmpl-") ? id.slice(9) : id)

/**
 * What a streamed canonical request carries (fresh each time: requests may be changed on their
 * way). Usage is always asked for, since the formats' closing events need it whatever the
 * client asked.
 *
 * @since 0.1.0 @category Building blocks
 */
export const streamed = () => ({ stream: true, stream_options: { include_usage: true } })

/**
 * The fields of `source` named in `keys` that are set (neither absent nor `null`).
 *
 * @since 0.1.0 @category Building blocks
 */
export const present = <K extends string>(
  source: { readonly [key in K]?: unknown },
  keys: ReadonlyArray<K>
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of keys) if (source[key] != null) out[key] = source[key]
  return out
}
