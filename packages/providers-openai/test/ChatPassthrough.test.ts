/**
 * The Chat Completions fast path: a client's body forwarded with only the model rewritten, the
 * answer's bytes handed back, the usage read from them. A stream whose client did not ask for
 * the usage is asked for it anyway (the gateway accounts for it) and reaches the client as it
 * would have come without `stream_options.include_usage`
 * (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options).
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Streaming from "@switchyard/core/Streaming"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as OpenAiProvider from "../src/OpenAiProvider.js"
import { apiKey, build, secret } from "./FakeUpstream.js"
import { midStreamErrorStream, textStream } from "./fixtures/openaiStream.js"

const requestOf = (body: Record<string, unknown>, text = JSON.stringify(body)): Passthrough.Request => ({
  format: "openai",
  operation: "chat/completions",
  text,
  body,
  stream: body.stream === true,
  headers: {}
})

const usage = { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 }

/** The data of each event, parsed (`[DONE]` as the string). */
const eventsOf = (body: string) =>
  body.split("\n\n").filter((e) => e !== "").map((e) => {
    assert.isTrue(e.startsWith("data: "), e)
    const data = e.slice(6)
    return data === "[DONE]" ? data : JSON.parse(data)
  })

const drain = (answer: Passthrough.StreamAnswer) =>
  Effect.map(Stream.runCollect(Streaming.toStream(answer.pull)), (pieces) => Chunk.toArray(pieces).join(""))

/** `text` cut at arbitrary places, as a network may deliver it. */
const cut = (text: string, at: ReadonlyArray<number>) =>
  [0, ...at].map((from, i) => text.slice(from, at[i] ?? text.length))

describe("OpenAiProvider: the Chat Completions fast path", () => {
  it.scoped("is offered unless passthrough is false, or prefill or unsupported chat parameters need the canonical request", () =>
    Effect.gen(function*() {
      const baseUrl = "http://127.0.0.1:1/v1"
      const formats = (options: Partial<OpenAiProvider.Options>) =>
        Effect.map(OpenAiProvider.make({ apiKey, baseUrl, ...options }), (p) => p.passthrough?.formats)
      assert.deepStrictEqual(yield* formats({}), ["openai"])
      assert.deepStrictEqual(yield* formats({ passthrough: true }), ["openai", "responses"])
      assert.isUndefined(yield* formats({ passthrough: false }))
      assert.isUndefined(yield* formats({ prefill: "prefix" }))
      assert.isUndefined(yield* formats({ unsupported: { chat: ["logprobs"] } }))
      assert.deepStrictEqual(yield* formats({ unsupported: { embeddings: ["dimensions"] } }), ["openai"])
    }))

  it.scoped("forwards the client's body with the routed model and its own key; the answer's bytes come back, the usage read", () =>
    Effect.gen(function*() {
      const answer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18",` +
        `"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],` +
        `"usage":${JSON.stringify(usage)},"x_vendor":{"kept":true}}`
      const { provider, requests } = yield* build(() => ({ headers: { "content-type": "application/json" }, body: answer }))
      const body = { model: "fast", messages: [{ role: "user", content: "Hi" }], x_unknown_param: 7 }
      const result = yield* provider.passthrough!.forward(requestOf(body), "gpt-4o-mini")
      assert.strictEqual(result.body, answer)
      assert.deepStrictEqual(result.usage, usage)
      assert.strictEqual(requests[0]!.path, "/v1/chat/completions")
      assert.deepStrictEqual(requests[0]!.body, { ...body, model: "gpt-4o-mini" })
      assert.strictEqual(requests[0]!.headers.authorization, `Bearer ${secret}`)
    }))

  it.scoped("a body sent for the model it names is forwarded byte for byte", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => ({ body: `{"choices":[]}` }))
      const text = `{ "model": "gpt-4o-mini",  "messages": [{"role":"user","content":"Hi"}] }`
      yield* provider.passthrough!.forward(requestOf(JSON.parse(text), text), "gpt-4o-mini")
      assert.strictEqual(requests[0]!.bodyText, text)
    }))

  it.scoped("a 200 whose body is an error fails retryably, without the key, like a translated answer", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => ({
        body: JSON.stringify({ error: { message: `overloaded (${secret})`, type: "server_error" } })
      }))
      const error = yield* Effect.flip(provider.passthrough!.forward(requestOf({ model: "gpt-4o-mini", messages: [] }), "gpt-4o-mini"))
      assert.isTrue(isRetryable(error))
      assert.include(error.message, "overloaded")
      assert.notInclude(JSON.stringify(error), secret)
    }))

  it.scoped("a stream whose client asked for the usage comes back as it came, the usage read from its last chunk", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => ({
        headers: { "content-type": "text/event-stream" },
        body: cut(textStream, [100, 101, 900, 1700])
      }))
      const body = { model: "gpt-4o-mini", messages: [], stream: true, stream_options: { include_usage: true } }
      const request = requestOf(body)
      const answer = yield* provider.passthrough!.forwardStream(request, "gpt-4o-mini")
      assert.strictEqual(yield* drain(answer), textStream)
      assert.strictEqual(answer.usage()?.total_tokens, 18)
      assert.strictEqual(requests[0]!.bodyText, request.text)
    }))

  it.scoped("a stream whose client did not ask for the usage: asked for upstream, read, and taken out of what the client gets", () =>
    Effect.gen(function*() {
      // Azure's content-filter chunk has an empty `choices` too, and no usage: it stays.
      const filter = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}\n\n`
      const upstream = filter + textStream
      const { provider, requests } = yield* build(() => ({
        headers: { "content-type": "text/event-stream" },
        body: cut(upstream, [50, 400, 401, 1500, 2200])
      }))
      const body = { model: "fast", messages: [], stream: true, stream_options: { x_other: 1 } }
      const answer = yield* provider.passthrough!.forwardStream(requestOf(body), "gpt-4o-mini")
      const received = eventsOf(yield* drain(answer))
      assert.deepStrictEqual(requests[0]!.body, { ...body, model: "gpt-4o-mini", stream_options: { x_other: 1, include_usage: true } })

      const sent = eventsOf(upstream)
      const withoutUsage = sent
        .filter((e) => e === "[DONE]" || e.usage == null)
        .map((e) => {
          if (e === "[DONE]") return e
          const { usage: _, ...rest } = e
          return rest
        })
      assert.deepStrictEqual(received, withoutUsage)
      assert.strictEqual(received.length, sent.length - 1)
      assert.deepStrictEqual(answer.usage(), sent.at(-2).usage)
    }))

  it.scoped("an in-band error fails the stream after the events before it, as a translated stream does; the client gets no half of it", () =>
    Effect.gen(function*() {
      for (const clientAsked of [true, false]) {
        const { provider } = yield* build(() => ({
          headers: { "content-type": "text/event-stream" },
          body: cut(midStreamErrorStream, [300, 420])
        }))
        const body = { model: "gpt-4o-mini", messages: [], stream: true, ...(clientAsked ? { stream_options: { include_usage: true } } : {}) }
        const answer = yield* provider.passthrough!.forwardStream(requestOf(body), "gpt-4o-mini")
        const pieces: Array<string> = []
        const failure = yield* Effect.flip(Stream.runForEach(Streaming.toStream(answer.pull), (piece) => Effect.sync(() => void pieces.push(piece))))
        assert.deepStrictEqual(pieces.join("").split("\n\n").filter((e) => e !== ""), midStreamErrorStream.split("\n\n").slice(0, 2))
        assert.strictEqual(failure._tag, "ProviderStatusError")
        assert.include(failure.message, "The server had an error while processing your request")
        assert.isTrue(isRetryable(failure))
      }
    }))

  it.scoped("a usage some servers put on the last content chunk is taken out too, for a client that did not ask", () =>
    Effect.gen(function*() {
      const last = { id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }
      const stream = `data: ${JSON.stringify({ ...last, choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }] })}\n\n` +
        `data: ${JSON.stringify({ ...last, usage })}\n\ndata: [DONE]\n\n`
      const { provider } = yield* build(() => ({ headers: { "content-type": "text/event-stream" }, body: stream }))
      const answer = yield* provider.passthrough!.forwardStream(requestOf({ model: "m", messages: [], stream: true }), "m")
      const received = eventsOf(yield* drain(answer))
      assert.deepStrictEqual(received.at(-2), last)
      assert.deepStrictEqual(answer.usage(), usage)
    }))
})
