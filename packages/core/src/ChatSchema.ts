/**
 * The canonical chat shapes. OpenAI Chat Completions is the canonical wire format: every
 * ingress codec decodes into these and every provider adapter encodes from them.
 *
 * Every object schema carries an index signature so that fields this version does not model
 * (new vendor parameters, `metadata`, `service_tier`, ...) survive decoding and are forwarded.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const open = <Fields extends Schema.Struct.Fields>(fields: Fields) => Schema.Struct(fields, Extra)

/** @since 0.1.0 @category Schemas */
export const TextPart = open({ type: Schema.Literal("text"), text: Schema.String })

/** @since 0.1.0 @category Schemas */
export const ImagePart = open({
  type: Schema.Literal("image_url"),
  image_url: open({ url: Schema.String, detail: Schema.optional(Schema.Literal("auto", "low", "high")) })
})

/**
 * Parts this version does not model (audio, files, ...) are kept as they are.
 *
 * @since 0.1.0 @category Schemas
 */
export const OtherPart = open({ type: Schema.String })

/** @since 0.1.0 @category Schemas */
export const ContentPart = Schema.Union(TextPart, ImagePart, OtherPart)
export type ContentPart = typeof ContentPart.Type

/** @since 0.1.0 @category Schemas */
export const ToolCall = open({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: open({ name: Schema.String, arguments: Schema.String })
})
export type ToolCall = typeof ToolCall.Type

const Content = Schema.Union(Schema.String, Schema.Array(ContentPart))

/** @since 0.1.0 @category Schemas */
export const Message = Schema.Union(
  open({ role: Schema.Literal("system"), content: Content, name: Schema.optional(Schema.String) }),
  open({ role: Schema.Literal("developer"), content: Content, name: Schema.optional(Schema.String) }),
  open({ role: Schema.Literal("user"), content: Content, name: Schema.optional(Schema.String) }),
  open({
    role: Schema.Literal("assistant"),
    content: Schema.optional(Schema.NullOr(Content)),
    tool_calls: Schema.optional(Schema.Array(ToolCall)),
    refusal: Schema.optional(Schema.NullOr(Schema.String)),
    name: Schema.optional(Schema.String)
  }),
  open({ role: Schema.Literal("tool"), content: Content, tool_call_id: Schema.String })
)
export type Message = typeof Message.Type

/** @since 0.1.0 @category Schemas */
export const Tool = open({
  type: Schema.Literal("function"),
  function: open({
    name: Schema.String,
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Extra),
    strict: Schema.optional(Schema.NullOr(Schema.Boolean))
  })
})
export type Tool = typeof Tool.Type

/** @since 0.1.0 @category Schemas */
export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  open({ type: Schema.Literal("function"), function: open({ name: Schema.String }) })
)

/** @since 0.1.0 @category Schemas */
export const ResponseFormat = Schema.Union(
  open({ type: Schema.Literal("text") }),
  open({ type: Schema.Literal("json_object") }),
  open({ type: Schema.Literal("json_schema"), json_schema: open({ name: Schema.String }) })
)

const Probability = Schema.Number.pipe(Schema.between(0, 2))

/** @since 0.1.0 @category Schemas */
export const ChatRequest = open({
  model: Schema.String.pipe(Schema.minLength(1, { message: () => "model must be a non-empty string" })),
  messages: Schema.Array(Message).pipe(Schema.minItems(1, { message: () => "messages must not be empty" })),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  stream_options: Schema.optional(Schema.NullOr(open({ include_usage: Schema.optional(Schema.Boolean) }))),
  n: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, 128)))),
  stop: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.String)))),
  temperature: Schema.optional(Schema.NullOr(Probability)),
  top_p: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1)))),
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  presence_penalty: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(-2, 2)))),
  frequency_penalty: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(-2, 2)))),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  user: Schema.optional(Schema.String),
  tools: Schema.optional(Schema.Array(Tool)),
  tool_choice: Schema.optional(ToolChoice),
  parallel_tool_calls: Schema.optional(Schema.Boolean),
  response_format: Schema.optional(ResponseFormat)
})
export type ChatRequest = typeof ChatRequest.Type

/** @since 0.1.0 @category Schemas */
export const Usage = open({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.Number,
  prompt_tokens_details: Schema.optional(Schema.NullOr(open({
    cached_tokens: Schema.optional(Schema.Number),
    cache_creation_tokens: Schema.optional(Schema.Number)
  }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(open({ reasoning_tokens: Schema.optional(Schema.Number) })))
})
export type Usage = typeof Usage.Type

const FinishReason = Schema.NullOr(Schema.String)

/** @since 0.1.0 @category Schemas */
export const AssistantMessage = open({
  role: Schema.Literal("assistant"),
  content: Schema.NullOr(Schema.String),
  tool_calls: Schema.optional(Schema.Array(ToolCall)),
  refusal: Schema.optional(Schema.NullOr(Schema.String))
})

/** @since 0.1.0 @category Schemas */
export const ChatResponse = open({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(open({ index: Schema.Number, message: AssistantMessage, finish_reason: FinishReason })),
  usage: Schema.optional(Usage)
})
export type ChatResponse = typeof ChatResponse.Type

/** A tool call fragment inside a stream delta: only `index` is always present. */
const ToolCallDelta = open({
  index: Schema.Number,
  id: Schema.optional(Schema.String),
  type: Schema.optional(Schema.Literal("function")),
  function: Schema.optional(open({ name: Schema.optional(Schema.String), arguments: Schema.optional(Schema.String) }))
})

/** @since 0.1.0 @category Schemas */
export const ChatChunk = open({
  id: Schema.String,
  object: Schema.Literal("chat.completion.chunk"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(open({
    index: Schema.Number,
    delta: open({
      role: Schema.optional(Schema.Literal("assistant")),
      content: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.Array(ToolCallDelta)),
      refusal: Schema.optional(Schema.NullOr(Schema.String))
    }),
    finish_reason: Schema.optional(FinishReason)
  })),
  usage: Schema.optional(Schema.NullOr(Usage))
})
export type ChatChunk = typeof ChatChunk.Type

/** @since 0.1.0 @category Schemas */
export const ModelInfo = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("model"),
  created: Schema.Number,
  owned_by: Schema.String
})
export type ModelInfo = typeof ModelInfo.Type
