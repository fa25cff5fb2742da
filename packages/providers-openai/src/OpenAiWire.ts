/**
 * The OpenAI wire (chat completions, embeddings, image generation), for adapters of other
 * upstreams that speak it behind a different URL, authentication or model naming (Azure OpenAI,
 * say): the pieces `OpenAiProvider` is built from, to pair with `@switchyard/provider-http/Upstream`.
 *
 * Bodies are parsed with `JSON.parse` and only the shape routing relies on is checked: the
 * canonical request and response are the OpenAI shapes, so nothing is re-encoded.
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatRequest, ChatResponse } from "@switchyard/core/ChatSchema"
import type { EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { ProviderError, ProviderStatusError } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import type * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import type * as Either from "effect/Either"
import * as Errors from "./internal/errors.js"
import * as SseBody from "./internal/stream.js"
import * as Wire from "./internal/wire.js"

/**
 * Reads a 2xx chat completion body: an object with a `choices` array, returned as it is. An
 * object carrying `error` and no `choices` (an error reported with a 2xx status) is that error;
 * anything else is a `ProviderOutputError`. Everything an error carries goes through `redact`.
 *
 * @since 0.1.0 @category Parsing
 */
export const parseChatResponse: (
  provider: string,
  text: string,
  redact: Redactor
) => Either.Either<ChatResponse, ProviderError> = Wire.parseChatResponse

/**
 * Reads a 2xx embeddings body (`POST /embeddings`): an object with a `data` array, returned as it
 * is, its vectors in the encoding the request asked for (floats, or base64 strings); one without
 * `usage` is given a zero one. An in-band `error` and a bad shape fail as for chat.
 *
 * @since 0.1.0 @category Parsing
 */
export const parseEmbeddingResponse: (
  provider: string,
  text: string,
  redact: Redactor
) => Either.Either<EmbeddingResponse, ProviderError> = Wire.parseEmbeddingResponse

/**
 * Reads a 2xx image generation body (`POST /images/generations`): an object with a `data` array,
 * returned as it is. An in-band `error` and a bad shape fail as for chat.
 *
 * @since 0.1.0 @category Parsing
 */
export const parseImageResponse: (
  provider: string,
  text: string,
  redact: Redactor
) => Either.Either<ImageResponse, ProviderError> = Wire.parseImageResponse

/**
 * The refusal of an image request asking for a stream (`stream: true`), which the gateway does
 * not relay: a 400 naming `stream`, answered before anything is sent. `undefined` for any other
 * request.
 *
 * @since 0.1.0 @category Requests
 */
export const refuseImageStream: (provider: string, req: ImageRequest) => ProviderStatusError | undefined =
  Wire.refuseImageStream

/**
 * A decoder of a `text/event-stream` chat body into chunks, for `Upstream.stream` (make one per
 * request: it keeps the framing state). Each `data` payload is a chunk (an object with a
 * `choices` array, possibly empty), passed on as it is; `data: [DONE]` ends the stream; an
 * `{"error": ...}` payload or an `event: error` fails it after the chunks before it; events of
 * other names are skipped.
 *
 * @since 0.1.0 @category Parsing
 */
export const makeStreamDecoder: (
  provider: string,
  redact: Redactor
) => (text: string) => Upstream.Decoded<ChatChunk> = SseBody.makeDecoder

/**
 * Reads OpenAI's error envelope (`{"error": {message, type, code, param}}`, a numeric `code` or
 * `status` in 400..599 read as the status) out of a non-2xx body, for `Upstream.Options.errorBody`.
 * A bare string `error`, or a top-level `message` or `detail`, is the message; anything else
 * says nothing.
 *
 * @since 0.1.0 @category Parsing
 */
export const errorBody: (body: string) => UpstreamErrors.UpstreamError = Errors.fromErrorBody

/**
 * The request to send when the answer is to stream: `stream: true` (the request itself when it
 * already says so, otherwise a copy).
 *
 * @since 0.1.0 @category Requests
 */
export const streamingRequest: (req: ChatRequest) => ChatRequest = Wire.streamingRequest

/**
 * How an OpenAI-compatible upstream continues an assistant prefill (the canonical form is a
 * trailing assistant message marked `prefix: true`): `prefix` takes that message as it is
 * (Mistral, DeepSeek); `continue_final_message` is vLLM's and SGLang's body flag.
 *
 * @since 0.1.0 @category Models
 */
export type PrefillStyle = "prefix" | "continue_final_message"

/**
 * The request in the upstream's prefill dialect: unchanged unless it ends with a prefill and
 * the style is `continue_final_message`.
 *
 * @since 0.1.0 @category Requests
 */
export const withPrefill: (req: ChatRequest, style: PrefillStyle | undefined) => ChatRequest = Wire.withPrefill
