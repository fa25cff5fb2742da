import { assert, describe, it } from "@effect/vitest"
import * as Errors from "../src/internal/errors.js"
import * as Redact from "../src/internal/redact.js"

describe("internal/errors", () => {
  it("retryAfterMillis: retry-after-ms first, then seconds, then an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after-ms": "20.5", "retry-after": "1" }, now), 20.5)
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after": "1" }, now), 1000)
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after": "0.5" }, now), 500)
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after": "Wed, 01 Jan 2025 00:00:02 GMT" }, now), 2000)
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }, now), 0)
    assert.strictEqual(Errors.retryAfterMillis({ "retry-after-ms": "soon", "retry-after": "3" }, now), 3000)
    assert.isUndefined(Errors.retryAfterMillis({ "retry-after": "later" }, now))
    assert.isUndefined(Errors.retryAfterMillis({ "retry-after": "-5" }, now))
    assert.isUndefined(Errors.retryAfterMillis({}, now))
  })

  it("fromErrorBody: OpenAI's envelope and the shapes compatible servers send", () => {
    assert.deepStrictEqual(
      Errors.fromErrorBody(`{"error":{"message":"m","type":"t","code":"c","param":null}}`),
      { message: "m", type: "t", code: "c" }
    )
    assert.deepStrictEqual(Errors.fromErrorBody(`{"error":{"message":"m","code":502}}`), {
      message: "m",
      code: "502",
      status: 502
    })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"error":"model not found"}`), { message: "model not found" })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"detail":"Not Found"}`), { message: "Not Found" })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"object":"error","message":"bad","type":"BadRequestError"}`), {
      message: "bad"
    })
    assert.deepStrictEqual(Errors.fromErrorBody("<html>502 Bad Gateway</html>"), {})
  })
})

describe("internal/redact", () => {
  it("replaces every occurrence, longest secret first, and ignores empty secrets", () => {
    const redact = Redact.make(["abc", "", "abcdef"])
    assert.strictEqual(redact("x abcdef y abc z abcdef"), "x [REDACTED] y [REDACTED] z [REDACTED]")
    assert.strictEqual(Redact.make([""])("unchanged"), "unchanged")
  })
})
