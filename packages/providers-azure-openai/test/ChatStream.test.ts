import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./AzureUpstream.js"
import { build, chatPath, secret } from "./AzureUpstream.js"
import {
  contentFilterError,
  eventsOf,
  filteredStream,
  midStreamError,
  promptAnnotation,
  promptFilterResults,
  safeResults,
  textStream,
  toolStream
} from "./fixtures/azureWire.js"

const request: ChatRequest = {
  model: "gpt-4o",
  messages: [{ role: "user", content: "Say hello" }],
  stream: true,
  stream_options: { include_usage: true }
}

const collect = (stream: Stream.Stream<ChatChunk, unknown>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

const contentOf = (chunks: ReadonlyArray<ChatChunk>) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

/** The `data` payloads of a stream, `[DONE]` left out. */
const payloadsOf = (body: string): Array<Record<string, unknown>> =>
  eventsOf(body).map((e) => e.slice("data: ".length).trim()).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d))

/** Runs a stream, keeping what it emitted before it failed. */
const runUntilFailure = <E>(stream: Stream.Stream<ChatChunk, E>) =>
  Effect.gen(function*() {
    const seen: Array<ChatChunk> = []
    const error = yield* stream.pipe(Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))), Effect.flip)
    return { seen, error }
  })

describe("AzureOpenAiProvider.chatStream (https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter-streaming)", () => {
  it.scoped("streams a text answer from the deployment's URL; the prompt annotations come with the answer's first chunk", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse(textStream))
      const chunks = yield* collect(provider.chatStream(request))

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}${chatPath("gpt-4o")}`)
      assert.strictEqual(sent.headers["api-key"], secret)
      assert.deepStrictEqual(sent.body, request)

      const [annotation, ...answer] = payloadsOf(textStream)
      const first = answer[0]!
      // the prompt annotation, under the answer's identity, then the answer's chunks as they came
      assert.deepStrictEqual(chunks as ReadonlyArray<unknown>, [
        { ...annotation, id: first.id, object: "chat.completion.chunk", created: first.created, model: first.model },
        ...answer
      ])
      assert.deepStrictEqual((chunks[0] as Record<string, unknown>).prompt_filter_results, promptFilterResults)
      assert.strictEqual(contentOf(chunks), "Hello from Azure! 👋")
      assert.deepStrictEqual((chunks[2]!.choices[0] as Record<string, unknown>).content_filter_results, safeResults)
      assert.strictEqual(chunks[4]!.choices[0]!.finish_reason, "stop")
      // usage, asked for with stream_options.include_usage, in the last chunk
      assert.deepStrictEqual(chunks[5]!.choices, [])
      assert.deepStrictEqual(chunks[5]!.usage, { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 })
    }))

  it.scoped("sets stream: true on the upstream request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const { stream: _, stream_options: __, ...plain } = request
      yield* collect(provider.chatStream(plain))
      assert.deepStrictEqual(requests[0]!.body, { ...plain, stream: true })
    }))

  it.scoped("a tool call: id and name first, argument fragments that reassemble, finish_reason tool_calls, usage", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(toolStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      const calls = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      assert.deepStrictEqual(calls[0], {
        index: 0,
        id: "call_Fq3B1i0jmEXzq5L0bmUqcdhG",
        type: "function",
        function: { name: "get_weather", arguments: "" }
      })
      assert.deepStrictEqual(JSON.parse(calls.map((c) => c.function?.arguments ?? "").join("")), { location: "Seattle, WA" })
      assert.strictEqual(chunks[4]!.choices[0]!.finish_reason, "tool_calls")
      assert.deepStrictEqual(chunks[5]!.usage, { prompt_tokens: 81, completion_tokens: 17, total_tokens: 98 })
      assert.isTrue(chunks.every((c) => c.id === "chatcmpl-AzUrEtOoLs02"))
    }))

  it.scoped("the filter cuts the answer: annotation chunks get an empty delta and the answer's identity, the last ends with content_filter", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(filteredStream))
      const chunks = yield* collect(provider.chatStream(request))
      const identity = { id: "chatcmpl-8JCbt5d4luUIhYCI7YH4dQK7hnHx2", object: "chat.completion.chunk", created: 1699587397, model: "gpt-35-turbo" }
      assert.strictEqual(chunks.length, 6)
      assert.isTrue(chunks.every((c) => c.id === identity.id && c.object === identity.object && c.model === identity.model))
      assert.strictEqual(contentOf(chunks), "Hey Jude")
      const [annotation, cut] = payloadsOf(filteredStream).slice(4) as Array<{ choices: Array<object> }>
      assert.deepStrictEqual(chunks[4] as unknown, {
        ...annotation,
        ...identity,
        choices: [{ ...annotation!.choices[0], delta: {} }]
      })
      assert.deepStrictEqual(chunks[5] as unknown, { ...cut, ...identity, choices: [{ ...cut!.choices[0], delta: {} }] })
      assert.strictEqual(chunks[5]!.choices[0]!.finish_reason, "content_filter")
      assert.deepStrictEqual((chunks[5]!.choices[0] as Record<string, unknown>).content_filter_results, {
        protected_material_text: { detected: true, filtered: true }
      })
    }))

  it.scoped("survives a body cut at arbitrary byte boundaries (inside events and UTF-8 characters), and CRLF", () =>
    Effect.gen(function*() {
      const { provider: whole } = yield* build(() => FakeUpstream.sse(filteredStream + textStream))
      const expected = yield* collect(whole.chatStream(request))
      assert.strictEqual(expected.length, 6)
      for (const size of [1, 7, 64]) {
        const { provider } = yield* build(() =>
          ({ headers: { "content-type": "text/event-stream" }, body: FakeUpstream.inPieces(textStream, size) })
        )
        assert.strictEqual(contentOf(yield* collect(provider.chatStream(request))), "Hello from Azure! 👋", `pieces of ${size}`)
      }
      const { provider: crlf } = yield* build(() => FakeUpstream.sse(filteredStream.replace(/\n/g, "\r\n")))
      assert.deepStrictEqual(yield* collect(crlf.chatStream(request)), expected)
    }))

  it.scoped("a prompt the filter refused fails the stream before any chunk (and openStream's opening)", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(contentFilterError, { status: 400 }))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(seen.length, 0)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamCode, "content_filter")
      const opened = yield* Effect.flip(Effect.scoped(provider.openStream!(request)))
      assert(opened._tag === "ProviderStatusError")
      assert.strictEqual(opened.upstreamCode, "content_filter")
    }))

  it.scoped("an error event mid-stream fails it after the chunks before it", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(midStreamError))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(seen.length, 3)
      assert.strictEqual(contentOf(seen), "Par")
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.upstreamType, "server_error")
      assert.isTrue(isRetryable(error))
    }))

  it.scoped("a failure before the answer's first chunk drops the prompt annotation: nothing was sent", () =>
    Effect.gen(function*() {
      const body = eventsOf(midStreamError)[0]! + eventsOf(midStreamError)[3]!
      const { provider } = yield* build(() => FakeUpstream.sse(body))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(seen.length, 0)
      assert.strictEqual(error._tag, "ProviderStatusError")

      // a stream that ends without an answer still passes the annotation on
      const { provider: empty } = yield* build(() => FakeUpstream.sse(eventsOf(textStream)[0]! + "data: [DONE]\n\n"))
      const chunks = yield* collect(empty.chatStream(request))
      assert.deepStrictEqual(chunks as ReadonlyArray<unknown>, [{ ...promptAnnotation, object: "chat.completion.chunk" }])
    }))

  it.scoped("a body that ends before [DONE] was cut short: a retryable ProviderUnreachable after the text", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(eventsOf(textStream).slice(0, 4).join("")))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(contentOf(seen), "Hello from Azure! 👋")
      assert(error._tag === "ProviderUnreachable")
      assert.include(error.detail, "before the stream's end event")
      assert.isTrue(isRetryable(error))
    }))

  it.scoped("the timeout runs until the answer's first chunk: the prompt annotation alone does not stop it", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(
        () => FakeUpstream.sse([eventsOf(textStream)[0]!], { keepOpen: true }),
        { timeout: "30 seconds" }
      )
      const fiber = yield* Effect.fork(Effect.flip(Stream.runDrain(provider.chatStream(request))))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.isFalse(requests[0]!.aborted)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 30_000)
      yield* FakeUpstream.abortedBy(upstream)
    }))

  it.scoped("CallOptions.timeoutMillis bounds openStream on the wire, a token from an Effect's time included", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(FakeUpstream.never, {
        entraToken: Effect.as(Effect.sleep("1 second"), Redacted.make("entra-stream-token"))
      })
      const fiber = yield* Effect.fork(Effect.flip(Effect.scoped(provider.openStream!(request, { timeoutMillis: 5000 }))))
      yield* TestClock.adjust("1 second")
      yield* FakeUpstream.received(upstream)
      assert.strictEqual(requests[0]!.headers["authorization"], "Bearer entra-stream-token")
      yield* TestClock.adjust("3999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 5000)
      yield* FakeUpstream.abortedBy(upstream)
    }))
})
