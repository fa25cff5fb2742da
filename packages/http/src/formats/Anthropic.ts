/**
 * The Anthropic Messages format (https://platform.claude.com/docs/en/api/messages) at the
 * gateway's edge: requests to canonical ones, canonical answers (JSON and streamed chunks) back
 * to Anthropic's wire format. The inverse of the Anthropic adapter's mapping.
 *
 * Requests. Mapped:
 * - `system` (a string or text blocks) -> the first canonical `system` message;
 * - `messages`: `text` blocks -> text parts; `image` blocks with a `base64` source -> an
 *   `image_url` part with a `data:` URL, with a `url` source -> an `image_url` part with that URL;
 *   a user turn's `tool_result` blocks -> `tool` messages (`is_error: true` kept on the message),
 *   before a user message with the turn's other blocks; an assistant turn's `text` -> its
 *   content (one string when it is all plain text), its `tool_use` blocks -> `tool_calls`. A
 *   block's `cache_control` is kept on its part, a lone plain text block becomes a string;
 * - custom `tools` -> function tools (`input_schema` -> `parameters`, `strict`, `cache_control`);
 *   `tool_choice` (`auto`, `any` -> `required`, `tool` -> a named function, `none`) and its
 *   `disable_parallel_tool_use: true` -> `parallel_tool_calls: false`; `stop_sequences` ->
 *   `stop`; `temperature`; `top_p`; `max_tokens`; `metadata.user_id` -> `user`; `stream: true`
 *   -> `stream` with `stream_options.include_usage` (Anthropic's stream always carries usage).
 *
 * Passed as canonical parts as they are, for the target to take or refuse: blocks of any other
 * type (`document`, `search_result`, server tool blocks, ...) and images with a `file` source.
 *
 * Left out, having no canonical counterpart: `thinking` / `redacted_thinking` blocks, server
 * tools (a `type` such as `web_search_20250305` or `bash_20250124`, which only Anthropic runs),
 * `top_k`, and every other top-level field (`thinking`, `service_tier`, `container`,
 * `mcp_servers`, `context_management`, ...), which an OpenAI-format target would refuse.
 *
 * Answers: the `Message` object and its event stream
 * (https://platform.claude.com/docs/en/build-with-claude/streaming), a canonical `refusal`
 * written as the answer's text; errors in Anthropic's envelope
 * (https://platform.claude.com/docs/en/api/errors).
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatRequest, ChatResponse, ContentPart, Message, Tool, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { Mutable } from "effect/Types"
import * as HttpErrors from "../HttpErrors.js"
import { decoder, event, openStruct, type StreamEncoder } from "./Codec.js"

// ---------------------------------------------------------------------------------------------
// Request schema

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const open = openStruct

const optionalOrNull = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

/**
 * The block types read below. `OtherBlock` takes any other type only, so that a malformed text
 * or image block is refused with its path rather than passed on as an unknown block.
 */
const modelledBlockTypes: ReadonlySet<string> = new Set(["text", "image", "tool_use", "tool_result"])

const TextBlock = open({ type: Schema.Literal("text"), text: Schema.String })
type TextBlock = typeof TextBlock.Type

/** https://platform.claude.com/docs/en/build-with-claude/vision: base64, URL and Files API sources. */
const ImageSource = Schema.Union(
  open({ type: Schema.Literal("base64"), media_type: Schema.String, data: Schema.String }),
  open({ type: Schema.Literal("url"), url: Schema.String }),
  open({ type: Schema.Literal("file"), file_id: Schema.String })
)

const ImageBlock = open({ type: Schema.Literal("image"), source: ImageSource })
type ImageBlock = typeof ImageBlock.Type

const OtherBlock = open({
  type: Schema.String.pipe(
    Schema.filter((type) => !modelledBlockTypes.has(type), { message: () => "a block of a modelled type is malformed" })
  )
})
type OtherBlock = typeof OtherBlock.Type

const ToolResultBlock = open({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.Union(TextBlock, ImageBlock, OtherBlock)))),
  is_error: Schema.optional(Schema.Boolean)
})
type ToolResultBlock = typeof ToolResultBlock.Type

const ToolUseBlock = open({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String, input: Schema.Unknown })
type ToolUseBlock = typeof ToolUseBlock.Type

const Block = Schema.Union(TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, OtherBlock)
type Block = typeof Block.Type

const AnthropicMessage = open({
  role: Schema.Literal("user", "assistant"),
  content: Schema.Union(Schema.String, Schema.Array(Block))
})
type AnthropicMessage = typeof AnthropicMessage.Type

const CustomTool = open({
  type: optionalOrNull(Schema.Literal("custom")),
  name: Schema.String,
  description: Schema.optional(Schema.String),
  input_schema: Extra,
  strict: Schema.optional(Schema.Boolean)
})
type CustomTool = typeof CustomTool.Type

const ServerTool = open({
  type: Schema.String.pipe(Schema.filter((type) => type !== "custom", { message: () => "a custom tool is malformed" }))
})

const parallelFlag = { disable_parallel_tool_use: Schema.optional(Schema.Boolean) }

const ToolChoice = Schema.Union(
  open({ type: Schema.Literal("auto"), ...parallelFlag }),
  open({ type: Schema.Literal("any"), ...parallelFlag }),
  open({ type: Schema.Literal("tool"), name: Schema.String, ...parallelFlag }),
  open({ type: Schema.Literal("none") })
)
type ToolChoice = typeof ToolChoice.Type

const Unit = Schema.Number.pipe(Schema.between(0, 1))

const AnthropicRequest = open({
  model: Schema.String.pipe(Schema.minLength(1, { message: () => "model must be a non-empty string" })),
  max_tokens: Schema.Int.pipe(Schema.positive({ message: () => "max_tokens must be a positive integer" })),
  messages: Schema.Array(AnthropicMessage).pipe(Schema.minItems(1, { message: () => "messages must not be empty" })),
  system: optionalOrNull(Schema.Union(Schema.String, Schema.Array(TextBlock))),
  stop_sequences: optionalOrNull(Schema.Array(Schema.String)),
  temperature: optionalOrNull(Unit),
  top_p: optionalOrNull(Unit),
  // Checked as Anthropic does, then left out.
  top_k: optionalOrNull(Schema.Int.pipe(Schema.nonNegative())),
  metadata: optionalOrNull(open({ user_id: optionalOrNull(Schema.String) })),
  stream: optionalOrNull(Schema.Boolean),
  tools: optionalOrNull(Schema.Array(Schema.Union(CustomTool, ServerTool))),
  tool_choice: optionalOrNull(ToolChoice)
})
type AnthropicRequest = typeof AnthropicRequest.Type

const decodeAnthropic = decoder(AnthropicRequest)

// ---------------------------------------------------------------------------------------------
// Request mapping

// `OtherBlock`'s `type` is any string, so the members are told apart by these guards.
const isText = (block: Block): block is TextBlock => block.type === "text"
const isImage = (block: Block): block is ImageBlock => block.type === "image"
const isToolUse = (block: Block): block is ToolUseBlock => block.type === "tool_use"
const isToolResult = (block: Block): block is ToolResultBlock => block.type === "tool_result"
const isThinking = (block: Block): boolean => block.type === "thinking" || block.type === "redacted_thinking"

const withCacheControl = (part: Record<string, unknown>, block: Record<string, unknown>): ContentPart => {
  if (block.cache_control !== undefined && block.cache_control !== null) part.cache_control = block.cache_control
  return part as ContentPart
}

const textPart = (block: TextBlock): ContentPart => withCacheControl({ type: "text", text: block.text }, block)

const imagePart = (block: ImageBlock): ContentPart => {
  const source = block.source
  if (source.type === "base64") {
    return withCacheControl({ type: "image_url", image_url: { url: `data:${source.media_type};base64,${source.data}` } }, block)
  }
  if (source.type === "url") return withCacheControl({ type: "image_url", image_url: { url: source.url } }, block)
  return block as ContentPart
}

const part = (block: TextBlock | ImageBlock | OtherBlock): ContentPart =>
  isText(block) ? textPart(block) : isImage(block) ? imagePart(block) : block as ContentPart

const isPlainText = (part: ContentPart): part is { readonly type: "text"; readonly text: string } =>
  part.type === "text" && Object.keys(part).length === 2

/** A lone plain text part is sent as a string, the inverse of the adapter's `compact`. */
const compact = (parts: ReadonlyArray<ContentPart>): string | ReadonlyArray<ContentPart> =>
  parts.length === 1 && isPlainText(parts[0]!) ? parts[0].text : parts

const toolMessage = (block: ToolResultBlock): Message => {
  const content = block.content === undefined || block.content.length === 0
    ? ""
    : typeof block.content === "string"
    ? block.content
    : compact(block.content.map(part))
  return block.is_error === true
    ? { role: "tool", tool_call_id: block.tool_use_id, content, is_error: true }
    : { role: "tool", tool_call_id: block.tool_use_id, content }
}

/**
 * A user turn: its tool results first (they answer the previous turn's calls), then the rest.
 * A `tool_use` block, which Anthropic refuses in a user turn, is left out.
 */
const userMessages = (content: ReadonlyArray<Block>): Array<Message> => {
  const messages: Array<Message> = []
  const rest: Array<ContentPart> = []
  for (const block of content) {
    if (isToolResult(block)) messages.push(toolMessage(block))
    else if (!isToolUse(block)) rest.push(part(block))
  }
  if (rest.length > 0) messages.push({ role: "user", content: compact(rest) })
  return messages
}

const toolCall = (block: ToolUseBlock): ToolCall => ({
  id: block.id,
  type: "function",
  function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) }
})

const assistantMessages = (content: ReadonlyArray<Block>): Array<Message> => {
  const parts: Array<ContentPart> = []
  const calls: Array<ToolCall> = []
  for (const block of content) {
    if (isToolUse(block)) calls.push(toolCall(block))
    else if (!isThinking(block) && !isToolResult(block)) parts.push(part(block))
  }
  if (parts.length === 0 && calls.length === 0) return []
  const text = parts.every(isPlainText) ? parts.map((p) => p.text).join("") : undefined
  const body = parts.length === 0 ? null : text ?? parts
  return [calls.length > 0 ? { role: "assistant", content: body, tool_calls: calls } : { role: "assistant", content: body }]
}

const turnMessages = (message: AnthropicMessage): Array<Message> => {
  if (typeof message.content === "string") return [{ role: message.role, content: message.content }]
  return message.role === "user" ? userMessages(message.content) : assistantMessages(message.content)
}

const systemMessage = (system: string | ReadonlyArray<TextBlock>): Message | undefined => {
  if (typeof system === "string") return { role: "system", content: system }
  return system.length === 0 ? undefined : { role: "system", content: compact(system.map(textPart)) }
}

const isCustomTool = (tool: { readonly type?: string | null | undefined }): tool is CustomTool =>
  tool.type === undefined || tool.type === null || tool.type === "custom"

const functionTool = (tool: CustomTool): Tool => {
  const fn: Mutable<Tool["function"]> = { name: tool.name, parameters: tool.input_schema }
  if (tool.description !== undefined) fn.description = tool.description
  if (tool.strict !== undefined) fn.strict = tool.strict
  return withCacheControl({ type: "function", function: fn }, tool) as Tool
}

const toolChoice = (choice: ToolChoice): ChatRequest["tool_choice"] => {
  switch (choice.type) {
    case "auto":
      return "auto"
    case "any":
      return "required"
    case "none":
      return "none"
    case "tool":
      return { type: "function", function: { name: choice.name } }
  }
}

/** Tools and the choice among them; the choice is left out with the tools when none is custom. */
const withTools = (request: Mutable<ChatRequest>, body: AnthropicRequest): void => {
  const tools = (body.tools ?? []).filter(isCustomTool).map(functionTool)
  if (tools.length === 0) return
  request.tools = tools
  const choice = body.tool_choice
  if (choice === undefined || choice === null) return
  request.tool_choice = toolChoice(choice)
  if (choice.type !== "none" && choice.disable_parallel_tool_use === true) request.parallel_tool_calls = false
}

const toChatRequest = (body: AnthropicRequest): ChatRequest => {
  const messages: Array<Message> = []
  const system = body.system === undefined || body.system === null ? undefined : systemMessage(body.system)
  if (system !== undefined) messages.push(system)
  for (const message of body.messages) messages.push(...turnMessages(message))
  const request: Mutable<ChatRequest> = { model: body.model, messages, max_tokens: body.max_tokens }
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) request.stop = body.stop_sequences
  if (typeof body.temperature === "number") request.temperature = body.temperature
  if (typeof body.top_p === "number") request.top_p = body.top_p
  const userId = body.metadata?.user_id
  if (typeof userId === "string") request.user = userId
  if (body.stream === true) {
    request.stream = true
    request.stream_options = { include_usage: true }
  }
  withTools(request, body)
  return request
}

/**
 * Anthropic Messages request -> canonical. Fails only for input Anthropic itself would refuse
 * (missing model/max_tokens/messages, wrong types), naming the field path.
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeRequest = (body: unknown): Either.Either<ChatRequest, InvalidRequest> =>
  Either.map(decodeAnthropic(body), toChatRequest)

// ---------------------------------------------------------------------------------------------
// Answers

/** Anthropic ids start with `msg_`; others are prefixed so that clients checking it are satisfied. */
const messageId = (id: string): string => (id.startsWith("msg_") ? id : `msg_${id}`)

/** The inverse of the adapter's `finishReason`. */
const stopReason = (finishReason: string | null | undefined): string => {
  switch (finishReason) {
    case "length":
      return "max_tokens"
    case "tool_calls":
      return "tool_use"
    case "content_filter":
      return "refusal"
    default:
      return "end_turn"
  }
}

/**
 * The inverse of the adapter's usage: Anthropic's `input_tokens` leaves out the cache reads and
 * writes that canonical `prompt_tokens` includes.
 */
const anthropicUsage = (usage: Usage | null | undefined): Record<string, number> => {
  if (usage === undefined || usage === null) return { input_tokens: 0, output_tokens: 0 }
  const cacheRead = usage.prompt_tokens_details?.cached_tokens
  const cacheWrite = usage.prompt_tokens_details?.cache_creation_tokens
  const out: Record<string, number> = {
    input_tokens: Math.max(0, usage.prompt_tokens - (cacheRead ?? 0) - (cacheWrite ?? 0)),
    output_tokens: usage.completion_tokens
  }
  if (cacheRead !== undefined) out.cache_read_input_tokens = cacheRead
  if (cacheWrite !== undefined) out.cache_creation_input_tokens = cacheWrite
  return out
}

/** A tool call's `input`: its arguments when they are a JSON object, else `{}`. */
const toolInput = (args: string): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(args)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

/** An OpenAI-style refusal is the answer's text, which is how Anthropic reports one. */
const answerText = (message: ChatResponse["choices"][number]["message"]): string =>
  message.content !== null && message.content !== ""
    ? message.content
    : typeof message.refusal === "string"
    ? message.refusal
    : ""

/**
 * Canonical answer -> Anthropic `Message` JSON object.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeMessage = (res: ChatResponse): Record<string, unknown> => {
  const choice = res.choices[0]
  const content: Array<Record<string, unknown>> = []
  if (choice !== undefined) {
    const text = answerText(choice.message)
    if (text !== "") content.push({ type: "text", text })
    for (const call of choice.message.tool_calls ?? []) {
      content.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments) })
    }
  }
  return {
    id: messageId(res.id),
    type: "message",
    role: "assistant",
    model: res.model,
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(res.usage)
  }
}

type ToolCallDelta = NonNullable<ChatChunk["choices"][number]["delta"]["tool_calls"]>[number]

/**
 * A writer of Anthropic's event stream from canonical chunks (one per response). Content blocks
 * are opened as the answer's text and tool calls start, in order, each closed when the next one
 * opens; usage and the stop reason, known only at the end of a canonical stream, go in the
 * closing `message_delta`. Only choice 0 is written.
 *
 * @since 0.1.0 @category Encoding
 */
export const streamEncoder = (): StreamEncoder => {
  let started = false
  let blocks = 0
  /** The open content block. */
  let current: { readonly index: number; readonly text: boolean } | undefined
  /** Tool call index -> its block's index: a late fragment of an earlier call still finds its block. */
  const toolBlocks = new Map<number, number>()
  let finishReason: string | null = null
  let usage: Usage | null = null

  const start = (id: string, model: string): string => {
    started = true
    return event("message_start", {
      type: "message_start",
      message: {
        id: messageId(id),
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 }
      }
    })
  }

  const close = (): string => {
    if (current === undefined) return ""
    const out = event("content_block_stop", { type: "content_block_stop", index: current.index })
    current = undefined
    return out
  }

  const openBlock = (contentBlock: Record<string, unknown>): string => {
    const out = close()
    current = { index: blocks++, text: contentBlock.type === "text" }
    return out + event("content_block_start", { type: "content_block_start", index: current.index, content_block: contentBlock })
  }

  const delta = (index: number, data: Record<string, unknown>): string =>
    event("content_block_delta", { type: "content_block_delta", index, delta: data })

  const text = (t: string): string => {
    const opened = current?.text === true ? "" : openBlock({ type: "text", text: "" })
    return opened + delta(current!.index, { type: "text_delta", text: t })
  }

  const toolFragment = (fragment: ToolCallDelta): string => {
    let out = ""
    let index = toolBlocks.get(fragment.index)
    if (index === undefined) {
      out = openBlock({ type: "tool_use", id: fragment.id ?? "", name: fragment.function?.name ?? "", input: {} })
      index = current!.index
      toolBlocks.set(fragment.index, index)
    }
    const args = fragment.function?.arguments
    return args === undefined || args === "" ? out : out + delta(index, { type: "input_json_delta", partial_json: args })
  }

  return {
    chunk: (chunk) => {
      let out = started ? "" : start(chunk.id, chunk.model)
      if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage
      const choice = chunk.choices.find((c) => c.index === 0)
      if (choice === undefined) return out
      const { content, refusal, tool_calls } = choice.delta
      if (typeof content === "string" && content !== "") out += text(content)
      if (typeof refusal === "string" && refusal !== "") out += text(refusal)
      for (const fragment of tool_calls ?? []) out += toolFragment(fragment)
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) finishReason = choice.finish_reason
      return out
    },
    end: () =>
      (started ? "" : start("", "")) +
      close() +
      event("message_delta", {
        type: "message_delta",
        delta: { stop_reason: stopReason(finishReason), stop_sequence: null },
        usage: anthropicUsage(usage)
      }) +
      event("message_stop", { type: "message_stop" }),
    error: (info) => event("error", errorBody(info))
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The error types of https://platform.claude.com/docs/en/api/errors. */
const anthropicErrorTypes: ReadonlySet<string> = new Set([
  "invalid_request_error",
  "authentication_error",
  "billing_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "timeout_error",
  "api_error",
  "overloaded_error"
])

const errorTypeForStatus = (status: number): string => {
  switch (status) {
    case 401:
      return "authentication_error"
    case 402:
      return "billing_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 413:
      return "request_too_large"
    case 429:
      return "rate_limit_error"
    case 504:
      return "timeout_error"
    case 529:
      return "overloaded_error"
    default:
      return status >= 500 ? "api_error" : "invalid_request_error"
  }
}

/**
 * An Anthropic type passes through, except `invalid_request_error`: it is also OpenAI's
 * catch-all for every 4xx (the gateway's own 404 and 413 carry it), so the status says more.
 */
const errorType = (info: HttpErrors.ErrorInfo): string =>
  info.type !== "invalid_request_error" && anthropicErrorTypes.has(info.type) ? info.type : errorTypeForStatus(info.status)

/**
 * Anthropic's error envelope for an error answer.
 *
 * @since 0.1.0 @category Encoding
 */
export const errorBody = (
  info: HttpErrors.ErrorInfo
): { readonly type: "error"; readonly error: { readonly type: string; readonly message: string } } => ({
  type: "error",
  error: { type: errorType(info), message: info.message }
})
