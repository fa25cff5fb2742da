import { assert, describe, it } from "@effect/vitest"
import { isRetryable } from "@switchyard/core/GatewayError"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type * as Provider from "@switchyard/core/Provider"
import * as Effect from "effect/Effect"
import { errorBody, quotaDetails, tokenResponse } from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { build, buildVertex, secret } from "./GeminiUpstream.js"

/** Both operations, on a provider that has them. */
const operations: ReadonlyArray<readonly [string, (p: Provider.Provider) => Effect.Effect<unknown, ProviderError>]> = [
  ["embed", (p) => p.embed!({ model: "gemini-embedding-001", input: ["a", "b"] })],
  ["image", (p) => p.image!({ model: "imagen-4.0-generate-001", prompt: "a lighthouse" })]
]

// Google's error model, as the Gemini API documents its classes
// (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes).
const classes = [
  [400, "INVALID_ARGUMENT", "Request contains an invalid argument.", false],
  [429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.", true],
  [503, "UNAVAILABLE", "The model is overloaded. Please try again later.", true]
] as const

describe("embed and image: Google's error envelope {error: {code, message, status}}", () => {
  it.scoped("400 INVALID_ARGUMENT is terminal; 429 RESOURCE_EXHAUSTED and 503 UNAVAILABLE are retryable", () =>
    Effect.gen(function*() {
      for (const [operation, call] of operations) {
        for (const [code, status, message, retryable] of classes) {
          const { provider } = yield* build(() => FakeUpstream.json(errorBody(code, status, message), { status: code }))
          const error = yield* Effect.flip(call(provider))
          assert(error._tag === "ProviderStatusError", `${operation} ${status}`)
          assert.strictEqual(error.status, code)
          assert.strictEqual(error.upstreamType, status)
          assert.strictEqual(error.upstreamMessage, message)
          assert.strictEqual(isRetryable(error), retryable, `${operation} ${status}`)
        }
      }
    }))

  it.scoped("a 429's RetryInfo gives the delay; an envelope with a 200 is the error it describes", () =>
    Effect.gen(function*() {
      for (const [operation, call] of operations) {
        const quota = yield* build(() =>
          FakeUpstream.json(errorBody(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", quotaDetails), { status: 429 })
        )
        const limited = yield* Effect.flip(call(quota.provider))
        assert(limited._tag === "ProviderStatusError", operation)
        assert.strictEqual(limited.retryAfterMillis, 17_000)

        const inBand = yield* build(() => FakeUpstream.json(errorBody(503, "UNAVAILABLE", "Overloaded.")))
        const overloaded = yield* Effect.flip(call(inBand.provider))
        assert(overloaded._tag === "ProviderStatusError", operation)
        assert.strictEqual(overloaded.status, 503)
        assert.isTrue(isRetryable(overloaded))
      }
    }))

  it.scoped("the API key and the bearer token never appear in an error, even when the upstream echoes them", () =>
    Effect.gen(function*() {
      for (const [operation, call] of operations) {
        const gemini = yield* build((exchange) =>
          FakeUpstream.json(
            errorBody(400, "INVALID_ARGUMENT", `API key not valid: ${exchange.headers["x-goog-api-key"]}`),
            { status: 400 }
          )
        )
        const e1 = yield* Effect.flip(call(gemini.provider))
        assert(e1._tag === "ProviderStatusError", operation)
        assert.strictEqual(e1.upstreamMessage, "API key not valid: [REDACTED]")
        for (const text of [JSON.stringify(e1), String(e1), e1.message, e1.body]) assert.notInclude(text, secret)

        const vertex = yield* buildVertex(
          (exchange) =>
            FakeUpstream.json(errorBody(401, "UNAUTHENTICATED", `bad credentials: ${exchange.headers["authorization"]}`), {
              status: 401
            }),
          () => FakeUpstream.json(tokenResponse("ya29.secret-token"))
        )
        const e2 = yield* Effect.flip(call(vertex.provider))
        assert(e2._tag === "ProviderStatusError", operation)
        assert.strictEqual(e2.upstreamMessage, "bad credentials: Bearer [REDACTED]")
        for (const text of [JSON.stringify(e2), String(e2), e2.message, e2.body]) assert.notInclude(text, "ya29.secret-token")
      }
    }))
})
