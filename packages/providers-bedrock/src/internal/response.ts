/**
 * Converse answers as canonical ones: the `ConverseResponse`
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax),
 * its stop reasons and token usage. Bodies are parsed with `JSON.parse` and only what the mapping
 * reads is checked (Schema stays off the hot path).
 *
 * Converse answers carry no id and no model: the id is the request's `x-amzn-requestid` (what
 * AWS support asks for), the model the one the request named.
 *
 * @internal
 */
import type { ChatResponse, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { ResponseHeaders } from "@switchyard/provider-http/HttpTransport"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import * as Either from "effect/Either"
import { count, isRecord } from "@switchyard/provider-http/Wire"
import * as Wire from "@switchyard/provider-http/Wire"


/** The answer's request id (`x-amzn-requestid`), "" when absent. @internal */
export const requestId = (headers: ResponseHeaders): string => {
  const value = headers["x-amzn-requestid"]
  return typeof value === "string" ? value : value?.[0] ?? ""
}

/**
 * `stopReason` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax)
 * as a `finish_reason`: `end_turn` / `stop_sequence` -> `stop`, `max_tokens` (and
 * `model_context_window_exceeded`) -> `length`, `tool_use` -> `tool_calls`,
 * `guardrail_intervened` / `content_filtered` -> `content_filter`; any other as it is.
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
    case "guardrail_intervened":
    case "content_filtered":
      return "content_filter"
    default:
      return stopReason
  }
}

/**
 * `TokenUsage` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html)
 * as the canonical usage. `inputTokens` counts the input that was neither read from nor written
 * to the prompt cache (as Anthropic's `input_tokens` does), so `prompt_tokens` adds
 * `cacheReadInputTokens` and `cacheWriteInputTokens`, which are reported in
 * `prompt_tokens_details` (`cached_tokens`, `cache_creation_tokens`) when the upstream gave them.
 *
 * @internal
 */
export const toUsage = (usage: Record<string, unknown>): Usage =>
  Wire.usageWithCache({
    input: count(usage.inputTokens),
    output: count(usage.outputTokens),
    cacheRead: count(usage.cacheReadInputTokens),
    cacheWrite: count(usage.cacheWriteInputTokens)
  })

/** A `toolUse` block's call: `input` JSON-stringified into `arguments`. @internal */
export const toolCall = (block: Record<string, unknown>): ToolCall => ({
  id: typeof block.toolUseId === "string" ? block.toolUseId : "",
  type: "function",
  function: {
    name: typeof block.name === "string" ? block.name : "",
    arguments: typeof block.input === "string" ? block.input : JSON.stringify(block.input ?? {})
  }
})

/**
 * A `ConverseResponse` as a chat completion: its `text` blocks joined as the content (`null`
 * when it only calls tools), its `toolUse` blocks as tool calls, its `reasoningContent` text as
 * `reasoning_content`. Left out, having no place in a chat completion: reasoning signatures and
 * redacted reasoning, citations, images and documents the model returned, `metrics`, `trace`,
 * `additionalModelResponseFields`, `performanceConfig`.
 *
 * @internal
 */
export const toChatResponse = (
  response: Record<string, unknown>,
  content: ReadonlyArray<unknown>,
  id: string,
  model: string,
  created: number
): ChatResponse => {
  let text = ""
  let hasText = false
  let reasoning: string | undefined
  const toolCalls: Array<ToolCall> = []
  for (const block of content) {
    if (!isRecord(block)) continue
    if (typeof block.text === "string") {
      text += block.text
      hasText = true
    } else if (isRecord(block.toolUse)) {
      toolCalls.push(toolCall(block.toolUse))
    } else if (isRecord(block.reasoningContent)) {
      const reasoningText = block.reasoningContent.reasoningText
      if (isRecord(reasoningText) && typeof reasoningText.text === "string") reasoning = (reasoning ?? "") + reasoningText.text
    }
  }
  const assistant = Wire.assistantMessage({ text, hasText, reasoning, toolCalls })
  const completion: ChatResponse = {
    id,
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message: assistant, finish_reason: finishReason(response.stopReason) }]
  }
  return isRecord(response.usage) ? { ...completion, usage: toUsage(response.usage) } : completion
}

/**
 * A 2xx Converse body: an object whose `output.message.content` is an array.
 *
 * @internal
 */
export const parseResponse = (
  provider: string,
  text: string,
  headers: ResponseHeaders,
  redact: Redactor,
  model: string,
  created: number
): Either.Either<ChatResponse, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  const message = isRecord(value) && isRecord(value.output) ? value.output.message : undefined
  if (!isRecord(value) || !isRecord(message) || !Array.isArray(message.content)) {
    return Either.left(
      UpstreamErrors.outputError(provider, "expected a Converse response with an output.message.content array", redact)
    )
  }
  return Either.right(toChatResponse(value, message.content, requestId(headers), model, created))
}
