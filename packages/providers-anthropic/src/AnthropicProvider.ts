/**
 * The Anthropic Messages API adapter (https://platform.claude.com/docs/en/api/messages): the
 * canonical request (OpenAI Chat Completions) is translated to `POST /v1/messages`, and its JSON
 * answer and event stream back to canonical completions and chunks. What is mapped, and what is
 * dropped because Anthropic has no such thing, is listed in `internal/request.ts`.
 *
 * @since 0.1.0
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type * as Streaming from "@switchyard/core/Streaming"
import * as Forwarding from "@switchyard/provider-http/Forwarding"
import * as Upstream from "@switchyard/provider-http/Upstream"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Errors from "./internal/errors.js"
import * as ToAnthropic from "./internal/request.js"
import * as FromAnthropic from "./internal/response.js"
import * as AnthropicStream from "./internal/stream.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"anthropic"`. */
  readonly name?: string
  /** Sent as `x-api-key` when given. Never appears in errors, logs or traces. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `"https://api.anthropic.com"`; the paths `/v1/messages` and `/v1/models` are appended. */
  readonly baseUrl?: string
  /**
   * Glob patterns (`*` matches anything) of the models this provider serves; those without a
   * wildcard are what `listModels` answers. Absent or empty: Anthropic's model families
   * (`Provider.modelFamilies("anthropic")`), and `listModels` asks `GET /v1/models`.
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Extra headers on every request (`anthropic-beta`, say), set last, so they may replace the
   * adapter's. Values of headers named like a credential are redacted like the key.
   */
  readonly headers?: Record<string, string>
  /** The whole non-stream request, and for streams the time until the first chunk. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput
  /** Sent as `anthropic-version`. Default `"2023-06-01"`. */
  readonly anthropicVersion?: string
  /**
   * Anthropic requires `max_tokens`: sent when the request has neither `max_tokens` nor
   * `max_completion_tokens`. Default 4096.
   */
  readonly defaultMaxTokens?: number
  /**
   * Whether mid-stream failover may continue a broken answer here with an assistant prefill.
   * Default true; models that refuse a prefill (Anthropic's docs say Claude 4.6 and later) need
   * false, or the continuation fails with a 400.
   */
  readonly prefill?: boolean
  /**
   * What the gateway does with a parameter Anthropic does not honour (`capabilities`): `warn`
   * (the gateway's default), `drop` or `reject`.
   */
  readonly unsupportedParams?: Capabilities.Policy
  /**
   * Whether requests from clients that speak the vendor's own format are forwarded as they came
   * (the fast path: unknown fields kept both ways). Default true; false translates them like
   * any other request.
   */
  readonly passthrough?: boolean | undefined
}

const defaultBaseUrl = "https://api.anthropic.com"
const defaultVersion = "2023-06-01"
const defaultTimeout = Duration.minutes(10)
const defaultMaxTokens = 4096
/** `GET /v1/models` pages are asked for this many models (the documented maximum)... */
const modelPageSize = 1000
/** ...and at most this many pages are read. */
const maxModelPages = 10

const errorEvent = /^event:\s*error\s*$/m

const nowSeconds = Effect.map(Clock.currentTimeMillis, (millis) => Math.floor(millis / 1000))

/**
 * Builds the provider with its own keep-alive connection pool to the base URL's origin, closed
 * with the Scope.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, never, Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "anthropic"
    const configured = options.models !== undefined && options.models.length > 0 ? options.models : undefined
    const maxTokens = options.defaultMaxTokens ?? defaultMaxTokens
    // https://platform.claude.com/docs/en/api/overview#authentication: these on every request.
    const { headers, redact } = Upstream.credentials({
      base: {
        "content-type": "application/json",
        accept: "application/json",
        "anthropic-version": options.anthropicVersion ?? defaultVersion
      },
      apiKey: options.apiKey,
      keyHeaders: (key) => ({ "x-api-key": key }),
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

    const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
      Effect.flatMap(nowSeconds, (created) => {
        const { body, trimmedPrefill } = ToAnthropic.encode(req, maxTokens)
        return upstream.exchange(
          { method: "POST", path: "/v1/messages", body: JSON.stringify(body), timeoutMillis: upstream.timeoutFor(call) },
          (text) => FromAnthropic.parseMessage(name, text, redact, created, trimmedPrefill)
        )
      })

    /** The timeout runs until the first chunk; the upstream lives in the caller's Scope. */
    const openStream = (
      req: ChatRequest,
      call?: Provider.CallOptions
    ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> =>
      Effect.flatMap(nowSeconds, (created) => {
        const { body, trimmedPrefill } = ToAnthropic.encode(req, maxTokens)
        return upstream.stream(
          {
            method: "POST",
            path: "/v1/messages",
            body: JSON.stringify({ ...body, stream: true }),
            timeoutMillis: upstream.timeoutFor(call)
          },
          AnthropicStream.makeDecoder(name, redact, created, trimmedPrefill),
          // https://platform.claude.com/docs/en/build-with-claude/streaming: every stream ends with message_stop.
          { endEventRequired: true }
        )
      })

    /**
     * A client's own Messages request: its `anthropic-version` and `anthropic-beta` replace the
     * configured ones, so the upstream answers in the dialect the client asked for.
     */
    const passthrough = Forwarding.make(upstream, {
      format: "anthropic",
      request: (request, model, timeoutMillis) =>
        Effect.succeed({
          method: "POST",
          path: `/v1/${request.operation}`,
          body: Forwarding.withModel(request, model),
          timeoutMillis,
          headers: request.headers
        }),
      usage: (answer) => FromAnthropic.usageOf(answer.usage),
      // https://platform.claude.com/docs/en/build-with-claude/streaming: input counts in
      // message_start's message, the output (cumulative) in message_delta.
      streamUsage: {
        marker: "\"usage\"",
        read: (start, delta) =>
          FromAnthropic.usageOf({
            ...(isRecord(start.message) && isRecord(start.message.usage) ? start.message.usage : {}),
            ...(isRecord(delta.usage) ? delta.usage : {})
          })
      },
      endMarker: "event: message_stop",
      // An `error` event fails the stream as it fails a translated one.
      events: () => (event) =>
        event.includes("error") && errorEvent.test(event) ? { failure: AnthropicStream.errorEvent(name, Forwarding.dataOf(event), redact) } : event
    })

    const modelPage = (after: string | undefined) =>
      upstream.exchange(
        {
          method: "GET",
          path: `/v1/models?limit=${modelPageSize}${after === undefined ? "" : `&after_id=${encodeURIComponent(after)}`}`,
          timeoutMillis: upstream.timeoutFor(undefined)
        },
        (text) => FromAnthropic.parseModelPage(name, text, redact)
      )

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> = configured !== undefined
      ? Effect.succeed(Provider.listedModels(name, configured))
      : Upstream.allPages(modelPage, maxModelPages)

    return {
      name,
      kind: "anthropic",
      serves: Provider.modelMatcher(configured ?? Provider.modelFamilies("anthropic")),
      chat,
      chatStream: Provider.streamFromOpen(openStream),
      openStream,
      listModels,
      passthrough: options.passthrough === false ? undefined : passthrough,
      capabilities: { chat: ToAnthropic.support },
      unsupportedParams: options.unsupportedParams,
      supportsPrefill: options.prefill ?? true,
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
