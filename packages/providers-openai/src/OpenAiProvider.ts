/**
 * One adapter for OpenAI and every OpenAI-compatible API (vLLM, Ollama, LM Studio, OpenRouter,
 * Groq, Together, ...): the canonical request is the OpenAI shape, so requests are forwarded as
 * they are (unknown fields included) and answers are parsed, not re-encoded.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Streaming from "@switchyard/core/Streaming"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import { flow, identity } from "effect/Function"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Errors from "./internal/errors.js"
import * as Redact from "./internal/redact.js"
import * as SseBody from "./internal/stream.js"
import * as Wire from "./internal/wire.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"openai"`. */
  readonly name?: string
  /** Sent as `Authorization: Bearer <key>` when given. Never appears in errors, logs or traces. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `"https://api.openai.com/v1"`; paths such as `/chat/completions` are appended. */
  readonly baseUrl?: string
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: OpenAI's model families
   * (`Provider.modelFamilies("openai")`), and `listModels` asks the upstream's `GET /models`.
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Extra headers on every request (set after the bearer token, so they may replace it). Values
   * of headers named like a credential (`api-key`, `x-auth-token`, ...) are redacted like the key.
   */
  readonly headers?: Record<string, string>
  /**
   * The whole non-stream request, and for streams the time until the first chunk. Default 10
   * minutes.
   */
  readonly timeout?: Duration.DurationInput
}

const defaultBaseUrl = "https://api.openai.com/v1"
const defaultTimeout = Duration.minutes(10)

const isOk = (status: number) => status >= 200 && status < 300

/**
 * Builds the provider over the current `HttpClient` (the server provides a keep-alive pool).
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, never, HttpClient.HttpClient> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "openai"
    const patterns = options.models !== undefined && options.models.length > 0
      ? options.models
      : Provider.modelFamilies("openai")
    const extraHeaders = options.headers ?? {}
    const secretHeaders = Object.keys(extraHeaders).filter((key) => Redact.secretHeaderName.test(key))
    const redact = Redact.make([
      ...(options.apiKey === undefined ? [] : [Redacted.value(options.apiKey)]),
      ...secretHeaders.map((key) => extraHeaders[key]!)
    ])
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const timeoutMillis = Duration.toMillis(timeout)

    // Header names shown as <redacted> wherever the platform renders a request (spans, logs).
    const redactedNames: ReadonlyArray<string | RegExp> = ["authorization", Redact.secretHeaderName]
    const withRedactedHeaders = Effect.locallyWith(
      Headers.currentRedactedNames,
      (names) => names.concat(redactedNames)
    )

    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(flow(
        HttpClientRequest.prependUrl(options.baseUrl ?? defaultBaseUrl),
        options.apiKey === undefined ? identity : HttpClientRequest.bearerToken(options.apiKey),
        Object.keys(extraHeaders).length === 0 ? identity : HttpClientRequest.setHeaders(extraHeaders),
        HttpClientRequest.acceptJson
      ))
    )
    // Streams: the request's lifetime is the stream's scope; closing it aborts the upstream.
    const scopedClient = HttpClient.withScope(client)

    const onTimeout = () => Errors.timeout(name, timeoutMillis)

    const transportError = (error: Parameters<typeof Errors.unreachable>[1]) =>
      Effect.fail(Errors.unreachable(name, error, redact))

    /** A non-2xx answer: its body (capped) and headers classified. */
    const statusFailure = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<never, ProviderError> =>
      Effect.flatMap(
        Effect.zip(SseBody.readCapped(response.stream, Errors.maxErrorBodyBytes), Clock.currentTimeMillis),
        ([body, now]) => Effect.fail(Errors.statusError(name, response.status, body, response.headers, now, redact))
      )

    /** A JSON request/answer exchange: the whole of it is bounded by the timeout. */
    const exchange = <A>(
      request: HttpClientRequest.HttpClientRequest,
      parse: (text: string) => Either.Either<A, ProviderError>
    ): Effect.Effect<A, ProviderError> =>
      client.execute(request).pipe(
        Effect.flatMap((response) =>
          isOk(response.status) ? Effect.flatMap(response.text, parse) : statusFailure(response)
        ),
        Effect.catchTags({ RequestError: transportError, ResponseError: transportError }),
        Effect.timeoutFail({ duration: timeout, onTimeout }),
        withRedactedHeaders
      )

    const chat = (req: ChatRequest): Effect.Effect<ChatResponse, ProviderError> =>
      exchange(
        HttpClientRequest.post("/chat/completions", { body: HttpBody.unsafeJson(req) }),
        (text) => Wire.parseChatResponse(name, text, redact)
      ).pipe(Effect.withSpan("OpenAiProvider.chat", {
        captureStackTrace: false,
        attributes: { "switchyard.provider": name, "gen_ai.system": "openai", "gen_ai.request.model": req.model }
      }))

    /**
     * Sends the request and waits for the first chunk (all within the timeout). The rest of the
     * stream continues from the same pull; everything lives in the caller's scope.
     */
    const openStream = (
      req: ChatRequest
    ): Effect.Effect<Stream.Stream<ChatChunk, ProviderError>, ProviderError, Scope.Scope> =>
      scopedClient.execute(
        HttpClientRequest.post("/chat/completions", { body: HttpBody.unsafeJson(Wire.streamingRequest(req)) })
      ).pipe(
        Effect.flatMap((response) => {
          if (!isOk(response.status)) return statusFailure(response)
          const bytes = Stream.mapError(response.stream, (error) => Errors.unreachable(name, error, redact))
          return SseBody.chatChunks(bytes, name, redact).pipe(
            Effect.flatMap(Streaming.awaitFirst),
            Effect.map(Option.getOrElse(() => Stream.empty))
          )
        }),
        Effect.catchTags({ RequestError: transportError, ResponseError: transportError }),
        Effect.timeoutFail({ duration: timeout, onTimeout }),
        withRedactedHeaders,
        Effect.withSpan("OpenAiProvider.chatStream", {
          captureStackTrace: false,
          attributes: { "switchyard.provider": name, "gen_ai.system": "openai", "gen_ai.request.model": req.model }
        })
      )

    const chatStream = (req: ChatRequest): Stream.Stream<ChatChunk, ProviderError> =>
      Stream.unwrapScoped(openStream(req))

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =
      options.models !== undefined && options.models.length > 0
        ? Effect.succeed(Wire.configuredModels(name, options.models))
        : exchange(HttpClientRequest.get("/models"), (text) => Wire.parseModelList(name, text, redact))

    return {
      name,
      kind: "openai",
      serves: Provider.modelMatcher(patterns),
      chat,
      chatStream,
      listModels
    } satisfies Provider.Provider
  })

/**
 * Builds the provider and adds it to the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (
  options: Options
): Layer.Layer<never, never, ProviderRegistry.ProviderRegistry | HttpClient.HttpClient> =>
  ProviderRegistry.register(make(options))
