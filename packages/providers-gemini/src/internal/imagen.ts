/**
 * Image generation (canonical: OpenAI `POST /v1/images/generations`) with Imagen, which the
 * Gemini API (https://ai.google.dev/gemini-api/docs/imagen) and Vertex AI
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api) both serve
 * at `POST .../models/{model}:predict`: `{instances: [{prompt}], parameters: {sampleCount,
 * aspectRatio, ...}}`, answered with `predictions[]` of `{bytesBase64Encoded, mimeType}`.
 *
 * Mapped:
 * - `n` -> `sampleCount` (Imagen makes 1 to 4; it makes 4 when not told, so 1 is sent when `n`
 *   is absent, as OpenAI's default);
 * - `size` `"WxH"` -> the `aspectRatio` Imagen makes (1:1, 3:4, 4:3, 9:16, 16:9) that it is
 *   within 5% of, so that DALL-E 3's `1792x1024` is 16:9; a size near none of them (`1536x1024`,
 *   3:2) is refused before anything is sent. `auto` sends none (Imagen's default, 1:1). The
 *   resolution is the model's (`sampleImageSize` chooses it);
 * - `response_format`: the answer is always `b64_json` (Imagen answers bytes: there is no URL);
 * - on Vertex AI only, `output_format` and `output_compression` -> `outputOptions {mimeType,
 *   compressionQuality}`;
 * - Imagen's own parameters, sent in `parameters` as they are: `personGeneration`,
 *   `sampleImageSize`, and on Vertex AI also `negativePrompt`, `seed`, `enhancePrompt`,
 *   `addWatermark`, `safetySetting`, `language`.
 *
 * Not sent: `quality`, `style`, `background`, `moderation`, `user`.
 *
 * @internal
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ProviderError, ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Image, ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Either from "effect/Either"
import { parseObject } from "./response.js"

/** What one of Google's APIs takes besides the common Imagen body. @internal */
export interface Dialect {
  /** Whether it takes `outputOptions` (the image format and JPEG quality). */
  readonly outputOptions: boolean
  /** Imagen's own parameters it documents. */
  readonly vendorFields: ReadonlyArray<string>
}

/** https://ai.google.dev/gemini-api/docs/imagen#imagen-configuration @internal */
export const geminiApi: Dialect = { outputOptions: false, vendorFields: ["personGeneration", "sampleImageSize"] }

/** https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api#parameter_list @internal */
export const vertex: Dialect = {
  outputOptions: true,
  vendorFields: [
    "personGeneration",
    "sampleImageSize",
    "negativePrompt",
    "seed",
    "enhancePrompt",
    "addWatermark",
    "safetySetting",
    "language"
  ]
}

const aspectRatios: ReadonlyArray<readonly [string, number]> = [
  ["1:1", 1],
  ["3:4", 3 / 4],
  ["4:3", 4 / 3],
  ["9:16", 9 / 16],
  ["16:9", 16 / 9]
]

/** The ratios are at least 28% apart (in log terms), so at most one is this close to a size. */
const ratioTolerance = Math.log(1.05)

/**
 * The Imagen aspect ratio of a `"WxH"` size, when it is within 5% of one.
 *
 * @internal
 */
export const aspectRatioOf = (size: string): string | undefined => {
  const match = /^(\d+)x(\d+)$/.exec(size)
  if (match === null) return undefined
  const ratio = Number(match[1]) / Number(match[2])
  if (!Number.isFinite(ratio) || ratio === 0) return undefined
  return aspectRatios.find(([, r]) => Math.abs(Math.log(ratio / r)) <= ratioTolerance)?.[0]
}

/** @internal */
export const support = (dialect: Dialect): Capabilities.OperationSupport<"images"> => ({
  parameters: {
    n: Capabilities.partially("1 to 4 (Imagen's sampleCount)", (n) => typeof n === "number" && n <= 4),
    size: Capabilities.partially(
      "as the aspect ratio it is within 5% of: 1:1, 3:4, 4:3, 9:16 or 16:9 (the resolution is the model's)",
      (size) => size === "auto" || (typeof size === "string" && aspectRatioOf(size) !== undefined)
    ),
    quality: false,
    response_format: Capabilities.partially("b64_json only (Imagen answers the image bytes)", (f) => f === "b64_json"),
    style: false,
    background: false,
    output_format: dialect.outputOptions
      ? Capabilities.partially("png or jpeg", (f) => f === "png" || f === "jpeg")
      : false,
    output_compression: dialect.outputOptions,
    moderation: false,
    user: false
  },
  vendorFields: dialect.vendorFields,
  forwardsUnknown: false
})

const isSet = (u: unknown) => u !== undefined && u !== null

/**
 * The `:predict` body for a canonical request, or the refusal of a size Imagen cannot make.
 *
 * @internal
 */
export const encode = (
  provider: string,
  dialect: Dialect,
  req: ImageRequest
): Either.Either<Record<string, unknown>, ProviderStatusError> => {
  const parameters: Record<string, unknown> = { sampleCount: req.n ?? 1 }
  const size = req.size
  if (size !== undefined && size !== null && size !== "auto") {
    const ratio = aspectRatioOf(size)
    if (ratio === undefined) {
      return Either.left(UpstreamErrors.unmappable(
        provider,
        `Imagen makes images of aspect ratio 1:1, 3:4, 4:3, 9:16 or 16:9: the size '${size}' is not within 5% of any`,
        "size"
      ))
    }
    parameters.aspectRatio = ratio
  }
  if (dialect.outputOptions && (isSet(req.output_format) || isSet(req.output_compression))) {
    const options: Record<string, unknown> = {}
    if (isSet(req.output_format)) options.mimeType = `image/${req.output_format}`
    if (isSet(req.output_compression)) options.compressionQuality = req.output_compression
    parameters.outputOptions = options
  }
  for (const field of dialect.vendorFields) if (isSet(req[field])) parameters[field] = req[field]
  return Either.right({ instances: [{ prompt: req.prompt }], parameters })
}

/**
 * A 2xx `:predict` answer: each image's bytes as `b64_json`, and the prompt Imagen rewrote it
 * from (`prompt`, when it enhanced the prompt) as `revised_prompt`. Images Imagen's filters
 * removed are left out; with none left (Imagen then answers `{}`, or gives each image's
 * `raiFilteredReason` when asked to), the request fails with a 400, as OpenAI refuses a prompt
 * its policy blocks (`content_policy_violation`). `created` is given (now, in seconds).
 *
 * @internal
 */
export const parse = (
  provider: string,
  text: string,
  redact: Redactor,
  created: number
): Either.Either<ImageResponse, ProviderError> =>
  Either.flatMap(parseObject(provider, text, redact, "an Imagen answer"), (answer): Either.Either<ImageResponse, ProviderError> => {
    const predictions = answer.predictions ?? []
    if (!Array.isArray(predictions)) {
      return Either.left(UpstreamErrors.outputError(provider, "expected an Imagen answer with a predictions array", redact))
    }
    const data: Array<Image> = []
    const reasons: Array<string> = []
    for (const prediction of predictions) {
      if (!isRecord(prediction)) continue
      if (typeof prediction.bytesBase64Encoded === "string") {
        data.push(
          typeof prediction.prompt === "string"
            ? { b64_json: prediction.bytesBase64Encoded, revised_prompt: prediction.prompt }
            : { b64_json: prediction.bytesBase64Encoded }
        )
      } else if (typeof prediction.raiFilteredReason === "string") {
        reasons.push(prediction.raiFilteredReason)
      }
    }
    if (data.length > 0) return Either.right({ created, data })
    const why = reasons.length > 0 ? `: ${reasons.join("; ")}` : " (the prompt or every image was filtered out)"
    return Either.left(UpstreamErrors.statusError(
      provider,
      400,
      redact(text),
      { message: `Imagen made no image${why}`, code: "content_policy_violation" },
      undefined,
      redact
    ))
  })
