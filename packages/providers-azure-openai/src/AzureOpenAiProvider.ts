/**
 * The Azure OpenAI adapter: OpenAI models deployed on an Azure OpenAI resource. The bodies of the
 * requests and of the answers are OpenAI's chat completions, embeddings and image generations
 * (forwarded and parsed as `OpenAiProvider` does, through
 * `@switchyard/providers-openai/OpenAiWire`); what differs is the URL, which names a deployment
 * rather than a model, the `api-version` query, and the authentication
 * (https://learn.microsoft.com/azure/ai-services/openai/reference):
 *
 * `POST {endpoint}/openai/deployments/{deployment}/{chat/completions | embeddings |
 * images/generations}?api-version={apiVersion}` with an `api-key` header, or
 * `Authorization: Bearer` and a Microsoft Entra ID token.
 *
 * Azure's content-filter annotations (`prompt_filter_results`, `content_filter_results`) pass
 * through; `internal/azureWire.ts` lists what is mended for the canonical shapes. A prompt the
 * filter refuses is a 400 with code `content_filter` (the filter's verdict, `innererror`, stays in
 * the error's body); an answer it cut is a 200 whose choice ends with finish_reason
 * `content_filter`.
 *
 * @since 0.1.0
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import { ProviderError, ProviderUnreachable } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type * as Streaming from "@switchyard/core/Streaming"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import * as OpenAiProvider from "@switchyard/providers-openai/OpenAiProvider"
import * as OpenAiWire from "@switchyard/providers-openai/OpenAiWire"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as AzureWire from "./internal/azureWire.js"
import * as LiveSecrets from "./internal/liveSecrets.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"azure-openai"`. */
  readonly name?: string
  /**
   * The resource's endpoint, `https://{resource-name}.openai.azure.com` (or a gateway in front of
   * it, whose path is kept); `/openai/deployments/...` is appended.
   */
  readonly endpoint: string
  /**
   * Which deployment serves each model id: `{ "gpt-4o": "my-gpt4o-eastus" }`. A model without an
   * entry is sent to the deployment named like it.
   */
  readonly deployments?: Readonly<Record<string, string>> | undefined
  /**
   * The `api-version` query parameter. Default `"2024-10-21"`, the latest GA release of the
   * data-plane inference API with dated versions (https://learn.microsoft.com/azure/ai-services/openai/reference,
   * "API specs").
   */
  readonly apiVersion?: string | undefined
  /**
   * Sent as the `api-key` header. Never appears in errors, logs or traces. Give this or
   * `entraToken`, not both.
   */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * A Microsoft Entra ID access token (scope `https://cognitiveservices.azure.com/.default`), sent
   * as `Authorization: Bearer <token>`: a token as it is, or an Effect run before every request
   * for the token to send (a managed identity's or a client-credentials token, refreshed and
   * cached by whoever provides it; this adapter keeps none). Its time counts towards the
   * request's timeout; its failure fails the request as retryable `ProviderUnreachable` (or as the
   * `ProviderError` it failed with). Tokens never appear in errors.
   */
  readonly entraToken?: Redacted.Redacted | Effect.Effect<Redacted.Redacted, unknown> | undefined
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: the keys of `deployments`, else
   * OpenAI's model families (`Provider.modelFamilies("openai")`).
   */
  readonly models?: ReadonlyArray<string> | undefined
  /**
   * Extra headers on every request (set after the `api-key` or static token, so they may replace
   * it, but not a token from an Effect). Values of headers named like a credential are redacted
   * like the key.
   */
  readonly headers?: Record<string, string> | undefined
  /** The whole non-stream request, and for streams the time until the first chunk. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * What the gateway does with a parameter the provider does not honour. Default `warn`. Every
   * parameter is stated as honoured for now (the deployment's model decides what it takes).
   */
  readonly unsupportedParams?: Capabilities.Policy | undefined
}

/** The operations of a deployment, as its URL names them. */
type Operation = "chat/completions" | "embeddings" | "images/generations"

/**
 * The `api-version` sent when none is configured: the latest GA release of the data-plane
 * inference API with dated versions, as the REST reference lists it
 * (https://learn.microsoft.com/azure/ai-services/openai/reference, "API specs"). Newer GA
 * features live in the `v1` API, whose URLs name no deployment and take no `api-version`.
 *
 * @since 0.1.0 @category Constants
 */
export const defaultApiVersion = "2024-10-21"

const defaultTimeout = Duration.minutes(10)

const nonEmpty = (list: ReadonlyArray<string> | undefined) => list !== undefined && list.length > 0 ? list : undefined

const isProviderError = Schema.is(ProviderError)

/** What a failure says, for a token that could not be got. */
const describe = (u: unknown): string => {
  if (typeof u === "string") return u
  if (typeof u === "object" && u !== null) {
    const { _tag, message } = u as { readonly _tag?: unknown; readonly message?: unknown }
    if (typeof message === "string" && message !== "") return message
    if (typeof _tag === "string") return _tag
  }
  return String(u)
}

/** A token got from `entraToken` for one request, held (for redaction) until `release`. */
interface Authorized {
  readonly headers: Readonly<Record<string, string>>
  /** What is left of the call's time once the token was got. */
  readonly timeoutMillis: number
  readonly release: () => void
}

/**
 * Builds the provider with its own keep-alive connection pool to the endpoint's origin, closed
 * with the Scope. Dies (the configuration is wrong) when both `apiKey` and `entraToken` are given.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, never, Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "azure-openai"
    if (options.apiKey !== undefined && options.entraToken !== undefined) {
      return yield* Effect.dieMessage(`Azure OpenAI provider '${name}': give apiKey or entraToken, not both`)
    }
    const deployments = new Map(Object.entries(options.deployments ?? {}))
    const configured = nonEmpty(options.models) ?? nonEmpty([...deployments.keys()])
    const query = `?api-version=${encodeURIComponent(options.apiVersion ?? defaultApiVersion)}`
    const pathOf = (model: string, operation: Operation) =>
      `/openai/deployments/${encodeURIComponent(deployments.get(model) ?? model)}/${operation}${query}`

    const token = options.entraToken
    const staticToken = Redacted.isRedacted(token) ? token : undefined
    const tokenEffect = token !== undefined && !Redacted.isRedacted(token) ? token : undefined
    // https://learn.microsoft.com/azure/ai-services/openai/reference#authentication
    const credentials = Upstream.credentials({
      base: { "content-type": "application/json", accept: "application/json" },
      apiKey: options.apiKey ?? staticToken,
      keyHeaders: (secret) => options.apiKey !== undefined ? { "api-key": secret } : { authorization: `Bearer ${secret}` },
      extra: options.headers
    })
    const live = LiveSecrets.make()
    const redact: Redactor = tokenEffect === undefined
      ? credentials.redact
      : (text) => live.redact(credentials.redact(text))

    const upstream = yield* Upstream.make({
      provider: name,
      baseUrl: options.endpoint,
      headers: credentials.headers,
      redact,
      errorBody: OpenAiWire.errorBody,
      timeoutMillis: Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    }, yield* Deadlines.make)

    const tokenFailure = (error: unknown): ProviderError =>
      isProviderError(error)
        ? error
        : new ProviderUnreachable({
          provider: name,
          detail: redact(`could not get a Microsoft Entra ID token: ${describe(error)}`),
          cause: error
        })

    /** Gets a token within the call's time, and holds it (for redaction) until `release`. */
    const authorize = (
      getToken: Effect.Effect<Redacted.Redacted, unknown>,
      timeoutMillis: number
    ): Effect.Effect<Authorized, ProviderError> =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        getToken.pipe(
          Effect.mapError(tokenFailure),
          Effect.timeoutFail({
            duration: Duration.millis(timeoutMillis),
            onTimeout: () => UpstreamErrors.timeout(name, timeoutMillis)
          }),
          Effect.flatMap((secret) =>
            Effect.map(Clock.currentTimeMillis, (now): Authorized => {
              const value = Redacted.value(secret)
              return {
                headers: { authorization: `Bearer ${value}` },
                timeoutMillis: Math.max(1, timeoutMillis - (now - start)),
                release: live.hold(value)
              }
            })
          )
        ))

    /** A request's timeout is reported as the call's whole bound, part of which went to the token. */
    const wholeTimeout = (timeoutMillis: number) => (error: ProviderError): ProviderError =>
      error._tag === "ProviderTimeout" && error.afterMillis !== timeoutMillis ? UpstreamErrors.timeout(name, timeoutMillis) : error

    /** One JSON request to a deployment and its parsed answer, authorized and bounded by the call's timeout. */
    const post = <A>(
      req: { readonly model: string },
      operation: Operation,
      parse: (text: string) => Either.Either<A, ProviderError>,
      call: Provider.CallOptions | undefined
    ): Effect.Effect<A, ProviderError> => {
      const timeoutMillis = upstream.timeoutFor(call)
      const send = (millis: number, headers: Authorized["headers"] | undefined) =>
        upstream.exchange(
          { method: "POST", path: pathOf(req.model, operation), body: JSON.stringify(req), timeoutMillis: millis, headers },
          parse
        )
      if (tokenEffect === undefined) return send(timeoutMillis, undefined)
      return Effect.flatMap(authorize(tokenEffect, timeoutMillis), (authorized) =>
        send(authorized.timeoutMillis, authorized.headers).pipe(
          Effect.mapError(wholeTimeout(timeoutMillis)),
          Effect.ensuring(Effect.sync(authorized.release))
        ))
    }

    const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
      post(req, "chat/completions", (text) => AzureWire.parseChatResponse(name, text, redact, req.model), call)

    // https://learn.microsoft.com/azure/ai-services/openai/reference#embeddings
    const embed = (req: EmbeddingRequest, call?: Provider.CallOptions): Effect.Effect<EmbeddingResponse, ProviderError> =>
      post(req, "embeddings", (text) => OpenAiWire.parseEmbeddingResponse(name, text, redact), call)

    // https://learn.microsoft.com/azure/ai-services/openai/reference#image-generation
    const image = (req: ImageRequest, call?: Provider.CallOptions): Effect.Effect<ImageResponse, ProviderError> => {
      const refusal = OpenAiWire.refuseImageStream(name, req)
      return refusal === undefined
        ? post(req, "images/generations", (text) => OpenAiWire.parseImageResponse(name, text, redact), call)
        : Effect.fail(refusal)
    }

    const open = (req: ChatRequest, timeoutMillis: number, headers: Authorized["headers"] | undefined) =>
      upstream.stream(
        {
          method: "POST",
          path: pathOf(req.model, "chat/completions"),
          body: JSON.stringify(OpenAiWire.streamingRequest(req)),
          timeoutMillis,
          headers
        },
        AzureWire.makeStreamDecoder(name, redact),
        // Azure ends every stream with `data: [DONE]` (the `stream` parameter of
        // https://learn.microsoft.com/azure/ai-services/openai/reference#chat-completions): a
        // body that ends before it was cut short.
        { endEventRequired: true }
      )

    /**
     * The timeout runs until the first chunk of the answer; the upstream (and a token from an
     * Effect, for redaction) live in the caller's Scope, or are let go at once when opening fails.
     */
    const openStream = (
      req: ChatRequest,
      call?: Provider.CallOptions
    ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> => {
      const timeoutMillis = upstream.timeoutFor(call)
      if (tokenEffect === undefined) return open(req, timeoutMillis, undefined)
      return Effect.flatMap(authorize(tokenEffect, timeoutMillis), (authorized) =>
        Effect.zipRight(
          Effect.addFinalizer(() => Effect.sync(authorized.release)),
          open(req, authorized.timeoutMillis, authorized.headers).pipe(
            Effect.mapError(wholeTimeout(timeoutMillis)),
            Effect.onError(() => Effect.sync(authorized.release))
          )
        ))
    }

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>> = Effect.succeed(
      configured === undefined ? [] : Provider.listedModels(name, configured)
    )

    return {
      name,
      kind: "azure-openai",
      serves: Provider.modelMatcher(configured ?? Provider.modelFamilies("openai")),
      chat,
      chatStream: Provider.streamFromOpen(openStream),
      openStream,
      embed,
      image,
      listModels,
      // Every operation, every parameter forwarded: the deployment's model decides.
      capabilities: OpenAiProvider.capabilities({}),
      unsupportedParams: options.unsupportedParams,
      // Azure's OpenAI models start a new message after a trailing assistant one.
      supportsPrefill: false,
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
