import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
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

describe("OpenAiProvider.chatStream", () => {
  it.effect("parses a recorded stream into chunks, in order, through [DONE]", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      assert.strictEqual(chunks[0]!.choices[0]!.delta.role, "assistant")
      assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
      assert.strictEqual(chunks[4]!.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual(chunks[5]!.choices, [])
      assert.strictEqual(chunks[5]!.usage?.total_tokens, 18)
      assert.strictEqual((chunks[0] as Record<string, unknown>).system_fingerprint, "fp_06737a9306")

      const sent = requests[0]!
      assert.strictEqual(sent.url, "https://upstream.test/v1/chat/completions")
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.deepStrictEqual(sent.body, request)
    }))

  it.effect("sets stream: true on the upstream request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const { stream: _, stream_options: __, ...plain } = request
      yield* collect(provider.chatStream(plain))
      assert.deepStrictEqual(requests[0]!.body, { ...plain, stream: true })
    }))

  it.effect("parses tool call deltas", () =>
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

  it.effect("survives a body cut at arbitrary byte boundaries (inside events and UTF-8 characters)", () =>
    Effect.gen(function*() {
      for (const size of [1, 7, 64]) {
        const { provider } = yield* build(() =>
          new Response(FakeUpstream.inPieces(textStream, size), { headers: { "content-type": "text/event-stream" } })
        )
        const chunks = yield* collect(provider.chatStream(request))
        assert.strictEqual(chunks.length, 6, `pieces of ${size}`)
        assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
      }
    }))

  it.effect("a burst of events in one network chunk decodes every event, in order (LF and CRLF)", () =>
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

  it.effect("ignores SSE comments and CRLF line endings; stops at [DONE] even if more follows", () =>
    Effect.gen(function*() {
      const body = ": OPENROUTER PROCESSING\r\n\r\n" + textStream.replace(/\n/g, "\r\n") +
        "data: {\"not\":\"read\"}\n\n"
      const { provider } = yield* build(() => FakeUpstream.sse(body))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
    }))

  it.live("a `retry:` field neither delays the stream nor loses events", () =>
    Effect.gen(function*() {
      // Sse.makeChannel (experimental 0.61.1) would sleep 3 s here and drop a chunk.
      const { provider } = yield* build(() =>
        new Response(FakeUpstream.inPieces("retry: 3000\n\n" + textStream, 16))
      )
      const chunks = yield* collect(provider.chatStream(request)).pipe(Effect.timeout("1 second"))
      assert.strictEqual(chunks.length, 6)
      assert.strictEqual(contentOf(chunks), "Hello! How can I help? 👋")
    }))

  it.effect("a stream that ends without [DONE] just ends", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse(textStream.replace("data: [DONE]\n\n", "")))
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
    }))

  it.effect("a mid-stream error event fails the stream after the chunks before it", () =>
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

  it.effect("an error event with a status code uses it; `event: error` is an error too", () =>
    Effect.gen(function*() {
      const withCode = yield* build(() =>
        FakeUpstream.sse(`data: {"error":{"message":"Provider returned error","code":429}}\n\n`)
      )
      const e1 = yield* Effect.flip(Stream.runDrain(withCode.provider.chatStream(request)))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 429)
      assert.strictEqual(e1.upstreamCode, "429")

      const named = yield* build(() => FakeUpstream.sse(`event: error\ndata: overloaded, key ${secret}\n\n`))
      const e2 = yield* Effect.flip(Stream.runDrain(named.provider.chatStream(request)))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 500)
      assert.strictEqual(e2.upstreamMessage, "overloaded, key [REDACTED]")
      assert.notInclude(e2.body, secret)
    }))

  it.effect("an event that is not JSON is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.sse("data: {\"choices\":[]}\n\ndata: not json\n\n"))
      const error = yield* Effect.flip(Stream.runDrain(provider.chatStream(request)))
      assert.strictEqual(error._tag, "ProviderOutputError")
    }))

  it.effect("a non-2xx answer fails the stream before any chunk", () =>
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

  it.effect("opens the upstream only when the stream is run", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.sse(textStream))
      const stream = provider.chatStream(request)
      assert.strictEqual(requests.length, 0)
      yield* Stream.runDrain(stream)
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("interrupting the consumer after the first chunk aborts the upstream request", () =>
    Effect.gen(function*() {
      let cancelled = false
      const firstEvent = textStream.split("\n\n")[0]! + "\n\n"
      const { provider, requests } = yield* build(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(firstEvent))
              // ... and never anything more, never the end
            },
            cancel() {
              cancelled = true
            }
          }),
          { headers: { "content-type": "text/event-stream" } }
        )
      )
      const gotFirst = yield* Deferred.make<ChatChunk>()
      const fiber = yield* provider.chatStream(request).pipe(
        Stream.runForEach((chunk) => Deferred.succeed(gotFirst, chunk)),
        Effect.fork
      )
      const first = yield* Deferred.await(gotFirst)
      assert.strictEqual(first.choices[0]!.delta.role, "assistant")
      assert.isFalse(requests[0]!.signal.aborted)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(requests[0]!.signal.aborted)
      assert.isTrue(cancelled)
    }))

  it.effect("taking only the first chunk releases the upstream as well", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(textStream.split("\n\n")[0]! + "\n\n"))
            }
          })
        )
      )
      const chunks = yield* collect(provider.chatStream(request).pipe(Stream.take(1)))
      assert.strictEqual(chunks.length, 1)
      assert.isTrue(requests[0]!.signal.aborted)
    }))

  it.effect("no first chunk within the timeout is ProviderTimeout, and the request is aborted", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(new TextEncoder().encode(": waiting\n\n"))
              }
            })
          ),
        { timeout: "5 seconds" }
      )
      const fiber = yield* Effect.fork(Effect.flip(Stream.runDrain(provider.chatStream(request))))
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 5000)
      assert.isTrue(requests[0]!.signal.aborted)
    }))

  it.effect("the timeout does not apply once the first chunk arrived", () =>
    Effect.gen(function*() {
      const events = textStream.split("\n\n").filter((e) => e !== "").map((e) => e + "\n\n")
      let next = 0
      let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined
      const push = () => controllerRef!.enqueue(new TextEncoder().encode(events[next++]!))
      const { provider } = yield* build(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controllerRef = controller
                push()
              }
            })
          ),
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
      while (next < events.length) push()
      controllerRef!.close()
      const chunks = Chunk.toArray(yield* Fiber.join(fiber))
      assert.strictEqual(chunks.length, 6)
    }))

  it.effect("after [DONE] the rest of the body is read to its end (the connection can be reused)", () =>
    Effect.gen(function*() {
      let cancelled = false
      let readToEnd = false
      const parts = [textStream, "\n"]
      const { provider } = yield* build(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              const part = parts.shift()
              if (part === undefined) {
                readToEnd = true
                return controller.close()
              }
              controller.enqueue(new TextEncoder().encode(part))
            },
            cancel() {
              cancelled = true
            }
          })
        )
      )
      const chunks = yield* collect(provider.chatStream(request))
      assert.strictEqual(chunks.length, 6)
      assert.isTrue(readToEnd)
      assert.isFalse(cancelled)
    }))

  it.effect("after [DONE] a body that does not end is aborted after a short grace", () =>
    Effect.gen(function*() {
      let cancelled = false
      const { provider, requests } = yield* build(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(textStream))
            },
            cancel() {
              cancelled = true
            }
          })
        )
      )
      const fiber = yield* Effect.fork(collect(provider.chatStream(request)))
      // wait (in real time) until the stream is draining, i.e. its grace timer is scheduled
      for (let i = 0; i < 1000 && Chunk.isEmpty(yield* TestClock.sleeps()); i++) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
      }
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const chunks = yield* Fiber.join(fiber)
      assert.strictEqual(chunks.length, 6)
      assert.isTrue(requests[0]!.signal.aborted)
      assert.isTrue(cancelled)
    }))
})
