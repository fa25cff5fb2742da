/**
 * The canonical request (OpenAI Chat Completions) as an Anthropic Messages API request
 * (https://platform.claude.com/docs/en/api/messages). Plain code, no Effect.
 *
 * Mapped:
 * - `system` / `developer` messages (wherever they are) -> the top-level `system`;
 * - `user` / `assistant` / `tool` messages -> alternating turns, consecutive turns of one role
 *   merged; `tool` messages -> `tool_result` blocks of a user turn (consecutive ones together);
 *   assistant `tool_calls` -> `tool_use` blocks (`arguments` JSON-parsed into `input`);
 * - parts: `text`; `image_url` (a `data:` URL as a base64 source, else a URL source); `file`
 *   with a `data:` URL -> a `document` block; Anthropic's own block types (`image`, `document`,
 *   `search_result`, `tool_use`, `tool_result`, `thinking`, `redacted_thinking`) as they are. A
 *   part's `cache_control` is kept;
 * - `tools` -> `{name, description, input_schema, strict}`; `tool_choice`; `parallel_tool_calls:
 *   false` -> `disable_parallel_tool_use`; `stop` -> `stop_sequences`; `temperature` (capped at
 *   1, Anthropic's maximum); `top_p`; `max_completion_tokens` / `max_tokens` -> `max_tokens`
 *   (Anthropic requires it: the configured default otherwise); `metadata.user_id`, else `user`,
 *   -> `metadata.user_id`; `response_format` `json_schema` -> `output_config.format`;
 * - Anthropic's own fields with no OpenAI counterpart, which a client may send through the open
 *   canonical request: `top_k`, `thinking`, `output_config`.
 *
 * Dropped, because Anthropic has no such thing and refuses unknown fields with a 400:
 * `n` (one answer only), `stream_options` (usage is always streamed), `presence_penalty`,
 * `frequency_penalty`, `seed`, `logprobs`, `top_logprobs`, `logit_bias`, `store`, `service_tier`
 * (OpenAI's tiers are not Anthropic's), `prediction`, `modalities`, `audio`, `reasoning_effort`,
 * `web_search_options`, `response_format` `text` / `json_object`, `metadata` other than
 * `user_id`, and every other unknown top-level field; messages' `name` and `refusal`; image
 * `detail`; parts with no Anthropic counterpart (`input_audio`, `refusal`, a `file` given by id)
 * and empty text and stop sequences (Anthropic refuses empty text blocks).
 *
 * Anthropic continues a trailing assistant turn (a prefill) and refuses one ending in
 * whitespace: that whitespace is removed, and the answer's leading whitespace, which repeats
 * it, is dropped by the response readers (`trimmedPrefill`).
 *
 * @internal
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest, Message } from "@switchyard/core/ChatSchema"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Wire from "@switchyard/provider-http/Wire"

/** One content block of the Anthropic wire format. @internal */
export type Block = Record<string, unknown>

/** @internal */
export interface Turn {
  readonly role: "user" | "assistant"
  content: string | Array<Block>
}

/** @internal */
export interface Encoded {
  /** The request body (without `stream`). */
  readonly body: Record<string, unknown>
  /** The trailing assistant turn ended with whitespace, now removed. */
  readonly trimmedPrefill: boolean
}

/** Anthropic block types a client speaking Anthropic's format may send through the canonical request. */
const nativeBlockTypes: ReadonlySet<string> = new Set([
  "image",
  "document",
  "search_result",
  "tool_use",
  "tool_result",
  "thinking",
  "redacted_thinking"
])

/** Anthropic's own top-level fields with no OpenAI counterpart, kept when present. */
const nativeFields = ["top_k", "thinking", "output_config"] as const

/**
 * What this mapping honours, for the gateway's unsupported-parameter policy: what is mapped
 * above is named, what is dropped is not; Anthropic's own fields are the vendor fields.
 *
 * @internal
 */
export const support: Capabilities.OperationSupport<"chat"> = {
  // Every parameter not named here is not honoured.
  parameters: Capabilities.honouring("chat", {
    temperature: true,
    top_p: true,
    max_tokens: true,
    max_completion_tokens: true,
    stop: true,
    user: true,
    tools: true,
    tool_choice: true,
    // `false` is sent as `disable_parallel_tool_use`.
    parallel_tool_calls: true,
    response_format: Capabilities.partially("json_schema only", (format) => isRecord(format) && format.type === "json_schema"),
    metadata: Capabilities.partially("user_id only", (metadata) =>
      isRecord(metadata) &&
      Object.entries(metadata).every(([key, value]) => key === "user_id" && typeof value === "string"))
  }),
  vendorFields: nativeFields,
  forwardsUnknown: false
}

const withCacheControl = (block: Block, from: Record<string, unknown>): Block => {
  if (from.cache_control !== undefined) block.cache_control = from.cache_control
  return block
}

const textBlock = (text: string, from?: Record<string, unknown>): Block | undefined =>
  text === "" ? undefined : from === undefined ? { type: "text", text } : withCacheControl({ type: "text", text }, from)

/** https://platform.claude.com/docs/en/build-with-claude/vision: base64 and URL image sources. */
const imageSource = (url: string): Block => {
  const data = Wire.parseDataUrl(url)
  return data === undefined
    ? { type: "url", url }
    : { type: "base64", media_type: data.mediaType, data: data.base64 }
}

/** A canonical content part as Anthropic blocks (none when it has no Anthropic counterpart). */
const partBlock = (part: Record<string, unknown>): Block | undefined => {
  const type = part.type
  if (type === "text") return typeof part.text === "string" ? textBlock(part.text, part) : undefined
  if (type === "image_url") {
    const image = part.image_url
    const url = isRecord(image) ? image.url : typeof image === "string" ? image : undefined
    return typeof url === "string" ? withCacheControl({ type: "image", source: imageSource(url) }, part) : undefined
  }
  if (type === "file") {
    // https://platform.claude.com/docs/en/build-with-claude/pdf-support: a base64 document.
    const file = part.file
    const data = isRecord(file) && typeof file.file_data === "string" ? Wire.parseDataUrl(file.file_data) : undefined
    if (data === undefined) return undefined
    const block: Block = { type: "document", source: { type: "base64", media_type: data.mediaType, data: data.base64 } }
    if (isRecord(file) && typeof file.filename === "string") block.title = file.filename
    return withCacheControl(block, part)
  }
  return typeof type === "string" && nativeBlockTypes.has(type) ? part : undefined
}

const contentBlocks = (content: unknown): Array<Block> => {
  if (typeof content === "string") {
    const block = textBlock(content)
    return block === undefined ? [] : [block]
  }
  if (!Array.isArray(content)) return []
  const blocks: Array<Block> = []
  for (const part of content) {
    if (!isRecord(part)) continue
    const block = partBlock(part)
    if (block !== undefined) blocks.push(block)
  }
  return blocks
}

/** https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use: `input` is an object. */
const toolInput = (args: string): unknown => {
  if (args.trim() === "") return {}
  try {
    return JSON.parse(args)
  } catch {
    // Not JSON: sent as it is, and Anthropic says what is wrong with it (nothing is made up).
    return args
  }
}

const assistantBlocks = (message: Extract<Message, { role: "assistant" }>): Array<Block> => {
  const blocks = contentBlocks(message.content)
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments) })
  }
  return blocks
}

const toolResult = (message: Extract<Message, { role: "tool" }>): Block => {
  const block: Block = { type: "tool_result", tool_use_id: message.tool_call_id }
  if (typeof message.content === "string") {
    if (message.content !== "") block.content = message.content
  } else {
    const blocks = contentBlocks(message.content)
    if (blocks.length > 0) block.content = blocks
  }
  if (typeof message["is_error"] === "boolean") block.is_error = message["is_error"]
  return block
}

const isPlainText = (block: Block): boolean => block.type === "text" && Object.keys(block).length === 2

/** A turn of one plain text block is sent as a string, as Anthropic's examples do. */
const compact = (blocks: Array<Block>): string | Array<Block> =>
  blocks.length === 1 && isPlainText(blocks[0]!) ? blocks[0]!.text as string : blocks

/** Removes the trailing whitespace of a trailing assistant turn; whether there was any. */
const trimPrefill = (turns: Array<Turn>): boolean => {
  const last = turns[turns.length - 1]
  if (last === undefined || last.role !== "assistant" || typeof last.content === "string") return false
  const blocks = last.content
  const tail = blocks[blocks.length - 1]
  if (tail === undefined || tail.type !== "text" || typeof tail.text !== "string") return false
  const trimmed = tail.text.trimEnd()
  if (trimmed === tail.text) return false
  if (trimmed === "") blocks.pop()
  else blocks[blocks.length - 1] = { ...tail, text: trimmed }
  if (blocks.length === 0) turns.pop()
  return true
}

interface Conversation {
  readonly system: Array<Block>
  readonly turns: Array<Turn>
  readonly trimmedPrefill: boolean
}

const conversation = (messages: ReadonlyArray<Message>): Conversation => {
  const system: Array<Block> = []
  const turns: Array<Turn> = []
  const push = (role: Turn["role"], blocks: Array<Block>) => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) (last.content as Array<Block>).push(...blocks)
    else turns.push({ role, content: blocks })
  }
  for (const message of messages) {
    switch (message.role) {
      case "system":
      case "developer":
        // The system prompt takes text only.
        for (const block of contentBlocks(message.content)) if (block.type === "text") system.push(block)
        break
      case "user":
        push("user", contentBlocks(message.content))
        break
      case "assistant":
        push("assistant", assistantBlocks(message))
        break
      case "tool":
        push("user", [toolResult(message)])
        break
    }
  }
  const trimmedPrefill = trimPrefill(turns)
  for (const turn of turns) turn.content = compact(turn.content as Array<Block>)
  return { system, turns, trimmedPrefill }
}

const toolChoice = (req: ChatRequest): Record<string, unknown> | undefined => {
  const choice = req.tool_choice
  let out: Record<string, unknown> | undefined
  if (choice === "auto") out = { type: "auto" }
  else if (choice === "required") out = { type: "any" }
  else if (choice === "none") out = { type: "none" }
  else if (choice !== undefined) out = { type: "tool", name: choice.function.name }
  if (req.parallel_tool_calls === false && req.tools !== undefined && req.tools.length > 0) {
    out ??= { type: "auto" }
    if (out.type !== "none") out.disable_parallel_tool_use = true
  }
  return out
}

const tools = (req: ChatRequest): Array<Block> | undefined =>
  req.tools?.map((tool) => {
    const fn = tool.function
    const out: Block = { name: fn.name, input_schema: fn.parameters ?? { type: "object", properties: {} } }
    if (fn.description !== undefined) out.description = fn.description
    if (fn.strict === true) out.strict = true
    return withCacheControl(out, tool)
  })

const userId = (req: ChatRequest): string | undefined => {
  const metadata = req["metadata"]
  if (isRecord(metadata) && typeof metadata.user_id === "string") return metadata.user_id
  return req.user
}

/**
 * The Anthropic request for a canonical one; `defaultMaxTokens` when it gives no limit.
 *
 * @internal
 */
export const encode = (req: ChatRequest, defaultMaxTokens: number): Encoded => {
  const { system, trimmedPrefill, turns } = conversation(req.messages)
  const body: Record<string, unknown> = {
    model: req.model,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? defaultMaxTokens,
    messages: turns
  }
  if (system.length > 0) body.system = compact(system)
  for (const field of nativeFields) if (req[field] !== undefined && req[field] !== null) body[field] = req[field]
  if (typeof req.temperature === "number") body.temperature = Math.min(req.temperature, 1)
  if (typeof req.top_p === "number") body.top_p = req.top_p
  const stops = (typeof req.stop === "string" ? [req.stop] : req.stop ?? []).filter((s) => s !== "")
  if (stops.length > 0) body.stop_sequences = stops
  const toolList = tools(req)
  if (toolList !== undefined && toolList.length > 0) body.tools = toolList
  const choice = toolChoice(req)
  if (choice !== undefined) body.tool_choice = choice
  const user = userId(req)
  if (user !== undefined) body.metadata = { user_id: user }
  const format = req.response_format
  if (format?.type === "json_schema" && isRecord(format.json_schema.schema)) {
    // https://platform.claude.com/docs/en/build-with-claude/structured-outputs
    const config = isRecord(body.output_config) ? body.output_config : {}
    body.output_config = { ...config, format: { type: "json_schema", schema: format.json_schema.schema } }
  }
  return { body, trimmedPrefill }
}
