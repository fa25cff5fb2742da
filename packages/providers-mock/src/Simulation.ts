/**
 * The simulation engine shared by the in-process provider (`MockProvider`) and the HTTP
 * upstream (`MockUpstream`): pure functions from a request and settings to the answer an
 * OpenAI-compatible upstream would give. Nothing here waits, draws random numbers or reads
 * the clock; the front ends do that and pass the results in.
 *
 * The simulator is honest about what it is: every text answer says it is simulated.
 *
 * Rules, all deterministic:
 * - **Text.** A plain answer is the sentence "This is a simulated answer from the Switchyard
 *   mock provider." repeated and cut to exactly `tokens` words. One word is one token.
 * - **Limits.** When the request sets `max_completion_tokens` (or `max_tokens`) below the
 *   length of a text answer, the answer is cut to that many words and `finish_reason` is
 *   `"length"`, as an OpenAI model would do.
 * - **Usage.** `prompt_tokens` is `ceil(chars / 4)`, at least 1, where `chars` counts the
 *   characters of every message's text (string contents, `text` parts, tool call arguments).
 *   `completion_tokens` is the number of words of a text answer (so `tokens` for a plain
 *   one); for a tool call it is `ceil(chars / 4)` of the function name and arguments.
 * - **Tools round trip.** If the request has `tools`, `tool_choice` is not `"none"` and the
 *   last message is from the user, the answer is a call to the first tool (or to the tool
 *   `tool_choice` names) with arguments `"{}"` and `finish_reason` `"tool_calls"`. If the last
 *   message is a `tool` message, the answer is a text that quotes the tool's result.
 * - **Prefill.** If the last message is an assistant message marked `prefix: true` (or the
 *   body sets vLLM's `continue_final_message`), the answer continues it: the rest of the plain
 *   answer after the prefill when the prefill is its beginning, else the whole plain answer.
 *   So a stream broken off and continued elsewhere reads exactly like an unbroken one.
 * - **Streams.** The plain answer is spread over exactly `chunks` content chunks (some empty
 *   when `chunks` exceeds `tokens`); any other text answer (cut by a limit, or quoting a tool
 *   result) over `min(chunks, its words)`; a tool call is one chunk.
 * - **One choice.** `n` is ignored: there is always exactly one choice.
 * - **Embeddings.** Each input's vector has `dimensions` values (default 16), drawn from a
 *   generator seeded by a hash of the input and scaled to unit length: the same text always
 *   has the same vector, different texts almost surely differ. Usage counts `ceil(chars / 4)`
 *   per text input and one token per token id.
 * - **Images.** `n` copies (default 1) of a 1x1 transparent PNG, in base64, or as a `data:` URL
 *   when `response_format` is `url`; `revised_prompt` repeats the prompt.
 *
 * @since 0.1.0
 */
import type * as ChatSchema from "@switchyard/core/ChatSchema"
import * as EmbeddingSchema from "@switchyard/core/EmbeddingSchema"
import type * as ImageSchema from "@switchyard/core/ImageSchema"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0 @category Models
 */
export interface Options {
  /** Before the answer, the error, or the first chunk. Default 0. */
  readonly latency?: Duration.DurationInput
  /** Completion tokens (words) of a plain answer. Default 16. */
  readonly tokens?: number
  /** 0..1: the fraction of requests that fail with a simulated upstream error. Default 0. */
  readonly errorRate?: number
  /** The HTTP status of a simulated error. Default 503. */
  readonly errorStatus?: number
  /** How many content chunks a streamed answer has. Default `tokens`, at least 1. */
  readonly chunks?: number
  /** Before each content chunk of a stream. Default 0. */
  readonly chunkDelay?: Duration.DurationInput
}

const Millis = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

// `exact`: an absent key stays absent, so the decoded value is an `Options` under exactOptionalPropertyTypes.
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * `Options` as written in a config file, with snake_case keys and durations in milliseconds:
 * `latency_ms`, `tokens`, `error_rate`, `error_status`, `chunks`, `chunk_delay_ms`. Its decoded
 * type is assignable to `Options`.
 *
 * @since 0.1.0 @category Schemas
 */
export const OptionsSchema = Schema.Struct({
  latency: optional(Millis).pipe(Schema.fromKey("latency_ms")),
  tokens: optional(Schema.Int.pipe(Schema.nonNegative())),
  errorRate: optional(Schema.Number.pipe(Schema.between(0, 1))).pipe(Schema.fromKey("error_rate")),
  errorStatus: optional(Schema.Int.pipe(Schema.between(400, 599))).pipe(Schema.fromKey("error_status")),
  chunks: optional(Schema.Int.pipe(Schema.positive())),
  chunkDelay: optional(Millis).pipe(Schema.fromKey("chunk_delay_ms"))
})

/**
 * Options with every default applied, durations in milliseconds, and the plain answer
 * prepared once (it is the same for every request).
 *
 * @since 0.1.0 @category Models
 */
export interface Settings {
  readonly latencyMillis: number
  readonly tokens: number
  readonly errorRate: number
  readonly errorStatus: number
  readonly chunks: number
  readonly chunkDelayMillis: number
  /** The plain answer, `tokens` words. */
  readonly text: string
  /** The plain answer split over `chunks` stream chunks; joined, they give `text`. */
  readonly pieces: ReadonlyArray<string>
  /** The `choices` of each content chunk of the plain answer, shared by every stream. */
  readonly contentChoices: ReadonlyArray<Choices>
}

const toMillis = (input: Duration.DurationInput | undefined): number =>
  input === undefined ? 0 : Math.max(0, Duration.toMillis(Duration.decode(input)))

const wholeAtLeast = (min: number, value: number): number =>
  Number.isFinite(value) ? Math.max(min, Math.floor(value)) : min

/**
 * Applies the defaults and clamps out-of-range values (a negative token count is 0, an
 * error rate above 1 is 1).
 *
 * @since 0.1.0 @category Constructors
 */
export const settings = (options: Options = {}): Settings => {
  const tokens = wholeAtLeast(0, options.tokens ?? 16)
  const chunks = wholeAtLeast(1, options.chunks ?? tokens)
  const text = answerText(tokens)
  const pieces = split(text, chunks)
  return {
    latencyMillis: toMillis(options.latency),
    tokens,
    errorRate: Math.min(1, Math.max(0, options.errorRate ?? 0)),
    errorStatus: options.errorStatus ?? 503,
    chunks,
    chunkDelayMillis: toMillis(options.chunkDelay),
    text,
    pieces,
    contentChoices: pieces.map((piece) => known(choicesOf({ content: piece }, null)))
  }
}

const sentence = "This is a simulated answer from the Switchyard mock provider.".split(" ")

/**
 * The plain answer: the simulator's sentence repeated and cut to exactly `tokens` words.
 *
 * @since 0.1.0 @category Text
 */
export const answerText = (tokens: number): string => {
  const words = new Array<string>(tokens)
  for (let i = 0; i < tokens; i++) words[i] = sentence[i % sentence.length]!
  return words.join(" ")
}

const words = (text: string): ReadonlyArray<string> => text === "" ? [] : text.split(" ")

/**
 * Splits a text into `parts` pieces at word boundaries, as evenly as the words allow; the
 * pieces joined give the text back. With fewer words than parts, some pieces are empty.
 *
 * @since 0.1.0 @category Text
 */
export const split = (text: string, parts: number): ReadonlyArray<string> => {
  const ws = words(text)
  const out = new Array<string>(parts)
  for (let i = 0; i < parts; i++) {
    const from = Math.floor((i * ws.length) / parts)
    const to = Math.floor(((i + 1) * ws.length) / parts)
    let piece = ""
    for (let j = from; j < to; j++) piece += j === 0 ? ws[j] : ` ${ws[j]}`
    out[i] = piece
  }
  return out
}

const contentText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  let text = ""
  for (const part of content) {
    if (part !== null && typeof part === "object" && typeof part.text === "string") text += part.text
  }
  return text
}

const estimate = (chars: number): number => Math.max(1, Math.ceil(chars / 4))

/**
 * `ceil(chars / 4)`, at least 1, over the text of every message: string contents, `text`
 * parts and assistant tool call arguments. Images and other parts count nothing.
 *
 * @since 0.1.0 @category Text
 */
export const promptTokens = (req: ChatSchema.ChatRequest): number => {
  let chars = 0
  for (const message of req.messages) {
    chars += contentText(message.content).length
    if (message.role === "assistant" && message.tool_calls !== undefined) {
      for (const call of message.tool_calls) chars += call.function.arguments.length
    }
  }
  return estimate(chars)
}

/** FNV-1a over the text's UTF-16 code units: a seed that depends on every character. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** xorshift32 from a seed: values in [-1, 1). */
const vectorOf = (seed: number, dimensions: number): Array<number> => {
  let x = seed === 0 ? 1 : seed
  const values: Array<number> = []
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const v = (x >>> 0) / 0x80000000 - 1
    values.push(v)
    norm += v * v
  }
  const scale = norm === 0 ? 1 : 1 / Math.sqrt(norm)
  return values.map((v) => v * scale)
}

/**
 * The simulated embeddings of a request.
 *
 * @since 0.1.0 @category Embeddings
 */
export const embeddings = (req: EmbeddingSchema.EmbeddingRequest): EmbeddingSchema.EmbeddingResponse => {
  const dimensions = req.dimensions ?? 16
  let tokens = 0
  const vectors = EmbeddingSchema.inputs(req.input).map((input) => {
    const text = typeof input === "string" ? input : input.join(" ")
    tokens += typeof input === "string" ? estimate(input.length) : input.length
    return vectorOf(hash(text), dimensions)
  })
  return EmbeddingSchema.response(req, vectors, { prompt_tokens: tokens, total_tokens: tokens })
}

/** A 1x1 transparent PNG. */
const pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

/**
 * The simulated images of a request, made at `created` (seconds).
 *
 * @since 0.1.0 @category Images
 */
export const images = (req: ImageSchema.ImageRequest, created: number): ImageSchema.ImageResponse => ({
  created,
  data: Array.from({ length: req.n ?? 1 }, (): ImageSchema.Image =>
    req.response_format === "url"
      ? { url: `data:image/png;base64,${pixel}`, revised_prompt: req.prompt }
      : { b64_json: pixel, revised_prompt: req.prompt })
})

/**
 * What the simulator answers to a request, before it is dressed as a response or chunks.
 *
 * @since 0.1.0 @category Models
 */
export type Answer =
  | { readonly _tag: "Text"; readonly text: string; readonly finishReason: "stop" | "length"; readonly completionTokens: number }
  | {
    readonly _tag: "ToolCall"
    readonly id: string
    readonly name: string
    readonly arguments: string
    readonly completionTokens: number
  }

const toolToCall = (req: ChatSchema.ChatRequest): string | undefined => {
  const tools = req.tools
  if (tools === undefined || tools.length === 0 || req.tool_choice === "none") return undefined
  const choice = req.tool_choice
  return typeof choice === "object" ? choice.function.name : tools[0]!.function.name
}

const completionLimit = (req: ChatSchema.ChatRequest): number | undefined =>
  req.max_completion_tokens ?? req.max_tokens ?? undefined

const textAnswer = (req: ChatSchema.ChatRequest, text: string, length: number): Answer => {
  const limit = completionLimit(req)
  if (limit !== undefined && limit < length) {
    return { _tag: "Text", text: words(text).slice(0, limit).join(" "), finishReason: "length", completionTokens: limit }
  }
  return { _tag: "Text", text, finishReason: "stop", completionTokens: length }
}

/**
 * Chooses the answer by the rules in the module's description. `id` names the tool call,
 * if the answer is one.
 *
 * @since 0.1.0 @category Answers
 */
export const answer = (req: ChatSchema.ChatRequest, settings: Settings, id: string): Answer => {
  const last = req.messages[req.messages.length - 1]
  if (last?.role === "assistant" && (last["prefix"] === true || req["continue_final_message"] === true)) {
    // A prefill: continue the simulator's own answer after it (or give the whole answer after
    // a prefill it did not write), as a real model continues the text it is handed.
    const prefill = contentText(last.content)
    const rest = settings.text.startsWith(prefill) ? settings.text.slice(prefill.length) : settings.text
    return textAnswer(req, rest, words(rest.trim()).length)
  }
  if (last?.role === "tool") {
    const text = `This is a simulated answer from the Switchyard mock provider. The tool returned: ${
      contentText(last.content)
    }`
    return textAnswer(req, text, words(text).length)
  }
  if (last?.role === "user") {
    const name = toolToCall(req)
    if (name !== undefined) {
      return {
        _tag: "ToolCall",
        id: `call_${id.replace(/^chatcmpl-/, "")}`,
        name,
        arguments: "{}",
        completionTokens: estimate(name.length + 2)
      }
    }
  }
  return textAnswer(req, settings.text, settings.tokens)
}

/**
 * Identity of one simulated answer: the completion id (`chatcmpl-mock-...`) and its creation
 * time in Unix seconds.
 *
 * @since 0.1.0 @category Models
 */
export interface Meta {
  readonly id: string
  readonly created: number
}

const usageOf = (req: ChatSchema.ChatRequest, answer: Answer): ChatSchema.Usage => {
  const prompt = promptTokens(req)
  return { prompt_tokens: prompt, completion_tokens: answer.completionTokens, total_tokens: prompt + answer.completionTokens }
}

/**
 * The non-streaming answer: a `chat.completion` for the requested model.
 *
 * @since 0.1.0 @category Answers
 */
export const response = (req: ChatSchema.ChatRequest, settings: Settings, meta: Meta): ChatSchema.ChatResponse => {
  const a = answer(req, settings, meta.id)
  const choice = a._tag === "Text"
    ? { index: 0, message: { role: "assistant" as const, content: a.text, refusal: null }, finish_reason: a.finishReason }
    : {
      index: 0,
      message: {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: a.id, type: "function" as const, function: { name: a.name, arguments: a.arguments } }],
        refusal: null
      },
      finish_reason: "tool_calls"
    }
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: req.model,
    choices: [choice],
    usage: usageOf(req, a)
  }
}

/**
 * A streamed answer in three parts, so each front end can pace it: `first` is sent after the
 * latency, each of `content` after the chunk delay, and `last` right after the content.
 *
 * @since 0.1.0 @category Models
 */
export interface StreamPlan {
  /** `delta: { role: "assistant", content: "" }` (content `null` before a tool call). */
  readonly first: ChatSchema.ChatChunk
  /** `settings.chunks` content deltas, or one tool call delta. */
  readonly content: ReadonlyArray<ChatSchema.ChatChunk>
  /** The chunk with `finish_reason`, then, if the request asked for usage, `choices: []` + usage. */
  readonly last: ReadonlyArray<ChatSchema.ChatChunk>
}

type Delta = ChatSchema.ChatChunk["choices"][number]["delta"]

/**
 * The `choices` of a stream chunk.
 *
 * @since 0.1.0 @category Models
 */
export type Choices = ChatSchema.ChatChunk["choices"]

const choicesOf = (delta: Delta, finishReason: string | null): Choices => [{ index: 0, delta, finish_reason: finishReason }]

// The JSON of `choices` arrays that every stream shares (immutable), so that encoding a
// stream stringifies only what differs per request.
const encodedChoices = new WeakMap<Choices, string>()

const known = (choices: Choices): Choices => {
  encodedChoices.set(choices, JSON.stringify(choices))
  return choices
}

const firstText = known(choicesOf({ role: "assistant", content: "" }, null))
const firstToolCall = known(choicesOf({ role: "assistant", content: null }, null))
const finishes: Record<string, Choices> = {
  stop: known(choicesOf({}, "stop")),
  length: known(choicesOf({}, "length")),
  tool_calls: known(choicesOf({}, "tool_calls"))
}

// Fixed object shapes: the upstream builds ~20 chunks per request.
const chunkOf = (req: ChatSchema.ChatRequest, meta: Meta, includeUsage: boolean, choices: Choices): ChatSchema.ChatChunk =>
  includeUsage
    ? { id: meta.id, object: "chat.completion.chunk", created: meta.created, model: req.model, choices, usage: null }
    : { id: meta.id, object: "chat.completion.chunk", created: meta.created, model: req.model, choices }

const contentChoices = (settings: Settings, text: string): ReadonlyArray<Choices> =>
  text === settings.text
    ? settings.contentChoices
    : split(text, Math.max(1, Math.min(settings.chunks, words(text).length))).map((piece) =>
      choicesOf({ content: piece }, null)
    )

/**
 * The streamed answer, chunk by chunk, exactly as OpenAI streams it: when the request sets
 * `stream_options.include_usage`, every chunk carries `usage: null` and a final chunk with
 * empty `choices` carries the usage.
 *
 * @since 0.1.0 @category Answers
 */
export const streamPlan = (req: ChatSchema.ChatRequest, settings: Settings, meta: Meta): StreamPlan => {
  const a = answer(req, settings, meta.id)
  const includeUsage = req.stream_options?.include_usage === true
  let content: Array<ChatSchema.ChatChunk>
  if (a._tag === "Text") {
    const choices = contentChoices(settings, a.text)
    content = new Array(choices.length)
    for (let i = 0; i < choices.length; i++) content[i] = chunkOf(req, meta, includeUsage, choices[i]!)
  } else {
    const call = { index: 0, id: a.id, type: "function" as const, function: { name: a.name, arguments: a.arguments } }
    content = [chunkOf(req, meta, includeUsage, choicesOf({ tool_calls: [call] }, null))]
  }
  const finish = chunkOf(req, meta, includeUsage, finishes[a._tag === "Text" ? a.finishReason : "tool_calls"]!)
  const last: ReadonlyArray<ChatSchema.ChatChunk> = includeUsage
    ? [finish, {
      id: meta.id,
      object: "chat.completion.chunk",
      created: meta.created,
      model: req.model,
      choices: [],
      usage: usageOf(req, a)
    }]
    : [finish]
  const first = chunkOf(req, meta, includeUsage, a._tag === "Text" ? firstText : firstToolCall)
  return { first, content, last }
}

/**
 * A stream plan as Server-Sent Events: each chunk is one `data: <json>\n\n` event, the JSON
 * identical to `JSON.stringify(chunk)`. `last` holds all the closing events in one string
 * (without `data: [DONE]`, which belongs to the transport).
 *
 * @since 0.1.0 @category Models
 */
export interface EncodedStream {
  readonly first: string
  readonly content: ReadonlyArray<string>
  readonly last: string
}

const encodeChunk = (prefix: string, chunk: ChatSchema.ChatChunk): string =>
  prefix + (encodedChoices.get(chunk.choices) ?? JSON.stringify(chunk.choices)) +
  (chunk.usage === undefined ? "}\n\n" : `,"usage":${JSON.stringify(chunk.usage)}}\n\n`)

/**
 * Encodes a plan from `streamPlan` for the wire. Only what differs per request is
 * stringified: the plan's chunks share one id, creation time and model, and the `choices` of
 * the plain answer are encoded once per `Settings`.
 *
 * @since 0.1.0 @category Answers
 */
export const encodeStream = (plan: StreamPlan): EncodedStream => {
  const { created, id, model } = plan.first
  const prefix = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${
    JSON.stringify(created)
  },"model":${JSON.stringify(model)},"choices":`
  const content = new Array<string>(plan.content.length)
  for (let i = 0; i < plan.content.length; i++) content[i] = encodeChunk(prefix, plan.content[i]!)
  let last = ""
  for (const chunk of plan.last) last += encodeChunk(prefix, chunk)
  return { first: encodeChunk(prefix, plan.first), content, last }
}

/**
 * The whole stream as one array: `first`, `content`, `last`.
 *
 * @since 0.1.0 @category Answers
 */
export const streamChunks = (req: ChatSchema.ChatRequest, settings: Settings, meta: Meta): ReadonlyArray<ChatSchema.ChatChunk> => {
  const plan = streamPlan(req, settings, meta)
  return [plan.first, ...plan.content, ...plan.last]
}

/**
 * Whether a request fails, given a uniform draw in [0, 1).
 *
 * @since 0.1.0 @category Errors
 */
export const fails = (settings: Settings, draw: number): boolean => draw < settings.errorRate

/**
 * The OpenAI error envelope `{ error: { message, type, param, code } }`.
 *
 * @since 0.1.0 @category Errors
 */
export const errorEnvelope = (message: string, type: string, code: string | null) => ({
  error: { message, type, param: null, code }
})

const errorType = (status: number): string =>
  status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error"

/**
 * A simulated upstream error: its status, the parts of its envelope, and the envelope as JSON.
 *
 * @since 0.1.0 @category Errors
 */
export interface SimulatedError {
  readonly status: number
  readonly message: string
  readonly type: string
  readonly code: string
  readonly body: string
}

/**
 * The error a request that `fails` gets.
 *
 * @since 0.1.0 @category Errors
 */
export const simulatedError = (status: number): SimulatedError => {
  const message = `Simulated upstream error (status ${status}) from the Switchyard mock provider`
  const type = errorType(status)
  const code = "simulated_error"
  return { status, message, type, code, body: JSON.stringify(errorEnvelope(message, type, code)) }
}

/**
 * What `GET /models` lists when no models are configured.
 *
 * @since 0.1.0 @category Models
 */
export const defaultModel = "mock-1"

/**
 * A model entry for model lists.
 *
 * @since 0.1.0 @category Models
 */
export const modelInfo = (id: string): ChatSchema.ModelInfo => ({
  id,
  object: "model",
  created: 0,
  owned_by: "switchyard-mock"
})
