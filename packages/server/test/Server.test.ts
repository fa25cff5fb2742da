import { assert, describe, it } from "@effect/vitest"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Config from "@switchyard/server/Config"
import * as Server from "@switchyard/server/Server"

describe("Server.providerLayer", () => {
  it.scoped("a preset entry registers an OpenAI-compatible provider with the preset's defaults", () =>
    Effect.gen(function*() {
      const settings = yield* Config.fromDocument(
        { providers: [{ name: "fast", type: "groq" }, { name: "reasoner", type: "deepseek" }] },
        "test.yaml",
        {}
      )
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        const fast = Option.getOrThrow(registry.get("fast"))
        assert.strictEqual(fast.kind, "openai")
        // A host of many vendors' models claims none by name; the vendor its own family.
        assert.isFalse(fast.serves("gpt-4o"))
        const reasoner = Option.getOrThrow(registry.get("reasoner"))
        assert.isTrue(reasoner.serves("deepseek-chat"))
        assert.isFalse(reasoner.serves("gpt-4o"))
      }).pipe(
        Effect.provide(
          Layer.provideMerge(Layer.mergeAll(Layer.empty, ...settings.providers.map(Server.providerLayer)), ProviderRegistry.layer)
        )
      )
    }))
})
