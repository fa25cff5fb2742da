/**
 * A recording fake provider and canonical fixtures, for tests that swap providers by giving
 * another Layer: no network, no fetch mocks.
 *
 * ```ts
 * const openai = TestProvider.make({ name: "openai", models: ["gpt-*"] })
 * const GatewayTest = Gateway.layer().pipe(Layer.provide(openai.layer), Layer.provide(Gateway.defaults))
 * // ... run the code under test, then look at openai.received
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Passthrough } from "./Passthrough.js"
import type { Capabilities, Policy } from "./Capabilities.js"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo, Usage } from "./ChatSchema.js"
import type { EmbeddingRequest, EmbeddingResponse } from "./EmbeddingSchema.js"
import type { ProviderError } from "./GatewayError.js"
import type { ImageRequest, ImageResponse } from "./ImageSchema.js"
import { modelMatcher, type Provider } from "./Provider.js"
import * as ProviderRegistry from "./ProviderRegistry.js"

const defaultUsage: Usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }

/** A one-choice completion. @since 0.1.0 @category Fixtures */
export const response = (model: string, content: string, usage: Usage = defaultUsage): ChatResponse => ({
  id: "chatcmpl-test",
  object: "chat.completion",
  created: 0,
  model,
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage
})

/** A content delta. @since 0.1.0 @category Fixtures */
export const chunk = (model: string, content: string): ChatChunk => ({
  id: "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 0,
  model,
  choices: [{ index: 0, delta: { content }, finish_reason: null }]
})

/** The last chunk of a stream asked for usage: no choices. @since 0.1.0 @category Fixtures */
export const usageChunk = (model: string, usage: Usage = defaultUsage): ChatChunk => ({
  id: "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 0,
  model,
  choices: [],
  usage
})

/** @since 0.1.0 @category Models */
export interface Options {
  readonly name: string
  /** Glob patterns of the models it serves. */
  readonly models: ReadonlyArray<string>
  readonly kind?: string
  /** `call` counts every chat and chatStream call from 0. Default: `response(model, "from <name>")`. */
  readonly chat?: (req: ChatRequest, call: number) => Effect.Effect<ChatResponse, ProviderError>
  /** Default: chunks "a", "b", then a usage chunk. */
  readonly chatStream?: (req: ChatRequest, call: number) => Stream.Stream<ChatChunk, ProviderError>
  readonly listModels?: Effect.Effect<ReadonlyArray<ModelInfo>, ProviderError>
  /** Also implement `openStream` over the same stream (the pull the gateway prefers), as real adapters do. */
  readonly openStream?: boolean
  /** Declare that it continues an assistant prefill (a candidate for mid-stream failover). */
  readonly supportsPrefill?: boolean
  /** Makes embeddings (absent: it does not). */
  readonly embed?: (req: EmbeddingRequest) => Effect.Effect<EmbeddingResponse, ProviderError>
  /** Makes images (absent: it does not). */
  readonly image?: (req: ImageRequest) => Effect.Effect<ImageResponse, ProviderError>
  readonly capabilities?: Capabilities
  readonly unsupportedParams?: Policy
  /** The wire formats the provider speaks natively, for requests the gateway forwards as they came. */
  readonly passthrough?: Passthrough
}

/** @since 0.1.0 @category Models */
export interface TestProvider {
  readonly provider: Provider
  /** Every chat request the provider was called with, in order. */
  readonly received: ReadonlyArray<ChatRequest>
  /** Every embeddings and image request, in order. */
  readonly receivedOther: ReadonlyArray<EmbeddingRequest | ImageRequest>
  /** Registers the provider: give it where the real provider's Layer would go. */
  readonly layer: Layer.Layer<never, never, ProviderRegistry.ProviderRegistry>
}

/** @since 0.1.0 @category Constructors */
export const make = (options: Options): TestProvider => {
  const received: Array<ChatRequest> = []
  const receivedOther: Array<EmbeddingRequest | ImageRequest> = []
  const recording = <A extends EmbeddingRequest | ImageRequest, B>(f: (req: A) => Effect.Effect<B, ProviderError>) =>
  (req: A) => Effect.suspend(() => (receivedOther.push(req), f(req)))
  let calls = 0
  const chat = options.chat ?? ((req) => Effect.succeed(response(req.model, `from ${options.name}`)))
  const chatStream = options.chatStream ??
    ((req) => Stream.make(chunk(req.model, "a"), chunk(req.model, "b"), usageChunk(req.model)))
  const provider: Provider = {
    name: options.name,
    kind: options.kind ?? "test",
    serves: modelMatcher(options.models),
    chat: (req) => Effect.suspend(() => (received.push(req), chat(req, calls++))),
    chatStream: (req) => Stream.suspend(() => (received.push(req), chatStream(req, calls++))),
    ...(options.openStream === true
      ? { openStream: (req: ChatRequest) => Effect.suspend(() => (received.push(req), Stream.toPull(chatStream(req, calls++)))) }
      : {}),
    listModels: options.listModels ?? Effect.succeed(
      options.models.filter((m) => !m.includes("*")).map((id) => ({ id, object: "model", created: 0, owned_by: options.name }))
    ),
    ...(options.supportsPrefill === true ? { supportsPrefill: true } : {}),
    ...(options.embed === undefined ? {} : { embed: recording(options.embed) }),
    ...(options.image === undefined ? {} : { image: recording(options.image) }),
    capabilities: options.capabilities,
    unsupportedParams: options.unsupportedParams,
    passthrough: options.passthrough
  }
  return { provider, received, receivedOther, layer: ProviderRegistry.register(Effect.succeed(provider)) }
}
