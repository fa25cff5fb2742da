import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import * as Effect from "effect/Effect"
import { tokenResponse } from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { build, buildVertex } from "./GeminiUpstream.js"

const noAnswer = () => FakeUpstream.json({})
const token = () => FakeUpstream.json(tokenResponse("ya29.capabilities"))

/** Both providers, built without a request. */
const providers = Effect.all({
  gemini: Effect.map(build(noAnswer), (b) => b.provider),
  vertex: Effect.map(buildVertex(noAnswer, token), (b) => b.provider)
})

const described = (support: { readonly parameters: object }) =>
  Object.fromEntries(
    Object.entries(support.parameters as Record<string, Capabilities.Support>).map(([name, s]) => [name, Capabilities.describeSupport(s)])
  )

describe("capabilities", () => {
  it.scoped("chat: what request.ts maps is honoured, what it drops is not; Gemini's own fields are vendor fields", () =>
    Effect.gen(function*() {
      const { gemini, vertex } = yield* providers
      assert.deepStrictEqual(gemini.capabilities?.chat, vertex.capabilities?.chat)
      const chat = gemini.capabilities!.chat
      assert.isFalse(chat.forwardsUnknown)
      assert.deepStrictEqual(described(chat), {
        temperature: "supported",
        top_p: "supported",
        max_tokens: "supported",
        max_completion_tokens: "supported",
        stop: "supported",
        n: "supported",
        presence_penalty: "supported",
        frequency_penalty: "supported",
        seed: "supported",
        user: "unsupported",
        tools: "partial: function tools (a tool's strict is not sent)",
        tool_choice: "supported",
        parallel_tool_calls: "unsupported",
        response_format: "partial: json_object and json_schema (as responseMimeType and responseJsonSchema); text is the default",
        logprobs: "unsupported",
        top_logprobs: "unsupported",
        logit_bias: "unsupported",
        metadata: "unsupported",
        store: "unsupported",
        service_tier: "unsupported",
        reasoning_effort: "partial: none, minimal, low, medium, high (as thinkingConfig)",
        modalities: "unsupported",
        audio: "unsupported",
        prediction: "unsupported",
        web_search_options: "unsupported"
      })
      assert.deepStrictEqual([...chat.vendorFields!].sort(), [
        "cachedContent",
        "cached_content",
        "generationConfig",
        "generation_config",
        "google",
        "labels",
        "mediaResolution",
        "media_resolution",
        "responseModalities",
        "response_modalities",
        "safetySettings",
        "safety_settings",
        "speechConfig",
        "speech_config",
        "thinkingConfig",
        "thinking_config",
        "toolConfig",
        "tool_config",
        "topK",
        "top_k"
      ])

      // What the gateway's check makes of a request
      const unsupported = Capabilities.check("chat", chat)
      assert.deepStrictEqual(
        unsupported({
          model: "gemini-2.5-flash",
          messages: [],
          temperature: 0.2,
          user: "u-1",
          logprobs: true,
          parallel_tool_calls: false,
          response_format: { type: "json_schema", json_schema: { name: "x", schema: {} } },
          reasoning_effort: "low",
          tools: [{ type: "function", function: { name: "f" } }],
          safetySettings: [],
          top_k: 40,
          google: { thinking_config: {} },
          some_other_field: 1
        }),
        ["user", "logprobs", "parallel_tool_calls", "some_other_field"]
      )
      assert.deepStrictEqual(unsupported({ model: "m", messages: [], response_format: { type: "text" }, n: 1, store: false }), undefined)
      assert.deepStrictEqual(
        unsupported({ model: "m", messages: [], response_format: { type: "grammar" }, tools: [{ type: "custom", custom: { name: "c" } }] }),
        ["response_format", "tools"]
      )
    }))

  it.scoped("embeddings: dimensions honoured, user not; Google's task_type and title are vendor fields", () =>
    Effect.gen(function*() {
      const { gemini, vertex } = yield* providers
      for (const provider of [gemini, vertex]) {
        const embeddings = provider.capabilities!.embeddings!
        assert.deepStrictEqual(described(embeddings), { dimensions: "supported", user: "unsupported" })
        assert.deepStrictEqual(embeddings.vendorFields, ["task_type", "taskType", "title"])
        assert.isFalse(embeddings.forwardsUnknown)
      }
    }))

  it.scoped("images: n up to 4, size as an aspect ratio, b64_json only; outputOptions and most Imagen fields are Vertex AI's", () =>
    Effect.gen(function*() {
      const { gemini, vertex } = yield* providers
      const size = "partial: as the aspect ratio it is within 5% of: 1:1, 3:4, 4:3, 9:16 or 16:9 (the resolution is the model's)"
      const common = {
        n: "partial: 1 to 4 (Imagen's sampleCount)",
        size,
        quality: "unsupported",
        response_format: "partial: b64_json only (Imagen answers the image bytes)",
        style: "unsupported",
        background: "unsupported",
        moderation: "unsupported",
        user: "unsupported"
      }
      assert.deepStrictEqual(described(gemini.capabilities!.images!), {
        ...common,
        output_format: "unsupported",
        output_compression: "unsupported"
      })
      assert.deepStrictEqual(described(vertex.capabilities!.images!), {
        ...common,
        output_format: "partial: png or jpeg",
        output_compression: "supported"
      })
      assert.deepStrictEqual(gemini.capabilities!.images!.vendorFields, ["personGeneration", "sampleImageSize"])
      assert.includeMembers([...vertex.capabilities!.images!.vendorFields!], ["personGeneration", "negativePrompt", "seed"])

      const unsupported = Capabilities.check("images", gemini.capabilities!.images!)
      assert.deepStrictEqual(
        unsupported({ model: "m", prompt: "p", n: 5, size: "1536x1024", response_format: "url", quality: "hd" }),
        ["n", "size", "response_format", "quality"]
      )
      assert.isUndefined(unsupported({ model: "m", prompt: "p", n: 4, size: "1792x1024", response_format: "b64_json" }))
    }))

  it.scoped("unsupportedParams is the provider's policy (none by default): reject refuses with a 400 naming the parameter", () =>
    Effect.gen(function*() {
      const { gemini, vertex } = yield* providers
      assert.isUndefined(gemini.unsupportedParams)
      assert.isUndefined(vertex.unsupportedParams)

      const strict = (yield* build(noAnswer, { unsupportedParams: "reject" })).provider
      const strictVertex = (yield* buildVertex(noAnswer, token, { unsupportedParams: "drop" })).provider
      assert.strictEqual(strict.unsupportedParams, "reject")
      assert.strictEqual(strictVertex.unsupportedParams, "drop")

      const enforce = Capabilities.enforcer(strict.name, "chat", strict.capabilities!.chat, strict.unsupportedParams!)!
      const verdict = enforce({ model: "gemini-2.5-flash", messages: [], logit_bias: { "1": 2 } })
      assert(verdict._tag === "Rejected")
      assert.strictEqual(verdict.error.param, "logit_bias")
    }))
})
