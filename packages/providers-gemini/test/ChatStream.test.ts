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
import {
  blockedStream,
  errorBody,
  errorEvent,
  eventsOf,
  legacyStream,
  quotaDetails,
  textStream,
  thinkingStream,
  toolStream
} from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { build, secret } from "./GeminiUpstream.js"

const request: ChatRequest = {
  model: "gemini-2.0-flash",
  messages: [{ role: "user", content: "What is the capital of France? One word." }],
  stream: true
}

const collect = (stream: Stream.Stream<ChatChunk, unknown>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

const contentOf = (chunks: ReadonlyArray<ChatChunk>) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

/** Runs a stream, keeping what it emitted before it failed. */
const runUntilFailure = <E>(stream: Stream.Stream<ChatChunk, E>) =>
  Effect.gen(function*() {
    const seen: Array<ChatChunk> = []
    const error = yield* stream.pipe(Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))), Effect.flip)
    return { seen, error }
  })

describe("GeminiProvider.chatStream", () => {
  it.scoped("a text stream becomes exactly these chunks: content deltas (the first with the role), finish reason, usage", () =>
    Effect.gen(function*() {
      const now = Date.parse("2025-03-10T12:00:00Z")
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse(textStream))
      const chunks = yield* collect(provider.chatStream(request))

      const base = {
        id: "uTKjaNeRLcKjkdUPk9qSoQk",
        object: "chat.completion.chunk" as const,
        created: now / 1000,
        model: "gemini-2.0-flash"
      }
      assert.deepStrictEqual(chunks, [
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "The" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: " capital of France is Paris" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: ".\n" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { ...base, choices: [], usage: { prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 } }
      ])

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
      assert.strictEqual(sent.url, `${upstream.origin}/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`)
      assert.strictEqual(sent.headers["x-goog-api-key"], secret)
      assert.strictEqual(sent.headers["content-type"], "application/json")
      // the same body as generateContent: no stream flag
      assert.deepStrictEqual(sent.body, {
        contents: [{ role: "user", parts: [{ text: "What is the capital of France? One word." }] }]
      })
    }))

  it.scoped("an older model repeating finishReason on every event: one finish chunk, at the end; no usage, no usage chunk", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(legacyStream))
      const chunks = yield* collect(provider.chatStream({ ...request, model: "gemini-pro" }))
      assert.deepStrictEqual(chunks.map((c) => [c.choices[0]?.delta, c.choices[0]?.finish_reason]), [
        [{ role: "assistant", content: "In the quaint, sunlit cottage" }, null],
        [{ content: " resided two feline companions." }, null],
        [{}, "stop"]
      ])
      // no modelVersion: the requested model
      assert.strictEqual(chunks[0]!.model, "gemini-pro")
      assert.strictEqual(chunks[0]!.id, "")
    }))

  it.scoped("function calls arrive whole: a tool call delta each, with id, name, arguments and the thought signature; finish tool_calls", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(toolStream))
      const chunks = yield* collect(provider.chatStream({ ...request, model: "gemini-2.5-flash" }))
      assert.deepStrictEqual(chunks.map((c): unknown => c.choices[0]?.delta), [
        { role: "assistant", content: "Let me check." },
        {
          tool_calls: [{
            index: 0,
            id: "call_0",
            type: "function",
            function: { name: "get_weather", arguments: "{\"location\":\"Paris\"}" },
            extra_content: { google: { thought_signature: "CiQBVKhc7nSig" } }
          }]
        },
        {
          tool_calls: [{
            index: 1,
            id: "call_1",
            type: "function",
            function: { name: "get_time", arguments: "{\"timezone\":\"Europe/Paris\"}" }
          }]
        },
        {},
        undefined
      ])
      assert.strictEqual(chunks[3]!.choices[0]!.finish_reason, "tool_calls")
      assert.deepStrictEqual(chunks[4]!.usage, {
        prompt_tokens: 120,
        completion_tokens: 140,
        total_tokens: 260,
        completion_tokens_details: { reasoning_tokens: 100 }
      })
      assert.isTrue(chunks.every((c) => c.id === "ToolStream1" && c.model === "gemini-2.5-flash"))
    }))

  it.scoped("thought parts become reasoning_content deltas", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(thinkingStream))
      const chunks = yield* collect(provider.chatStream({ ...request, model: "gemini-2.5-flash" }))
      assert.deepStrictEqual(chunks.map((c): unknown => c.choices[0]?.delta), [
        { role: "assistant", reasoning_content: "**Considering the question**\n\nThe user asks for 2 + 2." },
        { content: "4" },
        {},
        undefined
      ])
      assert.deepStrictEqual(chunks[3]!.usage, {
        prompt_tokens: 10,
        completion_tokens: 51,
        total_tokens: 61,
        completion_tokens_details: { reasoning_tokens: 50 }
      })
    }))

  it.scoped("a blocked prompt: the role, the refusal and content_filter in one chunk, then the usage", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(blockedStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.deepStrictEqual(chunks.map((c) => c.choices), [
        [{
          index: 0,
          delta: { role: "assistant", content: null, refusal: "The prompt was blocked (PROHIBITED_CONTENT)" },
          finish_reason: "content_filter"
        }],
        []
      ])
      assert.deepStrictEqual(chunks[1]!.usage, { prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 })
    }))

  it.scoped("several candidates are several choices, each finished at the end", () =>
    Effect.gen(function*() {
      const body = [
        `data: {"candidates": [{"content": {"parts": [{"text": "A"}],"role": "model"},"index": 0},{"content": {"parts": [{"text": "B"}],"role": "model"},"index": 1}]}\n\n`,
        `data: {"candidates": [{"content": {"parts": [{"text": "!"}],"role": "model"},"finishReason": "STOP","index": 0},{"finishReason": "MAX_TOKENS","index": 1}]}\n\n`
      ].join("")
      const { provider } = yield* build(() => FakeUpstream.sse(body))
      const chunks = yield* collect(provider.chatStream({ ...request, n: 2 }))
      assert.deepStrictEqual(chunks.map((c) => [c.choices[0]!.index, c.choices[0]!.delta, c.choices[0]!.finish_reason]), [
        [0, { role: "assistant", content: "A" }, null],
        [1, { role: "assistant", content: "B" }, null],
        [0, { content: "!" }, null],
        [0, {}, "stop"],
        [1, {}, "length"]
      ])
    }))

  it.scoped("survives a body cut at arbitrary byte boundaries (inside events and UTF-8 characters), and LF or CRLF", () =>
    Effect.gen(function*() {
      const body = textStream.replace("Paris", "Paris 🗼 é")
      const { provider: whole } = yield* build(() => FakeUpstream.sse(body))
      const expected = yield* collect(whole.chatStream(request))
      assert.include(contentOf(expected), "Paris 🗼 é")
      for (const size of [1, 7, 64]) {
        const { provider } = yield* build(() =>
          ({ headers: { "content-type": "text/event-stream" }, body: FakeUpstream.inPieces(body, size) })
        )
        assert.deepStrictEqual(yield* collect(provider.chatStream(request)), expected, `pieces of ${size}`)
      }
      const { provider: lf } = yield* build(() => FakeUpstream.sse(body.replace(/\r\n/g, "\n")))
      assert.deepStrictEqual(yield* collect(lf.chatStream(request)), expected)
    }))

  it.scoped("a body that ends before the finish reason was cut short: a retryable ProviderUnreachable after the text", () =>
    Effect.gen(function*() {
      const events = eventsOf(textStream)
      const { provider } = yield* build(() => FakeUpstream.sse(events.slice(0, 2).join("")))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(contentOf(seen), "The capital of France is Paris")
      assert(error._tag === "ProviderUnreachable")
      assert.include(error.detail, "before the answer's finish reason")
      assert.isTrue(isRetryable(error))

      // nothing at all
      const empty = yield* build(() => FakeUpstream.sse(""))
      const { error: e2, seen: s2 } = yield* runUntilFailure(empty.provider.chatStream(request))
      assert.strictEqual(s2.length, 0)
      assert.strictEqual(e2._tag, "ProviderUnreachable")
    }))

  describe("errors", () => {
    it.scoped("an error event fails the stream after the chunks before it, with its code and status (retryable 503, RetryInfo)", () =>
      Effect.gen(function*() {
        const events = eventsOf(textStream)
        const { provider } = yield* build(() =>
          FakeUpstream.sse([events[0]!, errorEvent(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")].join(""))
        )
        const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
        assert.strictEqual(contentOf(seen), "The")
        assert.strictEqual(seen.length, 1)
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.upstreamType, "UNAVAILABLE")
        assert.strictEqual(error.upstreamMessage, "The model is overloaded. Please try again later.")
        assert.isTrue(isRetryable(error))

        const quota = `data: ${JSON.stringify(errorBody(429, "RESOURCE_EXHAUSTED", "Quota.", quotaDetails))}\n\n`
        const limited = yield* build(() => FakeUpstream.sse(quota))
        const { error: e2 } = yield* runUntilFailure(limited.provider.chatStream(request))
        assert(e2._tag === "ProviderStatusError")
        assert.strictEqual(e2.status, 429)
        assert.strictEqual(e2.retryAfterMillis, 17_000)

        // no code: the status name tells
        const named = yield* build(() => FakeUpstream.sse(`data: {"error": {"message": "bad", "status": "INVALID_ARGUMENT"}}\n\n`))
        const { error: e3 } = yield* runUntilFailure(named.provider.chatStream(request))
        assert(e3._tag === "ProviderStatusError")
        assert.strictEqual(e3.status, 400)
        assert.isFalse(isRetryable(e3))
      }))

    it.scoped("an error event echoing the key never carries it; an event that is not JSON is a ProviderOutputError", () =>
      Effect.gen(function*() {
        const echo = yield* build(() => FakeUpstream.sse(errorEvent(400, "INVALID_ARGUMENT", `API key not valid: ${secret}`)))
        const { error } = yield* runUntilFailure(echo.provider.chatStream(request))
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.upstreamMessage, "API key not valid: [REDACTED]")
        assert.notInclude(JSON.stringify(error), secret)

        const garbage = yield* build(() => FakeUpstream.sse(eventsOf(textStream)[0]! + "data: not json\n\n"))
        const { error: e2, seen } = yield* runUntilFailure(garbage.provider.chatStream(request))
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(e2._tag, "ProviderOutputError")
      }))

    it.scoped("a non-2xx answer fails before any chunk: 429 with its RetryInfo delay, 503; openStream fails to open", () =>
      Effect.gen(function*() {
        const limited = yield* build(() =>
          FakeUpstream.json(errorBody(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", quotaDetails), { status: 429 })
        )
        const { error, seen } = yield* runUntilFailure(limited.provider.chatStream(request))
        assert.strictEqual(seen.length, 0)
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 429)
        assert.strictEqual(error.retryAfterMillis, 17_000)
        assert.strictEqual(error.upstreamType, "RESOURCE_EXHAUSTED")
        assert.isTrue(isRetryable(error))

        const body = errorBody(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        const overloaded = yield* build(() => ({
          status: 503,
          headers: { "content-type": "application/json" },
          body: FakeUpstream.inPieces(JSON.stringify(body), 16)
        }))
        const opened = yield* Effect.flip(Effect.scoped(overloaded.provider.openStream!(request)))
        assert(opened._tag === "ProviderStatusError")
        assert.strictEqual(opened.status, 503)
        assert.deepStrictEqual(JSON.parse(opened.body), body)
        assert.isTrue(isRetryable(opened))

        const denied = yield* build(() => FakeUpstream.json(errorBody(403, "PERMISSION_DENIED", "Permission denied."), { status: 403 }))
        const e3 = yield* Effect.flip(Effect.scoped(denied.provider.openStream!(request)))
        assert(e3._tag === "ProviderStatusError")
        assert.isFalse(isRetryable(e3))
      }))
  })

  it.scoped("openStream opens the upstream now and returns a pull; chatStream opens it when run", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(eventsOf(textStream)))
      const stream = provider.chatStream(request)
      assert.strictEqual(requests.length, 0)
      const chunks = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* provider.openStream!(request)
        assert.strictEqual(requests.length, 1)
        const all: Array<ChatChunk> = []
        for (;;) {
          const next = yield* Effect.option(pull)
          if (Option.isNone(next)) break
          all.push(...Chunk.toArray(next.value))
        }
        // ended with None, not with an error, and stays ended
        assert.isTrue(Option.isNone(yield* Effect.flip(pull)))
        return all
      }))
      assert.strictEqual(chunks.length, 5)
      yield* Stream.runDrain(stream)
      assert.strictEqual(requests.length, 2)
    }))

  it.scoped("interrupting the consumer aborts the upstream request", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse([eventsOf(textStream)[0]!], { keepOpen: true }))
      const gotFirst = yield* Deferred.make<ChatChunk>()
      const fiber = yield* provider.chatStream(request).pipe(Stream.runForEach((c) => Deferred.succeed(gotFirst, c)), Effect.fork)
      assert.strictEqual((yield* Deferred.await(gotFirst)).choices[0]!.delta.role, "assistant")
      assert.isFalse(requests[0]!.aborted)
      yield* Fiber.interrupt(fiber)
      yield* FakeUpstream.abortedBy(upstream)
    }))

  describe("timeouts", () => {
    it.scoped("no first chunk within the timeout is ProviderTimeout, and the request is aborted", () =>
      Effect.gen(function*() {
        // headers, and an event with nothing to forward yet
        const { provider, requests, upstream } = yield* build(
          () => FakeUpstream.sse([`data: {"usageMetadata": {"promptTokenCount": 3}}\n\n`], { keepOpen: true }),
          { timeout: "5 seconds" }
        )
        const fiber = yield* Effect.fork(Effect.flip(Stream.runDrain(provider.chatStream(request))))
        yield* FakeUpstream.received(upstream)
        yield* TestClock.adjust("4999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
        assert.isFalse(requests[0]!.aborted)
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(fiber)
        assert(error._tag === "ProviderTimeout")
        assert.strictEqual(error.afterMillis, 5000)
        yield* FakeUpstream.abortedBy(upstream)
      }))

    it.scoped("openStream honours CallOptions.timeoutMillis; the timeout stops at the first chunk", () =>
      Effect.gen(function*() {
        const events = eventsOf(textStream)
        let answered = 0
        const { provider, requests, upstream } = yield* build((exchange) => {
          if (answered++ === 0) return undefined // never answers
          exchange.head(200, { "content-type": "text/event-stream" })
          void exchange.write(events[0]!)
          return undefined // the rest is written below
        }, { timeout: "1 minute" })

        const short = yield* Effect.fork(Effect.flip(Effect.scoped(provider.openStream!(request, { timeoutMillis: 3000 }))))
        yield* FakeUpstream.received(upstream)
        yield* TestClock.adjust("2999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(short)))
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(short)
        assert(error._tag === "ProviderTimeout")
        assert.strictEqual(error.afterMillis, 3000)
        yield* FakeUpstream.abortedBy(upstream)

        const seen = yield* Deferred.make<void>()
        const fiber = yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* provider.openStream!(request, { timeoutMillis: 3000 })
          const all: Array<ChatChunk> = []
          for (;;) {
            const next = yield* Effect.option(pull)
            if (Option.isNone(next)) return all
            all.push(...Chunk.toArray(next.value))
            yield* Deferred.succeed(seen, undefined)
          }
        })).pipe(Effect.fork)
        yield* Deferred.await(seen)
        yield* TestClock.adjust("1 minute")
        const exchange = requests[1]!
        for (const event of events.slice(1)) yield* Effect.promise(() => exchange.write(event))
        yield* Effect.promise(() => exchange.end())
        const chunks = yield* Fiber.join(fiber)
        assert.strictEqual(chunks.length, 5)
        assert.isFalse(exchange.aborted)
      }))
  })
})
