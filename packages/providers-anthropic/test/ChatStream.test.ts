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
import * as FakeUpstream from "./AnthropicUpstream.js"
import { build, secret } from "./AnthropicUpstream.js"
import {
  cachedStream,
  errorBody,
  errorEvent,
  eventsOf,
  parallelToolStream,
  textStream,
  thinkingStream,
  toolStream
} from "./fixtures/anthropicWire.js"

const request: ChatRequest = { model: "claude-opus-5-5", messages: [{ role: "user", content: "Hello" }], stream: true }

const collect = (stream: Stream.Stream<ChatChunk, unknown>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

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

describe("AnthropicProvider.chatStream", () => {
  it.scoped("a text stream becomes exactly these chunks: role, content deltas, finish reason, usage", () =>
    Effect.gen(function*() {
      const now = Date.parse("2025-03-10T12:00:00Z")
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse(textStream))
      const chunks = yield* collect(provider.chatStream(request))

      const base = {
        id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        object: "chat.completion.chunk" as const,
        created: now / 1000,
        model: "claude-opus-5-5"
      }
      assert.deepStrictEqual(chunks, [
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "Hello" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "!" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { ...base, choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } }
      ])

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}/v1/messages`)
      assert.strictEqual(sent.headers["x-api-key"], secret)
      assert.strictEqual(sent.headers["anthropic-version"], "2023-06-01")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.deepStrictEqual(sent.body, {
        model: "claude-opus-5-5",
        max_tokens: 4096,
        messages: [{ role: "user", content: "Hello" }],
        stream: true
      })
    }))

  it.scoped("sets stream: true even when the canonical request does not ask for it", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const { stream: _, ...plain } = request
      yield* collect(provider.chatStream({ ...plain, stream_options: { include_usage: true } }))
      assert.strictEqual((requests[0]!.body as Record<string, unknown>).stream, true)
      assert.isUndefined((requests[0]!.body as Record<string, unknown>).stream_options)
    }))

  it.scoped("a tool call: a delta with index, id and name, then argument fragments that reassemble to the input", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(toolStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(contentOf(chunks), "Okay, let's check the weather for San Francisco, CA:")

      const calls = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      // content block 1 is the first tool call: index 0
      assert.deepStrictEqual(calls[0], {
        index: 0,
        id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        type: "function",
        function: { name: "get_weather", arguments: "" }
      })
      // the empty first fragment is not forwarded
      assert.deepStrictEqual(calls.slice(1).map((c) => c.function?.arguments), ["{\"location\":", " \"San", " Francisc", "o,", " CA\"}"])
      assert.isTrue(calls.slice(1).every((c) => c.index === 0 && c.id === undefined))
      assert.deepStrictEqual(JSON.parse(argumentsOf(chunks, 0)), { location: "San Francisco, CA" })

      const last = chunks[chunks.length - 1]!
      assert.deepStrictEqual(last.choices, [])
      assert.deepStrictEqual(last.usage, { prompt_tokens: 472, completion_tokens: 89, total_tokens: 561 })
      assert.strictEqual(chunks[chunks.length - 2]!.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scoped("parallel tool calls are counted among the tool calls", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(parallelToolStream))
      const chunks = yield* collect(provider.chatStream(request))
      const starts = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? [])).filter((c) => c.id !== undefined)
      assert.deepStrictEqual(starts.map((c) => [c.index, c.id, c.function?.name]), [
        [0, "toolu_01WEATHER", "get_weather"],
        [1, "toolu_01TIME", "get_time"]
      ])
      assert.deepStrictEqual(JSON.parse(argumentsOf(chunks, 0)), { location: "Paris" })
      assert.deepStrictEqual(JSON.parse(argumentsOf(chunks, 1)), { timezone: "Europe/Paris" })
    }))

  it.scoped("usage: the cache counts from message_start and the cumulative counts of message_delta", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(cachedStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(contentOf(chunks), "Cached.")
      assert.deepStrictEqual(chunks[chunks.length - 1]!.usage, {
        prompt_tokens: 50 + 200000 + 248,
        completion_tokens: 503,
        total_tokens: 50 + 200000 + 248 + 503,
        prompt_tokens_details: { cached_tokens: 200000, cache_creation_tokens: 248 }
      })
    }))

  it.scoped("thinking deltas become reasoning_content; signatures are skipped; no usage reported, no usage chunk", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(thinkingStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.deepStrictEqual(chunks.map((c) => c.choices[0]?.delta), [
        { role: "assistant", content: "" },
        { reasoning_content: "I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147" },
        { content: "The greatest common divisor of 1071 and 462 is **21**." },
        {}
      ])
      assert.strictEqual(chunks[3]!.choices[0]!.finish_reason, "stop")
    }))

  it.scoped("ignores pings anywhere and event types it does not know (https://platform.claude.com/docs/en/api/versioning)", () =>
    Effect.gen(function*() {
      const events = eventsOf(textStream)
      const body = [
        events[0]!,
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: brand_new_event\ndata: {\"type\": \"brand_new_event\", \"x\": 1}\n\n",
        ...events.slice(1)
      ].join("")
      const { provider } = yield* build(() => FakeUpstream.sse(body))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 5)
      assert.strictEqual(contentOf(chunks), "Hello!")
    }))

  it.scoped("survives a body cut at arbitrary byte boundaries (inside events and UTF-8 characters), and CRLF", () =>
    Effect.gen(function*() {
      const { provider: whole } = yield* build(() => FakeUpstream.sse(thinkingStream))
      const expected = yield* collect(whole.chatStream(request))
      for (const size of [1, 7, 64]) {
        const { provider } = yield* build(() =>
          ({ headers: { "content-type": "text/event-stream" }, body: FakeUpstream.inPieces(thinkingStream, size) })
        )
        assert.deepStrictEqual(yield* collect(provider.chatStream(request)), expected, `pieces of ${size}`)
      }
      const { provider: crlf } = yield* build(() => FakeUpstream.sse(thinkingStream.replace(/\n/g, "\r\n")))
      assert.deepStrictEqual(yield* collect(crlf.chatStream(request)), expected)
    }))

  it.scoped("message_stop ends the stream, whatever follows", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.sse(textStream + "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"late\"}}\n\n")
      )
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 5)
      assert.strictEqual(contentOf(chunks), "Hello!")
    }))

  it.scoped("a body that ends before message_stop was cut short: a retryable ProviderUnreachable after the text", () =>
    Effect.gen(function*() {
      const events = eventsOf(textStream)
      const { provider } = yield* build(() => FakeUpstream.sse(events.slice(0, 4).join("")))
      const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
      assert.strictEqual(contentOf(seen), "Hello")
      assert(error._tag === "ProviderUnreachable")
      assert.include(error.detail, "before the stream's end event")
      assert.isTrue(isRetryable(error))
    }))

  describe("errors", () => {
    it.scoped("an overloaded_error event fails the stream after the chunks before it, as a retryable 529", () =>
      Effect.gen(function*() {
        const events = eventsOf(textStream)
        const { provider } = yield* build(() => FakeUpstream.sse([...events.slice(0, 4), errorEvent()].join("")))
        const { error, seen } = yield* runUntilFailure(provider.chatStream(request))
        assert.strictEqual(contentOf(seen), "Hello")
        assert.strictEqual(seen.length, 2)
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 529)
        assert.strictEqual(error.upstreamType, "overloaded_error")
        assert.strictEqual(error.upstreamMessage, "Overloaded")
        assert.isTrue(isRetryable(error))
      }))

    it.scoped("an error event's type gives its status (https://platform.claude.com/docs/en/api/errors)", () =>
      Effect.gen(function*() {
        const cases = [
          ["api_error", 500, true],
          ["rate_limit_error", 429, true],
          ["invalid_request_error", 400, false],
          ["some_future_error", 500, true]
        ] as const
        for (const [type, status, retryable] of cases) {
          const { provider } = yield* build(() => FakeUpstream.sse(eventsOf(textStream)[0]! + errorEvent(type, "boom")))
          const { error } = yield* runUntilFailure(provider.chatStream(request))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, status, type)
          assert.strictEqual(isRetryable(error), retryable, type)
        }
      }))

    it.scoped("an error event echoing the key never carries it; an event that is not JSON is a ProviderOutputError", () =>
      Effect.gen(function*() {
        const echo = yield* build(() => FakeUpstream.sse(errorEvent("authentication_error", `bad key ${secret}`)))
        const { error } = yield* runUntilFailure(echo.provider.chatStream(request))
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 401)
        assert.strictEqual(error.upstreamMessage, "bad key [REDACTED]")
        assert.notInclude(JSON.stringify(error), secret)

        const garbage = yield* build(() => FakeUpstream.sse(eventsOf(textStream)[0]! + "event: content_block_delta\ndata: not json\n\n"))
        const { error: e2 } = yield* runUntilFailure(garbage.provider.chatStream(request))
        assert.strictEqual(e2._tag, "ProviderOutputError")
      }))

    it.scoped("a non-2xx answer fails before any chunk: 429 with retry-after, 529 overloaded; openStream fails to open", () =>
      Effect.gen(function*() {
        const limited = yield* build(() =>
          FakeUpstream.json(errorBody("rate_limit_error", "Number of requests has exceeded your per-minute rate limit"), {
            status: 429,
            headers: { "retry-after": "3" }
          })
        )
        const { error, seen } = yield* runUntilFailure(limited.provider.chatStream(request))
        assert.strictEqual(seen.length, 0)
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 429)
        assert.strictEqual(error.retryAfterMillis, 3000)
        assert.strictEqual(error.upstreamType, "rate_limit_error")
        assert.isTrue(isRetryable(error))

        const body = errorBody("overloaded_error", "Overloaded")
        const overloaded = yield* build(() => ({ status: 529, headers: { "content-type": "application/json" }, body: FakeUpstream.inPieces(JSON.stringify(body), 16) }))
        const opened = yield* Effect.flip(Effect.scoped(overloaded.provider.openStream!(request)))
        assert(opened._tag === "ProviderStatusError")
        assert.strictEqual(opened.status, 529)
        assert.deepStrictEqual(JSON.parse(opened.body), body)
        assert.isTrue(isRetryable(opened))
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
        // ended with None, not with an error
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
    it.scoped("no first event within the timeout is ProviderTimeout, and the request is aborted", () =>
      Effect.gen(function*() {
        const { provider, requests, upstream } = yield* build(
          () => FakeUpstream.sse(["event: ping\ndata: {\"type\": \"ping\"}\n\n"], { keepOpen: true }),
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

  it.scoped("a prefill: sent as the last assistant turn without its mark or trailing whitespace; the answer's leading whitespace is dropped", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() =>
        FakeUpstream.sse(
          textStream
            .replace("\"text\": \"Hello\"", "\"text\": \" \"")
            .replace("\"text\": \"!\"", "\"text\": \" world!\"")
        )
      )
      const chunks = yield* collect(provider.chatStream({
        ...request,
        messages: [...request.messages, { role: "assistant", content: "Hello, ", prefix: true }]
      }))
      assert.deepStrictEqual((requests[0]!.body as Record<string, unknown>).messages, [
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hello," }
      ])
      assert.strictEqual(contentOf(chunks), "world!")
    }))
})
