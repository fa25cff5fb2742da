import { assert, describe, it } from "@effect/vitest"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { generateKeyPairSync } from "node:crypto"
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
          Layer.provideMerge(Layer.mergeAll(Layer.empty, ...settings.providers.map((p) => Server.providerLayer(p))), ProviderRegistry.layer)
        )
      )
    }))

  it.scoped("every vendor type registers its adapter, from the file's fields", () =>
    Effect.gen(function*() {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
      const serviceAccount = JSON.stringify({
        client_email: "gateway@project.iam.gserviceaccount.com",
        private_key: privateKey.export({ type: "pkcs8", format: "pem" })
      })
      const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" }
      const settings = yield* Config.fromDocument(
        {
          providers: [
            { name: "claude", type: "anthropic", api_key: "k" },
            { name: "gem", type: "gemini", api_key: "k" },
            { name: "vtx", type: "vertex", project: "p", location: "us-central1", service_account: serviceAccount },
            { name: "az", type: "azure-openai", base_url: "https://r.openai.azure.com", api_key: "k", deployments: { "gpt-4o": "prod-4o" } },
            { name: "br", type: "bedrock", region: "us-east-1" }
          ]
        },
        "test.yaml",
        env
      )
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        const kinds = ["claude", "gem", "vtx", "az", "br"].map((name) => Option.getOrThrow(registry.get(name)).kind)
        assert.deepStrictEqual(kinds, ["anthropic", "gemini", "gemini", "azure-openai", "bedrock"])
        assert.isTrue(Option.getOrThrow(registry.get("az")).serves("gpt-4o"))
        assert.isTrue(Option.getOrThrow(registry.get("br")).serves("anthropic.claude-3-5-sonnet-20240620-v1:0"))
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(Layer.empty, ...settings.providers.map((p) => Server.providerLayer(p, env))),
            ProviderRegistry.layer
          )
        )
      )
    }))

  it.scoped("unsupported_params reaches every adapter; a bad value is refused with its path", () =>
    Effect.gen(function*() {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
      const serviceAccount = JSON.stringify({
        client_email: "gateway@project.iam.gserviceaccount.com",
        private_key: privateKey.export({ type: "pkcs8", format: "pem" })
      })
      const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" }
      const policy = { unsupported_params: "reject" }
      const settings = yield* Config.fromDocument(
        {
          providers: [
            { name: "oai", type: "openai", api_key: "k", ...policy },
            { name: "fast", type: "groq", api_key: "k", ...policy },
            { name: "claude", type: "anthropic", api_key: "k", ...policy },
            { name: "gem", type: "gemini", api_key: "k", ...policy },
            { name: "vtx", type: "vertex", project: "p", location: "us-central1", service_account: serviceAccount, ...policy },
            { name: "az", type: "azure-openai", base_url: "https://r.openai.azure.com", api_key: "k", ...policy },
            { name: "br", type: "bedrock", region: "us-east-1", ...policy }
          ]
        },
        "test.yaml",
        env
      )
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(
          registry.all().map((p) => [p.name, p.unsupportedParams]),
          ["oai", "fast", "claude", "gem", "vtx", "az", "br"].map((name) => [name, "reject"])
        )
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(Layer.empty, ...settings.providers.map((p) => Server.providerLayer(p, env))),
            ProviderRegistry.layer
          )
        )
      )
      const refused = yield* Effect.flip(
        Config.fromDocument({ providers: [{ name: "a", type: "anthropic", unsupported_params: "ignore" }] }, "test.yaml", {})
      )
      assert.include(refused.problems.join("\n"), "providers[0].unsupported_params")
    }))

  it.scoped("an OpenAI-compatible entry states what its upstream lacks: unsupported parameters and operations", () =>
    Effect.gen(function*() {
      const settings = yield* Config.fromDocument(
        {
          providers: [
            { name: "vllm", type: "openai", base_url: "http://127.0.0.1:8000/v1", unsupported: { chat: ["seed", "logit_bias"] }, operations: { images: false } },
            { name: "fast", type: "groq", api_key: "k", unsupported: { chat: ["seed"] } }
          ]
        },
        "test.yaml",
        {}
      )
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        const vllm = Option.getOrThrow(registry.get("vllm"))
        assert.strictEqual(vllm.capabilities?.chat.parameters.seed, false)
        assert.strictEqual(vllm.capabilities?.chat.parameters.logit_bias, false)
        assert.strictEqual(vllm.capabilities?.chat.parameters.temperature, true)
        assert.isDefined(vllm.embed)
        assert.isUndefined(vllm.image)
        // The file's list for an operation replaces the preset's (Groq's own says logprobs).
        const fast = Option.getOrThrow(registry.get("fast"))
        assert.strictEqual(fast.capabilities?.chat.parameters.seed, false)
        assert.strictEqual(fast.capabilities?.chat.parameters.logprobs, true)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(Layer.mergeAll(Layer.empty, ...settings.providers.map((p) => Server.providerLayer(p))), ProviderRegistry.layer)
        )
      )
      const problems = (provider: Record<string, unknown>) =>
        Effect.map(Effect.flip(Config.fromDocument({ providers: [provider] }, "test.yaml", {})), (e) => e.problems.join("\n"))
      assert.include(
        yield* problems({ name: "a", type: "anthropic", api_key: "k", unsupported: { chat: ["seed"] } }),
        "providers[0].unsupported: only for type openai or groq"
      )
      assert.include(yield* problems({ name: "b", type: "openai", unsupported: { chat: ["sed"] } }), "providers[0].unsupported.chat[0]")
    }))
})
