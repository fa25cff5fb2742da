/**
 * The fast path's stream (`alt=sse`): the events as they came, and an event holding Google's
 * error envelope (https://ai.google.dev/gemini-api/docs/troubleshooting) failing the stream
 * where it stands, as it fails a translated one.
 */
import { assert, describe, it } from "@effect/vitest"
import { isRetryable } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Streaming from "@switchyard/core/Streaming"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { build } from "./GeminiUpstream.js"

const text = `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`
const request: Passthrough.Request = {
  format: "gemini",
  operation: "streamGenerateContent",
  text,
  body: JSON.parse(text),
  stream: true,
  headers: {}
}

const first = `data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash"}\r\n\r\n`
const error = `data: {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}\r\n\r\n`

describe("GeminiProvider: the fast path's stream", () => {
  it.scoped("an error envelope fails the stream after the events before it, retryably; none of it is forwarded", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => ({ headers: { "content-type": "text/event-stream" }, body: [first, error.slice(0, 40), error.slice(40)] }))
      const answer = yield* provider.passthrough!.forwardStream(request, "gemini-2.5-flash")
      const pieces: Array<string> = []
      const failure = yield* Effect.flip(Stream.runForEach(Streaming.toStream(answer.pull), (piece) => Effect.sync(() => void pieces.push(piece))))
      assert.strictEqual(pieces.join(""), first)
      assert.strictEqual(failure._tag, "ProviderStatusError")
      assert.isTrue(isRetryable(failure))
      assert.include(failure.message, "overloaded")
    }))

  it.scoped("a stream without one comes back byte for byte", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => ({ headers: { "content-type": "text/event-stream" }, body: [first.slice(0, 33), first.slice(33), first] }))
      const answer = yield* provider.passthrough!.forwardStream(request, "gemini-2.5-flash")
      const pieces = yield* Stream.runCollect(Streaming.toStream(answer.pull))
      assert.strictEqual([...pieces].join(""), first + first)
      assert.strictEqual(answer.usage()?.total_tokens, 5)
    }))
})
