/**
 * One upstream LLM provider. A provider package builds a `Provider` and registers it in the
 * `ProviderRegistry` under the name targets call it by (`virtual_key`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Capabilities, Policy } from "./Capabilities.js"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo } from "./ChatSchema.js"
import type { EmbeddingRequest, EmbeddingResponse } from "./EmbeddingSchema.js"
import type { ProviderError } from "./GatewayError.js"
import type { ImageRequest, ImageResponse } from "./ImageSchema.js"
import type { Passthrough } from "./Passthrough.js"
import * as Streaming from "./Streaming.js"

/**
 * What the gateway asks of one call besides the request.
 *
 * @since 0.1.0 @category Models
 */
export interface CallOptions {
  /**
   * The target's request timeout: the whole answer, or for a stream its first chunk. A provider
   * that `enforcesTimeouts` applies the smaller of this and its own; for the others the gateway
   * bounds the call itself.
   */
  readonly timeoutMillis?: number | undefined
}

/** @since 0.1.0 @category Models */
export interface Provider {
  /** The registry key: what `provider/model` prefixes and targets' `virtual_key` name. */
  readonly name: string
  /** The wire format / vendor family: `openai`, `anthropic`, `gemini`, `mock`, ... */
  readonly kind: string
  /** Whether this provider serves a model id (its `models` list, else its vendor's families). */
  readonly serves: (model: string) => boolean
  /** `req.model` is the upstream model id: aliases resolved, provider prefix stripped. */
  readonly chat: (req: ChatRequest, options?: CallOptions) => Effect.Effect<ChatResponse, ProviderError>
  /** Opens the upstream on first pull; the upstream call lives as long as the stream is consumed. */
  readonly chatStream: (req: ChatRequest) => Stream.Stream<ChatChunk, ProviderError>
  /**
   * The same stream as a pull, opened now, living as long as the Scope; when it fails, what it
   * acquired is already released (the gateway retries in the same Scope). Optional: the gateway
   * uses it when present, because turning `chatStream` into a pull costs a Stream run.
   */
  readonly openStream?: (
    req: ChatRequest,
    options?: CallOptions
  ) => Effect.Effect<Streaming.Pull<ChatChunk, ProviderError>, ProviderError, Scope.Scope>
  /** Embeddings, when the vendor makes them; answered in OpenAI's shape, in the encoding asked for. */
  readonly embed?: (req: EmbeddingRequest, options?: CallOptions) => Effect.Effect<EmbeddingResponse, ProviderError>
  /** Image generation, when the vendor has it; answered in OpenAI's shape. */
  readonly image?: (req: ImageRequest, options?: CallOptions) => Effect.Effect<ImageResponse, ProviderError>
  readonly listModels: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError>
  /**
   * The wire formats the vendor speaks, for clients that speak one too: their requests are
   * forwarded as they came (the fast path) instead of being translated.
   */
  readonly passthrough?: Passthrough | undefined
  /**
   * Which canonical parameters the vendor honours, per operation. Absent: everything it is sent
   * (nothing is checked).
   */
  readonly capabilities?: Capabilities | undefined
  /** What the gateway does with a parameter `capabilities` says is not honoured. Default `warn`. */
  readonly unsupportedParams?: Policy | undefined
  /**
   * Whether the upstream continues a trailing assistant message marked `prefix: true` instead
   * of starting a new one (an assistant prefill). Mid-stream failover continues a broken
   * stream only on providers that do.
   */
  readonly supportsPrefill?: boolean
  /**
   * Whether `chat` and `openStream` honour `CallOptions.timeoutMillis` themselves (on the wire,
   * where a timeout also aborts the request), which spares the gateway a fiber per call.
   */
  readonly enforcesTimeouts?: boolean
}

const familiesByKind: Record<string, ReadonlyArray<string>> = {
  openai: ["gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-embedding-3-*", "text-embedding-ada-*", "dall-e-*", "gpt-image-*", "omni-moderation-*"],
  anthropic: ["claude-*"],
  gemini: ["gemini-*", "gemma-*", "imagen-*", "text-embedding-004", "text-embedding-005", "text-multilingual-embedding-*"],
  mock: ["mock-*"]
}

/**
 * The model families a provider kind serves when its configuration lists no models.
 *
 * @since 0.1.0 @category Models
 */
export const modelFamilies = (kind: string): ReadonlyArray<string> => familiesByKind[kind] ?? []

const globToRegExp = (pattern: string): RegExp =>
  new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)

/**
 * A predicate over model ids from glob patterns (`*` matches any run of characters).
 *
 * @since 0.1.0 @category Constructors
 */
export const modelMatcher = (patterns: ReadonlyArray<string>): (model: string) => boolean => {
  const exact = new Set(patterns.filter((p) => !p.includes("*")))
  const globs = patterns.filter((p) => p.includes("*")).map(globToRegExp)
  return (model) => exact.has(model) || globs.some((re) => re.test(model))
}

/**
 * What `listModels` answers for a provider configured with `models`: the patterns that name one
 * model (no `*`), owned by the provider.
 *
 * @since 0.1.0 @category Constructors
 */
export const listedModels = (provider: string, patterns: ReadonlyArray<string>): ReadonlyArray<ModelInfo> =>
  patterns.filter((p) => !p.includes("*")).map((id): ModelInfo => ({ id, object: "model", created: 0, owned_by: provider }))

/**
 * `chatStream` for a provider that implements `openStream`.
 *
 * @since 0.1.0 @category Constructors
 */
export const streamFromOpen = (open: NonNullable<Provider["openStream"]>): Provider["chatStream"] => (req) =>
  Stream.unwrapScoped(Effect.map(open(req), Streaming.toStream))
