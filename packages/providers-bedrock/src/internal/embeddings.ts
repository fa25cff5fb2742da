/**
 * The canonical embeddings request (OpenAI's `POST /v1/embeddings`) as Bedrock InvokeModel
 * calls (`POST /model/{modelId}/invoke`,
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html), whose
 * body is each model family's own. Plain code, no Effect.
 *
 * - Amazon Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`) and G1 (`amazon.titan-embed-text-v1`),
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html:
 *   one text per call, `{inputText, dimensions?, normalize?}` (V2; G1 takes `inputText` only)
 *   -> `{embedding, inputTextTokenCount}`. Several inputs are several calls.
 * - Cohere Embed v3 (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`),
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html, and
 *   Cohere Embed v4 (`cohere.embed-v4:0`),
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v4.html: up to
 *   96 texts per call, `{texts, input_type, truncate?}` (v4 also `output_dimension`) ->
 *   `{id, embeddings, response_type, texts}`, where `embeddings` is the float vectors, or (v4
 *   answers either way) `{float: [...]}`. `input_type` is required: `search_document` unless
 *   the request carries Cohere's own `input_type`.
 *
 * Mapped: `input` (strings), `dimensions` (Titan V2 `dimensions`, Cohere v4 `output_dimension`),
 * and the families' own fields a client may send through the open canonical request: Titan V2's
 * `normalize`, Cohere's `input_type` and `truncate` (each sent to its own family only).
 * `encoding_format` is the gateway's: vectors are always asked for as floats, and encoded as the
 * request asks. Dropped: `user` (no counterpart).
 *
 * Not mappable, refused with a 400 before anything is sent: token ids as input (these models take
 * text); `dimensions` for a model of a fixed size (Titan G1, Cohere v3); a model id of neither
 * family (a provisioned-throughput ARN included: its family cannot be told from the id).
 *
 * Usage: Titan answers its input token count in the body. Cohere's body has none; Bedrock's
 * `x-amzn-bedrock-input-token-count` answer header is read instead. That header is not in the
 * InvokeModel API reference (which lists only `Content-Type` and the performance and service
 * tier headers) but Bedrock sends it with InvokeModel answers and client libraries read it
 * (LiteLLM's Bedrock handler, for one); without it the count is 0.
 *
 * @internal
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import * as EmbeddingSchema from "@switchyard/core/EmbeddingSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { ResponseHeaders } from "@switchyard/provider-http/HttpTransport"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { count, isRecord } from "@switchyard/provider-http/Wire"
import * as Either from "effect/Either"

/** What one call answered: a vector per input it took, and the input tokens it counted. @internal */
export interface Batch {
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly tokens: number
}

/**
 * Reads a call's 2xx body (parsed JSON) and headers into the batch of the `expected` inputs it
 * was sent, or says what is wrong with it. @internal
 */
export type Read = (body: unknown, headers: ResponseHeaders, expected: number) => Batch | string

/** How a model family is called. */
interface Family {
  /** How many inputs one call takes. */
  readonly batchSize: number
  /** Whether the model's vector size can be chosen (`dimensions`). */
  readonly sized: boolean
  readonly body: (texts: ReadonlyArray<string>, req: EmbeddingSchema.EmbeddingRequest) => Record<string, unknown>
  readonly read: Read
}

/** One InvokeModel call: its body, and how many inputs it holds. @internal */
export interface Invocation {
  readonly body: Record<string, unknown>
  readonly inputs: number
}

/** The calls of a request, in the order of its inputs, or why it cannot be sent. @internal */
export type Planned =
  | {
    readonly _tag: "Calls"
    readonly invocations: ReadonlyArray<Invocation>
    readonly read: Read
  }
  | { readonly _tag: "Unsupported"; readonly reason: string; readonly param: string }

const isPresent = (value: unknown) => value !== undefined && value !== null

const isVector = (value: unknown): value is ReadonlyArray<number> =>
  Array.isArray(value) && value.every((n) => typeof n === "number")

/** https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html */
const readTitan = (body: unknown): Batch | string => {
  if (!isRecord(body) || !isVector(body.embedding)) return "expected a Titan embeddings answer with an embedding array"
  return { vectors: [body.embedding], tokens: count(body.inputTextTokenCount) ?? 0 }
}

const inputTokenCount = (headers: ResponseHeaders): number => {
  const value = headers["x-amzn-bedrock-input-token-count"]
  const tokens = Number(typeof value === "string" ? value : value?.[0])
  return Number.isInteger(tokens) && tokens >= 0 ? tokens : 0
}

/** `embeddings` as the float vectors (`embeddings_floats`), or by type (`embeddings_by_type`). */
const readCohere = (body: unknown, headers: ResponseHeaders, expected: number): Batch | string => {
  const embeddings = isRecord(body) ? body.embeddings : undefined
  const vectors = isRecord(embeddings) ? embeddings.float : embeddings
  if (!Array.isArray(vectors) || !vectors.every(isVector)) {
    return "expected a Cohere embeddings answer with float embeddings"
  }
  if (vectors.length !== expected) return `expected ${expected} embeddings, got ${vectors.length}`
  return { vectors, tokens: inputTokenCount(headers) }
}

const titan = (sized: boolean): Family => ({
  batchSize: 1,
  sized,
  body: ([text], req) => {
    const body: Record<string, unknown> = { inputText: text }
    if (sized) {
      if (req.dimensions !== undefined) body.dimensions = req.dimensions
      if (isPresent(req.normalize)) body.normalize = req.normalize
    }
    return body
  },
  read: readTitan
})

/** https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html: at most 96 texts a call. */
const cohere = (dimensionsField: string | undefined): Family => ({
  batchSize: 96,
  sized: dimensionsField !== undefined,
  body: (texts, req) => {
    const body: Record<string, unknown> = {
      texts,
      input_type: isPresent(req.input_type) ? req.input_type : "search_document"
    }
    if (isPresent(req.truncate)) body.truncate = req.truncate
    if (dimensionsField !== undefined && req.dimensions !== undefined) body[dimensionsField] = req.dimensions
    return body
  },
  read: readCohere
})

/**
 * The families by model id; a cross-region inference profile (`us.cohere.embed-v4:0`) or an ARN
 * naming the model (`.../inference-profile/eu.amazon.titan-embed-text-v2:0`) is the model's.
 */
const families: ReadonlyArray<readonly [RegExp, Family]> = [
  [/(?:^|[./])amazon\.titan-embed-text-v2/, titan(true)],
  [/(?:^|[./])amazon\.titan-embed-text-v1/, titan(false)],
  [/(?:^|[./])cohere\.embed-(?:english|multilingual)-v3/, cohere(undefined)],
  [/(?:^|[./])cohere\.embed-v4/, cohere("output_dimension")]
]

const familyOf = (model: string): Family | undefined => families.find(([pattern]) => pattern.test(model))?.[1]

const supported = "Amazon Titan Text Embeddings (amazon.titan-embed-text-v2:0, amazon.titan-embed-text-v1) and " +
  "Cohere Embed (cohere.embed-english-v3, cohere.embed-multilingual-v3, cohere.embed-v4:0)"

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * The InvokeModel calls for an embeddings request, or why it cannot be sent.
 *
 * @internal
 */
export const plan = (req: EmbeddingSchema.EmbeddingRequest): Planned => {
  const family = familyOf(req.model)
  if (family === undefined) {
    return {
      _tag: "Unsupported",
      reason: `Amazon Bedrock embeddings are supported for ${supported}, not '${req.model}'`,
      param: "model"
    }
  }
  const texts: Array<string> = []
  for (const input of EmbeddingSchema.inputs(req.input)) {
    if (typeof input !== "string") {
      return {
        _tag: "Unsupported",
        reason: "Amazon Bedrock's embedding models take text, not token ids: send the input as strings",
        param: "input"
      }
    }
    texts.push(input)
  }
  if (req.dimensions !== undefined && !family.sized) {
    return {
      _tag: "Unsupported",
      reason: `'${req.model}' makes vectors of one size: 'dimensions' is taken by Titan Text Embeddings V2 and Cohere Embed v4 only`,
      param: "dimensions"
    }
  }
  return {
    _tag: "Calls",
    invocations: chunks(texts, family.batchSize).map((batch): Invocation => ({
      body: family.body(batch, req),
      inputs: batch.length
    })),
    read: family.read
  }
}

/**
 * One call's 2xx body as its batch: JSON, read by its family.
 *
 * @internal
 */
export const parseBatch = (
  provider: string,
  text: string,
  headers: ResponseHeaders,
  redact: Redactor,
  read: Read,
  expected: number
): Either.Either<Batch, ProviderError> => {
  const parsed = UpstreamErrors.parseJson(provider, text, "the body", redact)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const batch = read(parsed.right, headers, expected)
  return typeof batch === "string" ? Either.left(UpstreamErrors.outputError(provider, batch, redact)) : Either.right(batch)
}

/**
 * The canonical answer from the calls' batches, in the order of the inputs.
 *
 * @internal
 */
export const response = (
  req: EmbeddingSchema.EmbeddingRequest,
  batches: ReadonlyArray<Batch>
): EmbeddingSchema.EmbeddingResponse => {
  const tokens = batches.reduce((sum, batch) => sum + batch.tokens, 0)
  return EmbeddingSchema.response(req, batches.flatMap((batch) => batch.vectors), {
    prompt_tokens: tokens,
    total_tokens: tokens
  })
}

const dimensionValues: ReadonlySet<unknown> = new Set([256, 512, 1024, 1536])

/**
 * What this mapping honours, for the gateway's unsupported-parameter policy.
 *
 * @internal
 */
export const support: Capabilities.OperationSupport<"embeddings"> = {
  parameters: {
    dimensions: Capabilities.partially(
      "Titan Text Embeddings V2 (256, 512, 1024) and Cohere Embed v4 (256, 512, 1024, 1536) only",
      (value) => dimensionValues.has(value)
    ),
    user: false
  },
  vendorFields: ["normalize", "input_type", "truncate"],
  forwardsUnknown: false
}
