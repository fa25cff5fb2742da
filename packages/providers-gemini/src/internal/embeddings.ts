/**
 * Embeddings (canonical: OpenAI `POST /v1/embeddings`) on Google's two APIs, which take and
 * answer them differently:
 * - the Gemini API, `POST /v1beta/models/{model}:batchEmbedContents`
 *   (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents): one
 *   `EmbedContentRequest` per input, `{model, content: {parts: [{text}]}, outputDimensionality}`,
 *   answered with `embeddings[].values`. One input goes the same way (a batch of one has the
 *   same answer shape as `:embedContent`, so there is one path). The answer has no token counts;
 * - Vertex AI, `POST .../publishers/google/models/{model}:predict`
 *   (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api):
 *   `{instances: [{content}], parameters: {outputDimensionality}}`, answered with
 *   `predictions[].embeddings.values` and each input's `statistics.token_count`. Vertex AI also
 *   has `:embedContent`, but its text embeddings guide documents `:predict` for every text
 *   embedding model, `gemini-embedding-001` included.
 *
 * Mapped: `input` (text only), `dimensions` -> `outputDimensionality`, and Google's own
 * `task_type` (or `taskType`) and `title`, given to every input. Not sent: `user`. Token ids
 * have no Google counterpart: such a request is refused before anything is sent.
 *
 * Inputs are sent in batches of what one request may carry: at most 100 on the Gemini API
 * (not in its reference, but it refuses more: "at most 100 requests can be in one batch"), 250
 * on Vertex AI, and one for Vertex AI's `gemini-embedding-*` models, which "support one
 * instance per request" (https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings).
 *
 * @internal
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import * as EmbeddingSchema from "@switchyard/core/EmbeddingSchema"
import type { ProviderError, ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { count, isRecord } from "@switchyard/provider-http/Wire"
import * as Either from "effect/Either"
import { native } from "./request.js"
import { parseObject } from "./response.js"

/** What one upstream request answered. @internal */
export interface Batch {
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly tokens: number
}

/** How one of Google's APIs takes and answers embeddings. @internal */
export interface Dialect {
  readonly method: "batchEmbedContents" | "predict"
  /** How many inputs one request may carry for a model. */
  readonly batchSize: (model: string) => number
  /** The body for some of the request's inputs. */
  readonly encode: (texts: ReadonlyArray<string>, req: EmbeddingRequest) => Record<string, unknown>
  /** The vectors (and token count) of an answer, or what is wrong with it. */
  readonly decode: (answer: Record<string, unknown>) => Either.Either<Batch, string>
}

/** What both APIs honour of a canonical request (see above). @internal */
export const support: Capabilities.OperationSupport<"embeddings"> = {
  parameters: { dimensions: true, user: false },
  vendorFields: ["task_type", "taskType", "title"],
  forwardsUnknown: false
}

/**
 * The inputs as texts, or the refusal of token ids.
 *
 * @internal
 */
export const texts = (
  provider: string,
  input: EmbeddingRequest["input"]
): Either.Either<ReadonlyArray<string>, ProviderStatusError> => {
  const all = EmbeddingSchema.inputs(input)
  return all.every((item): item is string => typeof item === "string")
    ? Either.right(all)
    : Either.left(UpstreamErrors.unmappable(provider, "Google's embedding APIs take text only: token ids cannot be sent", "input"))
}

/** @internal */
export const batches = (items: ReadonlyArray<string>, size: number): Array<ReadonlyArray<string>> => {
  const out: Array<ReadonlyArray<string>> = []
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size))
  return out
}

interface Hints {
  readonly taskType: unknown
  readonly title: unknown
}

const hintsOf = (req: EmbeddingRequest): Hints => ({
  taskType: native(req, "taskType", "task_type"),
  title: native(req, "title", "title")
})

const isVector = (u: unknown): u is ReadonlyArray<number> => Array.isArray(u) && u.every((n) => typeof n === "number")

/** The vector of each entry of an answer's list, or `undefined` when one is missing. */
const vectorsOf = (
  list: unknown,
  vectorOf: (entry: Record<string, unknown>) => unknown
): Array<ReadonlyArray<number>> | undefined => {
  if (!Array.isArray(list)) return undefined
  const vectors: Array<ReadonlyArray<number>> = []
  for (const entry of list) {
    const vector = isRecord(entry) ? vectorOf(entry) : undefined
    if (!isVector(vector)) return undefined
    vectors.push(vector)
  }
  return vectors
}

/**
 * The Gemini API's dialect; every request of a batch names the model as the URL does
 * (`modelName`: `models/{id}`).
 *
 * @internal
 */
export const geminiApi = (modelName: (model: string) => string): Dialect => ({
  method: "batchEmbedContents",
  batchSize: () => 100,
  encode: (texts, req) => {
    const { taskType, title } = hintsOf(req)
    const shared: Record<string, unknown> = { model: modelName(req.model) }
    if (req.dimensions !== undefined) shared.outputDimensionality = req.dimensions
    if (taskType !== undefined) shared.taskType = taskType
    if (title !== undefined) shared.title = title
    return { requests: texts.map((text) => ({ ...shared, content: { parts: [{ text }] } })) }
  },
  decode: (answer) => {
    const vectors = vectorsOf(answer.embeddings, (embedding) => embedding.values)
    // The answer has no token counts (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents),
    // so usage is reported as 0 rather than estimated.
    return vectors === undefined
      ? Either.left("expected a BatchEmbedContentsResponse with embeddings[].values")
      : Either.right({ vectors, tokens: 0 })
  }
})

/** @internal */
export const vertex: Dialect = {
  method: "predict",
  batchSize: (model) => /(^|\/)gemini-embedding-/.test(model) ? 1 : 250,
  encode: (texts, req) => {
    const { taskType, title } = hintsOf(req)
    const instances = texts.map((content) => {
      const instance: Record<string, unknown> = { content }
      if (taskType !== undefined) instance.task_type = taskType
      if (title !== undefined) instance.title = title
      return instance
    })
    return req.dimensions === undefined ? { instances } : { instances, parameters: { outputDimensionality: req.dimensions } }
  },
  decode: (answer) => {
    let tokens = 0
    const vectors = vectorsOf(answer.predictions, (prediction) => {
      const embeddings = isRecord(prediction.embeddings) ? prediction.embeddings : {}
      const statistics = isRecord(embeddings.statistics) ? embeddings.statistics : {}
      tokens += count(statistics.token_count) ?? 0
      return embeddings.values
    })
    return vectors === undefined
      ? Either.left("expected a prediction answer with predictions[].embeddings.values")
      : Either.right({ vectors, tokens })
  }
}

/**
 * A 2xx answer to a request for `expected` inputs.
 *
 * @internal
 */
export const parse = (
  provider: string,
  text: string,
  redact: Redactor,
  dialect: Dialect,
  expected: number
): Either.Either<Batch, ProviderError> =>
  Either.flatMap(parseObject(provider, text, redact, "an embeddings answer"), (answer) => {
    const batch = dialect.decode(answer)
    if (Either.isLeft(batch)) return Either.left(UpstreamErrors.outputError(provider, batch.left, redact))
    const got = batch.right.vectors.length
    return got === expected
      ? Either.right(batch.right)
      : Either.left(UpstreamErrors.outputError(provider, `expected ${expected} embeddings, got ${got}`, redact))
  })

/**
 * The canonical answer from the batches' answers, in order, in the encoding the request asked for.
 *
 * @internal
 */
export const response = (req: EmbeddingRequest, answers: ReadonlyArray<Batch>): EmbeddingResponse => {
  const tokens = answers.reduce((sum, batch) => sum + batch.tokens, 0)
  return EmbeddingSchema.response(req, answers.flatMap((batch) => batch.vectors), { prompt_tokens: tokens, total_tokens: tokens })
}
