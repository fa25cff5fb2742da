/**
 * The provider both the Gemini API and Vertex AI adapters are: the same `generateContent` /
 * `streamGenerateContent?alt=sse` bodies, answers and errors, at their own URLs and with their
 * own credentials; embeddings and Imagen in each API's dialect.
 *
 * @internal
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import * as Provider from "@switchyard/core/Provider"
import type * as Streaming from "@switchyard/core/Streaming"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as Forwarding from "@switchyard/provider-http/Forwarding"
import * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { isRecord } from "@switchyard/provider-http/Wire"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as GeminiCapabilities from "./capabilities.js"
import * as Embeddings from "./embeddings.js"
import * as Errors from "./errors.js"
import * as Imagen from "./imagen.js"
import * as ToGemini from "./request.js"
import * as FromGemini from "./response.js"
import * as GeminiStream from "./stream.js"

/** What a request carries besides the adapter's own headers, and the time left for it. @internal */
export interface Authorized {
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly timeoutMillis: number
}

/** @internal */
export interface Endpoint {
  readonly name: string
  /** The configured model patterns, when any. */
  readonly configured: ReadonlyArray<string> | undefined
  readonly upstream: Upstream.Upstream
  readonly redact: Redactor
  /** The path of a model's method: `/v1beta/models/<model>:generateContent`, say. */
  readonly methodPath: (
    model: string,
    method: "generateContent" | "streamGenerateContent" | "countTokens" | "batchEmbedContents" | "predict"
  ) => string
  /** How this API takes embeddings, and what it takes of Imagen's parameters. */
  readonly embeddings: Embeddings.Dialect
  readonly imagen: Imagen.Dialect
  /** The provider's policy for parameters `capabilities` says are not honoured. */
  readonly unsupportedParams: Capabilities.Policy | undefined
  /** Whether clients' own Gemini requests are forwarded as they came. */
  readonly passthrough: boolean
  /** The path of a page of the model list. */
  readonly modelsPath: (pageToken: string | undefined) => string
  /** The field of a model list page that holds the models. */
  readonly modelsField: string
  /** The credentials of one request, got within `timeoutMillis`. */
  readonly authorize: (timeoutMillis: number) => Effect.Effect<Authorized, ProviderError>
}

/** At most this many pages of the model list are read. */
const maxModelPages = 10

/** At most this many requests of one embeddings call are in flight at once. */

const errorData = /^data:\s*\{\s*"error"\s*:/m

const nowSeconds = Effect.map(Clock.currentTimeMillis, (millis) => Math.floor(millis / 1000))

/** Why a stream that ended without a finish reason failed. */
const cutShort = new Error("the body ended before the answer's finish reason")

/**
 * The path segments of a model id, each URL-encoded (`tunedModels/x` keeps its slash).
 *
 * @internal
 */
export const encodeModel = (model: string): string => model.split("/").map(encodeURIComponent).join("/")

/** @internal */
export const make = (endpoint: Endpoint): Provider.Provider => {
  const { name, redact, upstream } = endpoint

  /** A JSON request whose credentials and answer are got within `timeoutMillis`. */
  const post = <A>(
    path: string,
    body: unknown,
    timeoutMillis: number,
    parse: (text: string) => Either.Either<A, ProviderError>
  ): Effect.Effect<A, ProviderError> =>
    Effect.flatMap(endpoint.authorize(timeoutMillis), (auth) =>
      upstream.exchange(
        { method: "POST", path, body: JSON.stringify(body), timeoutMillis: auth.timeoutMillis, headers: auth.headers },
        parse
      ))

  const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
    Effect.flatMap(nowSeconds, (created) =>
      post(
        endpoint.methodPath(req.model, "generateContent"),
        ToGemini.encode(req),
        upstream.timeoutFor(call),
        (text) => FromGemini.parseResponse(name, text, redact, req.model, created)
      )).pipe(Effect.mapError(Errors.withRetryInfo))

  /** The inputs in as many requests as their number needs, bounded together by the timeout. */
  const embed = (req: EmbeddingRequest, call?: Provider.CallOptions): Effect.Effect<EmbeddingResponse, ProviderError> => {
    const dialect = endpoint.embeddings
    const path = endpoint.methodPath(req.model, dialect.method)
    return Effect.flatMap(Embeddings.texts(name, req.input), (texts) =>
      Effect.map(
        Upstream.fanOut(
          name,
          Embeddings.batches(texts, dialect.batchSize(req.model)),
          upstream.timeoutFor(call),
          (batch, left) => post(path, dialect.encode(batch, req), left, (text) => Embeddings.parse(name, text, redact, dialect, batch.length))
        ),
        (answers) => Embeddings.response(req, answers)
      )).pipe(Effect.mapError(Errors.withRetryInfo))
  }

  const image = (req: ImageRequest, call?: Provider.CallOptions): Effect.Effect<ImageResponse, ProviderError> =>
    Effect.flatMap(Effect.all([Imagen.encode(name, endpoint.imagen, req), nowSeconds]), ([body, created]) =>
      post(
        endpoint.methodPath(req.model, "predict"),
        body,
        upstream.timeoutFor(call),
        (text) => Imagen.parse(name, text, redact, created)
      )).pipe(Effect.mapError(Errors.withRetryInfo))

  /** The timeout runs until the first chunk; the upstream lives in the caller's Scope. */
  const openStream = (
    req: ChatRequest,
    call?: Provider.CallOptions
  ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> =>
    Effect.flatMap(nowSeconds, (created) => {
      const body = JSON.stringify(ToGemini.encode(req))
      // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent: alt=sse
      // makes each event a GenerateContentResponse.
      const path = `${endpoint.methodPath(req.model, "streamGenerateContent")}?alt=sse`
      const decoder = GeminiStream.makeDecoder(name, redact, req.model, created, () =>
        UpstreamErrors.unreachable(name, { method: "POST", url: upstream.url(path) }, cutShort, false, redact))
      return Effect.flatMap(endpoint.authorize(upstream.timeoutFor(call)), (auth) =>
        Effect.map(
          upstream.stream(
            { method: "POST", path, body, timeoutMillis: auth.timeoutMillis, headers: auth.headers },
            decoder.decode
          ),
          (pull) => GeminiStream.withEnd(pull, decoder)
        ))
    }).pipe(Effect.mapError(Errors.withRetryInfo))

  /** A client's own request: the body as it came, the model in the path. */
  const passthrough = Forwarding.make(upstream, {
    format: "gemini",
    request: (request, model, timeoutMillis) =>
      Effect.map(endpoint.authorize(timeoutMillis), (auth) => {
        const method = request.operation as "generateContent" | "streamGenerateContent" | "countTokens"
        const path = endpoint.methodPath(model, method)
        return {
          method: "POST",
          path: request.stream ? `${path}?alt=sse` : path,
          body: request.text,
          timeoutMillis: auth.timeoutMillis,
          headers: auth.headers
        }
      }),
    usage: (answer) => isRecord(answer.usageMetadata) ? FromGemini.toUsage(answer.usageMetadata) : undefined,
    // Every event carries the running usageMetadata; the last one is the whole.
    streamUsage: {
      marker: "\"usageMetadata\"",
      read: (_, last) => isRecord(last.usageMetadata) ? FromGemini.toUsage(last.usageMetadata) : undefined
    },
    mapError: Errors.withRetryInfo,
    // An error envelope as an event fails the stream as it fails a translated one.
    events: () => (event) => {
      if (!event.includes("error") || !errorData.test(event)) return event
      const failure = GeminiStream.errorEvent(name, Forwarding.dataOf(event), redact)
      return failure === undefined ? event : { failure }
    }
  })

  const modelPage = (pageToken: string | undefined) =>
    Effect.flatMap(endpoint.authorize(upstream.timeoutFor(undefined)), (auth) =>
      upstream.exchange(
        { method: "GET", path: endpoint.modelsPath(pageToken), timeoutMillis: auth.timeoutMillis, headers: auth.headers },
        (text) => FromGemini.parseModelPage(name, endpoint.modelsField, text, redact)
      ))

  const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> = endpoint.configured !== undefined
    ? Effect.succeed(Provider.listedModels(name, endpoint.configured))
    : Upstream.allPages(modelPage, maxModelPages).pipe(Effect.mapError(Errors.withRetryInfo))

  return {
    name,
    kind: "gemini",
    serves: Provider.modelMatcher(endpoint.configured ?? Provider.modelFamilies("gemini")),
    chat,
    chatStream: Provider.streamFromOpen(openStream),
    openStream,
    embed,
    image,
    listModels,
    passthrough: endpoint.passthrough ? passthrough : undefined,
    capabilities: GeminiCapabilities.make(endpoint.imagen),
    unsupportedParams: endpoint.unsupportedParams,
    // Gemini does not document continuing a trailing `model` turn (see `request.ts`).
    supportsPrefill: false,
    enforcesTimeouts: true
  }
}
