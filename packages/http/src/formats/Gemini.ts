/**
 * The Gemini API as an inbound wire format, what the `@google/genai` SDK speaks:
 * `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`
 * (https://ai.google.dev/api/generate-content), `:embedContent` and `:batchEmbedContents`
 * (https://ai.google.dev/api/embeddings). Requests are decoded into the canonical ones (OpenAI
 * Chat Completions, OpenAI embeddings) and canonical answers encoded back. The mapping is the
 * inverse of the Gemini adapter's (`providers-gemini/src/internal/request.ts`, `response.ts`,
 * `stream.ts`), so that a Gemini client behind the gateway in front of Gemini gets back what
 * Gemini would have said.
 *
 * Request, mapped:
 * - `systemInstruction` (a `Content` or a string) -> the first message, `system`;
 * - `contents`: `model` turns -> `assistant` messages, consecutive ones as one (their text
 *   parts joined, `functionCall` parts as `tool_calls`, a part's `thoughtSignature` in the
 *   call's `extra_content.google.thought_signature`, where the adapter looks for it); `user` and
 *   `function` turns -> one `tool` message per `functionResponse` part, then a `user` message
 *   with the other parts (https://ai.google.dev/gemini-api/docs/function-calling). A call
 *   without an `id` gets `call_<n>`; a response without one answers the earliest unanswered
 *   call of its name (a response no call asked for takes its function's name as the id, which
 *   the adapter reads back as the name);
 * - parts: `text`; `inlineData` -> `image_url` (a `data:` URL) for images, `input_audio` for
 *   audio, else a `file` with a `data:` URL; `fileData` -> `image_url` (its URI) for images,
 *   else a `file` with its URI. Thoughts (`thought: true`) are left out;
 * - `tools[].functionDeclarations` -> function tools, `parametersJsonSchema` as it is,
 *   `parameters` (Gemini's OpenAPI subset) as JSON Schema: its upper-case types lower-cased and
 *   `nullable` as a `"null"` type;
 * - `toolConfig.functionCallingConfig` -> `tool_choice` (`AUTO`, `VALIDATED` auto; `ANY`
 *   required, or the one function it allows; `NONE` none), only when there are tools; `ANY`
 *   with `allowedFunctionNames` also keeps only those tools;
 * - `generationConfig`: `temperature`, `topP`, `maxOutputTokens`, `stopSequences`,
 *   `candidateCount`, `presencePenalty`, `frequencyPenalty`, `seed`, `responseMimeType`
 *   `application/json` (with `responseJsonSchema` or `responseSchema`: a `json_schema` format);
 *   bounded as the canonical request bounds them.
 *
 * Left out, having no canonical counterpart (unknown fields would be forwarded to providers that
 * refuse them): tools other than functions (`googleSearch`, `codeExecution`, `urlContext`, ...),
 * parts other than the above (`executableCode`, `codeExecutionResult`, media in `model` turns),
 * thought signatures of text parts, `safetySettings`, `cachedContent`, and in the generation
 * config `topK`, `thinkingConfig`, `responseModalities`, logprobs, `speechConfig`, ... .
 * `systemInstruction`, `generationConfig` and `toolConfig` are also taken in snake_case; the
 * fields inside them only in camelCase, as the SDK sends them.
 *
 * Answer: one candidate per choice, its thinking (`reasoning_content`) as a `thought` part, its
 * text (or refusal), then its tool calls as whole `functionCall` parts; `usageMetadata` with the
 * thinking apart from `candidatesTokenCount`, as Gemini counts it.
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatRequest, ChatResponse, ContentPart, Message, Tool, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import type { Embedding, EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { ErrorInfo } from "../HttpErrors.js"
import { decoder, event, openStruct, type StreamEncoder } from "./Codec.js"

// ---------------------------------------------------------------------------------------------
// Request schemas (https://ai.google.dev/api/generate-content#request-body)

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const open = openStruct

const Part = open({
  text: Schema.optional(Schema.String),
  thought: Schema.optional(Schema.Boolean),
  thoughtSignature: Schema.optional(Schema.String),
  inlineData: Schema.optional(open({ mimeType: Schema.String, data: Schema.String })),
  fileData: Schema.optional(open({ mimeType: Schema.optional(Schema.String), fileUri: Schema.String })),
  functionCall: Schema.optional(open({ id: Schema.optional(Schema.String), name: Schema.String, args: Schema.optional(Extra) })),
  functionResponse: Schema.optional(
    open({ id: Schema.optional(Schema.String), name: Schema.String, response: Schema.optional(Extra) })
  )
})
type Part = typeof Part.Type

const Content = open({
  role: Schema.optional(Schema.Literal("user", "model", "function")),
  parts: Schema.Array(Part)
})
type Content = typeof Content.Type

const SystemInstruction = Schema.Union(Schema.String, open({ parts: Schema.Array(Part) }))

const FunctionDeclaration = open({
  name: Schema.String,
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(Extra),
  parametersJsonSchema: Schema.optional(Extra)
})

const GeminiTool = open({ functionDeclarations: Schema.optional(Schema.Array(FunctionDeclaration)) })

const ToolConfig = open({
  functionCallingConfig: Schema.optional(open({
    mode: Schema.optional(Schema.Literal("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")),
    allowedFunctionNames: Schema.optional(Schema.Array(Schema.String))
  }))
})
type ToolConfig = typeof ToolConfig.Type

const Penalty = Schema.Number.pipe(Schema.between(-2, 2))

const GenerationConfig = open({
  temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
  topP: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  maxOutputTokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
  stopSequences: Schema.optional(Schema.Array(Schema.String)),
  candidateCount: Schema.optional(Schema.Int.pipe(Schema.between(1, 128))),
  presencePenalty: Schema.optional(Penalty),
  frequencyPenalty: Schema.optional(Penalty),
  seed: Schema.optional(Schema.Int),
  responseMimeType: Schema.optional(Schema.String),
  responseSchema: Schema.optional(Extra),
  responseJsonSchema: Schema.optional(Extra)
})
type GenerationConfig = typeof GenerationConfig.Type

const GenerateContentRequest = open({
  contents: Schema.Array(Content).pipe(Schema.minItems(1)),
  systemInstruction: Schema.optional(SystemInstruction),
  system_instruction: Schema.optional(SystemInstruction),
  tools: Schema.optional(Schema.Array(GeminiTool)),
  toolConfig: Schema.optional(ToolConfig),
  tool_config: Schema.optional(ToolConfig),
  generationConfig: Schema.optional(GenerationConfig),
  generation_config: Schema.optional(GenerationConfig)
})
type GenerateContentRequest = typeof GenerateContentRequest.Type

const EmbedContentRequest = open({
  model: Schema.optional(Schema.String),
  content: open({ parts: Schema.Array(open({ text: Schema.String })).pipe(Schema.minItems(1)) }),
  taskType: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  outputDimensionality: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
type EmbedContentRequest = typeof EmbedContentRequest.Type

const BatchEmbedContentsRequest = open({ requests: Schema.Array(EmbedContentRequest).pipe(Schema.minItems(1)) })

const decodeGenerate = decoder(GenerateContentRequest)
const decodeEmbed = decoder(EmbedContentRequest)
const decodeBatchEmbed = decoder(BatchEmbedContentsRequest)

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// ---------------------------------------------------------------------------------------------
// Conversation

/** Tool call ids: the ones the request gives, else `call_<n>`; and which call a response answers. */
const makeCallIds = (contents: ReadonlyArray<Content>) => {
  const given = new Set<string>()
  for (const { parts } of contents) {
    for (const part of parts) if (part.functionCall?.id !== undefined) given.add(part.functionCall.id)
  }
  const unanswered: Array<{ readonly id: string; readonly name: string }> = []
  let n = 0
  const fresh = (): string => {
    let id = `call_${n++}`
    while (given.has(id)) id = `call_${n++}`
    return id
  }
  const call = (name: string, id: string | undefined): string => {
    const assigned = id !== undefined && id !== "" ? id : fresh()
    unanswered.push({ id: assigned, name })
    return assigned
  }
  const response = (name: string, id: string | undefined): string => {
    if (id !== undefined && id !== "") {
      const i = unanswered.findIndex((c) => c.id === id)
      if (i !== -1) unanswered.splice(i, 1)
      return id
    }
    const i = unanswered.findIndex((c) => c.name === name)
    return i === -1 ? name : unanswered.splice(i, 1)[0]!.id
  }
  return { call, response }
}

type CallIds = ReturnType<typeof makeCallIds>

const isImage = (mimeType: string | undefined): boolean => mimeType !== undefined && mimeType.startsWith("image/")

const inlinePart = (blob: { readonly mimeType: string; readonly data: string }): ContentPart => {
  const url = `data:${blob.mimeType};base64,${blob.data}`
  if (isImage(blob.mimeType)) return { type: "image_url", image_url: { url } }
  // OpenAI's `input_audio` names the format as the MIME subtype does; the adapter reads it back so.
  if (blob.mimeType.startsWith("audio/")) {
    return { type: "input_audio", input_audio: { data: blob.data, format: blob.mimeType.slice("audio/".length) } }
  }
  return { type: "file", file: { file_data: url } }
}

const filePart = (file: { readonly mimeType?: string | undefined; readonly fileUri: string }): ContentPart =>
  isImage(file.mimeType)
    ? { type: "image_url", image_url: { url: file.fileUri } }
    : { type: "file", file: { file_data: file.fileUri } }

/** A part of a user turn as a canonical part: none for thoughts and kinds with no counterpart. */
const contentPart = (part: Part): ContentPart | undefined => {
  if (part.thought === true) return undefined
  if (part.text !== undefined) return { type: "text", text: part.text }
  if (part.inlineData !== undefined) return inlinePart(part.inlineData)
  if (part.fileData !== undefined) return filePart(part.fileData)
  return undefined
}

/** A lone text part as a string, the form every provider takes. */
const contentOf = (parts: ReadonlyArray<ContentPart>): string | ReadonlyArray<ContentPart> => {
  const first = parts[0]
  return parts.length === 1 && first?.type === "text" && typeof first.text === "string" ? first.text : parts
}

const systemMessage = (instruction: typeof SystemInstruction.Type | undefined): Message | undefined => {
  if (instruction === undefined) return undefined
  if (typeof instruction === "string") return { role: "system", content: instruction }
  const texts: Array<ContentPart> = []
  for (const part of instruction.parts) {
    if (part.text !== undefined && part.thought !== true) texts.push({ type: "text", text: part.text })
  }
  return texts.length === 0 ? undefined : { role: "system", content: contentOf(texts) }
}

const toolCallOf = (part: Part, call: NonNullable<Part["functionCall"]>, ids: CallIds): ToolCall => {
  const toolCall: ToolCall = {
    id: ids.call(call.name, call.id),
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) }
  }
  return part.thoughtSignature === undefined
    ? toolCall
    : { ...toolCall, extra_content: { google: { thought_signature: part.thoughtSignature } } }
}

const assistantMessage = (parts: ReadonlyArray<Part>, ids: CallIds): Message | undefined => {
  let text: string | null = null
  const toolCalls: Array<ToolCall> = []
  for (const part of parts) {
    if (part.functionCall !== undefined) toolCalls.push(toolCallOf(part, part.functionCall, ids))
    else if (part.text !== undefined && part.thought !== true) text = (text ?? "") + part.text
  }
  if (toolCalls.length > 0) return { role: "assistant", content: text, tool_calls: toolCalls }
  return text === null ? undefined : { role: "assistant", content: text }
}

/** A user (or function) turn: its function responses as tool messages, then the rest as a user message. */
const pushUserTurn = (messages: Array<Message>, parts: ReadonlyArray<Part>, ids: CallIds): void => {
  const content: Array<ContentPart> = []
  for (const part of parts) {
    const response = part.functionResponse
    if (response !== undefined) {
      messages.push({
        role: "tool",
        tool_call_id: ids.response(response.name, response.id),
        content: JSON.stringify(response.response ?? {})
      })
    } else {
      const canonical = contentPart(part)
      if (canonical !== undefined) content.push(canonical)
    }
  }
  if (content.length > 0) messages.push({ role: "user", content: contentOf(content) })
}

const messagesOf = (req: GenerateContentRequest): Array<Message> => {
  const messages: Array<Message> = []
  const system = systemMessage(req.systemInstruction ?? req.system_instruction)
  if (system !== undefined) messages.push(system)
  const ids = makeCallIds(req.contents)
  // The SDK's chat history keeps a streamed answer as one `model` content per event: one answer.
  let answer: Array<Part> = []
  const pushAnswer = () => {
    const message = assistantMessage(answer, ids)
    if (message !== undefined) messages.push(message)
    answer = []
  }
  for (const content of req.contents) {
    if (content.role === "model") {
      for (const part of content.parts) answer.push(part)
    } else {
      pushAnswer()
      pushUserTurn(messages, content.parts, ids)
    }
  }
  pushAnswer()
  return messages
}

// ---------------------------------------------------------------------------------------------
// Tools and generation config

const subSchema = (u: unknown): unknown => isRecord(u) ? jsonSchemaOf(u) : u

/**
 * Gemini's OpenAPI-subset schema (https://ai.google.dev/api/caching#Schema: `"OBJECT"`,
 * `nullable`) as JSON Schema, through the places a schema nests one (`properties`, `items`,
 * `anyOf`); every other keyword as it is.
 */
const jsonSchemaOf = (schema: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case "type":
        out.type = typeof value === "string" ? value.toLowerCase() : value
        break
      case "properties":
        out.properties = isRecord(value)
          ? Object.fromEntries(Object.entries(value).map(([name, property]) => [name, subSchema(property)]))
          : value
        break
      case "items":
        out.items = subSchema(value)
        break
      case "anyOf":
        out.anyOf = Array.isArray(value) ? value.map(subSchema) : value
        break
      default:
        out[key] = value
    }
  }
  if (out.nullable === true && typeof out.type === "string") {
    out.type = [out.type, "null"]
    delete out.nullable
  }
  return out
}

const toolOf = (declaration: typeof FunctionDeclaration.Type): Tool => {
  const fn: Mutable<Tool["function"]> = { name: declaration.name }
  if (declaration.description !== undefined) fn.description = declaration.description
  const parameters = declaration.parametersJsonSchema ??
    (declaration.parameters === undefined ? undefined : jsonSchemaOf(declaration.parameters))
  if (parameters !== undefined) fn.parameters = parameters
  return { type: "function", function: fn }
}

/** The function tools, only the allowed ones when `ANY` names some (the model may call no other). */
const toolsOf = (req: GenerateContentRequest, config: ToolConfig | undefined): Array<Tool> => {
  const tools = (req.tools ?? []).flatMap((tool) => (tool.functionDeclarations ?? []).map(toolOf))
  const calling = config?.functionCallingConfig
  const allowed = calling?.mode === "ANY" ? calling.allowedFunctionNames ?? [] : []
  return allowed.length === 0 ? tools : tools.filter((tool) => allowed.includes(tool.function.name))
}

const toolChoiceOf = (config: ToolConfig | undefined): ChatRequest["tool_choice"] => {
  const calling = config?.functionCallingConfig
  switch (calling?.mode) {
    case "AUTO":
    case "VALIDATED":
      return "auto"
    case "NONE":
      return "none"
    case "ANY": {
      const names = calling.allowedFunctionNames ?? []
      return names.length === 1 ? { type: "function", function: { name: names[0]! } } : "required"
    }
    default:
      return undefined
  }
}

/** https://ai.google.dev/gemini-api/docs/structured-output */
const responseFormatOf = (config: GenerationConfig): ChatRequest["response_format"] => {
  if (config.responseMimeType !== "application/json") return undefined
  const schema = config.responseJsonSchema ??
    (config.responseSchema === undefined ? undefined : jsonSchemaOf(config.responseSchema))
  return schema === undefined
    ? { type: "json_object" }
    : { type: "json_schema", json_schema: { name: "response", schema } }
}

const applyGenerationConfig = (out: Mutable<ChatRequest>, config: GenerationConfig): void => {
  if (config.temperature !== undefined) out.temperature = config.temperature
  if (config.topP !== undefined) out.top_p = config.topP
  if (config.maxOutputTokens !== undefined) out.max_tokens = config.maxOutputTokens
  if (config.stopSequences !== undefined) out.stop = config.stopSequences
  if (config.candidateCount !== undefined) out.n = config.candidateCount
  if (config.presencePenalty !== undefined) out.presence_penalty = config.presencePenalty
  if (config.frequencyPenalty !== undefined) out.frequency_penalty = config.frequencyPenalty
  if (config.seed !== undefined) out.seed = config.seed
  const format = responseFormatOf(config)
  if (format !== undefined) out.response_format = format
}

const chatRequestOf = (
  req: GenerateContentRequest,
  model: string,
  stream: boolean
): Either.Either<ChatRequest, InvalidRequest> => {
  const messages = messagesOf(req)
  if (messages.length === 0) {
    return Either.left(
      new InvalidRequest({ message: "contents: no part can be sent (only thoughts or unsupported parts).", param: "contents" })
    )
  }
  const out: Mutable<ChatRequest> = { model, messages }
  const toolConfig = req.toolConfig ?? req.tool_config
  const tools = toolsOf(req, toolConfig)
  const choice = toolChoiceOf(toolConfig)
  if (tools.length > 0) {
    out.tools = tools
    // OpenAI refuses a tool_choice without tools.
    if (choice !== undefined) out.tool_choice = choice
  }
  const config = req.generationConfig ?? req.generation_config
  if (config !== undefined) applyGenerationConfig(out, config)
  if (stream) {
    out.stream = true
    out.stream_options = { include_usage: true }
  }
  return Either.right(out)
}

/**
 * A `GenerateContentRequest` (https://ai.google.dev/api/generate-content#request-body) as the
 * canonical chat request for `model` (from the URL); `stream` for `:streamGenerateContent`.
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeGenerateRequest = (
  body: unknown,
  model: string,
  stream: boolean
): Either.Either<ChatRequest, InvalidRequest> =>
  Either.flatMap(decodeGenerate(body), (req) => chatRequestOf(req, model, stream))

// ---------------------------------------------------------------------------------------------
// Answers (https://ai.google.dev/api/generate-content#generatecontentresponse)

type WirePart = Record<string, unknown>

/** The Gemini finish reasons the adapter passes on lower-cased (https://ai.google.dev/api/generate-content#FinishReason). */
const geminiReasons: ReadonlySet<string> = new Set([
  "MALFORMED_FUNCTION_CALL",
  "UNEXPECTED_TOOL_CALL",
  "TOO_MANY_TOOL_CALLS",
  "NO_IMAGE",
  "IMAGE_OTHER"
])

/** Gemini says `STOP` for an answer that calls functions too. */
const finishReasons: Readonly<Record<string, string>> = {
  stop: "STOP",
  tool_calls: "STOP",
  function_call: "STOP",
  length: "MAX_TOKENS",
  content_filter: "SAFETY"
}

const finishReasonOf = (reason: string): string => {
  const upper = reason.toUpperCase()
  return finishReasons[reason] ?? (geminiReasons.has(upper) ? upper : "OTHER")
}

/**
 * Canonical usage as `usageMetadata` (https://ai.google.dev/api/generate-content#UsageMetadata):
 * Gemini counts the thinking apart (`thoughtsTokenCount`, not in `candidatesTokenCount`), and
 * like proto3 JSON leaves out counts of zero.
 */
const usageMetadataOf = (usage: Usage): Record<string, number> => {
  const thoughts = usage.completion_tokens_details?.reasoning_tokens ?? 0
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0
  const out: Record<string, number> = {
    promptTokenCount: usage.prompt_tokens,
    candidatesTokenCount: Math.max(0, usage.completion_tokens - thoughts),
    totalTokenCount: usage.total_tokens
  }
  if (cached > 0) out.cachedContentTokenCount = cached
  if (thoughts > 0) out.thoughtsTokenCount = thoughts
  return out
}

/** A function call's JSON arguments as `args`, an object (`{}` when they are not one). */
const argsOf = (json: string): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(json)
    return isRecord(value) ? value : {}
  } catch {
    return {}
  }
}

/** The Gemini thought signature the adapter keeps in a tool call's `extra_content`. */
const thoughtSignatureOf = (extra: unknown): string | undefined => {
  const google = isRecord(extra) ? extra.google : undefined
  return isRecord(google) && typeof google.thought_signature === "string" ? google.thought_signature : undefined
}

interface Call {
  id: string
  name: string
  arguments: string
  extra: unknown
}

const functionCallPart = (call: Call): WirePart => {
  const functionCall = call.id === ""
    ? { name: call.name, args: argsOf(call.arguments) }
    : { id: call.id, name: call.name, args: argsOf(call.arguments) }
  const signature = thoughtSignatureOf(call.extra)
  return signature === undefined ? { functionCall } : { functionCall, thoughtSignature: signature }
}

const textParts = (reasoning: unknown, text: string | null | undefined): Array<WirePart> => {
  const parts: Array<WirePart> = []
  if (typeof reasoning === "string" && reasoning !== "") parts.push({ text: reasoning, thought: true })
  if (typeof text === "string" && text !== "") parts.push({ text })
  return parts
}

/** Gemini ends with a part even when there is nothing left to say, and the SDK's chat needs one. */
const nonEmpty = (parts: Array<WirePart>): Array<WirePart> => parts.length === 0 ? [{ text: "" }] : parts

const candidate = (parts: Array<WirePart>, index: number, finish: string | null | undefined) =>
  finish === null || finish === undefined
    ? { content: { role: "model", parts }, index }
    : { content: { role: "model", parts }, finishReason: finishReasonOf(finish), index }

const responseParts = (message: ChatResponse["choices"][number]["message"]): Array<WirePart> => {
  const parts = textParts(message["reasoning_content"], message.content ?? message.refusal)
  for (const call of message.tool_calls ?? []) {
    parts.push(functionCallPart({ ...call.function, id: call.id, extra: call["extra_content"] }))
  }
  return nonEmpty(parts)
}

/**
 * A canonical answer as a `GenerateContentResponse`: one candidate per choice.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeResponse = (res: ChatResponse): Record<string, unknown> => {
  const out: Record<string, unknown> = {
    candidates: res.choices.map((choice) => candidate(responseParts(choice.message), choice.index, choice.finish_reason))
  }
  if (res.usage !== undefined) out.usageMetadata = usageMetadataOf(res.usage)
  out.modelVersion = res.model
  out.responseId = res.id
  return out
}

interface ChoiceState {
  readonly calls: Map<number, Call>
  finish: string | null
}

type ToolCallDelta = NonNullable<ChatChunk["choices"][number]["delta"]["tool_calls"]>[number]

const bufferCall = (calls: Map<number, Call>, delta: ToolCallDelta): void => {
  let call = calls.get(delta.index)
  if (call === undefined) {
    call = { id: "", name: "", arguments: "", extra: undefined }
    calls.set(delta.index, call)
  }
  if (delta.id !== undefined) call.id = delta.id
  if (delta.function?.name !== undefined) call.name = delta.function.name
  if (delta.function?.arguments !== undefined) call.arguments += delta.function.arguments
  if (delta["extra_content"] !== undefined) call.extra = delta["extra_content"]
}

const byKey = <A>(map: ReadonlyMap<number, A>): Array<[number, A]> => Array.from(map).sort(([a], [b]) => a - b)

/**
 * A writer of the `alt=sse` stream of `:streamGenerateContent`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent): every event
 * a whole `GenerateContentResponse`, with no event name and no end marker. Each text (or
 * thinking) delta is an event of its own; tool call fragments are kept until the end, since
 * Gemini streams whole `functionCall` parts; the last event, at the end, carries them with each
 * candidate's `finishReason` and the `usageMetadata` (which may come after the finish).
 *
 * @since 0.1.0 @category Encoding
 */
export const streamEncoder = (): StreamEncoder => {
  let responseId = ""
  let modelVersion = ""
  let usage: Usage | undefined
  const choices = new Map<number, ChoiceState>()

  const stateOf = (index: number): ChoiceState => {
    let state = choices.get(index)
    if (state === undefined) {
      state = { calls: new Map(), finish: null }
      choices.set(index, state)
    }
    return state
  }

  const chunk = (c: ChatChunk): string => {
    responseId = c.id
    modelVersion = c.model
    if (c.usage !== undefined && c.usage !== null) usage = c.usage
    let out = ""
    for (const choice of c.choices) {
      const state = stateOf(choice.index)
      for (const call of choice.delta.tool_calls ?? []) bufferCall(state.calls, call)
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) state.finish = choice.finish_reason
      const parts = textParts(choice.delta["reasoning_content"], choice.delta.content ?? choice.delta.refusal)
      if (parts.length > 0) {
        out += event(undefined, { candidates: [candidate(parts, choice.index, null)], modelVersion, responseId })
      }
    }
    return out
  }

  const end = (): string => {
    if (choices.size === 0 && usage === undefined) return ""
    const out: Record<string, unknown> = {}
    if (choices.size > 0) {
      out.candidates = byKey(choices).map(([index, state]) =>
        candidate(nonEmpty(byKey(state.calls).map(([, call]) => functionCallPart(call))), index, state.finish)
      )
    }
    if (usage !== undefined) out.usageMetadata = usageMetadataOf(usage)
    out.modelVersion = modelVersion
    out.responseId = responseId
    return event(undefined, out)
  }

  return { chunk, end, error: (info) => event(undefined, errorBody(info)) }
}

// ---------------------------------------------------------------------------------------------
// Embeddings (https://ai.google.dev/api/embeddings)

const modelId = (name: string): string => name.startsWith("models/") ? name.slice("models/".length) : name

const textOf = (req: EmbedContentRequest): string => req.content.parts.map((part) => part.text).join("\n")

/** Google's own hints, as the canonical extra fields the Gemini adapter forwards. */
const embeddingRequestOf = (req: EmbedContentRequest, model: string, input: EmbeddingRequest["input"]): EmbeddingRequest => {
  const out: Mutable<EmbeddingRequest> = { model, input, encoding_format: "float" }
  if (req.outputDimensionality !== undefined) out.dimensions = req.outputDimensionality
  if (req.taskType !== undefined) out.task_type = req.taskType
  if (req.title !== undefined) out.title = req.title
  return out
}

const otherModel = (req: EmbedContentRequest, model: string, path: string): InvalidRequest | undefined =>
  req.model === undefined || modelId(req.model) === modelId(model)
    ? undefined
    : new InvalidRequest({
      message: `${path}: '${req.model}' is not the model of the URL, 'models/${modelId(model)}'.`,
      param: path
    })

/**
 * An `EmbedContentRequest` (https://ai.google.dev/api/embeddings#method:-models.embedcontent) as
 * a canonical embeddings request: its text parts joined by a newline as one input.
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeEmbedRequest = (body: unknown, model: string): Either.Either<EmbeddingRequest, InvalidRequest> =>
  Either.flatMap(decodeEmbed(body), (req) => {
    const error = otherModel(req, model, "model")
    return error === undefined ? Either.right(embeddingRequestOf(req, model, textOf(req))) : Either.left(error)
  })

/** One canonical request has one set of hints: a batch must share them. */
const hints = ["taskType", "title", "outputDimensionality"] as const

const batchError = (requests: ReadonlyArray<EmbedContentRequest>, model: string): InvalidRequest | undefined => {
  const first = requests[0]!
  for (let i = 0; i < requests.length; i++) {
    const req = requests[i]!
    const error = otherModel(req, model, `requests[${i}].model`)
    if (error !== undefined) return error
    const differing = hints.find((hint) => req[hint] !== first[hint])
    if (differing !== undefined) {
      const param = `requests[${i}].${differing}`
      return new InvalidRequest({ message: `${param}: every request of a batch must have the same ${differing}.`, param })
    }
  }
  return undefined
}

/**
 * A `BatchEmbedContentsRequest`
 * (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents) as one canonical
 * request: one input per request, in order. Every request must name the URL's model (or none).
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeBatchEmbedRequest = (
  body: unknown,
  model: string
): Either.Either<EmbeddingRequest, InvalidRequest> =>
  Either.flatMap(decodeBatchEmbed(body), ({ requests }) => {
    const error = batchError(requests, model)
    return error === undefined
      ? Either.right(embeddingRequestOf(requests[0]!, model, requests.map(textOf)))
      : Either.left(error)
  })

/** A vector as floats; a `base64` one (little-endian float32s) decoded. */
const valuesOf = (embedding: Embedding["embedding"]): ReadonlyArray<number> => {
  if (typeof embedding !== "string") return embedding
  const bytes = Buffer.from(embedding, "base64")
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))
}

const embeddingsOf = (res: EmbeddingResponse): Array<{ readonly values: ReadonlyArray<number> }> =>
  [...res.data].sort((a, b) => a.index - b.index).map((item) => ({ values: valuesOf(item.embedding) }))

/**
 * A canonical embeddings answer as an `EmbedContentResponse`: `{ embedding: { values } }`.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeEmbedResponse = (res: EmbeddingResponse): Record<string, unknown> => ({
  embedding: embeddingsOf(res)[0] ?? { values: [] }
})

/**
 * A canonical embeddings answer as a `BatchEmbedContentsResponse`: `{ embeddings: [{ values }] }`.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeBatchEmbedResponse = (res: EmbeddingResponse): Record<string, unknown> => ({
  embeddings: embeddingsOf(res)
})

// ---------------------------------------------------------------------------------------------
// Errors

/** The `google.rpc.Code` names (https://cloud.google.com/apis/design/errors#handling_errors), but OK. */
const rpcCodes: ReadonlySet<string> = new Set([
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
])

/** The code Google's HTTP mapping gives each status (https://cloud.google.com/apis/design/errors#http_mapping). */
const rpcCodeOfStatus: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  413: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED"
}

/** A Gemini upstream's own code (the adapter keeps it as the type) passes through. */
const rpcCodeOf = (info: ErrorInfo): string =>
  rpcCodes.has(info.type)
    ? info.type
    : rpcCodeOfStatus[info.status] ?? (info.status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION")

/**
 * Google's error envelope (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes):
 * `{ error: { code, message, status } }`, `code` the HTTP status and `status` its
 * `google.rpc.Code` name.
 *
 * @since 0.1.0 @category Encoding
 */
export const errorBody = (
  info: ErrorInfo
): { readonly error: { readonly code: number; readonly message: string; readonly status: string } } => ({
  error: { code: info.status, message: info.message, status: rpcCodeOf(info) }
})
