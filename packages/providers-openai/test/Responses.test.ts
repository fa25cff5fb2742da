/**
 * The Responses API's fast path: requests of Responses clients forwarded to an upstream that
 * serves it, and the usage read from its answers
 * (https://platform.openai.com/docs/api-reference/responses/object,
 * https://platform.openai.com/docs/api-reference/responses-streaming).
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as OpenAiProvider from "../src/OpenAiProvider.js"
import { apiKey, build, secret } from "./FakeUpstream.js"

const usage = {
  input_tokens: 36,
  input_tokens_details: { cached_tokens: 4 },
  output_tokens: 87,
  output_tokens_details: { reasoning_tokens: 12 },
  total_tokens: 123
}
const canonicalUsage = {
  prompt_tokens: 36,
  completion_tokens: 87,
  total_tokens: 123,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 12 }
}

const text = `{"model":"fast","input":"Hi","tools":[{"type":"web_search"}]}`
const request = (stream: boolean): Passthrough.Request => ({
  format: "responses",
  operation: "responses",
  text,
  body: { ...JSON.parse(text), ...(stream ? { stream: true } : {}) },
  stream,
  headers: {}
})

describe("OpenAiProvider: the Responses API", () => {
  it.scoped("serves it by default only on OpenAI's own base URL; passthrough says so for others", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* OpenAiProvider.make({ apiKey })).passthrough?.formats, ["openai", "responses"])
      assert.deepStrictEqual((yield* OpenAiProvider.make({ apiKey, baseUrl: "http://127.0.0.1:1/v1" })).passthrough?.formats, ["openai"])
      assert.isUndefined((yield* OpenAiProvider.make({ apiKey, passthrough: false })).passthrough)
    }))

  it.scoped("forwards to /responses with the routed model and its own key, and reads the usage", () =>
    Effect.gen(function*() {
      const answer = JSON.stringify({ id: "resp_1", object: "response", status: "completed", output: [], usage })
      const { provider, requests } = yield* build(() => ({ headers: { "content-type": "application/json" }, body: answer }), {
        passthrough: true
      })
      const result = yield* provider.passthrough!.forward(request(false), "gpt-4o-mini")
      assert.strictEqual(result.body, answer)
      assert.deepStrictEqual(result.usage, canonicalUsage)
      assert.strictEqual(requests[0]!.path, "/v1/responses")
      assert.deepStrictEqual(requests[0]!.body, { ...JSON.parse(text), model: "gpt-4o-mini" })
      assert.strictEqual(requests[0]!.headers.authorization, `Bearer ${secret}`)
    }))

  it.scoped("streams the events as they came, the usage from response.completed", () =>
    Effect.gen(function*() {
      const events = [
        `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}}\n\n`,
        `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,"delta":"Hi"}\n\n`,
        `event: response.completed\ndata: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","status":"completed","usage":${JSON.stringify(usage)}}}\n\n`
      ]
      const { provider } = yield* build(() => ({ headers: { "content-type": "text/event-stream" }, body: events }), { passthrough: true })
      const answer = yield* provider.passthrough!.forwardStream(request(true), "gpt-4o-mini")
      const pieces = yield* Effect.map(Stream.runCollect(Streaming.toStream(answer.pull)), Chunk.toArray)
      assert.strictEqual(pieces.join(""), events.join(""))
      assert.deepStrictEqual(answer.usage(), canonicalUsage)
    }))
})
