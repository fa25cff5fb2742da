/**
 * The pass-through fast path over a real loopback upstream: the body forwarded with only the
 * model rewritten, the answer's text handed back as it came, and the usage read from it even
 * when the events carrying it arrive split across reads.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Usage } from "@switchyard/core/ChatSchema"
import * as Deadlines from "@switchyard/core/Deadlines"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Forwarding from "../src/Forwarding.js"
import * as Redact from "../src/Redact.js"
import * as TestUpstream from "../src/TestUpstream.js"
import * as Upstream from "../src/Upstream.js"

const makeUpstream = (baseUrl: string) =>
  Effect.flatMap(Deadlines.make, (deadlines) =>
    Upstream.make({
      provider: "vendor",
      baseUrl,
      headers: { "x-api-key": "sk-upstream" },
      redact: Redact.make(["sk-upstream"]),
      errorBody: () => ({}),
      timeoutMillis: 30_000
    }, deadlines))

const count = (n: unknown) => (typeof n === "number" ? n : 0)
const usageOf = (u: Record<string, unknown>): Usage => ({
  prompt_tokens: count(u.input_tokens),
  completion_tokens: count(u.output_tokens),
  total_tokens: count(u.input_tokens) + count(u.output_tokens)
})

/** An Anthropic-like vendor: input counted at the start, output at the end, a closing event. */
const options: Forwarding.Options = {
  format: "anthropic",
  request: (request, model, timeoutMillis) =>
    Effect.succeed({ method: "POST", path: "/v1/messages", body: Forwarding.withModel(request, model), timeoutMillis, headers: request.headers }),
  usage: (answer) => usageOf(answer.usage as Record<string, unknown>),
  streamUsage: {
    marker: `"usage"`,
    read: (start, delta) => usageOf({ ...(start.message as { usage: object }).usage, ...(delta.usage as object) })
  },
  endMarker: "event: message_stop"
}

const text = `{"model":"alias","stream":true,"x_unknown":{"kept":[1,2.50]}}`
const request: Passthrough.Request = {
  format: "anthropic",
  operation: "messages",
  text,
  body: JSON.parse(text) as Record<string, unknown>,
  stream: true,
  headers: { "anthropic-version": "2026-10-21" }
}

const events = [
  `event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":12,"output_tokens":1}}}\n\n`,
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi \\"usage\\""}}\n\n`,
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`
]
const body = events.join("")

/** The body cut into pieces of `size` characters: events and their usage split across reads. */
const split = (size: number) => Array.from({ length: Math.ceil(body.length / size) }, (_, i) => body.slice(i * size, (i + 1) * size))

const drain = <A, E>(pull: Streaming.Pull<A, E>) => Effect.map(Stream.runCollect(Streaming.toStream(pull)), Chunk.toArray)

describe("Forwarding", () => {
  it("keeps the client's bytes when the model is already the upstream's, and rewrites only the model otherwise", () => {
    assert.strictEqual(Forwarding.withModel({ ...request, text: `{"model":"m", "a":1.0}`, body: { model: "m", a: 1 } }, "m"), `{"model":"m", "a":1.0}`)
    assert.deepStrictEqual(JSON.parse(Forwarding.withModel(request, "claude-x")), { ...request.body, model: "claude-x" })
  })

  it.scoped("forwards a JSON request with the routed model, the client's vendor headers and its own key, and reads the usage", () =>
    Effect.gen(function*() {
      const answer = `{"id":"m","usage":{"input_tokens":3,"output_tokens":4},"x_vendor":true}`
      const upstream = yield* TestUpstream.start(() => ({ headers: { "content-type": "application/json" }, body: answer }))
      const forwarding = Forwarding.make(yield* makeUpstream(upstream.origin), options)
      const result = yield* forwarding.forward({ ...request, stream: false }, "claude-x")
      assert.strictEqual(result.body, answer)
      assert.strictEqual(result.contentType, "application/json")
      assert.deepStrictEqual(result.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
      const sent = upstream.requests[0]!
      assert.deepStrictEqual(sent.body, { ...request.body, model: "claude-x" })
      assert.strictEqual(sent.headers["anthropic-version"], "2026-10-21")
      assert.strictEqual(sent.headers["x-api-key"], "sk-upstream")
    }))

  for (const size of [7, 33, body.length]) {
    it.scoped(`hands the stream back unchanged and reads its usage, in pieces of ${size} characters`, () =>
      Effect.gen(function*() {
        const upstream = yield* TestUpstream.start(() => ({ headers: { "content-type": "text/event-stream" }, body: split(size) }))
        const forwarding = Forwarding.make(yield* makeUpstream(upstream.origin), options)
        const answer = yield* forwarding.forwardStream(request, "claude-x")
        const pieces = yield* drain(answer.pull)
        assert.strictEqual(pieces.join(""), body)
        assert.deepStrictEqual(answer.usage(), { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 })
      }))
  }

  it.live("aborts the upstream request when the stream's scope closes before its end (a client gone)", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({ headers: { "content-type": "text/event-stream" }, body: events.slice(0, 1), keepOpen: true }))
      const forwarding = Forwarding.make(yield* makeUpstream(upstream.origin), options)
      const first = yield* Effect.scoped(Effect.flatMap(forwarding.forwardStream(request, "claude-x"), (answer) => answer.pull))
      assert.strictEqual(Chunk.join(first, ""), events[0])
      yield* TestUpstream.abortedBy(upstream)
    }).pipe(Effect.scoped))

  it.scoped("fails a stream cut short before the vendor's last event, retryably", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({ headers: { "content-type": "text/event-stream" }, body: events.slice(0, 2) }))
      const forwarding = Forwarding.make(yield* makeUpstream(upstream.origin), options)
      const answer = yield* forwarding.forwardStream(request, "claude-x")
      const failure = yield* Effect.flip(drain(answer.pull))
      assert.strictEqual(failure._tag, "ProviderUnreachable")
    }))
})
