/**
 * The canonical image generation shapes: OpenAI's `POST /v1/images/generations`
 * (https://platform.openai.com/docs/api-reference/images/create). Every adapter that makes
 * images answers in this shape.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** @since 0.1.0 @category Schemas */
export const ImageRequest = Schema.Struct({
  model: Schema.String.pipe(Schema.minLength(1, { message: () => "model must be a non-empty string" })),
  prompt: Schema.String.pipe(Schema.minLength(1, { message: () => "prompt must be a non-empty string" })),
  n: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, 10)))),
  size: Schema.optional(Schema.NullOr(Schema.String)),
  quality: Schema.optional(Schema.NullOr(Schema.String)),
  /** `url` or `b64_json`; GPT image models always answer `b64_json`. */
  response_format: Schema.optional(Schema.NullOr(Schema.Literal("url", "b64_json"))),
  style: Schema.optional(Schema.NullOr(Schema.String)),
  background: Schema.optional(Schema.NullOr(Schema.String)),
  output_format: Schema.optional(Schema.NullOr(Schema.String)),
  output_compression: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 100)))),
  moderation: Schema.optional(Schema.NullOr(Schema.String)),
  user: Schema.optional(Schema.String)
}, Extra)
export type ImageRequest = typeof ImageRequest.Type

/** @since 0.1.0 @category Models */
export interface Image {
  readonly b64_json?: string | undefined
  readonly url?: string | undefined
  readonly revised_prompt?: string | undefined
}

/** Token usage, reported by GPT image models. @since 0.1.0 @category Models */
export interface ImageUsage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly total_tokens: number
  readonly [key: string]: unknown
}

/** @since 0.1.0 @category Models */
export interface ImageResponse {
  readonly created: number
  readonly data: ReadonlyArray<Image>
  readonly usage?: ImageUsage | undefined
  /** What the vendor says besides (`size`, `quality`, `output_format`, ...), kept. */
  readonly [key: string]: unknown
}
