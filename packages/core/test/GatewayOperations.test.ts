/**
 * Embeddings, images and the unsupported-parameter policy through the whole Gateway, providers
 * swapped by Layers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import * as EmbeddingSchema from "@switchyard/core/EmbeddingSchema"
import type { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import * as Gateway from "@switchyard/core/Gateway"
import { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { ImageRequest, ImageResponse } from "@switchyard/core/ImageSchema"
import * as RequestContext from "@switchyard/core/RequestContext"
import type * as Routing from "@switchyard/core/Routing"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { gatewayWith, recordingHooks } from "./utils/gateways.js"

/** A vector per input: its index and its length, so answers can be traced to inputs. */
const embedder = (name: string) => (req: EmbeddingRequest) =>
  Effect.succeed(
    EmbeddingSchema.response(
      req,
      EmbeddingSchema.inputs(req.input).map((input, i) => [i, input.length, name.length]),
      { prompt_tokens: 1000, total_tokens: 1000 }
    )
  )

const painter = (req: ImageRequest): Effect.Effect<ImageResponse> =>
  Effect.succeed({
    created: 1,
    data: Array.from({ length: req.n ?? 1 }, () => ({ b64_json: "aW1n" })),
    usage: { input_tokens: 10, output_tokens: 20, total_tokens: 30 }
  })

const unavailable = (name: string) =>
  Effect.fail(new ProviderStatusError({ provider: name, status: 503, body: "{}", upstreamMessage: "down" }))

describe("Gateway.embed", () => {
  it.effect("routes to the providers that make embeddings, past those that do not", () => {
    const chatOnly = TestProvider.make({ name: "chat-only", models: ["text-embedding-*"] })
    const embeds = TestProvider.make({ name: "embeds", models: ["text-embedding-*"], embed: embedder("embeds") })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).embed({ model: "small", input: ["ab", "cde"] })
      assert.strictEqual(result.provider, "embeds")
      assert.strictEqual(result.attempts, 1)
      assert.deepStrictEqual(result.response.data.map((d) => d.embedding), [[0, 2, 6], [1, 3, 6]])
      assert.strictEqual((embeds.receivedOther[0] as EmbeddingRequest).model, "text-embedding-3-small", "alias resolved")
      assert.strictEqual(chatOnly.received.length, 0)
    }).pipe(Effect.provide(gatewayWith({ aliases: { small: "text-embedding-3-small" } }, [chatOnly, embeds])))
  })

  it.effect("a provider prefix pins the provider and is stripped", () => {
    const a = TestProvider.make({ name: "a", models: ["e-*"], embed: embedder("a") })
    const b = TestProvider.make({ name: "b", models: ["e-*"], embed: embedder("bb") })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).embed({ model: "b/e-1", input: "x" })
      assert.strictEqual(result.provider, "b")
      assert.strictEqual((b.receivedOther[0] as EmbeddingRequest).model, "e-1")
      assert.strictEqual(a.receivedOther.length, 0)
    }).pipe(Effect.provide(gatewayWith({}, [a, b])))
  })

  it.effect("fails over like chat: a 503 from the first target is served by the second", () => {
    const down = TestProvider.make({ name: "down", models: ["e-*"], embed: () => unavailable("down") })
    const up = TestProvider.make({ name: "up", models: ["e-*"], embed: embedder("up") })
    const config: Routing.RoutingConfig = { strategy: { mode: "fallback" }, targets: [{ virtual_key: "down" }, { virtual_key: "up" }] }
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).embed({ model: "e-1", input: "x" })
      assert.strictEqual(result.provider, "up")
      assert.strictEqual(result.attempts, 2)
    }).pipe(Effect.provide(gatewayWith(config, [down, up])))
  })

  it.effect("a model served only by providers without embeddings is a ModelNotFound naming them", () => {
    const chatOnly = TestProvider.make({ name: "claude", models: ["claude-*"] })
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Gateway.Gateway).embed({ model: "claude-x", input: "x" }))
      assert.strictEqual(error._tag, "ModelNotFound")
      assert.strictEqual(error.message, "The model 'claude-x' is served by 'claude', which does not make embeddings")
    }).pipe(Effect.provide(gatewayWith({}, [chatOnly])))
  })

  it.effect("publishes an accounting event with the operation, usage and the catalog's cost", () => {
    const hooks = recordingHooks()
    const openai = TestProvider.make({ name: "openai", models: ["text-embedding-*"], embed: embedder("openai") })
    return Effect.gen(function*() {
      yield* (yield* Gateway.Gateway).embed({ model: "text-embedding-3-small", input: "x" })
      yield* Effect.yieldNow()
    }).pipe(
      Effect.provide(gatewayWith({}, [openai], hooks.layer)),
      Effect.andThen(Effect.sync(() => {
        assert.strictEqual(hooks.events.length, 1)
        const event = hooks.events[0]!
        assert.strictEqual(event.operation, "embeddings")
        assert.strictEqual(event.outcome, "success")
        assert.deepStrictEqual(event.usage, { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000 })
        // 1000 tokens at 0.02 USD per million
        assert.closeTo(event.costUsd!, 0.00002, 1e-15)
      }))
    )
  })
})

describe("Gateway.image", () => {
  it.effect("routes to a provider that makes images and accounts its token usage", () => {
    const hooks = recordingHooks()
    const chatOnly = TestProvider.make({ name: "chat-only", models: ["gpt-image-*"] })
    const images = TestProvider.make({ name: "images", models: ["gpt-image-*"], image: painter })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).image({ model: "gpt-image-1", prompt: "a fox", n: 2 })
      assert.strictEqual(result.provider, "images")
      assert.strictEqual(result.response.data.length, 2)
      assert.strictEqual((images.receivedOther[0] as ImageRequest).prompt, "a fox")
    }).pipe(
      Effect.provide(gatewayWith({}, [chatOnly, images], hooks.layer)),
      Effect.andThen(Effect.sync(() => {
        assert.strictEqual(hooks.events[0]!.operation, "images")
        assert.deepStrictEqual(hooks.events[0]!.usage, { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 })
      }))
    )
  })

  it.effect("content-based routing reads the prompt", () => {
    const cats = TestProvider.make({ name: "cats", models: ["img-*"], image: painter })
    const other = TestProvider.make({ name: "other", models: ["img-*"], image: painter })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "content-based", content_conditions: [{ type: "prompt_contains", value: "cat", target_key: "cats" }] },
      targets: [{ virtual_key: "other" }, { virtual_key: "cats" }]
    }
    return Effect.gen(function*() {
      assert.strictEqual((yield* (yield* Gateway.Gateway).image({ model: "img-1", prompt: "A Cat asleep" })).provider, "cats")
    }).pipe(Effect.provide(gatewayWith(config, [cats, other])))
  })
})

const noSeed: Capabilities.Capabilities = {
  chat: { ...Capabilities.without(Capabilities.everything("chat"), ["seed", "logit_bias"]), forwardsUnknown: false }
}

const chatRequest = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "gpt-4o",
  messages: [{ role: "user", content: "hi" }],
  ...extra
})

/** Every warning logged, as `message|provider|dropped`. */
const capturingWarnings = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    if (logLevel.label !== "WARN") return
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    const annotation = (key: string) => Option.getOrUndefined(HashMap.get(annotations, key))
    lines.push(`${text}|${String(annotation("provider"))}|${String(annotation("dropped"))}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("the unsupported-parameter policy", () => {
  it.effect("warn (the default) sends the request without the parameters, logs them and records them in the trace", () => {
    const warnings = capturingWarnings()
    const narrow = TestProvider.make({ name: "narrow", models: ["gpt-*"], capabilities: noSeed })
    const trace: RequestContext.RoutingTrace = { attempts: 0 }
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chat(chatRequest({ seed: 1, temperature: 0.3, top_k: 5 }), RequestContext.make({ trace }))
      assert.strictEqual(result.provider, "narrow")
      const sent = narrow.received[0]!
      assert.isUndefined(sent.seed)
      assert.isUndefined(sent["top_k"])
      assert.strictEqual(sent.temperature, 0.3)
      assert.deepStrictEqual(trace.dropped, ["seed", "top_k"])
      assert.deepStrictEqual(warnings.lines, ["parameters the provider does not support were dropped|narrow|seed,top_k"])
    }).pipe(Effect.provide(Layer.merge(gatewayWith({}, [narrow]), warnings.layer)))
  })

  it.effect("drop leaves them out without a warning; streams are policed too", () => {
    const warnings = capturingWarnings()
    const narrow = TestProvider.make({ name: "narrow", models: ["gpt-*"], capabilities: noSeed, unsupportedParams: "drop" })
    const trace: RequestContext.RoutingTrace = { attempts: 0 }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* gw.chat(chatRequest({ logit_bias: { "1": 1 } }))
      const streamed = yield* Effect.scoped(Effect.flatMap(
        gw.chatStream(chatRequest({ seed: 2, stream: true }), RequestContext.make({ trace })),
        (result) => Stream.runCollect(result.stream)
      ))
      assert.isAbove(Chunk.size(streamed), 0)
      assert.isUndefined(narrow.received[0]!.logit_bias)
      assert.isUndefined(narrow.received[1]!.seed)
      assert.deepStrictEqual(trace.dropped, ["seed"])
      assert.deepStrictEqual(warnings.lines, [])
    }).pipe(Effect.provide(Layer.merge(gatewayWith({}, [narrow]), warnings.layer)))
  })

  it.effect("reject in a pool serves from a provider that honours the request, without calling the one that refuses", () => {
    const strict = TestProvider.make({ name: "strict", models: ["gpt-*"], capabilities: noSeed, unsupportedParams: "reject" })
    const full = TestProvider.make({ name: "full", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = { strategy: { mode: "fallback" }, targets: [{ virtual_key: "strict" }, { virtual_key: "full" }] }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const result = yield* gw.chat(chatRequest({ seed: 1 }))
      assert.strictEqual(result.provider, "full")
      assert.strictEqual(result.attempts, 1)
      assert.strictEqual(full.received[0]!.seed, 1, "the provider that honours it gets it")
      assert.strictEqual(strict.received.length, 0)
      // Without the parameter the first choice serves as usual.
      assert.strictEqual((yield* gw.chat(chatRequest())).provider, "strict")
    }).pipe(Effect.provide(gatewayWith(config, [strict, full])))
  })

  it.effect("reject with no candidate that honours the request: a 400 naming the parameter, no upstream call", () => {
    const hooks = recordingHooks()
    const strict = TestProvider.make({ name: "strict", models: ["gpt-*"], capabilities: noSeed, unsupportedParams: "reject" })
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Gateway.Gateway).chat(chatRequest({ seed: 1 })))
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.strictEqual(error._tag === "InvalidRequest" && error.code, "unsupported_parameter")
      assert.strictEqual(error._tag === "InvalidRequest" && error.param, "seed")
      const streamError = yield* Effect.flip(Effect.scoped((yield* Gateway.Gateway).chatStream(chatRequest({ seed: 1, stream: true }))))
      assert.strictEqual(streamError._tag, "InvalidRequest")
      assert.strictEqual(strict.received.length, 0)
    }).pipe(
      Effect.provide(gatewayWith({}, [strict], hooks.layer)),
      Effect.andThen(Effect.sync(() => {
        assert.deepStrictEqual(hooks.events.map((e) => [e.status, e.attempts]), [[400, 0], [400, 0]])
      }))
    )
  })

  it.effect("embeddings are policed by their own table", () => {
    const fixed = TestProvider.make({
      name: "fixed",
      models: ["e-*"],
      embed: embedder("fixed"),
      capabilities: { chat: Capabilities.everything("chat"), embeddings: Capabilities.without(Capabilities.everything("embeddings"), ["dimensions"]) },
      unsupportedParams: "reject"
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Gateway.Gateway).embed({ model: "e-1", input: "x", dimensions: 8 }))
      assert.strictEqual(error._tag === "InvalidRequest" && error.param, "dimensions")
      assert.strictEqual((yield* (yield* Gateway.Gateway).embed({ model: "e-1", input: "x" })).provider, "fixed")
    }).pipe(Effect.provide(gatewayWith({}, [fixed])))
  })

  it.effect("Gateway.capabilities lists every provider's row", () => {
    const strict = TestProvider.make({ name: "strict", models: ["gpt-*"], capabilities: noSeed, unsupportedParams: "reject" })
    const full = TestProvider.make({ name: "full", models: ["gpt-*"], embed: embedder("full") })
    return Effect.gen(function*() {
      const rows = (yield* Gateway.Gateway).capabilities
      assert.deepStrictEqual(rows.map((r) => [r.provider, r.unsupported_params, r.operations.embeddings !== null]), [
        ["strict", "reject", false],
        ["full", "warn", true]
      ])
      assert.strictEqual(rows[0]!.operations.chat.parameters.seed, "unsupported")
    }).pipe(Effect.provide(gatewayWith({}, [strict, full])))
  })
})
