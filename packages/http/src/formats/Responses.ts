/**
 * OpenAI's Responses API (`POST /v1/responses`,
 * https://platform.openai.com/docs/api-reference/responses) as an inbound wire format.
 *
 * Requests: `instructions` and `input` (a string, or messages, function calls and function call
 * outputs) become canonical messages; function tools, `tool_choice`, `text.format`,
 * `reasoning.effort` and `max_output_tokens` become their Chat Completions counterparts.
 * `reasoning` items are left out: their content belongs to the model that wrote it. Refused with
 * a 400 naming the field: what needs state the gateway does not keep (`previous_response_id`,
 * `conversation`, stored `prompt`s, `background`, item references, images by file id, files by
 * URL), built-in tools, and item types other than the ones above. `store`, `metadata`,
 * `truncation`, `include` and fields the format does not define are not forwarded.
 *
 * Answers: the `Response` object, or its event stream
 * (https://platform.openai.com/docs/api-reference/responses-streaming), with ids derived from
 * the canonical id so that the same answer always encodes the same way.
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatResponse, ContentPart, Message, Tool, ToolCall, Usage } from "@switchyard/core/ChatSchema"
import { ChatRequest } from "@switchyard/core/ChatSchema"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { ErrorInfo } from "../HttpErrors.js"
import { openAi } from "../HttpErrors.js"
import { decoder, event, idStem, onlyFalse, openStruct, present, refused, type StreamEncoder, streamed } from "./Codec.js"

// ---------------------------------------------------------------------------------------------
// Request schema

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const InputText = openStruct({ type: Schema.Literal("input_text"), text: Schema.String })
const OutputText = openStruct({ type: Schema.Literal("output_text"), text: Schema.String })
const Refusal = openStruct({ type: Schema.Literal("refusal"), refusal: Schema.String })

const InputImage = openStruct({
  type: Schema.Literal("input_image"),
  image_url: Schema.optional(Schema.NullOr(Schema.String)),
  file_id: Schema.optional(Schema.NullOr(Schema.String)),
  detail: Schema.optional(Schema.NullOr(Schema.Literal("auto", "low", "high", "original")))
}).pipe(Schema.filter((image) =>
  typeof image.image_url === "string" || (image.file_id != null
    ? {
      path: ["file_id"],
      message: "Images given by file_id cannot be translated: the gateway keeps no files; send image_url (a URL or a data: URL)."
    }
    : { path: ["image_url"], message: "An input_image needs an image_url." })
))

const InputFile = openStruct({
  type: Schema.Literal("input_file"),
  file_data: Schema.optional(Schema.String),
  file_id: Schema.optional(Schema.NullOr(Schema.String)),
  file_url: Schema.optional(Schema.NullOr(Schema.String)),
  filename: Schema.optional(Schema.String)
}).pipe(Schema.filter((file) =>
  file.file_data !== undefined || file.file_id != null || (file.file_url != null
    ? {
      path: ["file_url"],
      message: "Files given by file_url cannot be translated: Chat Completions takes a file's data or id; send file_data."
    }
    : { path: ["file_data"], message: "An input_file needs file_data or file_id." })
))

const MessagePart = Schema.Union(InputText, OutputText, Refusal, InputImage, InputFile)
type MessagePart = typeof MessagePart.Type

const MessageItem = openStruct({
  type: Schema.Literal("message"),
  role: Schema.Literal("user", "system", "developer", "assistant"),
  content: Schema.Union(Schema.String, Schema.Array(MessagePart))
})

const FunctionCall = openStruct({
  type: Schema.Literal("function_call"),
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.String
})

const FunctionCallOutput = openStruct({
  type: Schema.Literal("function_call_output"),
  call_id: Schema.String,
  output: Schema.Union(Schema.String, Schema.Array(Schema.Union(InputText, InputImage, InputFile)))
})

const ReasoningItem = openStruct({ type: Schema.Literal("reasoning") })

const itemTypes: ReadonlySet<string> = new Set(["message", "function_call", "function_call_output", "reasoning"])

const itemRefusal = (type: string) =>
  type === "item_reference"
    ? "Item references cannot be resolved: the gateway keeps no response state; send the items themselves in `input`."
    : `Input items of type '${type}' cannot be translated: this gateway translates messages, function calls and function call outputs.`

/**
 * Checks `type` first (a message may leave it out) so that an item of another type is refused
 * by name, and each translated type is then decoded by its own schema alone: a bad field is
 * reported as such, not as a mismatch with every other item type.
 */
const Item = openStruct({ type: Schema.optionalWith(Schema.String, { default: () => "message" }) }).pipe(
  Schema.filter((item) => itemTypes.has(item.type) || { path: ["type"], message: itemRefusal(item.type) }),
  Schema.compose(Schema.Union(MessageItem, FunctionCall, FunctionCallOutput, ReasoningItem), { strict: false })
)
type Item = typeof Item.Type

/** Objects whose `type` must be `function`, refused otherwise with `refusal`. */
const functionOnly = (refusal: (type: string) => string) =>
  openStruct({ type: Schema.String }).pipe(
    Schema.filter((o) => o.type === "function" || { path: ["type"], message: refusal(o.type) })
  )

const FunctionTool = openStruct({
  type: Schema.Literal("function"),
  name: Schema.String,
  description: Schema.optional(Schema.NullOr(Schema.String)),
  parameters: Schema.optional(Schema.NullOr(JsonObject)),
  strict: Schema.optional(Schema.NullOr(Schema.Boolean))
})
type FunctionTool = typeof FunctionTool.Type

const ResponsesTool = functionOnly((type) =>
  `Tools of type '${type}' cannot be translated: this gateway translates function tools only.`
).pipe(Schema.compose(FunctionTool, { strict: false }))

const ToolChoice = Schema.Union(
  Schema.Literal("auto", "none", "required"),
  functionOnly((type) =>
    `A tool_choice of type '${type}' cannot be translated: this gateway translates "auto", "none", "required" and {"type": "function", "name"} only.`
  ).pipe(Schema.compose(openStruct({ type: Schema.Literal("function"), name: Schema.String }), { strict: false }))
)
type ToolChoice = typeof ToolChoice.Type

const TextFormat = Schema.Union(
  openStruct({ type: Schema.Literal("text") }),
  openStruct({ type: Schema.Literal("json_object") }),
  openStruct({
    type: Schema.Literal("json_schema"),
    name: Schema.String,
    schema: JsonObject,
    strict: Schema.optional(Schema.NullOr(Schema.Boolean)),
    description: Schema.optional(Schema.String)
  })
)
type TextFormat = typeof TextFormat.Type

const noState = "The gateway keeps no response state: send the whole conversation in `input`."

const fields = ChatRequest.fields

const ResponsesRequest = openStruct({
  model: fields.model,
  input: Schema.Union(Schema.String, Schema.Array(Item)),
  instructions: Schema.optional(Schema.NullOr(Schema.String)),
  tools: Schema.optional(Schema.NullOr(Schema.Array(ResponsesTool))),
  tool_choice: Schema.optional(Schema.NullOr(ToolChoice)),
  temperature: fields.temperature,
  top_p: fields.top_p,
  max_output_tokens: fields.max_completion_tokens,
  parallel_tool_calls: Schema.optional(Schema.NullOr(Schema.Boolean)),
  user: Schema.optional(Schema.NullOr(Schema.String)),
  seed: fields.seed,
  service_tier: Schema.optional(Schema.NullOr(Schema.String)),
  text: Schema.optional(Schema.NullOr(openStruct({ format: Schema.optional(Schema.NullOr(TextFormat)) }))),
  reasoning: Schema.optional(Schema.NullOr(openStruct({ effort: Schema.optional(Schema.NullOr(Schema.String)) }))),
  stream: fields.stream,
  previous_response_id: refused(noState),
  conversation: refused(noState),
  prompt: refused("Stored prompts cannot be resolved: the gateway keeps no state; send `instructions` and `input`."),
  background: onlyFalse("Background responses are not supported: the gateway keeps no response state.")
})
type ResponsesRequest = typeof ResponsesRequest.Type

const decodeResponses = decoder(ResponsesRequest)

// ---------------------------------------------------------------------------------------------
// Request -> canonical request

const part = (p: MessagePart): ContentPart => {
  switch (p.type) {
    case "input_text":
    case "output_text":
      return { type: "text", text: p.text }
    case "refusal":
      return { type: "refusal", refusal: p.refusal }
    case "input_image": {
      // Chat Completions has no "original": "high" is its closest detail.
      const detail = p.detail === "original" ? "high" : p.detail
      // The schema's filter guarantees `image_url`.
      return { type: "image_url", image_url: { url: p.image_url!, ...(detail == null ? {} : { detail }) } }
    }
    case "input_file":
      return { type: "file", file: present(p, ["file_data", "file_id", "filename"]) }
  }
}

const content = (c: string | ReadonlyArray<MessagePart>) => (typeof c === "string" ? c : c.map(part))

const toolCall = (call: typeof FunctionCall.Type): ToolCall => ({
  id: call.call_id,
  type: "function",
  function: { name: call.name, arguments: call.arguments }
})

/** Consecutive calls are one assistant turn, together with the text that directly precedes them. */
const appendCall = (messages: Array<Message>, call: ToolCall) => {
  const last = messages.at(-1)
  if (last?.role === "assistant") messages[messages.length - 1] = { ...last, tool_calls: [...(last.tool_calls ?? []), call] }
  else messages.push({ role: "assistant", content: null, tool_calls: [call] })
}

const appendItem = (messages: Array<Message>, item: Item) => {
  switch (item.type) {
    case "message":
      messages.push({ role: item.role, content: content(item.content) })
      break
    case "function_call":
      appendCall(messages, toolCall(item))
      break
    case "function_call_output":
      messages.push({ role: "tool", tool_call_id: item.call_id, content: content(item.output) })
      break
    case "reasoning":
      break
  }
}

const toMessages = (req: ResponsesRequest): Array<Message> => {
  const messages: Array<Message> = []
  if (req.instructions) messages.push({ role: "system", content: req.instructions })
  if (typeof req.input === "string") messages.push({ role: "user", content: req.input })
  else for (const item of req.input) appendItem(messages, item)
  return messages
}

const tool = (t: FunctionTool): Tool => ({
  type: "function",
  function: { name: t.name, ...present(t, ["description", "parameters", "strict"]) }
})

const toolChoice = (choice: ToolChoice) =>
  typeof choice === "string" ? choice : { type: "function" as const, function: { name: choice.name } }

const responseFormat = (format: TextFormat) =>
  format.type === "json_schema"
    ? {
      type: format.type,
      json_schema: { name: format.name, schema: format.schema, ...present(format, ["strict", "description"]) }
    }
    : { type: format.type }

/** The parameters that mean the same in both formats, when set. */
const copied = ["temperature", "top_p", "parallel_tool_calls", "user", "seed", "service_tier"] as const

const toChat = (req: ResponsesRequest): Either.Either<ChatRequest, InvalidRequest> => {
  const messages = toMessages(req)
  if (messages.length === 0) {
    return Either.left(new InvalidRequest({ message: "input holds no message to send.", param: "input" }))
  }
  const format = req.text?.format
  const effort = req.reasoning?.effort
  return Either.right({
    model: req.model,
    messages,
    ...present(req, copied),
    ...(req.max_output_tokens == null ? {} : { max_completion_tokens: req.max_output_tokens }),
    ...(req.tools == null || req.tools.length === 0 ? {} : { tools: req.tools.map(tool) }),
    ...(req.tool_choice == null ? {} : { tool_choice: toolChoice(req.tool_choice) }),
    ...(format == null ? {} : { response_format: responseFormat(format) }),
    ...(effort == null ? {} : { reasoning_effort: effort }),
    ...(req.stream === true ? streamed() : {})
  })
}

/**
 * Responses API request -> canonical chat request.
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeRequest = (body: unknown): Either.Either<ChatRequest, InvalidRequest> =>
  Either.flatMap(decodeResponses(body), toChat)

// ---------------------------------------------------------------------------------------------
// Response objects

type Request = Readonly<Record<string, unknown>>
type Status = "in_progress" | "completed" | "incomplete"
type IncompleteReason = "max_output_tokens" | "content_filter"

const incompleteReason = (finishReason: string | null | undefined): IncompleteReason | undefined =>
  finishReason === "length" ? "max_output_tokens" : finishReason === "content_filter" ? "content_filter" : undefined

const nullable = <A>(value: unknown, is: (u: unknown) => u is A): A | null => (is(value) ? value : null)

const flatTool = (t: Readonly<Record<string, unknown>>) => ({
  type: "function",
  name: t.name,
  description: t.description ?? null,
  parameters: t.parameters ?? null,
  strict: t.strict ?? null
})

/** What a Response repeats of the request, with the API's defaults for what the client left out. */
const echo = (request: Request) => {
  const text = Predicate.isRecord(request.text) ? request.text : {}
  const reasoning = Predicate.isRecord(request.reasoning) ? request.reasoning : {}
  return {
    instructions: nullable(request.instructions, Predicate.isString),
    max_output_tokens: nullable(request.max_output_tokens, Predicate.isNumber),
    parallel_tool_calls: Predicate.isBoolean(request.parallel_tool_calls) ? request.parallel_tool_calls : true,
    previous_response_id: null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    store: false,
    temperature: nullable(request.temperature, Predicate.isNumber),
    text: { ...text, format: text.format ?? { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: Array.isArray(request.tools) ? request.tools.filter(Predicate.isRecord).map(flatTool) : [],
    top_p: nullable(request.top_p, Predicate.isNumber),
    truncation: "disabled",
    user: nullable(request.user, Predicate.isString),
    metadata: Predicate.isRecord(request.metadata) ? request.metadata : {}
  }
}
type Echo = ReturnType<typeof echo>

/** What identifies one answer: the canonical id's stem, its creation time and model. */
interface Head {
  readonly stem: string
  readonly created: number
  readonly model: string
}

const itemId = (prefix: "msg" | "fc", stem: string, outputIndex: number) => `${prefix}_${stem}_${outputIndex}`

const responseUsage = (usage: Usage) => ({
  input_tokens: usage.prompt_tokens,
  input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
  output_tokens: usage.completion_tokens,
  output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
  total_tokens: usage.total_tokens
})

const responseObject = (
  echoed: Echo,
  head: Head,
  state: {
    readonly status: Status
    readonly output: ReadonlyArray<Record<string, unknown>>
    readonly reason: IncompleteReason | undefined
    readonly usage: Usage | null | undefined
  }
): Record<string, unknown> => ({
  id: `resp_${head.stem}`,
  object: "response",
  created_at: head.created,
  status: state.status,
  background: false,
  error: null,
  incomplete_details: state.reason === undefined ? null : { reason: state.reason },
  model: head.model,
  output: state.output,
  usage: state.usage == null ? null : responseUsage(state.usage),
  ...echoed
})

interface TextPart {
  readonly type: "output_text"
  text: string
  readonly annotations: []
  readonly logprobs: []
}

interface RefusalPart {
  readonly type: "refusal"
  refusal: string
}

const textPart = (text: string): TextPart => ({ type: "output_text", text, annotations: [], logprobs: [] })
const refusalPart = (refusal: string): RefusalPart => ({ type: "refusal", refusal })

const messageItem = (id: string, parts: ReadonlyArray<TextPart | RefusalPart>, status: Status): Record<string, unknown> => ({
  type: "message",
  id,
  status,
  role: "assistant",
  content: parts
})

const functionCallItem = (id: string, callId: string, name: string, args: string, status: Status): Record<string, unknown> => ({
  type: "function_call",
  id,
  call_id: callId,
  name,
  arguments: args,
  status
})

/** A response cut short is incomplete, and so is its last item, the one that was cut. */
const closingStatus = (reason: IncompleteReason | undefined): Status => (reason === undefined ? "completed" : "incomplete")

/**
 * Canonical answer -> Response object. `request` is the client's body, whose settings the
 * Response repeats.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeResponse = (res: ChatResponse, request: Request): Record<string, unknown> => {
  const choice = res.choices[0]
  const reason = incompleteReason(choice?.finish_reason)
  const stem = idStem(res.id)
  const parts: Array<TextPart | RefusalPart> = []
  if (choice?.message.content) parts.push(textPart(choice.message.content))
  if (choice?.message.refusal) parts.push(refusalPart(choice.message.refusal))
  const calls = choice?.message.tool_calls ?? []
  const count = (parts.length > 0 ? 1 : 0) + calls.length
  const status = (index: number) => (index === count - 1 ? closingStatus(reason) : "completed")
  const output: Array<Record<string, unknown>> = []
  if (parts.length > 0) output.push(messageItem(itemId("msg", stem, 0), parts, status(0)))
  for (const call of calls) {
    const index = output.length
    output.push(functionCallItem(itemId("fc", stem, index), call.id, call.function.name, call.function.arguments, status(index)))
  }
  return responseObject(echo(request), { stem, created: res.created, model: res.model }, {
    status: closingStatus(reason),
    output,
    reason,
    usage: res.usage
  })
}

// ---------------------------------------------------------------------------------------------
// Event stream

interface MessageState {
  readonly kind: "message"
  readonly index: number
  readonly id: string
  /** The last part is the one being written while the message is open. */
  readonly parts: Array<TextPart | RefusalPart>
  status: Status
}

interface CallState {
  readonly kind: "call"
  readonly index: number
  readonly id: string
  readonly callId: string
  readonly name: string
  arguments: string
  status: Status
}

type ItemState = MessageState | CallState

const itemOf = (item: ItemState) =>
  item.kind === "message"
    ? messageItem(item.id, item.parts, item.status)
    : functionCallItem(item.id, item.callId, item.name, item.arguments, item.status)

type ToolCallFragment = NonNullable<ChatChunk["choices"][number]["delta"]["tool_calls"]>[number]

/**
 * A writer of the Responses event stream, one per response: `response.created` and
 * `response.in_progress` on the first chunk; an output item per message and per function call,
 * each opened (`output_item.added`), written (`output_text.delta`, `refusal.delta`,
 * `function_call_arguments.delta`) and closed (`*.done`, `output_item.done`) when the next one
 * starts or the stream ends; then `response.completed` (or `response.incomplete`) with the
 * whole Response, usage included, as `encodeResponse` gives it. Every event carries its
 * `sequence_number`, from 0.
 *
 * @since 0.1.0 @category Encoding
 */
export const streamEncoder = (request: Request): StreamEncoder => {
  const echoed = echo(request)
  let sequence = 0
  let head: Head | undefined
  const items: Array<ItemState> = []
  /** Function calls by their index in the canonical `tool_calls`. */
  const calls = new Map<number, CallState>()
  /** The item being written: always the last one. */
  let open: ItemState | undefined
  let finishReason: string | null | undefined
  let usage: Usage | null | undefined

  const emit = (type: string, fields: Record<string, unknown>) =>
    event(type, { type, sequence_number: sequence++, ...fields })

  const snapshot = (at: Head, status: Status, reason?: IncompleteReason) =>
    responseObject(echoed, at, { status, output: items.map(itemOf), reason, usage })

  const start = (at: Head) => {
    head = at
    const response = snapshot(at, "in_progress")
    return emit("response.created", { response }) + emit("response.in_progress", { response })
  }

  const closePart = (message: MessageState) => {
    const contentIndex = message.parts.length - 1
    const part = message.parts[contentIndex]
    const where = { item_id: message.id, output_index: message.index, content_index: contentIndex }
    const done = part.type === "output_text"
      ? emit("response.output_text.done", { ...where, text: part.text, logprobs: [] })
      : emit("response.refusal.done", { ...where, refusal: part.refusal })
    return done + emit("response.content_part.done", { ...where, part })
  }

  const close = (status: Status) => {
    const item = open
    if (item === undefined) return ""
    open = undefined
    const done = item.kind === "message"
      ? closePart(item)
      : emit("response.function_call_arguments.done", {
        item_id: item.id,
        output_index: item.index,
        name: item.name,
        arguments: item.arguments
      })
    item.status = status
    return done + emit("response.output_item.done", { output_index: item.index, item: itemOf(item) })
  }

  const add = (item: ItemState) => {
    const closed = close("completed")
    items.push(item)
    open = item
    return closed + emit("response.output_item.added", { output_index: item.index, item: itemOf(item) })
  }

  const messageDelta = (at: Head, kind: "output_text" | "refusal", delta: string) => {
    let out = ""
    let message = open
    if (message?.kind !== "message") {
      message = { kind: "message", index: items.length, id: itemId("msg", at.stem, items.length), parts: [], status: "in_progress" }
      out += add(message)
    }
    let part = message.parts.at(-1)
    if (part?.type !== kind) {
      if (part !== undefined) out += closePart(message)
      part = kind === "output_text" ? textPart("") : refusalPart("")
      message.parts.push(part)
      out += emit("response.content_part.added", {
        item_id: message.id,
        output_index: message.index,
        content_index: message.parts.length - 1,
        part
      })
    }
    const where = { item_id: message.id, output_index: message.index, content_index: message.parts.length - 1 }
    if (part.type === "output_text") {
      part.text += delta
      return out + emit("response.output_text.delta", { ...where, delta, logprobs: [] })
    }
    part.refusal += delta
    return out + emit("response.refusal.delta", { ...where, delta })
  }

  const toolDelta = (at: Head, fragment: ToolCallFragment) => {
    let out = ""
    let call = calls.get(fragment.index)
    if (call === undefined) {
      call = {
        kind: "call",
        index: items.length,
        id: itemId("fc", at.stem, items.length),
        callId: fragment.id ?? "",
        name: fragment.function?.name ?? "",
        arguments: "",
        status: "in_progress"
      }
      calls.set(fragment.index, call)
      out += add(call)
    }
    const delta = fragment.function?.arguments
    if (!delta) return out
    call.arguments += delta
    return out + emit("response.function_call_arguments.delta", { item_id: call.id, output_index: call.index, delta })
  }

  return {
    chunk: (chunk) => {
      const at = head ?? { stem: idStem(chunk.id), created: chunk.created, model: chunk.model }
      let out = head === undefined ? start(at) : ""
      for (const choice of chunk.choices) {
        const delta = choice.delta
        if (delta.content) out += messageDelta(at, "output_text", delta.content)
        if (delta.refusal) out += messageDelta(at, "refusal", delta.refusal)
        for (const fragment of delta.tool_calls ?? []) out += toolDelta(at, fragment)
        if (choice.finish_reason != null) finishReason = choice.finish_reason
      }
      if (chunk.usage != null) usage = chunk.usage
      return out
    },
    end: () => {
      // The gateway answers a stream that ends before its first chunk with an error status.
      if (head === undefined) return ""
      const reason = incompleteReason(finishReason)
      const closed = close(closingStatus(reason))
      const response = snapshot(head, closingStatus(reason), reason)
      return closed + emit(reason === undefined ? "response.completed" : "response.incomplete", { response })
    },
    // The documented event has code, message and param at the top; OpenAI also nests them in
    // `error`, which is what the SDK's stream reader turns into a thrown APIError.
    error: (info: ErrorInfo) =>
      emit("error", { code: info.code, message: info.message, param: info.param, error: openAi(info).error })
  }
}
