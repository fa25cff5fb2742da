/**
 * The canonical request (OpenAI Chat Completions) as a Bedrock Converse / ConverseStream body
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html; the model
 * id goes in the path, not the body). Plain code, no Effect. Both operations take the same body.
 *
 * Mapped:
 * - `system` / `developer` messages (wherever they are) -> `system: [{text}]` (text only);
 * - `user` / `assistant` / `tool` messages -> `messages`, consecutive turns of one role merged
 *   (Converse alternates roles); parts: `text` -> `{text}` (empty text left out: Bedrock
 *   refuses blank text), `image_url` with a `data:` URL -> `{image: {format, source: {bytes}}}`
 *   (`png`, `jpeg`, `gif`, `webp`; bytes base64-encoded, as blobs are in JSON), `file` with a
 *   `data:` URL -> `{document: {format, name, source: {bytes}}}` (`pdf`, `csv`, `doc`, `docx`,
 *   `xls`, `xlsx`, `html`, `txt`, `md`; the name is the file name, reduced to the characters
 *   Converse allows); a part's `cache_control` -> a `{cachePoint: {type: "default"}}` block
 *   after it;
 * - assistant `tool_calls` -> `{toolUse: {toolUseId, name, input}}` (`arguments` JSON-parsed);
 *   `tool` messages -> `{toolResult: {toolUseId, content: [{text}] | [{text}, {image}...]}}` in
 *   a user turn (`status: "error"` for a message marked `is_error: true`);
 * - `tools` -> `toolConfig.tools: [{toolSpec: {name, description, inputSchema: {json}}}]`;
 *   `tool_choice` `auto` -> `{auto: {}}`, `required` -> `{any: {}}`, a named function ->
 *   `{tool: {name}}`; `none` (Converse has no such choice) -> the tools are not sent, unless
 *   the conversation holds tool calls or results, for which Converse requires `toolConfig`:
 *   then the tools are sent without a choice, and the model may still call one;
 * - `max_completion_tokens` / `max_tokens` -> `inferenceConfig.maxTokens`, `temperature`
 *   (capped at 1, Converse's maximum), `top_p` -> `topP`, `stop` -> `stopSequences` (empty
 *   ones left out);
 * - Converse's own fields, which a client may send through the open canonical request:
 *   `additionalModelRequestFields` (model-specific parameters such as Anthropic's `top_k` or
 *   `thinking`), `additionalModelResponseFieldPaths`, `guardrailConfig`, `performanceConfig`,
 *   `promptVariables`, `requestMetadata`.
 *
 * Not mappable, failing the call with a 400 before anything is sent (`Unsupported`): an image
 * given by an http(s) (or any non-`data:`) URL, since Converse takes image bytes, not URLs; an
 * image or document whose media type Converse does not take.
 *
 * Dropped, having no Converse counterpart: `n` (one answer only), `stream` and `stream_options`
 * (the operation decides; usage is always reported), `presence_penalty`, `frequency_penalty`,
 * `seed`, `logprobs`, `top_logprobs`, `logit_bias`, `user`, `metadata`, `store`,
 * `service_tier`, `parallel_tool_calls`, `response_format`, `prediction`, `modalities`,
 * `audio`, `reasoning_effort`, `web_search_options`, vendor fields of other APIs (`top_k`,
 * `thinking`: send them in `additionalModelRequestFields`), and every other unknown top-level
 * field; a tool's `strict`; messages' `name`, `refusal` and `reasoning_content`, an assistant
 * message's `prefix` mark; image `detail`; parts with no Converse counterpart (`input_audio`,
 * `refusal`, a `file` given by id).
 *
 * @internal
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest, Message } from "@switchyard/core/ChatSchema"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Wire from "@switchyard/provider-http/Wire"

/** One content block of the Converse wire format: a union, one member set. @internal */
export type Block = Record<string, unknown>

/** @internal */
export interface Turn {
  readonly role: "user" | "assistant"
  readonly content: Array<Block>
}

/** The body, or why the request cannot be sent to Converse. @internal */
export type Encoded =
  | { readonly _tag: "Body"; readonly body: Record<string, unknown> }
  | { readonly _tag: "Unsupported"; readonly reason: string; readonly param: string }

/** Thrown inside the encoder, caught by `encode`. */
class Unsupported {
  constructor(readonly reason: string, readonly param: string) {}
}

/** Converse's own request fields, kept when a client sends them. */
const nativeFields = [
  "additionalModelRequestFields",
  "additionalModelResponseFieldPaths",
  "guardrailConfig",
  "performanceConfig",
  "promptVariables",
  "requestMetadata"
] as const

/**
 * What this mapping honours, for the gateway's unsupported-parameter policy: what is mapped
 * above is named, what is dropped is not; Converse's own fields are the vendor fields.
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
    tools: true,
    tool_choice: true
  }),
  vendorFields: nativeFields,
  forwardsUnknown: false
}

const cachePoint: Block = { cachePoint: { type: "default" } }

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html */
const imageFormats: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/jpg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp"
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html */
const documentFormats: Readonly<Record<string, string>> = {
  "application/pdf": "pdf",
  "text/csv": "csv",
  "application/msword": "doc",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "application/vnd.ms-excel": "xls",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
  "text/html": "html",
  "text/plain": "txt",
  "text/markdown": "md"
}

const imageBlock = (url: string, param: string): Block => {
  const data = Wire.parseDataUrl(url)
  if (data === undefined) {
    throw new Unsupported(
      "Amazon Bedrock's Converse API takes images as bytes, not URLs: send the image as a data: URL (data:image/png;base64,...)",
      param
    )
  }
  const format = imageFormats[data.mediaType]
  if (format === undefined) {
    throw new Unsupported(
      `Amazon Bedrock's Converse API takes png, jpeg, gif and webp images, not '${data.mediaType}'`,
      param
    )
  }
  return { image: { format, source: { bytes: data.base64 } } }
}

/**
 * A document's name: Converse allows letters, digits, single spaces, hyphens, parentheses and
 * square brackets. The extension is dropped (the format says it), other characters become
 * spaces.
 */
const documentName = (filename: unknown, index: number): string => {
  const base = typeof filename === "string" ? filename.replace(/\.[A-Za-z0-9]+$/, "") : ""
  const name = base.replace(/[^A-Za-z0-9\s\-()[\]]/g, " ").replace(/\s+/g, " ").trim().slice(0, 200)
  return name === "" ? `document ${index}` : name
}

/** Counts documents across the request, for default names. */
interface Context {
  documents: number
}

const documentBlock = (part: Record<string, unknown>, param: string, context: Context): Block | undefined => {
  const file = part.file
  const data = isRecord(file) && typeof file.file_data === "string" ? Wire.parseDataUrl(file.file_data) : undefined
  if (data === undefined) return undefined
  const format = documentFormats[data.mediaType]
  if (format === undefined) {
    throw new Unsupported(`Amazon Bedrock's Converse API does not take documents of type '${data.mediaType}'`, param)
  }
  context.documents++
  const name = documentName(isRecord(file) ? file.filename : undefined, context.documents)
  return { document: { format, name, source: { bytes: data.base64 } } }
}

/** A canonical content part as Converse blocks (none when it has no Converse counterpart). */
const partBlocks = (part: Record<string, unknown>, param: string, context: Context): Array<Block> => {
  let block: Block | undefined
  switch (part.type) {
    case "text":
      block = typeof part.text === "string" && part.text !== "" ? { text: part.text } : undefined
      break
    case "image_url": {
      const image = part.image_url
      const url = isRecord(image) ? image.url : typeof image === "string" ? image : undefined
      block = typeof url === "string" ? imageBlock(url, param) : undefined
      break
    }
    case "file":
      block = documentBlock(part, param, context)
      break
  }
  if (block === undefined) return []
  return part.cache_control !== undefined && part.cache_control !== null ? [block, cachePoint] : [block]
}

const contentBlocks = (content: unknown, param: string, context: Context): Array<Block> => {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }]
  if (!Array.isArray(content)) return []
  const blocks: Array<Block> = []
  content.forEach((part, i) => {
    if (isRecord(part)) blocks.push(...partBlocks(part, `${param}[${i}]`, context))
  })
  return blocks
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html: `input` is a JSON document. */
const toolInput = (args: string): unknown => {
  if (args.trim() === "") return {}
  try {
    return JSON.parse(args)
  } catch {
    // Not JSON: sent as it is (a string document), and Bedrock says what is wrong with it.
    return args
  }
}

const assistantBlocks = (message: Extract<Message, { role: "assistant" }>, param: string, context: Context): Array<Block> => {
  const blocks = contentBlocks(message.content, `${param}.content`, context)
  for (const call of message.tool_calls ?? []) {
    blocks.push({ toolUse: { toolUseId: call.id, name: call.function.name, input: toolInput(call.function.arguments) } })
  }
  return blocks
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html */
const toolResult = (message: Extract<Message, { role: "tool" }>, param: string, context: Context): Block => {
  const content = contentBlocks(message.content, `${param}.content`, context)
    // A tool result holds text, images, documents and JSON; a cache point goes after the result.
    .filter((block) => block.cachePoint === undefined)
  const result: Block = { toolUseId: message.tool_call_id, content }
  if (message["is_error"] === true) result.status = "error"
  return { toolResult: result }
}

const hasToolBlocks = (turns: ReadonlyArray<Turn>): boolean =>
  turns.some((turn) => turn.content.some((block) => block.toolUse !== undefined || block.toolResult !== undefined))

interface Conversation {
  readonly system: Array<Block>
  readonly turns: Array<Turn>
}

const conversation = (messages: ReadonlyArray<Message>, context: Context): Conversation => {
  const system: Array<Block> = []
  const turns: Array<Turn> = []
  const push = (role: Turn["role"], blocks: Array<Block>) => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...blocks)
    else turns.push({ role, content: blocks })
  }
  messages.forEach((message, i) => {
    const param = `messages[${i}]`
    switch (message.role) {
      case "system":
      case "developer":
        // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SystemContentBlock.html
        for (const block of contentBlocks(message.content, `${param}.content`, context)) {
          if (block.text !== undefined || block.cachePoint !== undefined) system.push(block)
        }
        break
      case "user":
        push("user", contentBlocks(message.content, `${param}.content`, context))
        break
      case "assistant":
        push("assistant", assistantBlocks(message, param, context))
        break
      case "tool":
        push("user", [toolResult(message, param, context)])
        break
    }
  })
  // A cache point cannot open the system prompt.
  while (system[0]?.cachePoint !== undefined) system.shift()
  return { system, turns }
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html */
const toolChoice = (choice: ChatRequest["tool_choice"]): Block | undefined => {
  if (choice === undefined || choice === "none") return undefined
  if (choice === "auto") return { auto: {} }
  if (choice === "required") return { any: {} }
  return { tool: { name: choice.function.name } }
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolConfiguration.html */
const toolConfig = (req: ChatRequest, turns: ReadonlyArray<Turn>): Block | undefined => {
  const tools = req.tools ?? []
  if (tools.length === 0) return undefined
  if (req.tool_choice === "none" && !hasToolBlocks(turns)) return undefined
  const config: Block = {
    tools: tools.map((tool) => {
      const fn = tool.function
      const spec: Block = { name: fn.name, inputSchema: { json: fn.parameters ?? { type: "object", properties: {} } } }
      if (fn.description !== undefined && fn.description !== "") spec.description = fn.description
      return { toolSpec: spec }
    })
  }
  const choice = toolChoice(req.tool_choice)
  if (choice !== undefined) config.toolChoice = choice
  return config
}

/** https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html */
const inferenceConfig = (req: ChatRequest): Block | undefined => {
  const config: Block = {}
  const maxTokens = req.max_completion_tokens ?? req.max_tokens
  if (typeof maxTokens === "number") config.maxTokens = maxTokens
  if (typeof req.temperature === "number") config.temperature = Math.min(req.temperature, 1)
  if (typeof req.top_p === "number") config.topP = req.top_p
  const stops = (typeof req.stop === "string" ? [req.stop] : req.stop ?? []).filter((s) => s !== "")
  if (stops.length > 0) config.stopSequences = stops
  return Object.keys(config).length > 0 ? config : undefined
}

/**
 * The Converse body for a canonical request, or why it cannot be sent.
 *
 * @internal
 */
export const encode = (req: ChatRequest): Encoded => {
  try {
    const { system, turns } = conversation(req.messages, { documents: 0 })
    const body: Record<string, unknown> = { messages: turns }
    if (system.length > 0) body.system = system
    const inference = inferenceConfig(req)
    if (inference !== undefined) body.inferenceConfig = inference
    const tools = toolConfig(req, turns)
    if (tools !== undefined) body.toolConfig = tools
    for (const field of nativeFields) if (req[field] !== undefined && req[field] !== null) body[field] = req[field]
    return { _tag: "Body", body }
  } catch (error) {
    if (error instanceof Unsupported) return { _tag: "Unsupported", reason: error.reason, param: error.param }
    throw error
  }
}
