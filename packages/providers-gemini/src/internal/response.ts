/**
 * Gemini answers as canonical ones: the `GenerateContentResponse`
 * (https://ai.google.dev/api/generate-content#generatecontentresponse), its usage and finish
 * reasons, and the model lists of the Gemini API (https://ai.google.dev/api/models#method:-models.list)
 * and Vertex AI (https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/publishers.models/list).
 * Bodies are parsed with `JSON.parse` and only what the mapping reads is checked (Schema stays
 * off the hot path).
 *
 * @internal
 */
import type { ChatResponse, ModelInfo, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type { Page } from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { count, isRecord } from "@switchyard/provider-http/Wire"
import * as Wire from "@switchyard/provider-http/Wire"
import * as Either from "effect/Either"
import * as Errors from "./errors.js"

/** The finish reasons that mean a filter stopped the answer. */
const filtered: ReadonlySet<string> = new Set([
  "SAFETY",
  "RECITATION",
  "LANGUAGE",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
  "IMAGE_RECITATION",
  "MODEL_ARMOR"
])

/**
 * `finishReason` (https://ai.google.dev/api/generate-content#FinishReason) as a `finish_reason`:
 * `STOP` -> `stop`, or `tool_calls` when the candidate calls functions (Gemini says `STOP` then
 * too); `MAX_TOKENS` -> `length`; the filters (`SAFETY`, `RECITATION`, `LANGUAGE`, `BLOCKLIST`,
 * `PROHIBITED_CONTENT`, `SPII`, the `IMAGE_*` ones, Vertex AI's `MODEL_ARMOR`) ->
 * `content_filter`; any other (`MALFORMED_FUNCTION_CALL`, `OTHER`, ones added later) lower-cased.
 *
 * @internal
 */
export const finishReason = (reason: unknown, callsTools: boolean): string | null => {
  if (typeof reason !== "string" || reason === "" || reason === "FINISH_REASON_UNSPECIFIED") return null
  if (reason === "STOP") return callsTools ? "tool_calls" : "stop"
  if (reason === "MAX_TOKENS") return "length"
  if (filtered.has(reason)) return "content_filter"
  return reason.toLowerCase()
}

/**
 * `usageMetadata` (https://ai.google.dev/api/generate-content#UsageMetadata) as the canonical
 * usage. Gemini counts the thinking apart from the answer (`candidatesTokenCount` leaves out
 * `thoughtsTokenCount`) and tool-use prompts apart from the prompt; OpenAI counts reasoning in
 * the completion, so `completion_tokens` is candidates + thoughts (the thoughts in
 * `completion_tokens_details.reasoning_tokens`) and `prompt_tokens` is prompt + tool-use prompt,
 * which adds up to `totalTokenCount`. `promptTokenCount` already includes the cached content,
 * reported in `prompt_tokens_details.cached_tokens`.
 *
 * @internal
 */
export const toUsage = (usage: Record<string, unknown>): Usage => {
  const prompt = (count(usage.promptTokenCount) ?? 0) + (count(usage.toolUsePromptTokenCount) ?? 0)
  const thoughts = count(usage.thoughtsTokenCount)
  const completion = (count(usage.candidatesTokenCount) ?? 0) + (thoughts ?? 0)
  const cached = count(usage.cachedContentTokenCount)
  const out: {
    prompt_tokens: number
    completion_tokens: number
    total_tokens: number
    prompt_tokens_details?: { cached_tokens: number }
    completion_tokens_details?: { reasoning_tokens: number }
  } = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: count(usage.totalTokenCount) ?? prompt + completion }
  if (cached !== undefined) out.prompt_tokens_details = { cached_tokens: cached }
  if (thoughts !== undefined) out.completion_tokens_details = { reasoning_tokens: thoughts }
  return out
}

/**
 * A `functionCall` part's call: Gemini's `id` when it gives one, else `call_<n>` (`n` counting
 * the candidate's calls); `args` JSON-stringified into `arguments`; a part's `thoughtSignature`
 * in `extra_content.google.thought_signature`, where Gemini's OpenAI compatibility puts it
 * (https://ai.google.dev/gemini-api/docs/thought-signatures), for `request.ts` to send back.
 *
 * @internal
 */
export const toolCall = (part: Record<string, unknown>, n: number): ToolCall => {
  const call = isRecord(part.functionCall) ? part.functionCall : {}
  const out: ToolCall = {
    id: typeof call.id === "string" && call.id !== "" ? call.id : `call_${n}`,
    type: "function",
    function: { name: typeof call.name === "string" ? call.name : "", arguments: JSON.stringify(call.args ?? {}) }
  }
  return typeof part.thoughtSignature === "string"
    ? { ...out, extra_content: { google: { thought_signature: part.thoughtSignature } } }
    : out
}

/** What the refusal of a blocked prompt says. @internal */
export const blockedPrompt = (feedback: Record<string, unknown>): string | undefined => {
  if (typeof feedback.blockReason !== "string") return undefined
  const message = typeof feedback.blockReasonMessage === "string" ? `: ${feedback.blockReasonMessage}` : ""
  return `The prompt was blocked (${feedback.blockReason})${message}`
}

/**
 * A candidate as a choice: its text parts joined as the content (`null` when it only calls
 * functions), its thought parts (`thought: true`, https://ai.google.dev/gemini-api/docs/thinking)
 * as `reasoning_content`, its `functionCall` parts as tool calls. Left out, having no place in
 * a chat completion: parts of other kinds (`inlineData` the model generated, `executableCode`,
 * `codeExecutionResult`), thought signatures of text parts, `safetyRatings`,
 * `citationMetadata`, `groundingMetadata`, `logprobsResult`, `finishMessage`.
 *
 * @internal
 */
export const toChoice = (candidate: Record<string, unknown>, position: number): ChatResponse["choices"][number] => {
  const content = isRecord(candidate.content) ? candidate.content : {}
  const parts = Array.isArray(content.parts) ? content.parts : []
  let text = ""
  let hasText = false
  let reasoning: string | undefined
  const toolCalls: Array<ToolCall> = []
  for (const part of parts) {
    if (!isRecord(part)) continue
    if (part.functionCall !== undefined) {
      toolCalls.push(toolCall(part, toolCalls.length))
    } else if (typeof part.text === "string") {
      if (part.thought === true) {
        reasoning = (reasoning ?? "") + part.text
      } else {
        text += part.text
        hasText = true
      }
    }
  }
  return {
    index: typeof candidate.index === "number" ? candidate.index : position,
    message: Wire.assistantMessage({ text, hasText, reasoning, toolCalls }),
    finish_reason: finishReason(candidate.finishReason, toolCalls.length > 0)
  }
}

/**
 * A `GenerateContentResponse` as a chat completion. A prompt Gemini blocked (no candidates, a
 * `promptFeedback.blockReason`, https://ai.google.dev/gemini-api/docs/safety-settings) is
 * answered, as Gemini answers it, with a 200: one choice with no content, the block reason as
 * the `refusal`, and `finish_reason: "content_filter"`. The id is Gemini's `responseId` and the
 * model its `modelVersion`, when given; `created` is given (now, in seconds).
 *
 * @internal
 */
export const toChatResponse = (
  value: Record<string, unknown>,
  model: string,
  created: number
): ChatResponse | undefined => {
  let choices: Array<ChatResponse["choices"][number]>
  if (Array.isArray(value.candidates) && value.candidates.length > 0) {
    choices = value.candidates.map((c, i) => toChoice(isRecord(c) ? c : {}, i))
  } else {
    const refusal = isRecord(value.promptFeedback) ? blockedPrompt(value.promptFeedback) : undefined
    if (refusal === undefined) return undefined
    const message: Wire.Assistant = { role: "assistant", content: null, refusal }
    choices = [{ index: 0, message, finish_reason: "content_filter" }]
  }
  const response: ChatResponse = {
    id: typeof value.responseId === "string" ? value.responseId : "",
    object: "chat.completion",
    created,
    model: typeof value.modelVersion === "string" ? value.modelVersion : model,
    choices
  }
  return isRecord(value.usageMetadata) ? { ...response, usage: toUsage(value.usageMetadata) } : response
}

/**
 * A 2xx body that must be a JSON object (`what` says which, for the error). An error envelope
 * with a 2xx status is the error it describes.
 *
 * @internal
 */
export const parseObject = (
  provider: string,
  text: string,
  redact: Redactor,
  what: string
): Either.Either<Record<string, unknown>, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (!isRecord(value)) return Either.left(UpstreamErrors.outputError(provider, `expected ${what}`, redact))
  if (value.error !== undefined) return Either.left(Errors.inBandError(provider, value.error, text, redact))
  return Either.right(value)
}

const generateContentResponse = "a GenerateContentResponse with candidates"

/**
 * A 2xx `generateContent` body: an object with candidates, or a blocked prompt's feedback.
 *
 * @internal
 */
export const parseResponse = (
  provider: string,
  text: string,
  redact: Redactor,
  model: string,
  created: number
): Either.Either<ChatResponse, ProviderError> =>
  Either.flatMap(parseObject(provider, text, redact, generateContentResponse), (value) => {
    const response = toChatResponse(value, model, created)
    return response === undefined
      ? Either.left(UpstreamErrors.outputError(provider, `expected ${generateContentResponse}`, redact))
      : Either.right(response)
  })

/**
 * A model list page: `{ <field>: [{ name: "models/gemini-2.0-flash", ... }], nextPageToken }`
 * (`models` for the Gemini API, `publisherModels` with names `publishers/google/models/<id>` for
 * Vertex AI). The id is the name's last segment; neither list says when a model was created.
 *
 * @internal
 */
export const parseModelPage = (
  provider: string,
  field: string,
  text: string,
  redact: Redactor
): Either.Either<Page<ModelInfo>, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the model list", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const value = parsed.right
  if (!isRecord(value)) {
    return Either.left(UpstreamErrors.outputError(provider, "expected a model list object", redact))
  }
  // An empty page may leave the list out.
  const entries = value[field] ?? []
  if (!Array.isArray(entries)) {
    return Either.left(UpstreamErrors.outputError(provider, `expected a model list object with a ${field} array`, redact))
  }
  const models: Array<ModelInfo> = []
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry.name !== "string") continue
    const id = entry.name.slice(entry.name.lastIndexOf("/") + 1)
    if (id !== "") models.push({ id, object: "model", created: 0, owned_by: provider })
  }
  const next = typeof value.nextPageToken === "string" && value.nextPageToken !== "" ? value.nextPageToken : undefined
  return Either.right({ items: models, next })
}
