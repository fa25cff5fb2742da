/**
 * OpenAI's legacy Completions API (`POST /v1/completions`,
 * https://platform.openai.com/docs/api-reference/completions) as an inbound wire format: one
 * text prompt becomes one user message of a canonical chat request, and the chat answer comes
 * back as `text_completion` choices.
 *
 * Refused, because a chat model cannot honour them: several prompts or token arrays, `echo`,
 * `suffix`, `best_of` above 1 and `logprobs`. Fields the format does not define are not
 * forwarded.
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatResponse } from "@switchyard/core/ChatSchema"
import { ChatRequest } from "@switchyard/core/ChatSchema"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { ErrorInfo } from "../HttpErrors.js"
import { openAi } from "../HttpErrors.js"
import { decoder, done, event, idStem, onlyFalse, openStruct, present, refused, type StreamEncoder, streamed } from "./Codec.js"

// ---------------------------------------------------------------------------------------------
// Requests

const unsupported = "Not supported: chat models cannot honour it."

/** One text prompt: a string, or an array of exactly one string. */
const Prompt = Schema.Union(Schema.String, Schema.Array(Schema.Unknown)).pipe(
  Schema.filter((prompt) => typeof prompt === "string" || (prompt.length === 1 && typeof prompt[0] === "string"), {
    message: () =>
      "This gateway takes one text prompt per request: a string or an array of one string (not token arrays, not several prompts)."
  })
)

const fields = ChatRequest.fields

const CompletionRequest = openStruct({
  model: fields.model,
  prompt: Prompt,
  max_tokens: fields.max_tokens,
  temperature: fields.temperature,
  top_p: fields.top_p,
  n: fields.n,
  stop: fields.stop,
  presence_penalty: fields.presence_penalty,
  frequency_penalty: fields.frequency_penalty,
  seed: fields.seed,
  user: Schema.optional(Schema.NullOr(Schema.String)),
  logit_bias: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Number }))),
  stream: fields.stream,
  echo: onlyFalse(unsupported),
  suffix: refused(unsupported),
  best_of: Schema.optional(Schema.NullOr(Schema.Int.pipe(
    Schema.filter((n) => n <= 1, { message: () => "Values above 1 are not supported: chat models cannot honour them." })
  ))),
  logprobs: refused(unsupported)
})
type CompletionRequest = typeof CompletionRequest.Type

const decodeCompletion = decoder(CompletionRequest)

/** The legacy API's documented default for `max_tokens`. */
const defaultMaxTokens = 16

/** The parameters that mean the same in both formats, when set. */
const copied = ["temperature", "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "seed", "user", "logit_bias"] as const

const toChat = (req: CompletionRequest): ChatRequest => ({
  model: req.model,
  messages: [{ role: "user", content: typeof req.prompt === "string" ? req.prompt : String(req.prompt[0]) }],
  max_tokens: req.max_tokens ?? defaultMaxTokens,
  ...present(req, copied),
  ...(req.stream === true ? streamed() : {})
})

/**
 * Completions request -> canonical chat request.
 *
 * @since 0.1.0 @category Decoding
 */
export const decodeRequest = (body: unknown): Either.Either<ChatRequest, InvalidRequest> =>
  Either.map(decodeCompletion(body), toChat)

// ---------------------------------------------------------------------------------------------
// Answers

const completionId = (id: string) => `cmpl-${idStem(id)}`

/** `system_fingerprint`, which the canonical objects carry through when the upstream sent one. */
const fingerprint = (source: Readonly<Record<string, unknown>>) =>
  typeof source.system_fingerprint === "string" ? { system_fingerprint: source.system_fingerprint } : {}

const choice = (index: number, text: string, finishReason: string | null) => ({
  text,
  index,
  logprobs: null,
  finish_reason: finishReason
})

/**
 * Canonical answer -> `text_completion` object.
 *
 * @since 0.1.0 @category Encoding
 */
export const encodeResponse = (res: ChatResponse): Record<string, unknown> => ({
  id: completionId(res.id),
  object: "text_completion",
  created: res.created,
  model: res.model,
  choices: res.choices.map((c) => choice(c.index, c.message.content ?? "", c.finish_reason)),
  ...(res.usage === undefined ? {} : { usage: res.usage }),
  ...fingerprint(res)
})

/**
 * A writer of the Completions event stream: one `text_completion` chunk per canonical chunk
 * with text or a finish reason, then `data: [DONE]`. `includeUsage`: whether the client asked
 * for `stream_options.include_usage`; then every chunk has `usage: null` and the usage comes
 * in a last chunk with no choices, as the API documents.
 *
 * @since 0.1.0 @category Encoding
 */
export const streamEncoder = (includeUsage: boolean): StreamEncoder => {
  const envelope = (chunk: ChatChunk) => ({
    id: completionId(chunk.id),
    object: "text_completion",
    created: chunk.created,
    model: chunk.model,
    ...fingerprint(chunk)
  })
  const texts = (chunk: ChatChunk) => {
    const choices = []
    for (const c of chunk.choices) {
      const text = c.delta.content ?? ""
      if (text !== "" || c.finish_reason != null) choices.push(choice(c.index, text, c.finish_reason ?? null))
    }
    if (choices.length === 0) return ""
    return event(undefined, includeUsage ? { ...envelope(chunk), choices, usage: null } : { ...envelope(chunk), choices })
  }
  return {
    chunk: (chunk) =>
      includeUsage && chunk.usage != null
        ? texts(chunk) + event(undefined, { ...envelope(chunk), choices: [], usage: chunk.usage })
        : texts(chunk),
    end: done,
    error: (info: ErrorInfo) => event(undefined, openAi(info))
  }
}
