/**
 * One adapter for OpenAI and every OpenAI-compatible API (vLLM, Ollama, LM Studio, OpenRouter,
 * Groq, Together, ...): the canonical request is the OpenAI shape, so requests are forwarded as
 * they are (unknown fields included) and answers are parsed, not re-encoded.
 *
 * @since 0.1.0
 */
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Errors from "./internal/errors.js"
import * as Redact from "./internal/redact.js"
import * as SseBody from "./internal/stream.js"
import * as Transport from "./internal/transport.js"
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
  /**
   * Whether and how the upstream continues an assistant prefill, which mid-stream failover
   * needs to continue a broken answer here: `prefix` (Mistral, DeepSeek: the trailing
   * assistant message is sent with `prefix: true`) or `continue_final_message` (vLLM, SGLang).
   * Default: none (OpenAI's own API starts a new message instead).
   */
  readonly prefill?: Wire.PrefillStyle | undefined
}

const defaultBaseUrl = "https://api.openai.com/v1"
const defaultTimeout = Duration.minutes(10)

const isOk = (status: number) => status >= 200 && status < 300

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
      : Provider.modelFamilies("openai")
    const extraHeaders = options.headers ?? {}
    const secretHeaders = Object.keys(extraHeaders).filter((key) => Redact.secretHeaderName.test(key))
    const redact = Redact.make([
      ...(options.apiKey === undefined ? [] : [Redacted.value(options.apiKey)]),
      ...secretHeaders.map((key) => extraHeaders[key]!)
    ])
    const timeoutMillis = Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    const boundFor = (call: Provider.CallOptions | undefined) =>
      call?.timeoutMillis === undefined ? timeoutMillis : Math.min(call.timeoutMillis, timeoutMillis)

    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
    if (options.apiKey !== undefined) headers.authorization = `Bearer ${Redacted.value(options.apiKey)}`
    for (const key of Object.keys(extraHeaders)) headers[key.toLowerCase()] = extraHeaders[key]!

    const deadlines = yield* Deadlines.make
    const transport = yield* Transport.make(options.baseUrl ?? defaultBaseUrl, headers, deadlines)

    const transportFailure = (request: Transport.Request, sending: boolean) => (error: Transport.TransportError) =>
      error.timedOut
        ? Errors.timeout(name, request.timeoutMillis)
        : Errors.unreachable(name, { method: request.method, url: transport.url(request.path) }, error.cause, sending, redact)

    /** A non-2xx answer, classified from its (capped) body and headers. */
    const statusFailure = (status: number, body: string, responseHeaders: Errors.Headers) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(Errors.statusError(name, status, body, responseHeaders, now, redact)))

    /** A JSON request/answer exchange: the whole of it is bounded by the timeout. */
    const exchange = <A>(
      request: Transport.Request,
      parse: (text: string) => Either.Either<A, ProviderError>
    ): Effect.Effect<A, ProviderError> =>
      transport.exchange(request, Errors.maxErrorBodyBytes).pipe(
        Effect.mapError(transportFailure(request, true)),
        Effect.flatMap((answer) =>
          isOk(answer.status) ? parse(answer.body) : statusFailure(answer.status, answer.body, answer.headers)
        )
      )

    const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
      exchange(
        {
          method: "POST",
          path: "/chat/completions",
          body: JSON.stringify(Wire.withPrefill(req, options.prefill)),
          timeoutMillis: boundFor(call)
        },
        (text) => Wire.parseChatResponse(name, text, redact)
      )

    /**
     * Sends the request; the timeout runs until the first chunk. After `data: [DONE]` the rest of
     * the body is discarded as it arrives (at most `drainAfterDoneMillis`), so the connection can
     * be reused. Everything lives in the caller's Scope.
     */
    const openStream = (
      req: ChatRequest,
      call?: Provider.CallOptions
    ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> => {
      const request: Transport.Request = {
        method: "POST",
        path: "/chat/completions",
        body: JSON.stringify(Wire.streamingRequest(Wire.withPrefill(req, options.prefill))),
        timeoutMillis: boundFor(call)
      }
      return Effect.flatMap(
        Effect.mapError(transport.open(request), transportFailure(request, true)),
        (opened): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError> => {
          if (!isOk(opened.status)) {
            return Effect.flatMap(
              SseBody.readCapped(opened.pull, Errors.maxErrorBodyBytes),
              (body) => statusFailure(opened.status, body, opened.headers)
            )
          }
          const decode = SseBody.makeDecoder(name, redact)
          const brokenConnection = transportFailure(request, false)
          let done = false
          let failure: ProviderError | undefined
          const pull: Streaming.Pull<ChatChunk, ProviderError> = Effect.suspend(() => {
            if (failure !== undefined) return Effect.fail(Option.some(failure))
            if (done) return Streaming.endPull
            return Effect.matchEffect(opened.pull, {
              onFailure: Option.match({
                onNone: () => Streaming.endPull,
                onSome: (error) => Effect.fail(Option.some(brokenConnection(error)))
              }),
              onSuccess: (texts) => {
                const chunks: Array<ChatChunk> = []
                for (const text of texts) {
                  const decoded = decode(text)
                  for (const chunk of decoded.chunks) chunks.push(chunk)
                  if (decoded.done) {
                    done = true
                    failure = decoded.failure
                    opened.finish(SseBody.drainAfterDoneMillis)
                    break
                  }
                }
                if (chunks.length === 0) return pull
                opened.disarm()
                return Effect.succeed(Chunk.unsafeFromArray(chunks))
              }
            })
          })
          return Effect.succeed(pull)
        }
      )
    }

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> =
      options.models !== undefined && options.models.length > 0
        ? Effect.succeed(Wire.configuredModels(name, options.models))
        : exchange(
          { method: "GET", path: "/models", timeoutMillis },
          (text) => Wire.parseModelList(name, text, redact)
        )

    return {
      name,
      kind: "openai",
      serves: Provider.modelMatcher(patterns),
      chat,
      chatStream: Provider.streamFromOpen(openStream),
      openStream,
      listModels,
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
