import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import * as Catalog from "@switchyard/core/Catalog"

describe("Catalog", () => {
  it.effect("prices a usage with cached input and output", () =>
    Effect.gen(function*() {
      const catalog = yield* Catalog.Catalog
      // gpt-4o: 2.50 input, 1.25 cached input, 10 output (USD / 1M tokens)
      const cost = catalog.cost("gpt-4o", {
        prompt_tokens: 1_000_000,
        completion_tokens: 100_000,
        total_tokens: 1_100_000,
        prompt_tokens_details: { cached_tokens: 400_000 }
      })
      assert.closeTo(Option.getOrThrow(cost), 0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10, 1e-9)
    }).pipe(Effect.provide(Catalog.layer)))

  it.effect("prices Anthropic cache writes", () =>
    Effect.gen(function*() {
      const catalog = yield* Catalog.Catalog
      const cost = catalog.cost("claude-sonnet-4-5", {
        prompt_tokens: 300_000,
        completion_tokens: 0,
        total_tokens: 300_000,
        prompt_tokens_details: { cache_creation_tokens: 100_000, cached_tokens: 100_000 }
      })
      assert.closeTo(Option.getOrThrow(cost), 0.1 * 3 + 0.1 * 3.75 + 0.1 * 0.3, 1e-9)
    }).pipe(Effect.provide(Catalog.layer)))

  it.effect("finds dated snapshots by their base model, prefers the longest id", () =>
    Effect.gen(function*() {
      const catalog = yield* Catalog.Catalog
      assert.strictEqual(Option.getOrThrow(catalog.lookup("gpt-4o-2024-08-06")).input, 2.5)
      assert.strictEqual(Option.getOrThrow(catalog.lookup("gpt-4o-mini-2024-07-18")).input, 0.15)
      assert.isTrue(Option.isNone(catalog.lookup("gpt-4oo")))
      assert.isTrue(Option.isNone(catalog.cost("mock-1", { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })))
    }).pipe(Effect.provide(Catalog.layer)))

  it.effect("layerWith adds models", () =>
    Effect.gen(function*() {
      const catalog = yield* Catalog.Catalog
      const cost = catalog.cost("house-model", { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 })
      assert.strictEqual(Option.getOrThrow(cost), 1)
    }).pipe(Effect.provide(Catalog.layerWith({ "house-model": { provider: "self", input: 1, output: 2 } }))))
})
