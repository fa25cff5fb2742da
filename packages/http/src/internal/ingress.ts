/**
 * Answers in a client's own wire format: canonical results encoded by the format's codec, and
 * forwarded answers written as they came.
 *
 * @internal
 */
import type { ChatChunk, ChatRequest, ChatResponse } from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { InvalidRequest } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import type * as RequestContext from "@switchyard/core/RequestContext"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { decoder, type StreamEncoder } from "../formats/Codec.js"
import type { ErrorInfo } from "../HttpErrors.js"
import { eventStream, json, routingHeaders, text } from "./respond.js"

/** A format's encoders, for one request. @internal */
export interface Format {
  readonly encodeResponse: (res: ChatResponse) => unknown
  readonly streamEncoder: () => StreamEncoder
}

const writer = (encoder: StreamEncoder) => ({
  frame: (chunk: Chunk.Chunk<ChatChunk>) => {
    let out = ""
    for (const c of chunk) out += encoder.chunk(c)
    return out
  },
  end: encoder.end,
  error: encoder.error
})

const translatedJson = (format: Format, result: Gateway.ChatResult, ctx: RequestContext.RequestContext) =>
  json(format.encodeResponse(result.response), routingHeaders(ctx, result))

const translatedStream = (format: Format, result: Gateway.StreamResult, ctx: RequestContext.RequestContext) =>
  eventStream(result.pull, writer(format.streamEncoder()), ctx, routingHeaders(ctx, result))

const pieces = (chunk: Chunk.Chunk<string>): string => {
  let out = ""
  for (const piece of chunk) out += piece
  return out
}

/** A chat request only translation can serve (its format has no native provider). @internal */
export const chat = (format: Format, req: ChatRequest, ctx: RequestContext.RequestContext) =>
  Effect.flatMap(Gateway.Gateway, (gateway) =>
    req.stream === true
      ? Effect.flatMap(gateway.chatStream(req, ctx), (result) => translatedStream(format, result, ctx))
      : Effect.map(gateway.chat(req, ctx), (result) => translatedJson(format, result, ctx)))

/**
 * A chat request forwarded as it came to a provider that speaks its format, translated for any
 * other. A forwarded stream's failure after the start is written as the format's error event.
 *
 * @internal
 */
export const relay = (
  format: Format & { readonly errorEvent: (info: ErrorInfo) => string },
  request: Gateway.Relay,
  ctx: RequestContext.RequestContext
) =>
  Effect.flatMap(Gateway.Gateway, (gateway) =>
    request.native.stream
      ? Effect.flatMap(gateway.relayStream(request, ctx), (relayed) =>
        relayed._tag === "Translated"
          ? translatedStream(format, relayed.result, ctx)
          : eventStream(
            relayed.answer.pull,
            { frame: pieces, end: () => "", error: format.errorEvent },
            ctx,
            routingHeaders(ctx, relayed)
          ))
      : Effect.map(gateway.relay(request, ctx), (relayed) =>
        relayed._tag === "Translated"
          ? translatedJson(format, relayed.result, ctx)
          : text(relayed.answer.body, relayed.answer.contentType, routingHeaders(ctx, relayed))))

/** A vendor's token count, its answer as it came. @internal */
export const countTokens = (model: string, native: Passthrough.Request, ctx: RequestContext.RequestContext) =>
  Effect.flatMap(Gateway.Gateway, (gateway) =>
    Effect.map(gateway.countTokens(model, native, ctx), (result) =>
      text(result.response.body, result.response.contentType, routingHeaders(ctx, result))))

/** A body that must be a JSON object (a vendor's request forwarded as it came). @internal */
export const objectBody: (json: unknown) => Either.Either<Readonly<Record<string, unknown>>, InvalidRequest> = decoder(
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/** The named request headers that are present, names in lower case. @internal */
export const pickHeaders = (
  headers: Readonly<Record<string, string | undefined>>,
  names: ReadonlyArray<string>
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return out
}
