import { assert, describe, it } from "@effect/vitest"
import type * as ChatSchema from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import { ProviderStatusError } from "@switchyard/core/GatewayError"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as MockProvider from "../src/MockProvider.js"

const req: ChatSchema.ChatRequest = { model: "mock-1", messages: [{ role: "user", content: "hello" }] }

const failures = (provider: MockProvider.Options, calls: number) =>
  Effect.gen(function*() {
    const p = yield* MockProvider.make(provider)
    let failed = 0
    for (let i = 0; i < calls; i++) {
      const result = yield* Effect.either(p.chat(req))
      if (Either.isLeft(result)) failed++
    }
    return failed
  })

describe("MockProvider", () => {
  it.effect("answers after the latency, not before", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ latency: "2 seconds" })
      const fiber = yield* Effect.fork(p.chat(req))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.poll(fiber)
      assert.isTrue(Option.isSome(exit) && Exit.isSuccess(exit.value))
      const res = yield* Fiber.join(fiber)
      assert.strictEqual(res.object, "chat.completion")
      assert.strictEqual(res.model, "mock-1")
      assert.isTrue(res.id.startsWith("chatcmpl-mock-"))
      assert.strictEqual(res.usage!.completion_tokens, 16)
    }))

  it.effect("answers at once without latency", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ tokens: 3 })
      const res = yield* p.chat({ ...req, model: "mock-other" })
      assert.strictEqual(res.choices[0]!.message.content, "This is a")
      assert.strictEqual(res.model, "mock-other")
      assert.strictEqual(res.created, 0) // the TestClock's time
    }))

  it.effect("paces a stream: the first chunk after the latency, each content chunk after the chunk delay", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ latency: "1 second", tokens: 6, chunks: 3, chunkDelay: "100 millis" })
      const received: Array<ChatSchema.ChatChunk> = []
      const fiber = yield* p.chatStream({ ...req, stream: true }).pipe(
        Stream.runForEach((c) => Effect.sync(() => received.push(c))),
        Effect.fork
      )
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(received.length, 0)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(received.length, 1)
      assert.strictEqual(received[0]!.choices[0]!.delta.role, "assistant")
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(received.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(received.length, 2)
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(received.length, 3)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("100 millis")
      // The last content chunk and the finish chunk arrive together.
      yield* Fiber.join(fiber)
      assert.strictEqual(received.length, 5)
      assert.strictEqual(received[4]!.choices[0]!.finish_reason, "stop")
      assert.strictEqual(received.map((c) => c.choices[0]!.delta.content ?? "").join(""), "This is a simulated answer from")
    }))

  it.effect("does nothing until the stream is pulled", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ errorRate: 1 })
      const stream = p.chatStream(req) // building it must not fail or draw
      const result = yield* Effect.either(Stream.runCollect(stream))
      assert.isTrue(Either.isLeft(result))
    }))

  it.effect("streams with include_usage: usage in a last chunk with empty choices", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ tokens: 4, chunks: 2 })
      const chunks = Chunk.toReadonlyArray(
        yield* Stream.runCollect(p.chatStream({ ...req, stream: true, stream_options: { include_usage: true } }))
      )
      assert.strictEqual(chunks.length, 5)
      const last = chunks[4]!
      assert.deepStrictEqual(last.choices, [])
      assert.strictEqual(last.usage!.completion_tokens, 4)
    }))

  it.effect("with errorRate 1 every call fails with a ProviderStatusError of errorStatus", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ name: "sim", errorRate: 1, errorStatus: 429 })
      for (let i = 0; i < 20; i++) {
        const error = yield* Effect.flip(p.chat(req))
        assert.instanceOf(error, ProviderStatusError)
        assert.strictEqual(error.provider, "sim")
        assert.strictEqual(error.status, 429)
        assert.strictEqual(error.upstreamCode, "simulated_error")
        const body = JSON.parse(error.body)
        assert.include(body.error.message, "Simulated")
      }
      const streamError = yield* Effect.flip(Stream.runCollect(p.chatStream(req)))
      assert.strictEqual(streamError._tag, "ProviderStatusError")
      assert.strictEqual(yield* failures({ errorRate: 1 }, 50), 50)
    }))

  it.effect("a failure also waits the latency", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ errorRate: 1, latency: 500 })
      const fiber = yield* Effect.fork(p.chat(req))
      yield* TestClock.adjust("499 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("with errorRate 0 no call fails", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* failures({ errorRate: 0 }, 200), 0)
    }))

  it.effect("with errorRate 0.5 about half the calls fail, reproducibly under a seeded Random", () =>
    Effect.gen(function*() {
      const seeded = (seed: number) => failures({ errorRate: 0.5 }, 200).pipe(Effect.withRandom(Random.make(seed)))
      const failed = yield* seeded(42)
      assert.isAtLeast(failed, 70)
      assert.isAtMost(failed, 130)
      assert.strictEqual(yield* seeded(42), failed)
      const other = yield* seeded(7)
      assert.isAtLeast(other, 70)
      assert.isAtMost(other, 130)
    }))

  it.effect("serves mock-* by default and lists mock-1", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make()
      assert.strictEqual(p.name, "mock")
      assert.strictEqual(p.kind, "mock")
      assert.isTrue(p.serves("mock-1"))
      assert.isTrue(p.serves("mock-anything"))
      assert.isFalse(p.serves("gpt-4o"))
      assert.deepStrictEqual((yield* p.listModels).map((m) => m.id), ["mock-1"])
    }))

  it.effect("serves and lists configured models", () =>
    Effect.gen(function*() {
      const p = yield* MockProvider.make({ name: "fake-openai", models: ["gpt-4o", "gpt-4o-mini", "o3-*"] })
      assert.isTrue(p.serves("gpt-4o"))
      assert.isTrue(p.serves("o3-pro"))
      assert.isFalse(p.serves("mock-1"))
      const models = yield* p.listModels
      assert.deepStrictEqual(models.map((m) => m.id), ["gpt-4o", "gpt-4o-mini"])
      assert.strictEqual(models[0]!.object, "model")
    }))

  it.effect("layer registers the provider", () =>
    Effect.gen(function*() {
      const registry = yield* ProviderRegistry.ProviderRegistry
      assert.deepStrictEqual(registry.all().map((p) => p.name), ["mock", "second"])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(MockProvider.layer(), MockProvider.layer({ name: "second" })).pipe(
          Layer.provideMerge(ProviderRegistry.layer)
        )
      )
    ))

  it.scoped("answers through the Gateway, JSON and stream", () =>
    Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const result = yield* gateway.chat(req)
      assert.strictEqual(result.provider, "mock")
      assert.strictEqual(result.response.usage!.completion_tokens, 5)

      const fiber = yield* Effect.fork(gateway.chatStream({ ...req, stream: true }))
      yield* TestClock.adjust("50 millis")
      const opened = yield* Fiber.join(fiber)
      const streamed = yield* Effect.fork(Stream.runCollect(opened.stream))
      yield* TestClock.adjust("50 millis")
      const chunks = Chunk.toReadonlyArray(yield* Fiber.join(streamed))
      assert.strictEqual(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "This is a simulated answer")
      // The gateway asks for usage upstream but strips it, since the client did not ask.
      assert.isTrue(chunks.every((c) => c.choices.length === 1))
    }).pipe(
      Effect.provide(
        Gateway.layer().pipe(
          Layer.provide(MockProvider.layer({ tokens: 5, chunks: 5, chunkDelay: 10 })),
          Layer.provide(Gateway.defaults)
        )
      )
    ))
})
