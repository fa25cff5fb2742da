import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./FakeUpstream.js"
import { build, secret } from "./FakeUpstream.js"
import { midStreamErrorStream, textStream, toolCallStream } from "./fixtures/openaiStream.js"


const request: ChatRequest = {
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Say hello" }],
  stream: true,
  stream_options: { include_usage: true }
}


const collect = (stream: Stream.Stream<ChatChunk, unknown>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

const contentOf = (chunks: ReadonlyArray<ChatChunk>) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

/** The events of a stream, each with its blank line. */
const eventsOf = (body: string) => body.split("\n\n").filter((e) => e !== "").map((e) => e + "\n\n")

const realPause = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

describe("OpenAiProvider.chatStream", () => {
  it.scoped("parses a recorded stream into chunks, in order, through [DONE]", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse(textStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      assert.strictEqual(chunks[0]!.choices[0]!.delta.role, "assistant")
      assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
      assert.strictEqual(chunks[4]!.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual(chunks[5]!.choices, [])
      assert.strictEqual(chunks[5]!.usage?.total_tokens, 18)
      assert.strictEqual((chunks[0] as Record<string, unknown>).system_fingerprint, "fp_06737a9306")

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.baseUrl}/chat/completions`)
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.deepStrictEqual(sent.body, request)
    }))

  it.scoped("sets stream: true on the upstream request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const { stream: _, stream_options: __, ...plain } = request
      yield* collect(provider.chatStream(plain))
      assert.deepStrictEqual(requests[0]!.body, { ...plain, stream: true })
    }))

  it.scoped("parses tool call deltas", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(toolCallStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      const first = chunks[0]!.choices[0]!.delta.tool_calls![0]!
      assert.strictEqual(first.index, 0)
      assert.strictEqual(first.id, "call_DdmO9pD3xa9XTPNJ32zg2hcA")
      assert.strictEqual(first.function?.name, "get_weather")
      const args = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
        .map((t) => t.function?.arguments ?? "").join("")
      assert.deepStrictEqual(JSON.parse(args), { location: "Paris, France" })
      assert.strictEqual(chunks[4]!.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(chunks[5]!.usage?.prompt_tokens, 62)
    }))

  it.scoped("survives a body cut at arbitrary byte boundaries (inside events and UTF-8 characters)", () =>
    Effect.gen(function*() {
      for (const size of [1, 7, 64]) {
        const { provider } = yield* build(() =>
          ({ headers: { "content-type": "text/event-stream" }, body: FakeUpstream.inPieces(textStream, size) })
        )
        const chunks = yield* collect(provider.chatStream(request))
        assert.strictEqual(chunks.length, 6, `pieces of ${size}`)
        assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
      }
    }))

  it.scoped("a burst of events in one network chunk decodes every event, in order (LF and CRLF)", () =>
    Effect.gen(function*() {
      const words = Array.from({ length: 300 }, (_, i) => `w${i} `)
      const event = (content: string) =>
        `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`
      const burst = words.map(event).join("") + "data: [DONE]\n\n"
      for (const body of [burst, burst.replace(/\n/g, "\r\n")]) {
        const { provider } = yield* build(() => FakeUpstream.sse(body))
        const chunks = yield* collect(provider.chatStream(request))
        assert.strictEqual(chunks.length, 300)
        assert.strictEqual(contentOf(chunks), words.join(""))
      }
    }))

  it.scoped("ignores SSE comments and CRLF line endings; stops at [DONE] even if more follows", () =>
    Effect.gen(function*() {
      const body = ": OPENROUTER PROCESSING\r\n\r\n" + textStream.replace(/\n/g, "\r\n") +
        "data: {\"not\":\"read\"}\n\n"
      const { provider } = yield* build(() => FakeUpstream.sse(body))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
    }))

  it.scopedLive("a `retry:` field neither delays the stream nor loses events", () =>
    Effect.gen(function*() {
      // Sse.makeChannel (experimental 0.61.1) would sleep 3 s here and drop a chunk.
      const { provider } = yield* build(() => ({ body: FakeUpstream.inPieces("retry: 3000\n\n" + textStream, 16) }))
      const chunks = yield* collect(provider.chatStream(request)).pipe(Effect.timeout("1 second"))
      assert.strictEqual(chunks.length, 6)
      assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
    }))

  it.scoped("a stream that ends without [DONE] just ends", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(textStream.replace("data: [DONE]\n\n", "")))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
    }))

  it.scoped("a mid-stream error event fails the stream after the chunks before it", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(midStreamErrorStream))
      const seen: Array<ChatChunk> = []
      const error = yield* provider.chatStream(request).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))),
        Effect.flip
      )
      assert.strictEqual(seen.length, 2)
      assert.strictEqual(contentOf(seen), "Par")
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.upstreamType, "server_error")
      assert.match(error.message, /The server had an error/)
      assert.isTrue(isRetryable(error))
    }))

  it.scoped("an error event with a status code uses it; `event: error` is an error too", () =>
    Effect.gen(function*() {
      const withCode = yield* build(() =>
        FakeUpstream.sse(`data: {"error":{"message":"Provider returned error","code":429}}\n\n`)
      )
      const e1 = yield* Effect.flip(Stream.runDrain(withCode.provider.chatStream(request)))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 429)
      assert.strictEqual(e1.upstreamCode, "429")

      // Some servers write the status as a string: "400" is still a terminal 400.
      const asText = yield* build(() => FakeUpstream.sse(`data: {"error":{"message":"bad tool schema","code":"400"}}\n\n`))
      const e3 = yield* Effect.flip(Stream.runDrain(asText.provider.chatStream(request)))
      assert(e3._tag === "ProviderStatusError")
      assert.strictEqual(e3.status, 400)

      const named = yield* build(() => FakeUpstream.sse(`event: error\ndata: overloaded, key ${secret}\n\n`))
      const e2 = yield* Effect.flip(Stream.runDrain(named.provider.chatStream(request)))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 500)
      assert.strictEqual(e2.upstreamMessage, "overloaded, key [REDACTED]")
      assert.notInclude(e2.body, secret)
    }))

  it.scoped("an event that is not JSON is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse("data: {\"choices\":[]}\n\ndata: not json\n\n"))
      const error = yield* Effect.flip(Stream.runDrain(provider.chatStream(request)))
      assert.strictEqual(error._tag, "ProviderOutputError")
    }))

  it.scoped("a non-2xx answer fails the stream before any chunk", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json(
          { error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } },
          { status: 429, headers: { "retry-after-ms": "250" } }
        )
      )
      const error = yield* Effect.flip(Stream.runDrain(provider.chatStream(request)))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.retryAfterMillis, 250)
    }))

  it.scoped("a non-2xx streaming answer fails before any chunk with the upstream status and body", () =>
    Effect.gen(function*() {
      const body = {
        error: { message: "The engine is currently overloaded, please try again later.", type: "server_error", param: null, code: null }
      }
      // the error body arrives in pieces, as a streamed answer would
      const { provider } = yield* build(() => ({
        status: 503,
        headers: { "content-type": "application/json" },
        body: FakeUpstream.inPieces(JSON.stringify(body), 16)
      }))
      const seen: Array<ChatChunk> = []
      const error = yield* provider.chatStream(request).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))),
        Effect.flip
      )
      assert.strictEqual(seen.length, 0)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 503)
      assert.isTrue(isRetryable(error))
      assert.deepStrictEqual(JSON.parse(error.body), body)
      assert.strictEqual(error.upstreamMessage, body.error.message)
      assert.strictEqual(error.upstreamType, "server_error")

      // with openStream, opening fails: there is no pull to read
      const opened = yield* Effect.flip(Effect.scoped(provider.openStream!(request)))
      assert(opened._tag === "ProviderStatusError")
      assert.strictEqual(opened.status, 503)
      assert.deepStrictEqual(JSON.parse(opened.body), body)
    }))

  it.scoped("opens the upstream only when the stream is run", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const stream = provider.chatStream(request)
      assert.strictEqual(requests.length, 0)
      yield* Stream.runDrain(stream)
      assert.strictEqual(requests.length, 1)
    }))

  it.scoped("openStream opens the upstream now, and returns a pull whose first evaluation yields chunks", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(eventsOf(textStream)))
      assert.isDefined(provider.openStream)
      const chunks = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* provider.openStream!(request)
        assert.strictEqual(requests.length, 1)
        assert.deepStrictEqual(requests[0]!.body, request)
        const first = Chunk.toArray(yield* pull)
        assert.isAbove(first.length, 0)
        assert.strictEqual(first[0]!.choices[0]!.delta.role, "assistant")
        const all = [...first]
        for (;;) {
          const next = yield* Effect.option(pull)
          if (Option.isNone(next)) break
          all.push(...Chunk.toArray(next.value))
        }
        // ended with None, not with an error
        assert.isTrue(Option.isNone(yield* Effect.flip(pull)))
        return all
      }))
      assert.strictEqual(chunks.length, 6)
      assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
    }))

  it.scoped("interrupting the consumer after the first chunk aborts the upstream request", () =>
    Effect.gen(function*() {
      const firstEvent = eventsOf(textStream)[0]!
      // the first event, and never anything more, never the end
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse([firstEvent], { keepOpen: true }))
      const gotFirst = yield* Deferred.make<ChatChunk>()
      const fiber = yield* provider.chatStream(request).pipe(
        Stream.runForEach((chunk) => Deferred.succeed(gotFirst, chunk)),
        Effect.fork
      )
      const first = yield* Deferred.await(gotFirst)
      assert.strictEqual(first.choices[0]!.delta.role, "assistant")
      assert.isFalse(requests[0]!.aborted)
      yield* Fiber.interrupt(fiber)
      yield* FakeUpstream.abortedBy(upstream)
      assert.isFalse(requests[0]!.finished)
    }))

  it.scoped("taking only the first chunk releases the upstream as well", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(() =>
        FakeUpstream.sse([eventsOf(textStream)[0]!], { keepOpen: true })
      )
      const chunks = yield* collect(provider.chatStream(request).pipe(Stream.take(1)))
      assert.strictEqual(chunks.length, 1)
      yield* FakeUpstream.abortedBy(upstream)
    }))

  it.scoped("no first chunk within the timeout is ProviderTimeout, and the request is aborted", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(
        () => FakeUpstream.sse([": waiting\n\n"], { keepOpen: true }),
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

  it.scoped("the timeout does not apply once the first chunk arrived", () =>
    Effect.gen(function*() {
      const events = eventsOf(textStream)
      const { provider, requests, upstream } = yield* build(
        (exchange) => {
          exchange.head(200, { "content-type": "text/event-stream" })
          void exchange.write(events[0]!)
          return undefined // the rest is written below
        },
        { timeout: "5 seconds" }
      )
      const seen = yield* Deferred.make<void>()
      const fiber = yield* provider.chatStream(request).pipe(
        Stream.tap(() => Deferred.succeed(seen, undefined)),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(seen)
      yield* TestClock.adjust("1 minute")
      const exchange = requests[0]!
      for (const event of events.slice(1)) yield* Effect.promise(() => exchange.write(event))
      yield* Effect.promise(() => exchange.end())
      const chunks = Chunk.toArray(yield* Fiber.join(fiber))
      assert.strictEqual(chunks.length, 6)
      assert.isFalse(requests[0]!.aborted)
      assert.strictEqual(upstream.requests.length, 1)
    }))

  it.scoped("after [DONE] the rest of the body is read to its end (the connection can be reused)", () =>
    Effect.gen(function*() {
      // the first answer: the stream, then (a moment later) more bytes, then the end
      let answered = 0
      const { provider, requests } = yield* build(() =>
        answered++ === 0 ? FakeUpstream.sse([textStream, "\n"]) : FakeUpstream.sse(textStream)
      )
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      // the upstream sent it all; give the client a moment to read the end and pool the connection
      yield* FakeUpstream.eventually("the first answer sent", () => requests[0]!.finished)
      yield* realPause(20)
      const again = yield* collect(provider.chatStream(request))
      assert.strictEqual(again.length, 6)
      assert.strictEqual(requests.length, 2)
      assert.isFalse(requests[0]!.aborted)
      assert.strictEqual(requests[1]!.socket, requests[0]!.socket, "the second request reused the connection")
      assert.strictEqual(requests[1]!.remotePort, requests[0]!.remotePort)
    }))

  it.scoped("after [DONE] a body that does not end is aborted after a short grace", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.sse([textStream], { keepOpen: true }))
      // The consumer is not held up by the rest of the body: the stream ends at [DONE] and the
      // body is drained in the background (the old implementation ended the stream only once the
      // body ended or the grace ran out).
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      // the grace deadline is set once the pending I/O is handled: wait (in real time) for its sleep
      const now = yield* Clock.currentTimeMillis
      for (let i = 0; !Chunk.some(yield* TestClock.sleeps(), (at) => at <= now + 1000); i++) {
        assert.isBelow(i, 400, "the grace deadline was never set")
        yield* realPause(5)
      }
      yield* TestClock.adjust("999 millis")
      yield* realPause(20)
      assert.isFalse(requests[0]!.aborted)
      yield* TestClock.adjust("1 millis")
      yield* FakeUpstream.abortedBy(upstream)
      assert.isFalse(requests[0]!.finished)
    }))
})
