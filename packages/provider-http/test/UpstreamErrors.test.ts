import { assert, describe, it } from "@effect/vitest"
import * as Redact from "../src/Redact.js"
import * as UpstreamErrors from "../src/UpstreamErrors.js"

describe("UpstreamErrors", () => {
  it("retryAfterMillis: retry-after-ms first, then seconds, then an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after-ms": "20.5", "retry-after": "1" }, now), 20.5)
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after": "1" }, now), 1000)
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after": "0.5" }, now), 500)
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after": "Wed, 01 Jan 2025 00:00:02 GMT" }, now), 2000)
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }, now), 0)
    assert.strictEqual(UpstreamErrors.retryAfterMillis({ "retry-after-ms": "soon", "retry-after": "3" }, now), 3000)
    assert.isUndefined(UpstreamErrors.retryAfterMillis({ "retry-after": "later" }, now))
    assert.isUndefined(UpstreamErrors.retryAfterMillis({ "retry-after": "-5" }, now))
    assert.isUndefined(UpstreamErrors.retryAfterMillis({}, now))
  })

})

describe("Redact", () => {
  it("replaces every occurrence, longest secret first, and ignores empty secrets", () => {
    const redact = Redact.make(["abc", "", "abcdef"])
    assert.strictEqual(redact("x abcdef y abc z abcdef"), "x [REDACTED] y [REDACTED] z [REDACTED]")
    assert.strictEqual(Redact.make([""])("unchanged"), "unchanged")
  })
})
