/**
 * The canonical request (OpenAI Chat Completions) as a Gemini `GenerateContentRequest`
 * (https://ai.google.dev/api/generate-content#request-body), the body both the Gemini API and
 * Vertex AI take. Plain code, no Effect.
 *
 * Mapped:
 * - `system` / `developer` messages (wherever they are) -> `systemInstruction.parts` (text);
 * - `user` / `assistant` / `tool` messages -> `contents` with roles `user` / `model`,
 *   consecutive turns of one role merged; assistant `tool_calls` -> `functionCall` parts
 *   (`arguments` JSON-parsed into `args`; the Gemini thought signature a previous answer gave in
 *   `extra_content.google.thought_signature` back as the part's `thoughtSignature`,
 *   https://ai.google.dev/gemini-api/docs/thought-signatures); `tool` messages ->
 *   `functionResponse` parts of a user turn (https://ai.google.dev/gemini-api/docs/function-calling),
 *   named after the tool call with that id earlier in the conversation (the message's `name`, else
 *   the id, when there is none), their content as `response` (a JSON object as it is, anything
 *   else as `{"output": "<text>"}`);
 * - parts: `text`; `image_url` / `input_audio` / `file` given by a `data:` URL -> `inlineData
 *   {mimeType, data}`; given by an `http(s)://` or `gs://` URL -> `fileData {mimeType, fileUri}`
 *   (the MIME type from the URL's extension; an image's defaults to `image/jpeg`)
 *   (https://ai.google.dev/gemini-api/docs/image-understanding);
 * - `tools` -> one `{functionDeclarations: [{name, description, parametersJsonSchema}]}`:
 *   OpenAI's parameters are JSON Schema, which `parametersJsonSchema` takes as it is
 *   (`parameters` takes only an OpenAPI subset and refuses `additionalProperties`, `$ref`, ...);
 *   `tool_choice` -> `toolConfig.functionCallingConfig` (`auto` AUTO, `required` ANY, `none` NONE,
 *   a named function ANY with `allowedFunctionNames`);
 * - `generationConfig`: `temperature`, `top_p` -> `topP`, `max_completion_tokens` / `max_tokens`
 *   -> `maxOutputTokens`, `stop` -> `stopSequences`, `n` -> `candidateCount`,
 *   `presence_penalty`, `frequency_penalty`, `seed`, `response_format` `json_object` ->
 *   `responseMimeType: "application/json"`, `json_schema` -> that and `responseJsonSchema`
 *   (https://ai.google.dev/gemini-api/docs/structured-output); `reasoning_effort` ->
 *   `thinkingConfig` as Gemini's OpenAI compatibility maps it
 *   (https://ai.google.dev/gemini-api/docs/openai#thinking): a `thinkingBudget` for Gemini 1.x
 *   and 2.x models (`none` 0, `minimal` / `low` 1024, `medium` 8192, `high` 24576), a
 *   `thinkingLevel` for later ones;
 * - Gemini's own fields, which a client may send through the open canonical request (either
 *   spelling; Google's JSON parser takes both): `safetySettings`, `cachedContent`, `labels`
 *   (Vertex AI), `toolConfig` (replaces the one made from `tool_choice`); in the generation
 *   config `topK`, `thinkingConfig` (replaces the one made from `reasoning_effort`),
 *   `responseModalities`, `mediaResolution`, `speechConfig`, and a whole `generationConfig`
 *   whose fields are laid over the mapped ones; and what Gemini's OpenAI compatibility takes in
 *   `extra_body.google` (`thinking_config`, `cached_content`, `safety_settings`).
 *
 * Dropped, because Gemini has no such thing: `stream_options` (usage is always streamed),
 * `parallel_tool_calls`, `logprobs` / `top_logprobs` (the answer's log probabilities have no
 * place in the mapped answer), `logit_bias`, `user`, `metadata`, `store`, `service_tier`,
 * `prediction`, `modalities`, `audio`, `web_search_options`, `response_format` `text` (the
 * default), a tool's `strict`, and every other unknown top-level field; messages' `name` and
 * `refusal`; image `detail`; parts with no Gemini counterpart (`refusal`, a `file` given by an
 * OpenAI file id) and empty text (Gemini refuses empty text parts).
 *
 * Gemini does not document continuing a trailing `model` turn, so there is no prefill: a
 * trailing assistant message (`prefix: true` or not) is sent as the last `model` turn.
 *
 * `capabilities.ts` states this mapping for the gateway: what is honoured, partly, or not.
 *
 * @internal
 */
import type { ChatRequest, Message } from "@switchyard/core/ChatSchema"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Wire from "@switchyard/provider-http/Wire"

/** One part of the Gemini wire format. @internal */
export type Part = Record<string, unknown>

/** @internal */
export interface Content {
  readonly role: "user" | "model"
  readonly parts: Array<Part>
}

/** The MIME types Gemini takes (https://ai.google.dev/gemini-api/docs/image-understanding and the audio, video and document guides), by extension. */
const mimeTypeByExtension: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  txt: "text/plain",
  wav: "audio/wav",
  mp3: "audio/mp3",
  aiff: "audio/aiff",
  aac: "audio/aac",
  ogg: "audio/ogg",
  flac: "audio/flac",
  mp4: "video/mp4",
  mpeg: "video/mpeg",
  mov: "video/mov",
  webm: "video/webm"
}

const mimeTypeOfName = (name: string): string | undefined => {
  const path = name.split(/[?#]/)[0] ?? ""
  const dot = path.lastIndexOf(".")
  return dot === -1 || dot < path.lastIndexOf("/") ? undefined : mimeTypeByExtension[path.slice(dot + 1).toLowerCase()]
}

const isFileUri = (url: string): boolean => /^(https?|gs):\/\//i.test(url)

/** A `data:` URL inline, an http(s) or gs URL by reference; anything else has no Gemini counterpart. */
const mediaPart = (url: string, defaultMimeType: string | undefined, name?: string): Part | undefined => {
  const data = Wire.parseDataUrl(url)
  if (data !== undefined) return { inlineData: { mimeType: data.mediaType, data: data.base64 } }
  if (!isFileUri(url)) return undefined
  const mimeType = mimeTypeOfName(url) ?? (name === undefined ? undefined : mimeTypeOfName(name)) ?? defaultMimeType
  return { fileData: mimeType === undefined ? { fileUri: url } : { mimeType, fileUri: url } }
}

const textPart = (text: string): Part | undefined => text === "" ? undefined : { text }

/** A canonical content part as a Gemini part (none when it has no Gemini counterpart). */
const partOf = (part: Record<string, unknown>): Part | undefined => {
  switch (part.type) {
    case "text":
      return typeof part.text === "string" ? textPart(part.text) : undefined
    case "image_url": {
      const image = part.image_url
      const url = isRecord(image) ? image.url : typeof image === "string" ? image : undefined
      return typeof url === "string" ? mediaPart(url, "image/jpeg") : undefined
    }
    case "input_audio": {
      // https://platform.openai.com/docs/api-reference/chat/create: {data (base64), format}
      const audio = part.input_audio
      if (!isRecord(audio) || typeof audio.data !== "string" || typeof audio.format !== "string") return undefined
      return { inlineData: { mimeType: `audio/${audio.format}`, data: audio.data } }
    }
    case "file": {
      const file = part.file
      if (!isRecord(file)) return undefined
      const name = typeof file.filename === "string" ? file.filename : undefined
      if (typeof file.file_data === "string") return mediaPart(file.file_data, undefined, name)
      return typeof file.file_id === "string" ? mediaPart(file.file_id, undefined, name) : undefined
    }
    default:
      return undefined
  }
}

const partsOf = (content: unknown): Array<Part> => {
  if (typeof content === "string") {
    const part = textPart(content)
    return part === undefined ? [] : [part]
  }
  if (!Array.isArray(content)) return []
  const parts: Array<Part> = []
  for (const item of content) {
    if (!isRecord(item)) continue
    const part = partOf(item)
    if (part !== undefined) parts.push(part)
  }
  return parts
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
    ? content.map((p) => isRecord(p) && p.type === "text" && typeof p.text === "string" ? p.text : "").join("")
    : ""

/** https://ai.google.dev/api/caching#FunctionCall: `args` is a JSON object. */
const functionArgs = (args: string): unknown => {
  if (args.trim() === "") return {}
  try {
    return JSON.parse(args)
  } catch {
    // Not JSON: sent as it is, and Gemini says what is wrong with it (nothing is made up).
    return args
  }
}

/** The thought signature a Gemini answer gave a tool call (see `response.ts`). @internal */
export const thoughtSignatureOf = (call: Record<string, unknown>): string | undefined => {
  const extra = call.extra_content
  const google = isRecord(extra) ? extra.google : undefined
  return isRecord(google) && typeof google.thought_signature === "string" ? google.thought_signature : undefined
}

const modelParts = (message: Extract<Message, { role: "assistant" }>): Array<Part> => {
  const parts = partsOf(message.content)
  for (const call of message.tool_calls ?? []) {
    const part: Part = { functionCall: { name: call.function.name, args: functionArgs(call.function.arguments) } }
    const signature = thoughtSignatureOf(call)
    if (signature !== undefined) part.thoughtSignature = signature
    parts.push(part)
  }
  return parts
}

/**
 * https://ai.google.dev/api/caching#FunctionResponse: `response` is a JSON object; "output" is
 * the key the reference suggests for a function's output.
 */
const functionResponse = (content: unknown): Record<string, unknown> => {
  const text = textOf(content)
  try {
    const value: unknown = JSON.parse(text)
    if (isRecord(value)) return value
  } catch {
    // not JSON: the text as the output
  }
  return { output: text }
}

/** Tool message parts: the response, then the media the tool gave (images, files) as parts. */
const toolParts = (message: Extract<Message, { role: "tool" }>, name: string): Array<Part> => {
  const parts: Array<Part> = [{ functionResponse: { name, response: functionResponse(message.content) } }]
  if (Array.isArray(message.content)) for (const part of partsOf(message.content)) if (part.text === undefined) parts.push(part)
  return parts
}

interface Conversation {
  readonly system: Array<Part>
  readonly contents: Array<Content>
}

const conversation = (messages: ReadonlyArray<Message>): Conversation => {
  const system: Array<Part> = []
  const contents: Array<Content> = []
  /** Tool call id -> function name, as last seen (the nearest earlier call with that id). */
  const callNames = new Map<string, string>()
  const push = (role: Content["role"], parts: Array<Part>) => {
    if (parts.length === 0) return
    const last = contents[contents.length - 1]
    if (last !== undefined && last.role === role) last.parts.push(...parts)
    else contents.push({ role, parts })
  }
  for (const message of messages) {
    switch (message.role) {
      case "system":
      case "developer":
        // The system instruction takes text only.
        for (const part of partsOf(message.content)) if (part.text !== undefined) system.push(part)
        break
      case "user":
        push("user", partsOf(message.content))
        break
      case "assistant":
        for (const call of message.tool_calls ?? []) callNames.set(call.id, call.function.name)
        push("model", modelParts(message))
        break
      case "tool": {
        const name = callNames.get(message.tool_call_id) ??
          (typeof message["name"] === "string" ? message["name"] : message.tool_call_id)
        push("user", toolParts(message, name))
        break
      }
    }
  }
  return { system, contents }
}

const toolConfig = (req: ChatRequest): Record<string, unknown> | undefined => {
  const choice = req.tool_choice
  if (choice === undefined) return undefined
  if (choice === "auto") return { functionCallingConfig: { mode: "AUTO" } }
  if (choice === "required") return { functionCallingConfig: { mode: "ANY" } }
  if (choice === "none") return { functionCallingConfig: { mode: "NONE" } }
  return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.function.name] } }
}

const tools = (req: ChatRequest): Array<Record<string, unknown>> | undefined => {
  if (req.tools === undefined || req.tools.length === 0) return undefined
  const declarations = req.tools.map((tool) => {
    const fn = tool.function
    const out: Record<string, unknown> = { name: fn.name }
    if (fn.description !== undefined) out.description = fn.description
    if (fn.parameters !== undefined) out.parametersJsonSchema = fn.parameters
    return out
  })
  return [{ functionDeclarations: declarations }]
}

/** https://ai.google.dev/gemini-api/docs/openai#thinking */
const budgetOfEffort: Readonly<Record<string, number>> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576 }

const thinkingConfig = (req: ChatRequest): Record<string, unknown> | undefined => {
  const effort = req["reasoning_effort"]
  if (typeof effort !== "string") return undefined
  if (/(^|\/)gemini-[12]\./.test(req.model)) {
    const budget = budgetOfEffort[effort]
    return budget === undefined ? undefined : { thinkingBudget: budget }
  }
  return { thinkingLevel: effort === "none" ? "minimal" : effort }
}

/**
 * The value of a field given in either spelling (Google's JSON parser takes both).
 *
 * @internal
 */
export const native = (from: Readonly<Record<string, unknown>>, camel: string, snake: string): unknown => {
  const value = from[camel] ?? from[snake]
  return value === null ? undefined : value
}

const topLevelNatives = [
  ["safetySettings", "safety_settings"],
  ["cachedContent", "cached_content"],
  ["labels", "labels"]
] as const

const generationNatives = [
  ["topK", "top_k"],
  ["thinkingConfig", "thinking_config"],
  ["responseModalities", "response_modalities"],
  ["mediaResolution", "media_resolution"],
  ["speechConfig", "speech_config"]
] as const

/**
 * Gemini's own top-level fields that a canonical request may carry, in both spellings. `google`
 * is Gemini's OpenAI compatibility's `extra_body.google`: the OpenAI SDKs merge `extra_body`
 * into the body.
 *
 * @internal
 */
export const nativeFields: ReadonlyArray<string> = [
  ...[...topLevelNatives, ["toolConfig", "tool_config"] as const, ...generationNatives, ["generationConfig", "generation_config"] as const]
    .flatMap(([camel, snake]) => camel === snake ? [camel] : [camel, snake]),
  "google"
]

const generationConfig = (req: ChatRequest, google: Record<string, unknown>): Record<string, unknown> => {
  const config: Record<string, unknown> = {}
  if (typeof req.temperature === "number") config.temperature = req.temperature
  if (typeof req.top_p === "number") config.topP = req.top_p
  const max = req.max_completion_tokens ?? req.max_tokens
  if (typeof max === "number") config.maxOutputTokens = max
  const stops = (typeof req.stop === "string" ? [req.stop] : req.stop ?? []).filter((s) => s !== "")
  if (stops.length > 0) config.stopSequences = stops
  if (typeof req.n === "number") config.candidateCount = req.n
  if (typeof req.presence_penalty === "number") config.presencePenalty = req.presence_penalty
  if (typeof req.frequency_penalty === "number") config.frequencyPenalty = req.frequency_penalty
  if (typeof req.seed === "number") config.seed = req.seed
  const format = req.response_format
  if (format?.type === "json_object") config.responseMimeType = "application/json"
  if (format?.type === "json_schema") {
    config.responseMimeType = "application/json"
    if (isRecord(format.json_schema.schema)) config.responseJsonSchema = format.json_schema.schema
  }
  const thinking = thinkingConfig(req)
  if (thinking !== undefined) config.thinkingConfig = thinking
  for (const [camel, snake] of generationNatives) {
    const value = native(req, camel, snake) ?? native(google, camel, snake)
    if (value !== undefined) config[camel] = value
  }
  const given = native(req, "generationConfig", "generation_config")
  return isRecord(given) ? { ...config, ...given } : config
}

/**
 * The Gemini request for a canonical one (no model: it is in the URL).
 *
 * @internal
 */
export const encode = (req: ChatRequest): Record<string, unknown> => {
  const { contents, system } = conversation(req.messages)
  const google = isRecord(req["google"]) ? req["google"] : {}
  const body: Record<string, unknown> = { contents }
  if (system.length > 0) body.systemInstruction = { parts: system }
  const toolList = tools(req)
  if (toolList !== undefined) body.tools = toolList
  const choice = native(req, "toolConfig", "tool_config") ?? toolConfig(req)
  if (choice !== undefined) body.toolConfig = choice
  for (const [camel, snake] of topLevelNatives) {
    const value = native(req, camel, snake) ?? native(google, camel, snake)
    if (value !== undefined) body[camel] = value
  }
  const config = generationConfig(req, google)
  if (Object.keys(config).length > 0) body.generationConfig = config
  return body
}
