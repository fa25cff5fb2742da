/**
 * The OpenAI wire shapes. The canonical request and response ARE the OpenAI shapes, so nothing
 * is re-encoded: bodies are parsed with `JSON.parse` and only the shape routing relies on is
 * checked (Schema stays off the hot path).
 *
 * @internal
 */
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo, Usage } from "@switchyard/core/ChatSchema"
import type { EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import { ProviderOutputError, ProviderStatusError } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Errors from "./errors.js"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Forwarding from "@switchyard/provider-http/Forwarding"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { count, isRecord, preview } from "@switchyard/provider-http/Wire"

/** A Chat Completions usage object: the canonical usage it already is. @internal */
export const chatUsage = (usage: unknown): Usage | undefined =>
  isRecord(usage) && count(usage.prompt_tokens) !== undefined ? usage as unknown as Usage : undefined

/** Whether a client's Chat Completions body asks for the usage at the end of its stream. @internal */
export const asksUsage = (body: Readonly<Record<string, unknown>>): boolean =>
  isRecord(body.stream_options) && body.stream_options.include_usage === true

/**
 * A client's Chat Completions body as the fast path forwards it: the routed model, and a stream
 * asks for the usage, which the gateway accounts for (`forwardedEvent` takes it out again for a
 * client that did not ask).
 *
 * @internal
 */
export const forwardedChat = (request: Passthrough.Request, model: string): string =>
  !request.stream || asksUsage(request.body)
    ? Forwarding.withModel(request, model)
    : JSON.stringify({
      ...request.body,
      model,
      stream_options: { ...(isRecord(request.body.stream_options) ? request.body.stream_options : {}), include_usage: true }
    })

// https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options: with
// `include_usage`, every chunk carries `"usage": null` and one last chunk, before `data: [DONE]`,
// has the usage and an empty `choices`. (Azure's content-filter chunk has an empty `choices` too,
// but no usage; some compatible servers put the usage on the last content chunk instead.)
const emptyChoices = /"choices"\s*:\s*\[\s*\]/
const usageObject = /"usage"\s*:\s*\{/
const nullUsage = /,\s*"usage"\s*:\s*null/
// An in-band error: an `{"error": ...}` payload, or an event named `error`.
const errorData = /^data:\s*\{\s*"error"\s*:/m
const errorName = /^event:\s*error\s*$/m

/**
 * One whole event of a forwarded chat stream: an in-band error is the failure it reports (as the
 * translated stream reads it); else the event as the client gets it, and for a client that did
 * not ask for the usage, as it would have come without `include_usage`: the usage chunk left
 * out, `"usage": null` taken out of the others, a usage on a content chunk removed.
 *
 * @internal
 */
export const forwardedEvent = (provider: string, redact: Redactor, clientAskedUsage: boolean) =>
(event: string): Forwarding.Event => {
  if (event.includes("error") && (errorData.test(event) || errorName.test(event))) {
    const data = Forwarding.dataOf(event)
    const failure = errorName.test(event) ? parseErrorEvent(provider, data, redact) : parseChunk(provider, data, redact)
    if (isChunkFailure(failure)) return { failure }
  }
  if (clientAskedUsage) return event
  if (!usageObject.test(event)) return event.replace(nullUsage, "")
  if (emptyChoices.test(event)) return ""
  const chunk = parseChunk(provider, Forwarding.dataOf(event), redact)
  if (isChunkFailure(chunk)) return event
  const { usage: _, ...rest } = chunk
  return `data: ${JSON.stringify(rest)}\n\n`
}

/** The streaming request: the same body with `stream: true` (only copied when needed). @internal */
export const streamingRequest = (req: ChatRequest): ChatRequest => req.stream === true ? req : { ...req, stream: true }

/**
 * How an OpenAI-compatible upstream continues an assistant prefill (the canonical form is a
 * trailing assistant message marked `prefix: true`): `prefix` takes that message as it is
 * (Mistral, DeepSeek); `continue_final_message` is vLLM's and SGLang's body flag.
 *
 * @internal
 */
export type PrefillStyle = "prefix" | "continue_final_message"

/** The request in the upstream's prefill dialect (unchanged unless it ends with a prefill). @internal */
export const withPrefill = (req: ChatRequest, style: PrefillStyle | undefined): ChatRequest => {
  const last = req.messages[req.messages.length - 1]
  if (style !== "continue_final_message" || last?.role !== "assistant" || last["prefix"] !== true) return req
  const { prefix: _, ...message } = last
  return {
    ...req,
    messages: [...req.messages.slice(0, -1), message as typeof last],
    continue_final_message: true,
    add_generation_prompt: false
  }
}

/** Reads a 2xx body into an answer, or the error it is. */
type Parse<A> = (provider: string, text: string, redact: Redactor) => Either.Either<A, ProviderError>

/**
 * A reader of 2xx bodies that are an object with the array `field`, returned as they are. An
 * object carrying `error` and no such array is an error reported with a 2xx status (some
 * OpenAI-compatible servers do this); anything else is a `ProviderOutputError` that expected
 * `what`.
 */
const answerWith = <A>(field: string, what: string): Parse<A> => (provider, text, redact) => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (isRecord(value)) {
    if (Array.isArray(value[field])) return Either.right(value as A)
    if (value.error !== undefined && value.error !== null) {
      return Either.left(Errors.inBandError(provider, value.error, text, redact))
    }
  }
  return Either.left(UpstreamErrors.outputError(provider, `expected ${what}`, redact))
}

/** A 2xx chat completion body: an object with a `choices` array. @internal */
export const parseChatResponse: Parse<ChatResponse> = answerWith("choices", "a chat completion object with a choices array")

const parseEmbeddingList: Parse<EmbeddingResponse> = answerWith("data", "an embedding list object with a data array")

/**
 * A 2xx `POST /embeddings` body: an object with a `data` array, its vectors as the request asked
 * for them (floats, or base64 strings). One without `usage` is given a zero one, which the
 * gateway's accounting reads.
 *
 * @internal
 */
export const parseEmbeddingResponse: Parse<EmbeddingResponse> = (provider, text, redact) =>
  Either.map(
    parseEmbeddingList(provider, text, redact),
    (list) => isRecord(list.usage) ? list : { ...list, usage: { prompt_tokens: 0, total_tokens: 0 } }
  )

/** A 2xx `POST /images/generations` body: an object with a `data` array. @internal */
export const parseImageResponse: Parse<ImageResponse> = answerWith("data", "an image generation object with a data array")

/**
 * The refusal of an image request asking for a stream (`stream: true`, GPT image models' partial
 * images), which the gateway does not relay: answered before anything is sent. `undefined` for
 * any other request.
 *
 * @internal
 */
export const refuseImageStream = (provider: string, req: ImageRequest): ProviderStatusError | undefined =>
  req["stream"] === true
    ? UpstreamErrors.unmappable(
      provider,
      "streaming image generation is not supported by the gateway; send the request without stream: true",
      "stream"
    )
    : undefined

/** What `parseChunk` fails with. @internal */
export type ChunkFailure = ProviderStatusError | ProviderOutputError

/** @internal */
export const isChunkFailure = (u: ChatChunk | ChunkFailure): u is ChunkFailure =>
  u instanceof ProviderStatusError || u instanceof ProviderOutputError

/**
 * One SSE `data` payload of a chat stream: a chunk (an object with a `choices` array, possibly
 * empty as in the final usage chunk), or a failure (an `{"error": ...}` event, bad JSON, a bad
 * shape). Plain code, no Effect: it runs once per event.
 *
 * @internal
 */
export const parseChunk = (
  provider: string,
  data: string,
  redact: Redactor
): ChatChunk | ChunkFailure => {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return UpstreamErrors.outputError(provider, `a stream event is not JSON: ${preview(data)}`, redact)
  }
  if (isRecord(value)) {
    if (value.error !== undefined && value.error !== null) {
      return Errors.inBandError(provider, value.error, data, redact)
    }
    if (Array.isArray(value.choices)) return value as unknown as ChatChunk
  }
  return UpstreamErrors.outputError(provider, `a stream event is not a chat completion chunk: ${preview(data)}`, redact)
}

/**
 * An `event: error` payload: the `error` inside it, or the whole value, or the raw text.
 *
 * @internal
 */
export const parseErrorEvent = (provider: string, data: string, redact: Redactor): ProviderStatusError => {
  let value: unknown = data
  try {
    value = JSON.parse(data)
  } catch {
    // a plain-text error message
  }
  const error = isRecord(value) && value.error !== undefined && value.error !== null ? value.error : value
  return Errors.inBandError(provider, error, data, redact)
}

/**
 * `GET /models`: `{ object: "list", data: [{ id, object, created, owned_by }] }`. Entries without
 * a string id are skipped; a missing `owned_by` becomes the provider's name.
 *
 * @internal
 */
export const parseModelList = (
  provider: string,
  text: string,
  redact: Redactor
): Either.Either<ReadonlyArray<ModelInfo>, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the model list", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (!isRecord(value) || !Array.isArray(value.data)) {
    return Either.left(UpstreamErrors.outputError(provider, "expected a model list object with a data array", redact))
  }
  const models: Array<ModelInfo> = []
  for (const entry of value.data) {
    if (!isRecord(entry) || typeof entry.id !== "string") continue
    models.push({
      id: entry.id,
      object: "model",
      created: typeof entry.created === "number" ? entry.created : 0,
      owned_by: typeof entry.owned_by === "string" ? entry.owned_by : provider
    })
  }
  return Either.right(models)
}

/**
 * The Responses API's usage in canonical terms
 * (https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage):
 * its input and output counts already include the cached and reasoning tokens, as Chat
 * Completions' do.
 *
 * @internal
 */
export const responsesUsage = (usage: unknown): Usage | undefined => {
  if (!isRecord(usage)) return undefined
  const input = count(usage.input_tokens) ?? 0
  const output = count(usage.output_tokens) ?? 0
  const cached = isRecord(usage.input_tokens_details) ? count(usage.input_tokens_details.cached_tokens) : undefined
  const reasoning = isRecord(usage.output_tokens_details) ? count(usage.output_tokens_details.reasoning_tokens) : undefined
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: count(usage.total_tokens) ?? input + output,
    ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }),
    ...(reasoning === undefined ? {} : { completion_tokens_details: { reasoning_tokens: reasoning } })
  }
}
