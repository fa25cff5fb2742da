/**
 * The Vertex AI adapter for Gemini models
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference): the same
 * `generateContent` / `streamGenerateContent?alt=sse` bodies, answers and errors as
 * `GeminiProvider`, at `/{apiVersion}/projects/{project}/locations/{location}/publishers/google/models/{model}`,
 * authorized with an OAuth 2.0 access token of a service account (`Authorization: Bearer`).
 * Embeddings go to the text embedding models' `:predict`
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api)
 * and images to Imagen's `:predict`
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api): see
 * `internal/embeddings.ts` and `internal/imagen.ts`.
 *
 * The token comes from the service account key: a JWT signed with its private key is exchanged
 * at its `token_uri` (https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
 * It is fetched on the first request, shared by every request while it is valid (concurrent
 * requests share one fetch), and refreshed in the background 5 minutes before it expires; a
 * request that finds no valid token waits for the fetch, which counts against its timeout. A
 * failed fetch fails the requests waiting for it like any upstream failure (`ProviderStatusError`
 * with the token endpoint's status and OAuth error, `ProviderUnreachable`, `ProviderTimeout`).
 * The private key, the JWTs and the tokens never appear in errors.
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
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Embeddings from "./internal/embeddings.js"
import * as Errors from "./internal/errors.js"
import * as Imagen from "./internal/imagen.js"
import * as GeminiCore from "./internal/provider.js"
import * as ServiceAccount from "./internal/serviceAccount.js"

/**
 * A service account key, the JSON file Google Cloud gives
 * (https://cloud.google.com/iam/docs/keys-create-delete): what is read of it.
 *
 * @since 0.1.0 @category Models
 */
export interface ServiceAccountKey {
  readonly client_email: string
  /** The PEM RSA private key. */
  readonly private_key: string
  /** Default `"https://oauth2.googleapis.com/token"`. */
  readonly token_uri?: string
  readonly [field: string]: unknown
}

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"vertex"`. */
  readonly name?: string
  /** The Google Cloud project id. */
  readonly project: string
  /** The region (`us-central1`, ...) or `global`. */
  readonly location: string
  /** The key, as an object or as its JSON text (redacted, as from `Config.redacted`). */
  readonly serviceAccount: ServiceAccountKey | Redacted.Redacted<string>
  /**
   * Default `"https://{location}-aiplatform.googleapis.com"` (`"https://aiplatform.googleapis.com"`
   * for `global`).
   */
  readonly baseUrl?: string
  /** Default `"v1"`. */
  readonly apiVersion?: string
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: Gemini's model families
   * (`Provider.modelFamilies("gemini")`), and `listModels` asks Vertex AI's publisher model list
   * (`GET /v1beta1/publishers/google/models`).
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Extra headers on every request (`x-goog-user-project`, say), set last. Values of headers
   * named like a credential are redacted like the key.
   */
  readonly headers?: Record<string, string>
  /** The whole non-stream request, and for streams the time until the first chunk. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput
  /**
   * What the gateway does with a parameter Vertex AI does not honour (see `capabilities`):
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

/**
 * The service account key cannot be used: not JSON, a field missing, not an RSA PEM key. The
 * message never holds the key.
 *
 * @since 0.1.0 @category Errors
 */
export class ServiceAccountError extends Schema.TaggedError<ServiceAccountError>(
  "@switchyard/providers-gemini/ServiceAccountError"
)("ServiceAccountError", { provider: Schema.String, reason: Schema.String }) {
  override get message() {
    return `Provider '${this.provider}': ${this.reason}`
  }
}

const defaultApiVersion = "v1"
const defaultTimeout = Duration.minutes(10)
/** The publisher model list is only in v1beta1 (https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/publishers.models/list). */
const modelListVersion = "v1beta1"
const modelPageSize = 1000

/**
 * The regional endpoint (https://cloud.google.com/vertex-ai/docs/reference/rest#service-endpoint),
 * or the global one.
 *
 * @since 0.1.0 @category Constructors
 */
export const defaultBaseUrl = (location: string): string =>
  location === "global" ? "https://aiplatform.googleapis.com" : `https://${location}-aiplatform.googleapis.com`

const readKey = (name: string, key: Options["serviceAccount"]): Either.Either<ServiceAccount.Key, ServiceAccountError> => {
  let value: unknown = key
  if (Redacted.isRedacted(key)) {
    try {
      value = JSON.parse(Redacted.value(key))
    } catch {
      return Either.left(new ServiceAccountError({ provider: name, reason: "the service account key is not JSON" }))
    }
  }
  return Either.mapLeft(ServiceAccount.parseKey(value), (reason) => new ServiceAccountError({ provider: name, reason }))
}

/**
 * Builds the provider with its own keep-alive connection pools to the Vertex AI endpoint and to
 * the token endpoint, closed with the Scope. Fails when the key cannot be used.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, ServiceAccountError, Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "vertex"
    const key = yield* readKey(name, options.serviceAccount)
    const version = options.apiVersion ?? defaultApiVersion
    const timeoutMillis = Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    const deadlines = yield* Deadlines.make
    const tokens = yield* ServiceAccount.make(name, key, timeoutMillis, deadlines)
    const credentials = Upstream.credentials({
      base: { "content-type": "application/json" },
      apiKey: undefined,
      keyHeaders: () => ({}),
      extra: options.headers
    })
    const redact = (text: string) => tokens.redact(credentials.redact(text))
    const upstream = yield* Upstream.make({
      provider: name,
      baseUrl: options.baseUrl ?? defaultBaseUrl(options.location),
      headers: credentials.headers,
      redact,
      errorBody: Errors.fromErrorBody,
      timeoutMillis
    }, deadlines)

    const parent = `projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location)}`
    /** A bare id is a Google model; `publishers/{p}/models/{id}` another publisher's; `projects/...` a full resource name (a tuned model's endpoint). */
    const resource = (model: string) =>
      model.startsWith("projects/")
        ? GeminiCore.encodeModel(model)
        : `${parent}/${model.includes("/") ? "" : "publishers/google/models/"}${GeminiCore.encodeModel(model)}`

    return GeminiCore.make({
      name,
      configured: options.models !== undefined && options.models.length > 0 ? options.models : undefined,
      upstream,
      redact,
      methodPath: (model, method) => `/${version}/${resource(model)}:${method}`,
      embeddings: Embeddings.vertex,
      imagen: Imagen.vertex,
      unsupportedParams: options.unsupportedParams,
      passthrough: options.passthrough ?? true,
      modelsPath: (pageToken) =>
        `/${modelListVersion}/publishers/google/models?pageSize=${modelPageSize}${
          pageToken === undefined ? "" : `&pageToken=${encodeURIComponent(pageToken)}`
        }`,
      modelsField: "publisherModels",
      authorize: (waitMillis) =>
        Effect.map(tokens.token(waitMillis), ({ token, waitedMillis }) => ({
          headers: { authorization: `Bearer ${token}` },
          timeoutMillis: Math.max(1, waitMillis - waitedMillis)
        }))
    })
  })

/**
 * Builds the provider and adds it to the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options): Layer.Layer<never, ServiceAccountError, ProviderRegistry.ProviderRegistry> =>
  ProviderRegistry.register(make(options))
