import { assert, describe, it } from "@effect/vitest"
import { ChatRequest } from "@switchyard/core/ChatSchema"
import * as GatewayError from "@switchyard/core/GatewayError"
import * as Cause from "effect/Cause"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as HttpErrors from "../src/HttpErrors.js"

const decode = Schema.decodeUnknownEither(ChatRequest)

const invalid = (input: unknown) => {
  const result = decode(input)
  assert.isTrue(Either.isLeft(result))
  return HttpErrors.fromParseError((result as Either.Left<any, any>).left)
}

describe("HttpErrors.describe", () => {
  it("maps each provider failure to its status, with the provider header", () => {
    const cases: Array<[GatewayError.GatewayError, number, string | null]> = [
      [new GatewayError.ProviderUnreachable({ provider: "p", detail: "ECONNREFUSED" }), 502, "provider_unreachable"],
      [new GatewayError.ProviderOutputError({ provider: "p", detail: "not JSON" }), 502, "provider_output_error"],
      [new GatewayError.ProviderTimeout({ provider: "p", afterMillis: 100 }), 504, "provider_timeout"],
      [new GatewayError.ProviderStatusError({ provider: "p", status: 503, body: "" }), 503, null],
      // Not an error status: the gateway answers for it.
      [new GatewayError.ProviderStatusError({ provider: "p", status: 302, body: "" }), 502, null]
    ]
    for (const [error, status, code] of cases) {
      const info = HttpErrors.describe(error)
      assert.strictEqual(info.status, status, error._tag)
      assert.strictEqual(info.code, code, error._tag)
      assert.strictEqual(info.headers?.["x-switchyard-provider"], "p")
      assert.strictEqual(info.message, error.message)
    }
    const status = HttpErrors.describe(new GatewayError.ProviderStatusError({ provider: "p", status: 503, body: "" }))
    assert.strictEqual(status.type, "upstream_error")
    assert.strictEqual(status.message, "Provider 'p' answered with status 503")
  })

  it("answers open circuits with 503, circuit_open and a retry-after in whole seconds", () => {
    const info = HttpErrors.describe(new GatewayError.CircuitOpen({ targets: ["a", "b"], retryAfterMillis: 12_300 }))
    assert.deepStrictEqual(
      { status: info.status, code: info.code, headers: info.headers },
      { status: 503, code: "circuit_open", headers: { "retry-after": "13" } }
    )
    assert.include(info.message, "'a', 'b'")
  })

  it("answers a rejection with its status", () => {
    const info = HttpErrors.describe(new GatewayError.RequestRejected({ plugin: "guard", status: 403, message: "blocked" }))
    assert.deepStrictEqual(
      { status: info.status, type: info.type, message: info.message, code: info.code },
      { status: 403, type: "permission_error", message: "blocked", code: "request_rejected" }
    )
    assert.strictEqual(
      HttpErrors.describe(new GatewayError.RequestRejected({ plugin: "limit", status: 429, message: "slow down" })).type,
      "rate_limit_error"
    )
  })

  it("renders the OpenAI envelope", () => {
    const info = HttpErrors.describe(new GatewayError.ModelNotFound({ model: "x" }))
    assert.deepStrictEqual(HttpErrors.openAi(info), {
      error: {
        message: "The model 'x' is not served by any configured provider",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found"
      }
    })
  })

  it("describes defects and unknown failures as a generic 500", () => {
    assert.strictEqual(HttpErrors.describeCause(Cause.die(new Error("sk-123"))), HttpErrors.internalError)
    assert.strictEqual(HttpErrors.describeCause(Cause.fail(new Error("sk-123"))), HttpErrors.internalError)
    assert.strictEqual(HttpErrors.describeCause(Cause.fail(new HttpErrors.RequestTooLarge({ limit: 1 }))).status, 413)
  })
})

describe("HttpErrors.fromParseError", () => {
  it("names the path of the bad field and keeps the message short", () => {
    const cases: Array<[unknown, string, string]> = [
      [{ messages: [{ role: "user", content: "hi" }] }, "model", "Missing required parameter: 'model'."],
      [
        { model: "m", messages: [{ role: "user", content: 5 }] },
        "messages[0].content",
        "messages[0].content: Expected string | array, actual 5"
      ],
      [{ model: "m", messages: "hi" }, "messages", "messages: Expected array, actual \"hi\""],
      [{ model: "m", messages: [{ role: "user", content: "x" }], n: 1.5 }, "n", "n: Expected an integer, actual 1.5"],
      [
        { model: "m", messages: [{ role: "user", content: "x" }], tool_choice: "maybe" },
        "tool_choice",
        "tool_choice: Expected object | \"none\" | \"auto\" | \"required\", actual \"maybe\""
      ],
      [
        { model: "m", messages: [{ role: "user", content: "x" }], stream_options: { include_usage: "y" } },
        "stream_options.include_usage",
        "stream_options.include_usage: Expected boolean, actual \"y\""
      ]
    ]
    for (const [input, param, message] of cases) {
      const error = invalid(input)
      assert.strictEqual(error.param, param)
      assert.strictEqual(error.message, message)
    }
  })
})
