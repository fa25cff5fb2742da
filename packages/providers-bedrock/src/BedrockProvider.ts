/**
 * The Amazon Bedrock adapter, over the Converse and ConverseStream APIs
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html):
 * the canonical request (OpenAI Chat Completions) is translated to `POST
 * /model/{modelId}/converse` (or `/converse-stream`) at
 * `https://bedrock-runtime.{region}.amazonaws.com`, signed with AWS Signature Version 4, and
 * its JSON answer and binary event stream are translated back to canonical completions and
 * chunks. What is mapped, and what is dropped or refused because Converse has no such thing, is
 * listed in `internal/request.ts`; the signing in `internal/signing.ts`; the stream's framing in
 * `internal/stream.ts`; the errors in `internal/errors.ts`. Embeddings (Amazon Titan Text
 * Embeddings and Cohere Embed) go through InvokeModel (`POST /model/{modelId}/invoke`), signed
 * the same way: `internal/embeddings.ts`.
 *
 * Credentials are static: from the options, else from the environment's `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; the region from the options, else
 * `AWS_REGION`, else `AWS_DEFAULT_REGION`. The rest of the AWS SDKs' credential chain (shared
 * config and credentials files, `AWS_PROFILE`, SSO, web identity, the ECS and EC2 metadata
 * services) is not read, and temporary credentials are not refreshed: a deployment with
 * expiring credentials restarts with new ones.
 *
 * @since 0.1.0
 */
import type * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type * as Streaming from "@switchyard/core/Streaming"
import * as Redact from "@switchyard/provider-http/Redact"
import * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Embeddings from "./internal/embeddings.js"
import * as Errors from "./internal/errors.js"
import * as ToConverse from "./internal/request.js"
import * as FromConverse from "./internal/response.js"
import * as Signing from "./internal/signing.js"
import * as ConverseStream from "./internal/stream.js"

/** @since 0.1.0 @category Models */
export interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted
  /** Temporary credentials' session token, sent as `x-amz-security-token`. */
  readonly sessionToken?: Redacted.Redacted | undefined
}

/** @since 0.1.0 @category Models */
export interface Options {
  /** The registry key targets call it by (`virtual_key`). Default `"bedrock"`. */
  readonly name?: string
  /** The AWS region (`us-east-1`). Default: the environment's `AWS_REGION`, else `AWS_DEFAULT_REGION`. */
  readonly region?: string
  /**
   * The credentials requests are signed with. Default: the environment's `AWS_ACCESS_KEY_ID`,
   * `AWS_SECRET_ACCESS_KEY` and (for temporary credentials) `AWS_SESSION_TOKEN`. The secret key
   * and the session token (and the key id) never appear in errors, logs or traces.
   */
  readonly credentials?: Credentials
  /** Where the `AWS_*` variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * Default `https://bedrock-runtime.{region}.amazonaws.com`; the paths `/model/{modelId}/converse`,
   * `/converse-stream` and `/invoke` are appended (a VPC endpoint, a proxy, a test upstream).
   */
  readonly baseUrl?: string
  /**
   * Glob patterns (`*` matches anything) of the model ids this provider serves; those without
   * a wildcard are what `listModels` answers. Absent or empty: `defaultModels`, and
   * `listModels` answers nothing (the model catalogue is the control-plane `bedrock` service's
   * `ListFoundationModels`, not this runtime API).
   */
  readonly models?: ReadonlyArray<string>
  /**
   * Extra headers on every request, signed with the rest (`content-type` may be replaced;
   * `host` and the signature's own headers may not). Values of headers named like a credential
   * are redacted from errors.
   */
  readonly headers?: Record<string, string>
  /** The whole non-stream request, and for streams the time until the first chunk. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput
  /**
   * What the gateway does with a parameter Bedrock does not honour (`capabilities`): `warn`
   * (the gateway's default), `drop` or `reject`.
   */
  readonly unsupportedParams?: Capabilities.Policy
}

/**
 * The model ids served when no `models` are configured: Bedrock's foundation model ids
 * (`anthropic.claude-3-5-sonnet-20240620-v1:0`, `amazon.nova-pro-v1:0`, ...), by provider
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html), cross-region
 * inference profiles (`us.anthropic...`, `eu.`, `apac.`, `global.`, ...,
 * https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html), and
 * ARNs (provisioned throughput, application inference profiles).
 *
 * @since 0.1.0 @category Models
 */
export const defaultModels: ReadonlyArray<string> = [
  "anthropic.*",
  "amazon.*",
  "meta.*",
  "mistral.*",
  "cohere.*",
  "ai21.*",
  "deepseek.*",
  "writer.*",
  "qwen.*",
  "openai.*",
  "us.*",
  "us-gov.*",
  "eu.*",
  "apac.*",
  "jp.*",
  "au.*",
  "global.*",
  "arn:aws*:bedrock:*"
]

/**
 * The provider cannot be built: no region, or no (or half of the) credentials. Names what is
 * missing, never a credential.
 *
 * @since 0.1.0 @category Errors
 */
export class BedrockConfigError extends Schema.TaggedError<BedrockConfigError>(
  "@switchyard/providers-bedrock/BedrockConfigError"
)("BedrockConfigError", { provider: Schema.String, message: Schema.String }) {}

const defaultTimeout = Duration.minutes(10)

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value.trim()

interface Resolved {
  readonly region: string
  readonly credentials: Signing.Credentials
}

const resolve = (name: string, options: Options): Effect.Effect<Resolved, BedrockConfigError> =>
  Effect.suspend(() => {
    const env = options.env ?? process.env
    const fail = (message: string) => Effect.fail(new BedrockConfigError({ provider: name, message }))
    const region = nonEmpty(options.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)
    if (region === undefined) {
      return fail(`Amazon Bedrock provider '${name}': no region (set the region option, AWS_REGION or AWS_DEFAULT_REGION)`)
    }
    if (options.credentials !== undefined) {
      const { accessKeyId, secretAccessKey, sessionToken } = options.credentials
      const secret = Redacted.value(secretAccessKey)
      if (nonEmpty(accessKeyId) === undefined || nonEmpty(secret) === undefined) {
        return fail(`Amazon Bedrock provider '${name}': the credentials option needs an accessKeyId and a secretAccessKey`)
      }
      const token = sessionToken === undefined ? undefined : nonEmpty(Redacted.value(sessionToken))
      return Effect.succeed({ region, credentials: { accessKeyId: accessKeyId.trim(), secretAccessKey: secret, sessionToken: token } })
    }
    const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID)
    const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY)
    if (accessKeyId === undefined || secretAccessKey === undefined) {
      const missing = [accessKeyId === undefined ? "AWS_ACCESS_KEY_ID" : [], secretAccessKey === undefined ? "AWS_SECRET_ACCESS_KEY" : []]
        .flat()
        .join(" and ")
      return fail(`Amazon Bedrock provider '${name}': no credentials (${missing} not set, and no credentials option)`)
    }
    return Effect.succeed({
      region,
      credentials: { accessKeyId, secretAccessKey, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) }
    })
  })

const seconds = (millis: number) => Math.floor(millis / 1000)

/**
 * How many InvokeModel calls of one embeddings request run at once (Titan embeds one text per
 * call): small, so that one request of many inputs does not spend the account's per-model
 * request quota in a burst.
 */

/**
 * Builds the provider with its own keep-alive connection pool to the base URL's origin, closed
 * with the Scope. Fails when no region or no credentials are found.
 *
 * @since 0.1.0 @category Constructors
 */
export const make: (options: Options) => Effect.Effect<Provider.Provider, BedrockConfigError, Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const name = options.name ?? "bedrock"
    const configured = options.models !== undefined && options.models.length > 0 ? options.models : undefined
    const { credentials, region } = yield* resolve(name, options)
    const baseUrl = options.baseUrl ?? `https://bedrock-runtime.${region}.amazonaws.com`
    const sign = Signing.make({ baseUrl, region, credentials })

    const extra: Record<string, string> = {}
    for (const [header, value] of Object.entries(options.headers ?? {})) extra[header.toLowerCase()] = value
    const redact = Redact.make([
      credentials.secretAccessKey,
      credentials.sessionToken ?? "",
      credentials.accessKeyId,
      ...Object.keys(extra).filter((header) => Redact.secretHeaderName.test(header)).map((header) => extra[header]!)
    ])

    const upstream = yield* Upstream.make({
      provider: name,
      baseUrl,
      // Every header is per request: the signature covers them.
      headers: {},
      redact,
      errorBody: Errors.fromErrorBody,
      timeoutMillis: Duration.toMillis(Duration.decode(options.timeout ?? defaultTimeout))
    }, yield* Deadlines.make)

    /**
     * The signed headers of a body sent to `path`, signed at the Clock's time (`now`). Like the
     * AWS SDKs, only `content-type` is sent besides the signature's headers (no `accept`).
     */
    const signed = (path: string, body: string, now: number) =>
      Effect.promise(() => sign({ path, body, headers: { "content-type": "application/json", ...extra } }, now))

    /** The body, the path and the signed headers of a Converse call. */
    const prepare = (req: ChatRequest, operation: "converse" | "converse-stream") =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const encoded = ToConverse.encode(req)
        if (encoded._tag === "Unsupported") {
          return Effect.fail(UpstreamErrors.unmappable(name, encoded.reason, encoded.param))
        }
        const body = JSON.stringify(encoded.body)
        const path = `/model/${Signing.encodeLabel(req.model)}/${operation}`
        return Effect.map(signed(path, body, now), (headers) => ({ body, path, headers, created: seconds(now) }))
      })

    const chat = (req: ChatRequest, call?: Provider.CallOptions): Effect.Effect<ChatResponse, ProviderError> =>
      Effect.flatMap(prepare(req, "converse"), ({ body, created, headers, path }) =>
        upstream.exchange(
          { method: "POST", path, body, headers, timeoutMillis: upstream.timeoutFor(call) },
          (text, answer) => FromConverse.parseResponse(name, text, answer, redact, req.model, created)
        ))

    /** The timeout runs until the first chunk; the upstream lives in the caller's Scope. */
    const openStream = (
      req: ChatRequest,
      call?: Provider.CallOptions
    ): Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope> =>
      Effect.flatMap(
        prepare(req, "converse-stream"),
        ({ body, created, headers, path }) =>
          upstream.streamBytes(
            { method: "POST", path, body, headers, timeoutMillis: upstream.timeoutFor(call) },
            ConverseStream.makeDecoder(name, redact, req.model, created),
            // `metadata` is every ConverseStream's last event: a body ending before it was cut short.
            { endEventRequired: true }
          )
      )

    const invoke = (path: string, invocation: Embeddings.Invocation, read: Embeddings.Read, timeoutMillis: number) => {
      const body = JSON.stringify(invocation.body)
      return Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => signed(path, body, now)),
        Effect.flatMap((headers) =>
          upstream.exchange(
            { method: "POST", path, body, headers, timeoutMillis },
            (text, answer) => Embeddings.parseBatch(name, text, answer, redact, read, invocation.inputs)
          )
        )
      )
    }

    /** One InvokeModel call, or several, bounded together by the timeout. */
    const embed = (req: EmbeddingRequest, call?: Provider.CallOptions): Effect.Effect<EmbeddingResponse, ProviderError> =>
      Effect.suspend(() => {
        const planned = Embeddings.plan(req)
        if (planned._tag === "Unsupported") {
          return Effect.fail(UpstreamErrors.unmappable(name, planned.reason, planned.param))
        }
        const path = `/model/${Signing.encodeLabel(req.model)}/invoke`
        return Effect.map(
          Upstream.fanOut(
            name,
            planned.invocations,
            upstream.timeoutFor(call),
            (invocation, left) => invoke(path, invocation, planned.read, left)
          ),
          (answered) => Embeddings.response(req, answered)
        )
      })

    const listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError> = Effect.succeed(
      Provider.listedModels(name, configured ?? [])
    )

    return {
      name,
      kind: "bedrock",
      serves: Provider.modelMatcher(configured ?? defaultModels),
      chat,
      chatStream: Provider.streamFromOpen(openStream),
      openStream,
      embed,
      listModels,
      capabilities: { chat: ToConverse.support, embeddings: Embeddings.support },
      unsupportedParams: options.unsupportedParams,
      // Converse documents no continuation of a trailing assistant message (a prefill).
      supportsPrefill: false,
      enforcesTimeouts: true
    } satisfies Provider.Provider
  })

/**
 * Builds the provider and adds it to the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options): Layer.Layer<never, BedrockConfigError, ProviderRegistry.ProviderRegistry> =>
  ProviderRegistry.register(make(options))
