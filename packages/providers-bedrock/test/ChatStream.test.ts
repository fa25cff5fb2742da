import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./BedrockUpstream.js"
import {
  accessKeyId,
  awsError,
  build,
  checkSignature,
  errorMessage,
  eventMessage,
  eventStream,
  exceptionMessage,
  frames,
  model,
  requestId,
  secretAccessKey,
  split,
  streamOf
} from "./BedrockUpstream.js"
import { reasoningStream, streamExceptions, textStream, toolStream } from "./fixtures/converseWire.js"

const request: ChatRequest = { model, messages: [{ role: "user", content: "Hello" }], stream: true }

const collect = <E>(stream: Stream.Stream<ChatChunk, E>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

const contentOf = (chunks: ReadonlyArray<ChatChunk>) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

const argumentsOf = (chunks: ReadonlyArray<ChatChunk>, index: number) =>
  chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
    .filter((call) => call.index === index)
    .map((call) => call.function?.arguments ?? "")
    .join("")

/** Runs a stream, keeping what it emitted before it failed. */
const runUntilFailure = <E>(stream: Stream.Stream<ChatChunk, E>) =>
  Effect.gen(function*() {
    const seen: Array<ChatChunk> = []
    const error = yield* stream.pipe(Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))), Effect.flip)
    return { seen, error }
  })

const now = Date.parse("2025-03-10T12:00:00Z")

describe("BedrockProvider.chatStream", () => {
  it.scoped("a text stream becomes exactly these chunks: role, content deltas, finish reason, usage", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const { provider, requests } = yield* build(() => streamOf(textStream))
      const chunks = yield* collect(provider.chatStream(request))

      const base = { id: requestId, object: "chat.completion.chunk" as const, created: now / 1000, model }
      assert.deepStrictEqual(chunks, [
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "Hello" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "! Héllo, wörld ✓" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { ...base, choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } }
      ])

      const sent = requests[0]!
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_RequestSyntax
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.deepStrictEqual(sent.body, { messages: [{ role: "user", content: [{ text: "Hello" }] }] })
      const check = yield* checkSignature(sent, { accessKeyId, secretAccessKey })
      assert.isTrue(check.validBySpec, check.canonicalRequest)
      assert.strictEqual(check.resigned, sent.headers["authorization"])
    }))

  it.scoped("survives a body cut at arbitrary byte boundaries (inside preludes, headers, payloads and UTF-8 characters)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const body = frames(textStream)
      const { provider: whole } = yield* build(() => eventStream([body]))
      const expected = yield* collect(whole.chatStream(request))
      for (const size of [1, 3, 7, 13, 64]) {
        const { provider } = yield* build(() => eventStream(split(body, size)))
        assert.deepStrictEqual(yield* collect(provider.chatStream(request)), expected, `pieces of ${size} bytes`)
      }
      assert.strictEqual(contentOf(expected), "Hello! Héllo, wörld ✓")
    }))

  it.scoped("a streamed tool call: a tool call delta at its block's start, then the input fragments as arguments", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => streamOf(toolStream))
      const chunks = yield* collect(provider.chatStream(request))
      const calls = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      assert.deepStrictEqual(calls, [
        { index: 0, id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", type: "function", function: { name: "top_song", arguments: "" } },
        { index: 0, function: { arguments: "{\"sign\": \"" } },
        { index: 0, function: { arguments: "WZPZ\"}" } },
        { index: 1, id: "tooluse_2nd", type: "function", function: { name: "top_song", arguments: "" } },
        { index: 1, function: { arguments: "{\"sign\": \"WKRP\"}" } }
      ])
      assert.deepStrictEqual(JSON.parse(argumentsOf(chunks, 0)), { sign: "WZPZ" })
      assert.deepStrictEqual(JSON.parse(argumentsOf(chunks, 1)), { sign: "WKRP" })
      assert.strictEqual(contentOf(chunks), "I'll look that up.")
      assert.strictEqual(chunks.at(-2)!.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scoped("reasoning deltas become reasoning_content; the usage counts the cache; max_tokens is length", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => streamOf(reasoningStream))
      const chunks = yield* collect(provider.chatStream(request))
      const deltas = chunks.flatMap((c) => c.choices.map((choice) => choice.delta))
      assert.deepStrictEqual(deltas, [
        { role: "assistant", content: "" },
        { reasoning_content: "27 * 453 = " },
        { reasoning_content: "12231." },
        { content: "12,231" },
        {}
      ])
      assert.strictEqual(chunks.at(-2)!.choices[0]!.finish_reason, "length")
      assert.deepStrictEqual(chunks.at(-1)!.usage, {
        prompt_tokens: 510,
        completion_tokens: 20,
        total_tokens: 530,
        prompt_tokens_details: { cached_tokens: 400, cache_creation_tokens: 100 }
      })
    }))

  it.scoped("what follows the metadata event is not read", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        eventStream([frames(textStream), eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "late" } })])
      )
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(contentOf(chunks), "Hello! Héllo, wörld ✓")
    }))
})

describe("BedrockProvider.chatStream failures", () => {
  it.scoped("each exception in the stream fails it with the status the reference gives, after what came before", () =>
    Effect.gen(function*() {
      let i = 0
      const { provider } = yield* build(() => {
        const [type] = streamExceptions[i++]!
        return eventStream([frames(textStream.slice(0, 2)), exceptionMessage(type, `${type}: ${secretAccessKey}`)])
      })
      for (const [type, status, retryable] of streamExceptions) {
        const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
        assert(error._tag === "ProviderStatusError", type)
        assert.strictEqual(error.status, status, type)
        assert.strictEqual(error.upstreamType, type)
        assert.strictEqual(error.upstreamMessage, `${type}: [REDACTED]`)
        assert.notInclude(JSON.stringify(error), secretAccessKey)
        assert.strictEqual(isRetryable(error), retryable, type)
        assert.strictEqual(contentOf(seen), "Hello")
      }
    }))

  it.scoped("an unmodeled error message is a 500 with its code and message", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => eventStream([errorMessage("InternalFailure", "Something broke")]))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.upstreamType, "InternalFailure")
      assert.strictEqual(error.upstreamMessage, "Something broke")
      assert.deepStrictEqual(seen, [])
    }))

  it.scoped("an error before the stream (HTTP status, x-amzn-errortype) fails with its status before any chunk", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => awsError("ThrottlingException", 429, "Too many tokens, please wait before trying again."))
      const error = yield* Effect.flip(Effect.scoped(provider.openStream!(request)))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.upstreamType, "ThrottlingException")
      assert.strictEqual(error.upstreamMessage, "Too many tokens, please wait before trying again.")
      assert.isTrue(isRetryable(error))
    }))

  it.scoped("a corrupted message (its CRC does not match) is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const second = eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hello" } })
      second[second.length - 20] ^= 0xff
      const { provider } = yield* build(() => eventStream([eventMessage("messageStart", { role: "assistant" }), second]))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert(error._tag === "ProviderOutputError")
      assert.include(error.detail, "checksum")
      assert.strictEqual(seen.length, 1)

      const { provider: garbage } = yield* build(() => eventStream([Uint8Array.of(0, 0, 0, 5, 1, 2, 3, 4, 5)]))
      const nonsense = yield* Effect.flip(collect(garbage.chatStream(request)))
      assert.strictEqual(nonsense._tag, "ProviderOutputError")
    }))

  it.scoped("a body that ends before the metadata event was cut short: ProviderUnreachable (retryable)", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => streamOf(textStream.slice(0, 5)))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(error._tag, "ProviderUnreachable")
      assert.isTrue(isRetryable(error))
      assert.strictEqual(contentOf(seen), "Hello! Héllo, wörld ✓")

      // ... and so does one that ends inside a message.
      const body = frames(textStream)
      const { provider: truncated } = yield* build(() => eventStream([body.subarray(0, body.length - 10)]))
      const cut = yield* Effect.flip(collect(truncated.chatStream(request)))
      assert.strictEqual(cut._tag, "ProviderUnreachable")
    }))

  it.scoped("the timeout runs until the first chunk (CallOptions.timeoutMillis shortens it), and aborts the request", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(Effect.scoped(provider.openStream!(request, { timeoutMillis: 5000 }))))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 5000)
      yield* FakeUpstream.abortedBy(upstream)
    }))

  it.scoped("once the first chunk arrived, the timeout no longer applies", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build((exchange) => {
        exchange.head(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": requestId })
        void exchange.write(eventMessage("messageStart", { role: "assistant" }))
        return undefined
      }, { timeout: "30 seconds" })
      const first = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(collect(provider.chatStream(request).pipe(Stream.tap(() => Deferred.succeed(first, undefined)))))
      yield* Deferred.await(first)
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      const exchange = upstream.requests[0]!
      yield* Effect.promise(() => exchange.write(frames(textStream.slice(1))))
      yield* Effect.promise(() => exchange.end())
      const chunks = yield* Fiber.join(fiber)
      assert.strictEqual(contentOf(chunks), "Hello! Héllo, wörld ✓")
      assert.isFalse(exchange.aborted)
    }))
})
