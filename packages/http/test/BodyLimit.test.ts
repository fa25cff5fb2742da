import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { chatBody, get, makeFake, port, post, rawRequest, serve } from "./utils/server.js"

const fake = Effect.runSync(makeFake)
const limit = 1024

const padding = (bytes: number) => "x".repeat(bytes)

layer(serve(fake, { maxBodyBytes: limit }), { excludeTestServices: true })("body limit", (it) => {
  it.effect("a body within the limit is accepted, chunked or not", () =>
    Effect.gen(function*() {
      const small = yield* post("/v1/chat/completions", chatBody("fake-1", { pad: padding(500) }))
      assert.strictEqual(small.status, 200)
      const body = JSON.stringify(chatBody("fake-1", { pad: padding(limit - 100) }))
      const chunked = yield* rawRequest(yield* port, {
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" }
      }, (req) => {
        // Several writes without content-length: transfer-encoding chunked.
        for (let i = 0; i < body.length; i += 100) req.write(body.slice(i, i + 100))
        req.end()
      })
      assert.strictEqual(chunked.status, 200)
      assert.strictEqual(chunked.headers["transfer-encoding"], undefined)
      assert.strictEqual(JSON.parse(chunked.text).choices[0].message.content, "Hello")
    }))

  it.effect("a content-length over the limit is a 413 request_too_large, answered before reading", () =>
    Effect.gen(function*() {
      const res = yield* post("/v1/chat/completions", chatBody("fake-1", { pad: padding(limit) }))
      assert.strictEqual(res.status, 413)
      assert.strictEqual(res.headers["connection"], "close")
      assert.match(res.headers["x-request-id"]!, /^req_/)
      assert.strictEqual(res.json.error.code, "request_too_large")
      assert.strictEqual(res.json.error.type, "invalid_request_error")
      assert.strictEqual((yield* get("/health")).status, 200)
    }))

  it.effect("a chunked body over the limit is a 413 that reaches a Node client", () =>
    Effect.gen(function*() {
      const p = yield* port
      const res = yield* rawRequest(p, {
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", "x-request-id": "big-1" }
      }, (req) => {
        assert.isTrue(req.getHeader("content-length") === undefined)
        req.write(JSON.stringify(chatBody("fake-1")).slice(0, -1))
        // 64 KiB more, in 1 KiB chunks, as a client streaming an upload would.
        for (let i = 0; i < 64; i++) req.write(`,"pad${i}":"${padding(1000)}"`)
        req.end("}")
      })
      assert.strictEqual(res.status, 413)
      assert.strictEqual(res.headers["x-request-id"], "big-1")
      assert.strictEqual(res.headers["connection"], "close")
      assert.strictEqual(JSON.parse(res.text).error.code, "request_too_large")

      // A slow uploader that is still sending when the answer comes.
      const slow = yield* rawRequest(p, {
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" }
      }, (req) => {
        let sent = 0
        const tick = setInterval(() => {
          if (req.destroyed || sent > 200) {
            clearInterval(tick)
            if (!req.destroyed) req.end()
            return
          }
          sent++
          req.write(padding(512))
        }, 2)
      })
      assert.strictEqual(slow.status, 413)
      assert.strictEqual(JSON.parse(slow.text).error.code, "request_too_large")

      assert.strictEqual((yield* get("/health")).status, 200)
    }))
})
