/**
 * The Gemini API adapter (https://ai.google.dev/api/generate-content): the canonical request
 * (OpenAI Chat Completions) is translated to `POST /v1beta/models/{model}:generateContent` (and
 * `:streamGenerateContent?alt=sse`), and its JSON answer and event stream back to canonical
 * completions and chunks. What is mapped, and what is dropped because Gemini has no such thing,
 * is listed in `internal/request.ts`. Embeddings go to `:batchEmbedContents`
 * (https://ai.google.dev/api/embeddings) and images to Imagen's `:predict`
 * (https://ai.google.dev/gemini-api/docs/imagen): see `internal/embeddings.ts` and
 * `internal/imagen.ts`. `capabilities` states what is honoured of each. Vertex AI, the same
 * wire format at other URLs and with other credentials, is `VertexProvider`.
 *
 * @since 0.1.0
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import * as Deadlines from "@switchyard/core/Deadlines"
import type * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Upstream from "@switchyard/provider-http/Upstream"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Embeddings from "./internal/embeddings.js"
import * as Errors from "./internal/errors.js"
import * as Imagen from "./internal/imagen.js"
import * as GeminiCore from "./internal/provider.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"gemini"`. */
  readonly name?: string
  /** Sent as `x-goog-api-key` when given. Never appears in errors, logs or traces. */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * Default `"https://generativelanguage.googleapis.com"`; the paths
   * `/{apiVersion}/models/{model}:generateContent` (and `:streamGenerateContent?alt=sse`) and
   * `/{apiVersion}/models` are appended.
   */
  readonly baseUrl?: string
  /** Default `"v1beta"` (where every current feature is: system instructions, tools, thinking). */
  readonly apiVersion?: string
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: Gemini's model families
   * (`Provider.modelFamilies("gemini")`), and `listModels` asks `GET /{apiVersion}/models`.
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Extra headers on every request, set last, so they may replace the adapter's. Values of
   * headers named like a credential are redacted like the key.
   */
  readonly headers?: Record<string, string>
  /** The whole non-stream request, and for streams the time until the first chunk. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput
  /**
   * What the gateway does with a parameter the Gemini API does not honour (see `capabilities`):
   * `warn` (the default), `drop` or `reject`.
   */
  readonly unsupportedParams?: Capabilities.Policy | undefined
  /**
   * Whether requests from clients that speak the vendor's own format are forwarded as they came
   * (the fast path: unknown fields kept both ways). Default true; false translates them like
   * any other request.
   */
  readonly passthrough?: boolean | undefined
}

const defaultBaseUrl = "https://generativelanguage.googleapis.com"
const defaultApiVersion = "v1beta"
const defaultTimeout = Duration.minutes(10)
/** `GET /v1beta/models` pages are asked for this many models (https://ai.google.dev/api/models#method:-models.list: at most 1000). */
const modelPageSize = 1000

/**
 * Builds the provider with its own keep-alive connection pool to the base URL's origin, closed
 * with the Scope.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, never, Scope.Scope> = Effect.fnUntraced(
  function*(options: Options) {
    const name = options.name ?? "gemini"
    const version = options.apiVersion ?? defaultApiVersion
    // https://ai.google.dev/gemini-api/docs/api-key: the key in the x-goog-api-key header.
    const { headers, redact } = Upstream.credentials({
      base: { "content-type": "application/json" },
      apiKey: options.apiKey,
      keyHeaders: (key) => ({ "x-goog-api-key": key }),
      extra: options.headers
    })
    const upstream = yield* Upstream.make({
      provider: name,
      baseUrl: options.baseUrl ?? defaultBaseUrl,
      headers,
      redact,
      errorBody: Errors.fromErrorBody,
      timeoutMillis: Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    }, yield* Deadlines.make)

    // A bare id is a base model (`models/{id}`); a name with a slash (`tunedModels/{id}`) is used as it is.
    const modelName = (model: string) => model.includes("/") ? model : `models/${model}`

    return GeminiCore.make({
      name,
      configured: options.models !== undefined && options.models.length > 0 ? options.models : undefined,
      upstream,
      redact,
      methodPath: (model, method) => `/${version}/${GeminiCore.encodeModel(modelName(model))}:${method}`,
      embeddings: Embeddings.geminiApi(modelName),
      imagen: Imagen.geminiApi,
      unsupportedParams: options.unsupportedParams,
      passthrough: options.passthrough ?? true,
      modelsPath: (pageToken) =>
        `/${version}/models?pageSize=${modelPageSize}${pageToken === undefined ? "" : `&pageToken=${encodeURIComponent(pageToken)}`}`,
      modelsField: "models",
      authorize: (timeoutMillis) => Effect.succeed({ headers: undefined, timeoutMillis })
    })
  }
)

/**
 * Builds the provider and adds it to the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options): Layer.Layer<never, never, ProviderRegistry.ProviderRegistry> =>
  ProviderRegistry.register(make(options))
