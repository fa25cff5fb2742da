/**
 * The support tables and the unsupported-parameter policy, as plain functions.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as Effect from "effect/Effect"

/** Honours sampling and tools only; `response_format` only as json_schema; `top_k` is its own field. */
const narrow: Capabilities.OperationSupport<"chat"> = {
  parameters: {
    ...Capabilities.without(Capabilities.everything("chat"), ["n", "seed", "logit_bias", "presence_penalty"]).parameters,
    response_format: Capabilities.partially(
      "json_schema only",
      (value) => (value as { type?: unknown } | null)?.type === "json_schema"
    )
  },
  vendorFields: ["top_k"],
  forwardsUnknown: false
}

const base = { model: "m", messages: [{ role: "user", content: "hi" }] }

describe("Capabilities.honouring", () => {
  it("states every parameter of the operation: what it names as given, the rest not honoured", () => {
    const table = Capabilities.honouring("chat", { temperature: true, seed: Capabilities.partially("ints", Number.isInteger) })
    assert.deepStrictEqual(Object.keys(table), [...Capabilities.parameters.chat])
    assert.strictEqual(table.temperature, true)
    assert.strictEqual(table.n, false)
    assert.strictEqual(Capabilities.describeSupport(table.seed), "partial: ints")
  })
})

describe("Capabilities.check", () => {
  const check = Capabilities.check("chat", narrow)

  it("finds nothing in a request that sets only honoured parameters", () => {
    assert.isUndefined(check({ ...base, temperature: 0.2, tools: [], stream: true, stream_options: { include_usage: true } }))
  })

  it("lists the unsupported parameters a request sets, in its order", () => {
    assert.deepStrictEqual(check({ ...base, seed: 7, temperature: 1, logit_bias: { "1": 2 } }), ["seed", "logit_bias"])
  })

  it("does not count null, absent or neutral values (n: 1) as set", () => {
    assert.isUndefined(check({ ...base, seed: null, n: 1, presence_penalty: undefined }))
    assert.deepStrictEqual(check({ ...base, n: 2 }), ["n"])
  })

  it("judges a partially honoured parameter by its value", () => {
    assert.isUndefined(check({ ...base, response_format: { type: "json_schema", json_schema: { name: "x" } } }))
    assert.deepStrictEqual(check({ ...base, response_format: { type: "json_object" } }), ["response_format"])
  })

  it("takes the vendor's own fields, and refuses other unknown fields unless unknown fields are forwarded", () => {
    assert.isUndefined(check({ ...base, top_k: 40 }))
    assert.deepStrictEqual(check({ ...base, safetySettings: [] }), ["safetySettings"])
    assert.isUndefined(Capabilities.check("chat", Capabilities.everything("chat"))({ ...base, safetySettings: [] }))
  })
})

describe("Capabilities.enforcer", () => {
  const request = { ...base, seed: 7, temperature: 0.5, n: 3 }

  it("is undefined when there is nothing to check", () => {
    assert.isUndefined(Capabilities.enforcer("p", "chat", undefined, "reject"))
    assert.isUndefined(Capabilities.enforcer("p", "chat", Capabilities.everything("chat"), "reject"))
    assert.isDefined(Capabilities.enforcer("p", "chat", Capabilities.without(Capabilities.everything("chat"), ["seed"]), "reject"))
  })

  it("leaves a request it honours unchanged (the same object)", () => {
    const enforce = Capabilities.enforcer("p", "chat", narrow, "reject")!
    const fine = { ...base, temperature: 0.5 }
    const verdict = enforce(fine)
    assert.strictEqual(verdict._tag, "Unchanged")
    assert.strictEqual(verdict._tag === "Unchanged" && verdict.request, fine)
  })

  it("warn and drop leave out what is not honoured and keep the rest", () => {
    for (const policy of ["warn", "drop"] as const) {
      const verdict = Capabilities.enforcer("p", "chat", narrow, policy)!(request)
      assert.strictEqual(verdict._tag, "Dropped")
      if (verdict._tag !== "Dropped") return
      assert.deepStrictEqual(verdict.dropped, ["seed", "n"])
      assert.deepStrictEqual<unknown>(verdict.request, { ...base, temperature: 0.5 })
      assert.strictEqual(request.seed, 7, "the caller's request is not mutated")
    }
  })

  it("reject refuses with a 400-class error naming the provider and every parameter", () => {
    const verdict = Capabilities.enforcer("anthropic", "chat", narrow, "reject")!(request)
    assert.strictEqual(verdict._tag, "Rejected")
    if (verdict._tag !== "Rejected") return
    assert.strictEqual(verdict.error._tag, "InvalidRequest")
    assert.strictEqual(verdict.error.param, "seed")
    assert.strictEqual(verdict.error.code, "unsupported_parameter")
    assert.include(verdict.error.message, "Provider 'anthropic' does not support the parameters 'seed', 'n'")
  })

  it("checks embeddings and images by their own parameter lists", () => {
    const embeddings = Capabilities.without(Capabilities.everything("embeddings"), ["dimensions"])
    const verdict = Capabilities.enforcer("p", "embeddings", embeddings, "drop")!({
      model: "e",
      input: "x",
      encoding_format: "base64",
      dimensions: 8
    })
    assert.deepStrictEqual(verdict._tag === "Dropped" && verdict.dropped, ["dimensions"])
  })
})

describe("Capabilities.rowFor", () => {
  it.effect("renders a provider's support table; operations it lacks are null", () =>
    Effect.sync(() => {
      const p = TestProvider.make({
        name: "narrow",
        models: ["*"],
        capabilities: { chat: narrow },
        unsupportedParams: "reject",
        embed: () => Effect.die("unused")
      })
      const row = Capabilities.rowFor(p.provider)
      assert.strictEqual(row.unsupported_params, "reject")
      assert.strictEqual(row.operations.chat.parameters.temperature, "supported")
      assert.strictEqual(row.operations.chat.parameters.seed, "unsupported")
      assert.strictEqual(row.operations.chat.parameters.response_format, "partial: json_schema only")
      assert.deepStrictEqual(row.operations.chat.vendor_fields, ["top_k"])
      assert.strictEqual(row.operations.chat.forwards_unknown_fields, false)
      assert.deepStrictEqual(Object.keys(row.operations.chat.parameters), [...Capabilities.parameters.chat])
      // Stating nothing about embeddings: taken to honour every parameter.
      assert.strictEqual(row.operations.embeddings?.parameters.dimensions, "supported")
      assert.isNull(row.operations.images)
      assert.strictEqual(Capabilities.rowFor(TestProvider.make({ name: "d", models: [] }).provider).unsupported_params, "warn")
    }))
})
