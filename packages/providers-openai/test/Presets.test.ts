import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { embeddingRequest, floatEmbeddings } from "./fixtures/openaiOperations.js"
import * as OpenAiProvider from "../src/OpenAiProvider.js"
import * as Presets from "../src/Presets.js"
import * as FakeUpstream from "./FakeUpstream.js"
import { apiKey, secret } from "./FakeUpstream.js"

const request: ChatRequest = { model: "some-model", messages: [{ role: "user", content: "Say hello" }] }

const completion = {
  id: "chatcmpl-preset",
  object: "chat.completion",
  created: 1741569952,
  model: "some-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
}

const isHttpUrl = (url: string) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)

/**
 * Values for a preset's variables: the one a template starts with is a whole origin (a
 * workspace host, an endpoint), any other a path segment (an account id).
 */
const fill = (name: Presets.Name, origin: string): Record<string, string> =>
  Object.fromEntries(
    Presets.variables(name).map((v) => [v, Presets.presets[name].baseUrl.startsWith(`\${${v}}`) ? origin : "acct-123"])
  )

/** The preset's default URL, its variables filled in. */
const filledDefault = (name: Presets.Name, origin = "https://tenant.example.com") =>
  Either.getOrThrow(Presets.defaultBaseUrl(name, fill(name, origin)))

describe("Presets", () => {
  it("names every preset the issue asks for, each a lower-case kebab name", () => {
    assert.sameMembers([...Presets.names], [
      "groq",
      "together",
      "fireworks",
      "deepseek",
      "xai",
      "mistral",
      "perplexity",
      "openrouter",
      "cerebras",
      "deepinfra",
      "moonshot",
      "novita",
      "nvidia-nim",
      "qwen",
      "sambanova",
      "databricks",
      "hugging-face",
      "ollama",
      "azure-foundry",
      "cloudflare"
    ])
    for (const name of Presets.names) {
      assert.match(name, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/)
      assert.isTrue(Presets.isName(name))
    }
    assert.isFalse(Presets.isName("openai"))
    assert.isFalse(Presets.isName("toString"))
  })

  it("every preset has an absolute http(s) default URL, or names the variables it is built from", () => {
    for (const name of Presets.names) {
      const preset = Presets.presets[name]
      const needs = Presets.variables(name)
      const bare = Presets.defaultBaseUrl(name, {})
      if (needs.length === 0) {
        assert.isTrue(Either.isRight(bare), name)
        assert.isTrue(isHttpUrl(Either.getOrThrow(bare)), name)
        assert.strictEqual(Either.getOrThrow(bare), preset.baseUrl)
      } else {
        assert.isTrue(Either.isLeft(bare), name)
        const missing = Either.flip(bare).pipe(Either.getOrThrow)
        assert.deepStrictEqual(missing.variables, needs, name)
        for (const v of needs) assert.include(missing.message, v)
        assert.isTrue(isHttpUrl(filledDefault(name)), name)
      }
      assert.notMatch(preset.baseUrl, /\/$/, `${name}: paths are appended to the base URL`)
      if (preset.apiKeyEnv !== undefined) assert.match(preset.apiKeyEnv, /^[A-Z][A-Z0-9_]*$/, name)
    }
    // The three that differ per deployment, and the one that takes no key.
    assert.deepStrictEqual(Presets.names.filter((n) => Presets.variables(n).length > 0), [
      "databricks",
      "azure-foundry",
      "cloudflare"
    ])
    assert.deepStrictEqual(Presets.names.filter((n) => Presets.presets[n].apiKeyEnv === undefined), ["ollama"])
  })

  it.scoped("each preset provider sends its key in the preset's header to the preset's base path", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(completion))
      for (const [i, name] of Presets.names.entries()) {
        const path = new URL(filledDefault(name)).pathname.replace(/\/$/, "")
        const options = Either.getOrThrow(
          Presets.options(name, { apiKey, baseUrl: `${upstream.origin}${path}` })
        )
        const provider = yield* OpenAiProvider.make(options)
        assert.strictEqual(provider.name, name)
        const response = yield* provider.chat(request)
        assert.strictEqual(response.id, "chatcmpl-preset", name)
        const sent = upstream.requests[i]!
        assert.strictEqual(sent.path, `${path}/chat/completions`, name)
        const header = Presets.presets[name].apiKeyHeader
        if (header === undefined) {
          assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`, name)
        } else {
          assert.strictEqual(sent.headers[header], secret, name)
          assert.isUndefined(sent.headers["authorization"], name)
        }
      }
      assert.strictEqual(upstream.requests.length, Presets.names.length)
    }))

  it.scoped("a preset's variables build its default URL from the environment", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(completion))
      const databricks = Either.getOrThrow(
        Presets.options("databricks", { apiKey }, { DATABRICKS_HOST: `${upstream.origin}/` })
      )
      assert.strictEqual(databricks.baseUrl, `${upstream.origin}/serving-endpoints`)
      yield* Effect.flatMap(OpenAiProvider.make(databricks), (p) => p.chat(request))
      assert.strictEqual(upstream.requests[0]!.path, "/serving-endpoints/chat/completions")

      const foundry = Either.getOrThrow(
        Presets.options("azure-foundry", { apiKey }, { AZURE_FOUNDRY_ENDPOINT: upstream.origin })
      )
      yield* Effect.flatMap(OpenAiProvider.make(foundry), (p) => p.chat(request))
      assert.strictEqual(upstream.requests[1]!.path, "/openai/v1/chat/completions")
      assert.strictEqual(upstream.requests[1]!.headers["api-key"], secret)

      assert.strictEqual(
        Either.getOrThrow(Presets.defaultBaseUrl("cloudflare", { CLOUDFLARE_ACCOUNT_ID: "0123abcd" })),
        "https://api.cloudflare.com/client/v4/accounts/0123abcd/ai/v1"
      )
    }))

  it("without a base URL or the variables its default needs, options fails and says what to set", () => {
    const failed = Presets.options("cloudflare", { apiKey }, { CLOUDFLARE_API_KEY: "k" })
    assert.isTrue(Either.isLeft(failed))
    const error = Either.flip(failed).pipe(Either.getOrThrow)
    assert.strictEqual(error._tag, "MissingBaseUrl")
    assert.deepStrictEqual(error.variables, ["CLOUDFLARE_ACCOUNT_ID"])
    assert.include(error.message, "CLOUDFLARE_ACCOUNT_ID")
    // A base URL given needs no variable.
    const given = Presets.options("cloudflare", { apiKey, baseUrl: "https://gateway.example.com/v1" })
    assert.strictEqual(Either.getOrThrow(given).baseUrl, "https://gateway.example.com/v1")
  })

  it.scoped("vendors serve their own model families by name; hosts of many vendors' models only their models or a prefix", () =>
    Effect.gen(function*() {
      const make = (name: Presets.Name, user: Partial<Presets.Options> = {}) =>
        OpenAiProvider.make(Either.getOrThrow(Presets.options(name, { baseUrl: "http://127.0.0.1:9/v1", ...user })))

      const deepseek = yield* make("deepseek")
      assert.isTrue(deepseek.serves("deepseek-chat"))
      assert.isFalse(deepseek.serves("gpt-4o"))
      const mistral = yield* make("mistral")
      assert.isTrue(mistral.serves("mistral-large-latest"))
      assert.isTrue(mistral.serves("codestral-latest"))
      assert.isTrue(mistral.supportsPrefill)
      assert.isTrue((yield* make("xai")).serves("grok-4"))
      assert.isTrue((yield* make("perplexity")).serves("sonar"))

      const groq = yield* make("groq")
      assert.isFalse(groq.serves("llama-3.3-70b-versatile"))
      assert.isFalse(groq.serves("gpt-4o"), "a host does not claim OpenAI's models")
      assert.notStrictEqual(groq.supportsPrefill, true)
      const listed = yield* make("groq", { models: ["llama-*"], name: "fast" })
      assert.strictEqual(listed.name, "fast")
      assert.isTrue(listed.serves("llama-3.3-70b-versatile"))
      // The user's values win over the preset's.
      const noPrefill = yield* make("mistral", { prefill: "continue_final_message", families: [] })
      assert.isFalse(noPrefill.serves("mistral-large-latest"))
    }))

  describe("documented limits (each entry cites the vendor page it follows)", () => {
    const make = (name: Presets.Name, user: Partial<Presets.Options> = {}) =>
      OpenAiProvider.make(Either.getOrThrow(Presets.options(name, { baseUrl: "http://127.0.0.1:9/v1", ...user })))

    it.scoped("a preset's unsupported chat parameters are stated in capabilities.chat.parameters; the rest honoured", () =>
      Effect.gen(function*() {
        const groq = yield* make("groq")
        const chat = groq.capabilities!.chat
        for (const param of ["logprobs", "logit_bias", "top_logprobs", "n"] as const) {
          assert.isFalse(chat.parameters[param], param)
        }
        assert.isTrue(chat.parameters.temperature)
        assert.isTrue(chat.parameters.tools)
        assert.isTrue(chat.forwardsUnknown)
        // OpenAI's own n: 1 is neutral; n: 2 is what Groq refuses
        const check = Capabilities.check("chat", chat)
        assert.isUndefined(check({ ...request, n: 1, temperature: 0.2 }))
        assert.deepStrictEqual(check({ ...request, n: 2, logit_bias: { "50256": -100 } }), ["n", "logit_bias"])

        const xai = yield* make("xai")
        assert.deepStrictEqual(
          (["quality", "size", "style", "n"] as const).map((p) => xai.capabilities!.images!.parameters[p]),
          [false, false, false, true]
        )
        const together = yield* make("together")
        assert.deepStrictEqual(together.capabilities!.chat, Capabilities.everything("chat"))
      }))

    it.scoped("a preset without an operation has no function for it; the others are offered", () =>
      Effect.gen(function*() {
        const deepseek = yield* make("deepseek")
        assert.isUndefined(deepseek.embed)
        assert.isUndefined(deepseek.image)
        assert.isUndefined(deepseek.capabilities!.embeddings)
        assert.isUndefined(deepseek.capabilities!.images)

        for (const name of ["groq", "fireworks", "mistral", "cloudflare"] as const) {
          const provider = yield* make(name)
          assert.isDefined(provider.embed, name)
          assert.isUndefined(provider.image, name)
        }
        const together = yield* make("together")
        assert.isDefined(together.embed)
        assert.isDefined(together.image)
      }))

    it.scoped("the user's unsupported, operations and policy win over the preset's, per operation", () =>
      Effect.gen(function*() {
        const groq = yield* make("groq", {
          unsupported: { embeddings: ["dimensions"] },
          operations: { images: true },
          unsupportedParams: "drop"
        })
        assert.isFalse(groq.capabilities!.chat.parameters.logprobs, "the preset's chat limits stay")
        assert.isFalse(groq.capabilities!.embeddings!.parameters.dimensions)
        assert.isDefined(groq.image)
        assert.strictEqual(groq.unsupportedParams, "drop")
        const lifted = yield* make("groq", { unsupported: { chat: [] } })
        assert.deepStrictEqual(lifted.capabilities!.chat, Capabilities.everything("chat"))
      }))

    it.scoped("each preset that embeds sends POST /embeddings under its base path", () =>
      Effect.gen(function*() {
        const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(floatEmbeddings))
        const embedding = Presets.names.filter((name) => Presets.presets[name].operations?.embeddings !== false)
        for (const [i, name] of embedding.entries()) {
          const path = new URL(filledDefault(name)).pathname.replace(/\/$/, "")
          const provider = yield* OpenAiProvider.make(
            Either.getOrThrow(Presets.options(name, { apiKey, baseUrl: `${upstream.origin}${path}` }))
          )
          yield* provider.embed!(embeddingRequest)
          assert.strictEqual(upstream.requests[i]!.path, `${path}/embeddings`, name)
          assert.deepStrictEqual(upstream.requests[i]!.body, embeddingRequest, name)
        }
        assert.notInclude(embedding, "deepseek")
      }))
  })
})
