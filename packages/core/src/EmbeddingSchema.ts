/**
 * The canonical embeddings shapes: OpenAI's `POST /v1/embeddings`
 * (https://platform.openai.com/docs/api-reference/embeddings/create). Every adapter that embeds
 * answers in this shape, whatever its vendor returns.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const Tokens = Schema.Array(Schema.Int).pipe(Schema.minItems(1))

/**
 * One string, an array of strings, an array of token ids, or an array of token arrays.
 *
 * @since 0.1.0 @category Schemas
 */
export const Input = Schema.Union(
  Schema.String,
  Schema.Array(Schema.String).pipe(Schema.minItems(1)),
  Tokens,
  Schema.Array(Tokens).pipe(Schema.minItems(1))
).annotations({
  message: () => ({
    message: "input must be a string, a non-empty array of strings, of token ids, or of token id arrays",
    override: true
  })
})
export type Input = typeof Input.Type

/** @since 0.1.0 @category Schemas */
export const EmbeddingRequest = Schema.Struct({
  model: Schema.String.pipe(Schema.minLength(1, { message: () => "model must be a non-empty string" })),
  input: Input,
  /** `base64`: each vector as little-endian float32s in base64 (what the `openai` SDK asks for). */
  encoding_format: Schema.optional(Schema.Literal("float", "base64")),
  dimensions: Schema.optional(Schema.Int.pipe(Schema.positive())),
  user: Schema.optional(Schema.String)
}, Extra)
export type EmbeddingRequest = typeof EmbeddingRequest.Type

/** @since 0.1.0 @category Models */
export interface Embedding {
  readonly object: "embedding"
  readonly index: number
  /** Floats, or a base64 string when the request asked for `encoding_format: base64`. */
  readonly embedding: ReadonlyArray<number> | string
}

/** @since 0.1.0 @category Models */
export interface EmbeddingUsage {
  readonly prompt_tokens: number
  readonly total_tokens: number
}

/** @since 0.1.0 @category Models */
export interface EmbeddingResponse {
  readonly object: "list"
  readonly data: ReadonlyArray<Embedding>
  readonly model: string
  readonly usage: EmbeddingUsage
}

/**
 * The inputs as a list: one string or token array becomes a list of one.
 *
 * @since 0.1.0 @category Accessors
 */
export const inputs = (input: Input): ReadonlyArray<string | ReadonlyArray<number>> =>
  typeof input === "string" ? [input] : typeof input[0] === "number" ? [input as ReadonlyArray<number>] : input as ReadonlyArray<string | ReadonlyArray<number>>

/**
 * A vector as OpenAI's `base64` encoding: its float32 values, little-endian, in base64.
 *
 * @since 0.1.0 @category Encoding
 */
export const toBase64 = (vector: ReadonlyArray<number>): string => {
  const floats = new Float32Array(vector)
  const bytes = new Uint8Array(floats.buffer)
  // Float32Array uses the platform's byte order; every platform Node runs on is little-endian.
  return Buffer.from(bytes).toString("base64")
}

/**
 * The answer for vectors a vendor returned as floats, in the encoding the request asked for.
 *
 * @since 0.1.0 @category Constructors
 */
export const response = (
  req: EmbeddingRequest,
  vectors: ReadonlyArray<ReadonlyArray<number>>,
  usage: EmbeddingUsage
): EmbeddingResponse => ({
  object: "list",
  data: vectors.map((vector, index): Embedding => ({
    object: "embedding",
    index,
    embedding: req.encoding_format === "base64" ? toBase64(vector) : vector
  })),
  model: req.model,
  usage
})
