/**
 * The fast path's stream: the events as they came, and an `error` event
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events) failing the
 * stream where it stands, as it fails a translated one.
 */
import { assert, describe, it } from "@effect/vitest"
import { isRetryable } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Streaming from "@switchyard/core/Streaming"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { build, secret } from "./AnthropicUpstream.js"

const text = `{"model":"claude-x","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`
const request: Passthrough.Request = {
  format: "anthropic",
  operation: "messages",
  text,
  body: JSON.parse(text),
  stream: true,
  headers: {}
}

const start = `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":5,"output_tokens":1}}}\n\n`
const delta = `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n`
const error = `event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded (${secret})"}}\n\n`

describe("AnthropicProvider: the fast path's stream", () => {
  it.scoped("an error event fails the stream after the events before it, as a translated stream fails; none of it is forwarded", () =>
    Effect.gen(function*() {
      const body = start + delta + error
      const { provider } = yield* build(() => ({ headers: { "content-type": "text/event-stream" }, body: [body.slice(0, 90), body.slice(90, 300), body.slice(300)] }))
      const answer = yield* provider.passthrough!.forwardStream(request, "claude-x")
      const pieces: Array<string> = []
      const failure = yield* Effect.flip(Stream.runForEach(Streaming.toStream(answer.pull), (piece) => Effect.sync(() => void pieces.push(piece))))
      assert.strictEqual(pieces.join(""), start + delta)
      assert.strictEqual(failure._tag, "ProviderStatusError")
      assert.isTrue(isRetryable(failure))
      assert.include(failure.message, "Overloaded")
      assert.notInclude(JSON.stringify(failure), secret)
      assert.strictEqual(answer.usage()?.prompt_tokens, 5)
    }))
})
