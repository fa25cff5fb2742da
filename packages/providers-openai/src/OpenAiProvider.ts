/**
 * One adapter for OpenAI and every OpenAI-compatible API (vLLM, Ollama, LM Studio, OpenRouter,
 * Groq, Together, ...): chat completions, embeddings and image generation. The canonical requests
 * are the OpenAI shapes, so requests are forwarded as they are (unknown fields included) and
 * answers are parsed, not re-encoded.
 *
 * @since 0.1.0
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import * as Passthrough from "@switchyard/core/Passthrough"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type * as Streaming from "@switchyard/core/Streaming"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as Forwarding from "@switchyard/provider-http/Forwarding"
import * as Upstream from "@switchyard/provider-http/Upstream"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Errors from "./internal/errors.js"
import * as SseBody from "./internal/stream.js"
import * as Wire from "./internal/wire.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"openai"`. */
  readonly name?: string
  /**
   * Sent as `Authorization: Bearer <key>` (or in `apiKeyHeader`) when given. Never appears in
   * errors, logs or traces.
   */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * The header that carries `apiKey` as it is, for upstreams that do not take a bearer token
   * (Azure: `api-key`). Default: `Authorization: Bearer <key>`.
   */
  readonly apiKeyHeader?: string | undefined
  /** Default `"https://api.openai.com/v1"`; paths such as `/chat/completions` are appended. */
  readonly baseUrl?: string
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: `families`, and `listModels` asks
   * the upstream's `GET /models`.
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Glob patterns served when `models` is absent or empty. Default: OpenAI's model families
   * (`Provider.modelFamilies("openai")`). Empty: no model by its name alone; requests reach the
   * provider through a `name/model` prefix.
   */
  readonly families?: ReadonlyArray<string> | undefined
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
  /**
   * Whether and how the upstream continues an assistant prefill, which mid-stream failover
   * needs to continue a broken answer here: `prefix` (Mistral, DeepSeek: the trailing
   * assistant message is sent with `prefix: true`) or `continue_final_message` (vLLM, SGLang).
   * Default: none (OpenAI's own API starts a new message instead).
   */
  readonly prefill?: Wire.PrefillStyle | undefined
  /**
   * Which operations besides chat the upstream offers: one set to `false` is left out of the
   * provider (it has no `embed` / `image`), so the gateway routes it elsewhere. Default: both.
   */
  readonly operations?: Operations | undefined
  /**
   * Per operation, the canonical parameters the upstream documents as not honoured (Groq:
   * `logprobs`, `logit_bias`, ...), stated in `capabilities`. Everything else is forwarded and
   * taken as honoured.
   */
  readonly unsupported?: Unsupported | undefined
  /** What the gateway does with a request that sets an `unsupported` parameter. Default `warn`. */
  readonly unsupportedParams?: Capabilities.Policy | undefined
  /**
   * Whether requests clients send in OpenAI's own formats are forwarded as they came (the fast
   * path: the body sent with only the model rewritten, the answer's bytes sent back) instead of
   * being translated. Chat Completions: unless `false`, and not when `prefill` or `unsupported`
   * chat parameters are set (those need the canonical request). The Responses API (built-in
   * tools, `previous_response_id` and unknown fields then work): when `true`, and by default
   * when the base URL is OpenAI's own (few compatible servers serve `POST /responses`).
   */
  readonly passthrough?: boolean | undefined
}

/** @since 0.1.0 @category Models */
export interface Operations {
  readonly embeddings?: boolean | undefined
  readonly images?: boolean | undefined
}

/** @since 0.1.0 @category Models */
export type Unsupported = {
  readonly [O in Capabilities.Operation]?: ReadonlyArray<Capabilities.Parameter<O>> | undefined
}

const supportOf = <O extends Capabilities.Operation>(
  operation: O,
  unsupported: ReadonlyArray<Capabilities.Parameter<O>> | undefined
): Capabilities.OperationSupport<O> => Capabilities.without(Capabilities.everything(operation), unsupported ?? [])

/**
 * What an OpenAI-compatible upstream honours: everything it is sent (unknown fields forwarded),
 * but its `unsupported` parameters, for each operation it offers.
 *
 * @since 0.1.0 @category Capabilities
 */
export const capabilities = (
  options: Pick<Options, "operations" | "unsupported">
): Capabilities.Capabilities => ({
  chat: supportOf("chat", options.unsupported?.chat),
  embeddings: options.operations?.embeddings === false ? undefined : supportOf("embeddings", options.unsupported?.embeddings),
  images: options.operations?.images === false ? undefined : supportOf("images", options.unsupported?.images)
})

const defaultBaseUrl = "https://api.openai.com/v1"
const defaultTimeout = Duration.minutes(10)

/**
 * Builds the provider with its own keep-alive connection pool to the base URL's origin, closed
 * with the Scope.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, never, Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "openai"
    const patterns = options.models !== undefined && options.models.length > 0
      ? options.models
      : options.families ?? Provider.modelFamilies("openai")
    const baseUrl = options.baseUrl ?? defaultBaseUrl
    const { headers, redact } = Upstream.credentials({
      base: { "content-type": "application/json", accept: "application/json" },
      apiKey: options.apiKey,
      keyHeaders: (key) =>
        options.apiKeyHeader === undefined ? { authorization: `Bearer ${key}` } : { [options.apiKeyHeader.toLowerCase()]: key },
      extra: options.headers
    })

    const upstream = yield* Upstream.make({
      provider: name,
      baseUrl,
      headers,
      redact,
      errorBody: Errors.fromErrorBody,
      timeoutMillis: Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    }, yield* Deadlines.make)

    /** One JSON request and its parsed answer, bounded by the call's timeout. */
    const post = <A>(
      path: string,
      body: unknown,
      parse: (provider: string, text: string, redact: Redactor) => Either.Either<A, ProviderError>,
      call: Provider.CallOptions | undefined
    ): Effect.Effect<A, ProviderError> =>
      upstream.exchange(
        { method: "POST", path, body: JSON.stringify(body), timeoutMillis: upstream.timeoutFor(call) },
        (text) => parse(name, text, redact)
      )

    const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
      post("/chat/completions", Wire.withPrefill(req, options.prefill), Wire.parseChatResponse, call)

    const embed = (req: EmbeddingRequest, call?: Provider.CallOptions): Effect.Effect<EmbeddingResponse, ProviderError> =>
      post("/embeddings", req, Wire.parseEmbeddingResponse, call)

    const image = (req: ImageRequest, call?: Provider.CallOptions): Effect.Effect<ImageResponse, ProviderError> => {
      const refusal = Wire.refuseImageStream(name, req)
      return refusal === undefined ? post("/images/generations", req, Wire.parseImageResponse, call) : Effect.fail(refusal)
    }

    /** The timeout runs until the first chunk; the upstream lives in the caller's Scope. */
    const openStream = (
      req: ChatRequest,
      call?: Provider.CallOptions
    ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> =>
      upstream.stream(
        {
          method: "POST",
          path: "/chat/completions",
          body: JSON.stringify(Wire.streamingRequest(Wire.withPrefill(req, options.prefill))),
          timeoutMillis: upstream.timeoutFor(call)
        },
        SseBody.makeDecoder(name, redact)
      )

    const chatPassthrough = Forwarding.make(upstream, {
      format: "openai",
      request: (request, model, timeoutMillis) =>
        Effect.succeed({ method: "POST", path: "/chat/completions", body: Wire.forwardedChat(request, model), timeoutMillis }),
      usage: (answer) => Wire.chatUsage(answer.usage),
      // The usage object is in the last chunk only (`forwardedChat` asks for it).
      streamUsage: { marker: "\"prompt_tokens\"", read: (_, last) => Wire.chatUsage(last.usage) },
      failure: (answer, body) =>
        Array.isArray(answer.choices) || answer.error == null ? undefined : Errors.inBandError(name, answer.error, body, redact),
      events: (request) => Wire.forwardedEvent(name, redact, Wire.asksUsage(request.body))
    })
    const forwardsChat = options.passthrough !== false && options.prefill === undefined &&
      (options.unsupported?.chat ?? []).length === 0

    const responsesPassthrough = (options.passthrough ?? new URL(baseUrl).hostname === "api.openai.com")
      ? Forwarding.make(upstream, {
        format: "responses",
        request: (request, model, timeoutMillis) =>
          Effect.succeed({ method: "POST", path: "/responses", body: Forwarding.withModel(request, model), timeoutMillis }),
        usage: (answer) => Wire.responsesUsage(answer.usage),
        // https://platform.openai.com/docs/api-reference/responses-streaming: the usage is in
        // the last event's response (response.completed, or .incomplete).
        streamUsage: {
          marker: "\"usage\"",
          read: (_, last) => isRecord(last.response) ? Wire.responsesUsage(last.response.usage) : undefined
        }
      })
      : undefined
    const passthrough = Passthrough.combine([
      ...(forwardsChat ? [chatPassthrough] : []),
      ...(responsesPassthrough === undefined ? [] : [responsesPassthrough])
    ])

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =
      options.models !== undefined && options.models.length > 0
        ? Effect.succeed(Provider.listedModels(name, options.models))
        : upstream.exchange(
          { method: "GET", path: "/models", timeoutMillis: upstream.timeoutFor(undefined) },
          (text) => Wire.parseModelList(name, text, redact)
        )

    const offered = capabilities(options)
    return {
      name,
      kind: "openai",
      serves: Provider.modelMatcher(patterns),
      chat,
      chatStream: Provider.streamFromOpen(openStream),
      openStream,
      ...(offered.embeddings === undefined ? {} : { embed }),
      ...(offered.images === undefined ? {} : { image }),
      listModels,
      passthrough,
      capabilities: offered,
      unsupportedParams: options.unsupportedParams,
      supportsPrefill: options.prefill !== undefined,
      enforcesTimeouts: true
    } satisfies Provider.Provider
  })

/**
 * Builds the provider and adds it to the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options): Layer.Layer<never, never, ProviderRegistry.ProviderRegistry> =>
  ProviderRegistry.register(make(options))
