import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Routing from "@switchyard/core/Routing"
import * as TestProvider from "@switchyard/core/TestProvider"

const fake = (name: string, models: ReadonlyArray<string>) => TestProvider.make({ name, models })

const registryWith = (...providers: Array<ReturnType<typeof fake>>) =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry.make
    for (const p of providers) yield* registry.register(p.provider)
    return registry
  })

const names = (route: Routing.Route) => route.candidates.map((c) => c.provider.name)

describe("Routing.resolve", () => {
  const openai = fake("openai", ["gpt-*"])
  const azure = fake("azure", ["gpt-*"])
  const claude = fake("claude", ["claude-*"])

  it.effect("picks every provider serving the model family, in registration order", () =>
    Effect.gen(function*() {
      const registry = yield* registryWith(openai, claude, azure)
      const route = yield* Routing.resolve({}, registry, "gpt-4o")
      assert.deepStrictEqual(names(route), ["openai", "azure"])
      assert.strictEqual(route.model, "gpt-4o")
    }))

  it.effect("a provider/ prefix pins the provider and is stripped", () =>
    Effect.gen(function*() {
      const registry = yield* registryWith(openai, azure)
      const route = yield* Routing.resolve({}, registry, "azure/gpt-4o")
      assert.deepStrictEqual(names(route), ["azure"])
      assert.strictEqual(route.model, "gpt-4o")
    }))

  it.effect("a slash that names no provider is part of the model id", () =>
    Effect.gen(function*() {
      const registry = yield* registryWith(fake("router", ["meta-llama/*"]))
      const route = yield* Routing.resolve({}, registry, "meta-llama/llama-3")
      assert.strictEqual(route.model, "meta-llama/llama-3")
    }))

  it.effect("configured targets decide order; single keeps only the first", () =>
    Effect.gen(function*() {
      const registry = yield* registryWith(openai, azure, claude)
      const targets = [{ virtual_key: "azure" }, { virtual_key: "claude" }, { virtual_key: "openai" }]
      assert.deepStrictEqual(names(yield* Routing.resolve({ targets }, registry, "gpt-4o")), ["azure", "openai"])
      const single = yield* Routing.resolve({ targets, strategy: { mode: "single" } }, registry, "gpt-4o")
      assert.deepStrictEqual(names(single), ["azure"])
    }))

  it.effect("an unserved model fails with ModelNotFound", () =>
    Effect.gen(function*() {
      const registry = yield* registryWith(openai)
      const error = yield* Effect.flip(Routing.resolve({}, registry, "llama-3"))
      assert.strictEqual(error._tag, "ModelNotFound")
      assert.strictEqual(error.model, "llama-3")
    }))

  it("aliases resolve to their model", () => {
    assert.strictEqual(Routing.resolveAlias({ aliases: { fast: "gpt-4o-mini" } }, "fast"), "gpt-4o-mini")
    assert.strictEqual(Routing.resolveAlias({ aliases: { fast: "gpt-4o-mini" } }, "gpt-4o"), "gpt-4o")
  })
})
