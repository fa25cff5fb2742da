/**
 * Anthropic answers as canonical ones: the `Message` object
 * (https://platform.claude.com/docs/en/api/messages), its usage and stop reasons, and the model
 * list (https://platform.claude.com/docs/en/api/models-list). Bodies are parsed with
 * `JSON.parse` and only what the mapping reads is checked (Schema stays off the hot path).
 *
 * @internal
 */
import type { ChatResponse, ModelInfo, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type { Page } from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { count, isRecord } from "@switchyard/provider-http/Wire"
import * as Either from "effect/Either"
import * as Errors from "./errors.js"
import * as Wire from "@switchyard/provider-http/Wire"


/**
 * `stop_reason` as a `finish_reason`: `end_turn` / `stop_sequence` -> `stop`, `max_tokens` (and
 * `model_context_window_exceeded`) -> `length`, `tool_use` -> `tool_calls`, `refusal` ->
 * `content_filter`; any other (`pause_turn`, ones added later) as it is.
 *
 * @internal
 */
export const finishReason = (stopReason: unknown): string | null => {
  if (typeof stopReason !== "string") return null
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_calls"
    case "refusal":
      return "content_filter"
    default:
      return stopReason
  }
}

/**
 * Anthropic's usage as the canonical one. Anthropic's `input_tokens` leaves out the cached
 * prompt ("total input tokens is the summation of input_tokens, cache_creation_input_tokens and
 * cache_read_input_tokens"), so `prompt_tokens` adds them; the cache counts go in
 * `prompt_tokens_details` when the upstream reported them.
 *
 * @internal
 */
export const toUsage = (usage: Record<string, unknown>): Usage =>
  Wire.usageWithCache({
    input: count(usage.input_tokens),
    output: count(usage.output_tokens),
    cacheRead: count(usage.cache_read_input_tokens),
    cacheWrite: count(usage.cache_creation_input_tokens)
  })

/** The usage of a Message (or stream event) when it has one. @internal */
export const usageOf = (usage: unknown): Usage | undefined => isRecord(usage) ? toUsage(usage) : undefined

/** A `tool_use` block's call: `input` JSON-stringified into `arguments`. @internal */
export const toolCall = (block: Record<string, unknown>): ToolCall => ({
  id: typeof block.id === "string" ? block.id : "",
  type: "function",
  function: { name: typeof block.name === "string" ? block.name : "", arguments: JSON.stringify(block.input ?? {}) }
})

/**
 * A `Message` as a chat completion: its `text` blocks joined as the content (`null` when it only
 * calls tools), its `tool_use` blocks as tool calls, its `thinking` text as `reasoning_content`.
 * Left out, having no place in a chat completion: `citations`, thinking `signature`s,
 * `redacted_thinking` and server tool blocks (`server_tool_use`, `web_search_tool_result`), and
 * which `stop_sequence` matched. `created` is given (now, in seconds); `trimmedPrefill` drops the
 * content's leading whitespace.
 *
 * @internal
 */
export const toChatResponse = (
  message: Record<string, unknown> & { readonly content: ReadonlyArray<unknown> },
  created: number,
  trimmedPrefill: boolean
): ChatResponse => {
  let text = ""
  let hasText = false
  let reasoning: string | undefined
  const toolCalls: Array<ToolCall> = []
  for (const block of message.content) {
    if (!isRecord(block)) continue
    if (block.type === "text" && typeof block.text === "string") {
      text += block.text
      hasText = true
    } else if (block.type === "tool_use") {
      toolCalls.push(toolCall(block))
    } else if (block.type === "thinking" && typeof block.thinking === "string") {
      reasoning = (reasoning ?? "") + block.thinking
    }
  }
  const assistant = Wire.assistantMessage({ text: trimmedPrefill ? text.trimStart() : text, hasText, reasoning, toolCalls })
  const response: ChatResponse = {
    id: typeof message.id === "string" ? message.id : "",
    object: "chat.completion",
    created,
    model: typeof message.model === "string" ? message.model : "",
    choices: [{ index: 0, message: assistant, finish_reason: finishReason(message.stop_reason) }]
  }
  return isRecord(message.usage) ? { ...response, usage: toUsage(message.usage) } : response
}

/**
 * A 2xx `POST /v1/messages` body: an object with a `content` array. An error envelope with a 2xx
 * status is the error it describes.
 *
 * @internal
 */
export const parseMessage = (
  provider: string,
  text: string,
  redact: Redactor,
  created: number,
  trimmedPrefill: boolean
): Either.Either<ChatResponse, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (isRecord(value)) {
    if (Array.isArray(value.content)) {
      return Either.right(toChatResponse(value as Record<string, unknown> & { content: Array<unknown> }, created, trimmedPrefill))
    }
    if (value.type === "error") return Either.left(Errors.inBandError(provider, value.error, text, redact))
  }
  return Either.left(UpstreamErrors.outputError(provider, "expected a message object with a content array", redact))
}

/**
 * `GET /v1/models`: `{ data: [{ type: "model", id, display_name, created_at }], has_more,
 * first_id, last_id }` (https://platform.claude.com/docs/en/api/models-list). `created_at` (an
 * RFC 3339 date) becomes seconds; entries without a string id are skipped.
 *
 * @internal
 */
export const parseModelPage = (
  provider: string,
  text: string,
  redact: Redactor
): Either.Either<Page<ModelInfo>, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the model list", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (!isRecord(value) || !Array.isArray(value.data)) {
    return Either.left(UpstreamErrors.outputError(provider, "expected a model list object with a data array", redact))
  }
  const models: Array<ModelInfo> = []
  for (const entry of value.data) {
    if (!isRecord(entry) || typeof entry.id !== "string") continue
    const at = typeof entry.created_at === "string" ? Date.parse(entry.created_at) : NaN
    models.push({ id: entry.id, object: "model", created: Number.isNaN(at) ? 0 : Math.floor(at / 1000), owned_by: provider })
  }
  // The next page is asked after the last id of this one.
  const next = value.has_more === true && typeof value.last_id === "string" ? value.last_id : undefined
  return Either.right({ items: models, next })
}
