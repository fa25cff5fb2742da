/**
 * Requests in a client's own wire format (`Gateway.relay`, `relayStream`, `countTokens`):
 * forwarded as they came to the candidates that speak the format, translated for the others,
 * and accounted either way.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatRequest, Usage } from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { ProviderError } from "@switchyard/core/GatewayError"
import { InvalidRequest, ProviderStatusError } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Plugins from "@switchyard/core/Plugins"
import * as Streaming from "@switchyard/core/Streaming"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { gatewayWith, recordingHooks } from "./utils/gateways.js"

const usage: Usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }

const native: Passthrough.Request = {
  format: "anthropic",
  operation: "messages",
  text: `{"model":"fast","max_tokens":9,"messages":[],"x_extra":1}`,
  body: { model: "fast", max_tokens: 9, messages: [], x_extra: 1 },
  stream: false,
  headers: { "anthropic-version": "2026-10-21" }
}

const canonical: ChatRequest = { model: "claude-x", messages: [{ role: "user", content: "hi" }] }

/** A provider speaking `format` natively that records what it was forwarded, and may fail first. */
const speaking = (format: Passthrough.Format, failures: ReadonlyArray<ProviderError> = []) => {
  const forwarded: Array<{ readonly request: Passthrough.Request; readonly model: string }> = []
  let call = 0
  const fail = () => (call < failures.length ? failures[call++] : undefined)
  const passthrough: Passthrough.Passthrough = {
    formats: [format],
    forward: (request, model) =>
      Effect.suspend(() => {
        forwarded.push({ request, model })
        const failure = fail()
        return failure !== undefined
          ? Effect.fail(failure)
          : Effect.succeed({ body: `{"native":true,"model":"${model}"}`, contentType: "application/json", usage })
      }),
    forwardStream: (request, model) =>
      Effect.suspend(() => {
        forwarded.push({ request, model })
        const failure = fail()
        if (failure !== undefined) return Effect.fail(failure)
        let seen: Usage | undefined
        return Effect.map(Stream.toPull(Stream.make("event: a\n\n", "event: b\n\n").pipe(Stream.tap(() => Effect.sync(() => (seen = usage))))), (pull) => ({
          pull,
          contentType: "text/event-stream",
          usage: () => seen
        }))
      })
  }
  return { passthrough, forwarded }
}

const unavailable = (provider: string) => new ProviderStatusError({ provider, status: 503, body: "{}", upstreamMessage: "down" })

const drain = <A, E>(pull: Streaming.Pull<A, E>) => Effect.map(Stream.runCollect(Streaming.toStream(pull)), Chunk.toArray)

describe("Gateway.relay", () => {
  it.effect("forwards the client's request as it came to a provider that speaks its format, model routed", () => {
    const anthropic = speaking("anthropic")
    const provider = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const hooks = recordingHooks()
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relay({ canonical: { ...canonical, model: "fast" }, native })
      assert.strictEqual(relayed._tag, "Forwarded")
      if (relayed._tag !== "Forwarded") return
      assert.strictEqual(relayed.answer.body, `{"native":true,"model":"claude-x"}`)
      assert.strictEqual(relayed.provider, "anthropic")
      assert.strictEqual(relayed.attempts, 1)
      assert.deepStrictEqual(anthropic.forwarded, [{ request: native, model: "claude-x" }])
      assert.strictEqual(provider.received.length, 0)
      yield* Effect.yieldNow()
      assert.deepStrictEqual(hooks.events.map((e) => [e.operation, e.provider, e.outcome, e.usage]), [["chat", "anthropic", "success", usage]])
    }).pipe(Effect.provide(gatewayWith({ aliases: { fast: "claude-x" } }, [provider], hooks.layer)))
  })

  it.effect("translates for a provider of another format", () => {
    const openai = TestProvider.make({ name: "openai", models: ["claude-*"] })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relay({ canonical, native })
      assert.strictEqual(relayed._tag, "Translated")
      if (relayed._tag !== "Translated") return
      assert.strictEqual(relayed.result.response.choices[0]!.message.content, "from openai")
      assert.deepStrictEqual(openai.received, [canonical])
    }).pipe(Effect.provide(gatewayWith({}, [openai])))
  })

  it.effect("falls back from a failing native provider to a translating one", () => {
    const anthropic = speaking("anthropic", [unavailable("anthropic")])
    const first = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const second = TestProvider.make({ name: "openai", models: ["claude-*"] })
    const config = { strategy: { mode: "fallback" as const }, targets: [{ virtual_key: "anthropic" }, { virtual_key: "openai" }] }
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relay({ canonical, native })
      assert.strictEqual(relayed._tag, "Translated")
      if (relayed._tag !== "Translated") return
      assert.strictEqual(relayed.result.provider, "openai")
      assert.strictEqual(relayed.result.attempts, 2)
      assert.strictEqual(anthropic.forwarded.length, 1)
      assert.strictEqual(second.received.length, 1)
    }).pipe(Effect.provide(gatewayWith(config, [first, second])))
  })

  it.effect("translates even for a native provider when a plugin reads bodies", () => {
    const anthropic = speaking("anthropic")
    const provider = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const plugins = Plugins.layer([{ name: "guard", beforeRequest: (req) => Effect.succeed(req) }])
    const layer = Gateway.layer({}).pipe(
      Layer.orDie,
      Layer.provide(provider.layer),
      Layer.provide(Layer.merge(Gateway.defaults, plugins))
    )
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relay({ canonical, native })
      assert.strictEqual(relayed._tag, "Translated")
      assert.strictEqual(anthropic.forwarded.length, 0)
      assert.strictEqual(provider.received.length, 1)
    }).pipe(Effect.provide(layer))
  })
})

describe("Gateway.relay of a request translation cannot carry", () => {
  const untranslatable = new InvalidRequest({ message: "tools[0].type: only function tools translate", param: "tools[0].type" })

  it.effect("goes only to the candidates that speak its format", () => {
    const anthropic = speaking("anthropic")
    const openai = TestProvider.make({ name: "openai", models: ["claude-*"] })
    const native1 = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const config = { strategy: { mode: "fallback" as const }, targets: [{ virtual_key: "openai" }, { virtual_key: "anthropic" }] }
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relay({ canonical, native, untranslatable })
      assert.strictEqual(relayed._tag, "Forwarded")
      assert.strictEqual(openai.received.length, 0)
      assert.strictEqual(anthropic.forwarded.length, 1)
    }).pipe(Effect.provide(gatewayWith(config, [openai, native1])))
  })

  it.effect("fails with why, calling no one, when no candidate speaks its format", () => {
    const openai = TestProvider.make({ name: "openai", models: ["claude-*"] })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const error = yield* Effect.flip(gateway.relayStream({ canonical, native: { ...native, stream: true }, untranslatable }).pipe(Effect.scoped))
      assert.strictEqual(error, untranslatable)
      assert.strictEqual(openai.received.length, 0)
    }).pipe(Effect.provide(gatewayWith({}, [openai])))
  })
})

describe("Gateway.relayStream", () => {
  it.scoped("forwards the stream's pieces as they came and accounts the usage read from them at the end", () => {
    const anthropic = speaking("anthropic")
    const provider = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const hooks = recordingHooks()
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const events = yield* Effect.scoped(Effect.gen(function*() {
        const relayed = yield* gateway.relayStream({ canonical, native: { ...native, stream: true } })
        assert.strictEqual(relayed._tag, "Forwarded")
        if (relayed._tag !== "Forwarded") return []
        return yield* drain(relayed.answer.pull)
      }))
      assert.deepStrictEqual(events, ["event: a\n\n", "event: b\n\n"])
      yield* Effect.yieldNow()
      assert.deepStrictEqual(hooks.events.map((e) => [e.stream, e.provider, e.outcome, e.usage]), [[true, "anthropic", "success", usage]])
    }).pipe(Effect.provide(gatewayWith({}, [provider], hooks.layer)))
  })

  it.scoped("with mid-stream failover on, translates a stream it could forward (so it can be continued), unless it cannot be translated", () => {
    const anthropic = speaking("anthropic")
    const provider = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const untranslatable = new InvalidRequest({ message: "tools[0].type: only function tools translate", param: "tools[0].type" })
    const stream = { canonical: { ...canonical, stream: true }, native: { ...native, stream: true } }
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const translated = yield* Effect.scoped(gateway.relayStream(stream))
      assert.strictEqual(translated._tag, "Translated")
      assert.strictEqual(provider.received.length, 1)
      assert.strictEqual(anthropic.forwarded.length, 0)
      const forwarded = yield* Effect.scoped(gateway.relayStream({ ...stream, untranslatable }))
      assert.strictEqual(forwarded._tag, "Forwarded")
      assert.strictEqual(anthropic.forwarded.length, 1)
    }).pipe(Effect.provide(gatewayWith({ strategy: { mode: "fallback", mid_stream_failover: true } }, [provider])))
  })

  it.scoped("translates for a provider of another format, in canonical chunks", () => {
    const openai = TestProvider.make({ name: "openai", models: ["claude-*"] })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const relayed = yield* gateway.relayStream({ canonical: { ...canonical, stream: true }, native: { ...native, stream: true } })
      assert.strictEqual(relayed._tag, "Translated")
      if (relayed._tag !== "Translated") return
      const chunks = yield* drain(relayed.result.pull)
      assert.deepStrictEqual(chunks.map((c) => c.choices[0]?.delta.content), ["a", "b"])
    }).pipe(Effect.provide(gatewayWith({}, [openai])))
  })
})

describe("Gateway.countTokens", () => {
  it.effect("asks the provider that speaks the format, and refuses a model no such provider serves", () => {
    const anthropic = speaking("anthropic")
    const native1 = TestProvider.make({ name: "anthropic", models: ["claude-*"], passthrough: anthropic.passthrough })
    const openai = TestProvider.make({ name: "openai", models: ["gpt-*"] })
    const count = { ...native, operation: "messages/count_tokens" }
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const counted = yield* gateway.countTokens("claude-x", count)
      assert.strictEqual(counted.provider, "anthropic")
      assert.deepStrictEqual(anthropic.forwarded, [{ request: count, model: "claude-x" }])
      const refused = yield* Effect.flip(gateway.countTokens("gpt-4o", count))
      assert.strictEqual(refused._tag, "ModelNotFound")
      assert.include(refused.message, "'openai', which does not speak the API whose token count was asked for")
      assert.strictEqual(openai.received.length, 0)
    }).pipe(Effect.provide(gatewayWith({}, [native1, openai])))
  })
})
