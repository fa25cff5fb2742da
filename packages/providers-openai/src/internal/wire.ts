/**
 * The OpenAI wire shapes. The canonical request and response ARE the OpenAI shapes, so nothing
 * is re-encoded: bodies are parsed with `JSON.parse` and only the shape routing relies on is
 * checked (Schema stays off the hot path).
 *
 * @internal
 */
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import { ProviderOutputError, ProviderStatusError } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Errors from "./errors.js"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord, preview } from "@switchyard/provider-http/Wire"

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

/**
 * A 2xx chat completion body: an object with a `choices` array. An object carrying `error` and no
 * `choices` is an error reported with a 2xx status (some OpenAI-compatible servers do this).
 *
 * @internal
 */
export const parseChatResponse = (
  provider: string,
  text: string,
  redact: Redactor
): Either.Either<ChatResponse, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (isRecord(value)) {
    if (Array.isArray(value.choices)) return Either.right(value as unknown as ChatResponse)
    if (value.error !== undefined && value.error !== null) {
      return Either.left(Errors.inBandError(provider, value.error, text, redact))
    }
  }
  return Either.left(UpstreamErrors.outputError(provider, "expected a chat completion object with a choices array", redact))
}

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
