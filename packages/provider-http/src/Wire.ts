/**
 * Small pieces every adapter's translation needs: reading untyped JSON, `data:` URLs, and the
 * usage arithmetic of vendors whose input count leaves the cached prompt out.
 *
 * @since 0.1.0
 */
import type { ToolCall, Usage } from "@switchyard/core/ChatSchema"

/** @since 0.1.0 @category Guards */
export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A finite number, else `undefined`. @since 0.1.0 @category Reading */
export const count = (u: unknown): number | undefined => typeof u === "number" && Number.isFinite(u) ? u : undefined

/** The start of a text, for an error message about it. @since 0.1.0 @category Reading */
export const preview = (text: string): string => text.length > 200 ? `${text.slice(0, 200)}...` : text

/** @since 0.1.0 @category Models */
export interface DataUrl {
  /** Lower case, `text/plain` when the URL names none. */
  readonly mediaType: string
  readonly base64: string
}

/**
 * `data:<media type>[;params][;base64],<data>`; data that is not base64 is encoded. `undefined`
 * for anything else (an http(s) URL, say).
 *
 * @since 0.1.0 @category Reading
 */
export const parseDataUrl = (url: string): DataUrl | undefined => {
  if (!url.startsWith("data:")) return undefined
  const comma = url.indexOf(",")
  if (comma === -1) return undefined
  const params = url.slice(5, comma).split(";")
  const data = url.slice(comma + 1)
  const mediaType = (params[0] ?? "").trim().toLowerCase() || "text/plain"
  if (params.slice(1).some((p) => p.trim().toLowerCase() === "base64")) return { mediaType, base64: data }
  let decoded: string
  try {
    decoded = decodeURIComponent(data)
  } catch {
    decoded = data
  }
  return { mediaType, base64: Buffer.from(decoded, "utf8").toString("base64") }
}

/**
 * The canonical usage of a vendor whose input count leaves out the prompt read from or written
 * to its cache (Anthropic, Bedrock): `prompt_tokens` adds them back, and they are reported in
 * `prompt_tokens_details` when the vendor gave them.
 *
 * @since 0.1.0 @category Usage
 */
export const usageWithCache = (counts: {
  readonly input: number | undefined
  readonly output: number | undefined
  readonly cacheRead: number | undefined
  readonly cacheWrite: number | undefined
}): Usage => {
  const { cacheRead, cacheWrite } = counts
  const prompt = (counts.input ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0)
  const output = counts.output ?? 0
  const usage: {
    prompt_tokens: number
    completion_tokens: number
    total_tokens: number
    prompt_tokens_details?: { cached_tokens: number; cache_creation_tokens: number }
  } = { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output }
  if (cacheRead !== undefined || cacheWrite !== undefined) {
    usage.prompt_tokens_details = { cached_tokens: cacheRead ?? 0, cache_creation_tokens: cacheWrite ?? 0 }
  }
  return usage
}

/**
 * The canonical assistant message of a translated answer. `refusal` is set by adapters whose
 * vendor refuses in its own way (a blocked prompt).
 *
 * @since 0.1.0 @category Answers
 */
// A type, not an interface, so that it fits the canonical message's index signature.
export type Assistant = {
  role: "assistant"
  content: string | null
  tool_calls?: Array<ToolCall>
  refusal?: string
  reasoning_content?: string
}

/**
 * What a vendor's answer said, gathered from its content blocks in order.
 *
 * @since 0.1.0 @category Answers
 */
export interface AssistantParts {
  readonly text: string
  /** Whether any text block came: an answer of tool calls alone has `content: null`. */
  readonly hasText: boolean
  /** The model's thinking, when it showed any. */
  readonly reasoning: string | undefined
  readonly toolCalls: Array<ToolCall>
}

/**
 * The assistant message of those parts: the text as `content` (`null` when the answer only
 * calls tools, as OpenAI answers), the tool calls, the thinking as `reasoning_content` (the
 * field OpenAI-compatible reasoning APIs use).
 *
 * @since 0.1.0 @category Answers
 */
export const assistantMessage = (parts: AssistantParts): Assistant => {
  const message: Assistant = { role: "assistant", content: parts.hasText || parts.toolCalls.length === 0 ? parts.text : null }
  if (parts.toolCalls.length > 0) message.tool_calls = parts.toolCalls
  if (parts.reasoning !== undefined) message.reasoning_content = parts.reasoning
  return message
}
