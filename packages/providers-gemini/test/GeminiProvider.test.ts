import { assert, describe, it } from "@effect/vitest"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as GeminiProvider from "../src/GeminiProvider.js"
import {
  badRequestDetails,
  blockedPromptResponse,
  cachedUsage,
  errorBody,
  functionCallResponse,
  helloResponse,
  invalidKeyDetails,
  modelPages,
  parallelCallsResponse,
  quotaDetails,
  thinkingResponse
} from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { apiKey, build, secret } from "./GeminiUpstream.js"

const request: ChatRequest = {
  model: "gemini-2.0-flash",
  messages: [{ role: "user", content: "Explain how AI works in a few words" }]
}

/** The body the upstream received, as JSON. */
const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Record<string, unknown>

describe("GeminiProvider.chat", () => {
  it.scoped("sends POST /v1beta/models/{model}:generateContent with x-goog-api-key, and maps the answer back", () =>
    Effect.gen(function*() {
      const now = Date.parse("2025-03-10T12:00:00Z")
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(helloResponse))
      const response = yield* provider.chat(request)

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      // https://ai.google.dev/api/generate-content#method:-models.generatecontent
      assert.strictEqual(sent.url, `${upstream.origin}/v1beta/models/gemini-2.0-flash:generateContent`)
      // https://ai.google.dev/gemini-api/docs/api-key: the key in a header, never in the URL
      assert.strictEqual(sent.headers["x-goog-api-key"], secret)
      assert.notInclude(sent.url, secret)
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.isUndefined(sent.headers["authorization"])
      assert.deepStrictEqual(sent.body, {
        contents: [{ role: "user", parts: [{ text: "Explain how AI works in a few words" }] }]
      })

      assert.deepStrictEqual(response, {
        id: "cVJ1aLfkCbCz1dkP4q6tkQk",
        object: "chat.completion",
        created: now / 1000,
        model: "gemini-2.0-flash",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "AI learns patterns from data to make predictions or decisions." },
          finish_reason: "stop"
        }],
        usage: { prompt_tokens: 8, completion_tokens: 12, total_tokens: 20 }
      })
    }))

  it.scoped("options: name, a base URL with a path, the API version, extra headers; tuned models keep their collection", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(helloResponse))
      const provider = yield* GeminiProvider.make({
        name: "google",
        apiKey,
        baseUrl: `${upstream.origin}/proxy/`,
        apiVersion: "v1",
        headers: { "X-Goog-User-Project": "billing-project", "x-team": "search" }
      })
      assert.strictEqual(provider.name, "google")
      yield* provider.chat(request)
      const sent = upstream.requests[0]!
      assert.strictEqual(sent.path, "/proxy/v1/models/gemini-2.0-flash:generateContent")
      assert.strictEqual(sent.headers["x-goog-user-project"], "billing-project")
      assert.strictEqual(sent.headers["x-team"], "search")
      assert.strictEqual(sent.headers["x-goog-api-key"], secret)

      // https://ai.google.dev/api/tuning: a tuned model is tunedModels/{id}
      yield* provider.chat({ ...request, model: "tunedModels/my-tuned-model-7" })
      assert.strictEqual(upstream.requests[1]!.path, "/proxy/v1/tunedModels/my-tuned-model-7:generateContent")
      // a model id cannot add to the path
      yield* provider.chat({ ...request, model: "gemini?alt=x#y" })
      assert.strictEqual(upstream.requests[2]!.path, "/proxy/v1/models/gemini%3Falt%3Dx%23y:generateContent")
    }))

  it.scoped("system and developer messages, wherever they are, become systemInstruction (https://ai.google.dev/gemini-api/docs/text-generation#system-instructions)", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
      yield* provider.chat({
        model: "gemini-2.0-flash",
        messages: [
          { role: "system", content: "You are a cat. Your name is Neko." },
          { role: "user", content: "Hello there" },
          { role: "developer", content: [{ type: "text", text: "Answer in French." }, { type: "image_url", image_url: { url: "https://example.com/x.png" } }] }
        ]
      })
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        contents: [{ role: "user", parts: [{ text: "Hello there" }] }],
        systemInstruction: { parts: [{ text: "You are a cat. Your name is Neko." }, { text: "Answer in French." }] }
      })
    }))

  it.scoped("multi-turn: user and model turns, consecutive turns of one role merged, empty text left out", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
      yield* provider.chat({
        model: "gemini-2.0-flash",
        messages: [
          { role: "user", content: "Hello" },
          { role: "assistant", content: "Great to meet you. What would you like to know?" },
          { role: "user", content: "I have two dogs in my house." },
          { role: "user", content: [{ type: "text", text: "How many paws are in my house?" }, { type: "text", text: "" }] },
          { role: "assistant", content: null, refusal: null },
          { role: "assistant", content: [{ type: "text", text: "" }], name: "bot" },
          { role: "user", content: "Thanks!", name: "ann" }
        ]
      })
      // https://ai.google.dev/gemini-api/docs/text-generation#multi-turn-conversations
      assert.deepStrictEqual(bodyOf(requests[0]!).contents, [
        { role: "user", parts: [{ text: "Hello" }] },
        { role: "model", parts: [{ text: "Great to meet you. What would you like to know?" }] },
        { role: "user", parts: [{ text: "I have two dogs in my house." }, { text: "How many paws are in my house?" }, { text: "Thanks!" }] }
      ])
    }))

  it.scoped("generation parameters map to generationConfig; Gemini's own fields pass; OpenAI-only fields are not sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
      const safetySettings = [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_ONLY_HIGH" }]
      yield* provider.chat({
        ...request,
        temperature: 1.5,
        top_p: 0.9,
        max_tokens: 800,
        stop: ["Title", ""],
        n: 2,
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        seed: 42,
        // OpenAI-only: dropped
        user: "user-1234",
        logprobs: true,
        top_logprobs: 2,
        logit_bias: { "50256": -100 },
        parallel_tool_calls: false,
        stream_options: { include_usage: true },
        metadata: { trace: "t-1" },
        service_tier: "flex",
        unknown_vendor_field: { x: 1 },
        // Gemini's own: kept
        safetySettings,
        top_k: 40,
        cached_content: "cachedContents/abc123"
      })
      // https://ai.google.dev/api/generate-content#generationconfig
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        contents: [{ role: "user", parts: [{ text: "Explain how AI works in a few words" }] }],
        safetySettings,
        cachedContent: "cachedContents/abc123",
        generationConfig: {
          temperature: 1.5,
          topP: 0.9,
          maxOutputTokens: 800,
          stopSequences: ["Title"],
          candidateCount: 2,
          presencePenalty: 0.5,
          frequencyPenalty: -0.5,
          seed: 42,
          topK: 40
        }
      })

      // max_completion_tokens wins over max_tokens; a stop string; a whole generationConfig laid over;
      // extra_body.google as Gemini's OpenAI compatibility takes it
      yield* provider.chat({
        ...request,
        max_tokens: 800,
        max_completion_tokens: 200,
        stop: "END",
        generationConfig: { temperature: 0.1, responseModalities: ["TEXT"] },
        google: { thinking_config: { thinking_budget: 0 }, safety_settings: safetySettings }
      })
      assert.deepStrictEqual(bodyOf(requests[1]!).generationConfig, {
        maxOutputTokens: 200,
        stopSequences: ["END"],
        thinkingConfig: { thinking_budget: 0 },
        temperature: 0.1,
        responseModalities: ["TEXT"]
      })
      assert.deepStrictEqual(bodyOf(requests[1]!).safetySettings, safetySettings)
    }))

  it.scoped("response_format: json_object and json_schema (https://ai.google.dev/gemini-api/docs/structured-output); reasoning_effort as thinkingConfig", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
      const schema = {
        type: "object",
        properties: { recipeName: { type: "string" }, ingredients: { type: "array", items: { type: "string" } } },
        required: ["recipeName"],
        additionalProperties: false
      }
      yield* provider.chat({ ...request, response_format: { type: "json_object" } })
      yield* provider.chat({ ...request, response_format: { type: "json_schema", json_schema: { name: "recipe", schema, strict: true } } })
      yield* provider.chat({ ...request, response_format: { type: "text" } })
      const configs = requests.map((r) => bodyOf(r).generationConfig)
      assert.deepStrictEqual(configs[0], { responseMimeType: "application/json" })
      assert.deepStrictEqual(configs[1], { responseMimeType: "application/json", responseJsonSchema: schema })
      assert.isUndefined(configs[2])

      // https://ai.google.dev/gemini-api/docs/openai#thinking: budgets for 2.5, levels after
      yield* provider.chat({ ...request, model: "gemini-2.5-flash", reasoning_effort: "low" })
      yield* provider.chat({ ...request, model: "gemini-2.5-flash", reasoning_effort: "none" })
      yield* provider.chat({ ...request, model: "gemini-3-pro-preview", reasoning_effort: "high" })
      yield* provider.chat({ ...request, model: "gemini-3-pro-preview", reasoning_effort: "high", thinkingConfig: { includeThoughts: true } })
      assert.deepStrictEqual(bodyOf(requests[3]!).generationConfig, { thinkingConfig: { thinkingBudget: 1024 } })
      assert.deepStrictEqual(bodyOf(requests[4]!).generationConfig, { thinkingConfig: { thinkingBudget: 0 } })
      assert.deepStrictEqual(bodyOf(requests[5]!).generationConfig, { thinkingConfig: { thinkingLevel: "high" } })
      assert.deepStrictEqual(bodyOf(requests[6]!).generationConfig, { thinkingConfig: { includeThoughts: true } })
    }))

  it.scoped("media: data: URLs inline, http(s) and gs:// URLs by reference (https://ai.google.dev/gemini-api/docs/image-understanding)", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
      const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
      yield* provider.chat({
        model: "gemini-2.0-flash",
        messages: [{
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${png}`, detail: "high" } },
            { type: "image_url", image_url: { url: "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.JPG?raw=1" } },
            { type: "image_url", image_url: { url: "gs://cloud-samples-data/generative-ai/image/scones.webp" } },
            { type: "image_url", image_url: { url: "https://example.com/render" } },
            { type: "image_url", image_url: { url: "data:image/svg+xml,%3Csvg%2F%3E" } },
            { type: "input_audio", input_audio: { data: "UklGRiQAAABXQVZF", format: "wav" } },
            { type: "file", file: { filename: "report.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
            { type: "file", file: { file_id: "https://generativelanguage.googleapis.com/v1beta/files/abc-123", filename: "talk.mp3" } },
            { type: "file", file: { file_id: "file-abc123" } },
            { type: "refusal", refusal: "no" },
            { type: "text", text: "Caption these." }
          ]
        }]
      })
      assert.deepStrictEqual(bodyOf(requests[0]!).contents, [{
        role: "user",
        parts: [
          { inlineData: { mimeType: "image/png", data: png } },
          {
            fileData: {
              mimeType: "image/jpeg",
              fileUri: "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.JPG?raw=1"
            }
          },
          { fileData: { mimeType: "image/webp", fileUri: "gs://cloud-samples-data/generative-ai/image/scones.webp" } },
          { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/render" } },
          { inlineData: { mimeType: "image/svg+xml", data: Buffer.from("<svg/>").toString("base64") } },
          { inlineData: { mimeType: "audio/wav", data: "UklGRiQAAABXQVZF" } },
          { inlineData: { mimeType: "application/pdf", data: "JVBERi0xLjQK" } },
          { fileData: { mimeType: "audio/mp3", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc-123" } },
          { text: "Caption these." }
        ]
      }])
    }))

  describe("tools (https://ai.google.dev/gemini-api/docs/function-calling)", () => {
    const theatersTool = {
      type: "function" as const,
      function: {
        name: "find_theaters",
        description: "find theaters based on location and optionally movie title which is currently playing in theaters",
        parameters: {
          type: "object",
          properties: {
            location: { type: "string", description: "The city and state, e.g. San Francisco, CA or a zip code e.g. 95616" },
            movie: { type: "string", description: "Any movie title" }
          },
          required: ["location"],
          additionalProperties: false
        }
      }
    }

    it.scoped("round trip: declarations out, functionCall back as tool_calls, results sent as functionResponse parts", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(functionCallResponse))
        const ask: ChatRequest = {
          model: "gemini-2.0-flash",
          messages: [{ role: "user", content: "Which theaters in Mountain View show Barbie movie?" }],
          tools: [theatersTool, { type: "function", function: { name: "get_time", strict: true } }],
          tool_choice: "auto"
        }
        const response = yield* provider.chat(ask)
        const sent = bodyOf(requests[0]!)
        assert.deepStrictEqual(sent.tools, [{
          functionDeclarations: [
            { name: "find_theaters", description: theatersTool.function.description, parametersJsonSchema: theatersTool.function.parameters },
            { name: "get_time" }
          ]
        }])
        assert.deepStrictEqual(sent.toolConfig, { functionCallingConfig: { mode: "AUTO" } })

        const choice = response.choices[0]!
        assert.strictEqual(choice.finish_reason, "tool_calls")
        assert.isNull(choice.message.content)
        assert.deepStrictEqual(choice.message.tool_calls, [{
          id: "call_0",
          type: "function",
          function: { name: "find_theaters", arguments: "{\"movie\":\"Barbie\",\"location\":\"Mountain View, CA\"}" }
        }])
        assert.deepStrictEqual(response.usage, { prompt_tokens: 168, completion_tokens: 14, total_tokens: 182 })

        // The next turn: the model's calls, then the results (found by id), then a user message.
        yield* provider.chat({
          ...ask,
          messages: [
            ...ask.messages,
            {
              role: "assistant",
              content: null,
              tool_calls: [
                ...choice.message.tool_calls!,
                { id: "call_1", type: "function", function: { name: "get_time", arguments: "" } }
              ]
            },
            {
              role: "tool",
              tool_call_id: "call_0",
              content: "{\"movie\":\"Barbie\",\"theaters\":[{\"name\":\"AMC Mountain View 16\"},{\"name\":\"Regal Edwards 14\"}]}"
            },
            { role: "tool", tool_call_id: "call_1", content: [{ type: "text", text: "14:05" }] },
            { role: "user", content: "And tomorrow?" }
          ]
        })
        assert.deepStrictEqual(bodyOf(requests[1]!).contents, [
          { role: "user", parts: [{ text: "Which theaters in Mountain View show Barbie movie?" }] },
          {
            role: "model",
            parts: [
              { functionCall: { name: "find_theaters", args: { movie: "Barbie", location: "Mountain View, CA" } } },
              { functionCall: { name: "get_time", args: {} } }
            ]
          },
          {
            role: "user",
            parts: [
              {
                functionResponse: {
                  name: "find_theaters",
                  response: { movie: "Barbie", theaters: [{ name: "AMC Mountain View 16" }, { name: "Regal Edwards 14" }] }
                }
              },
              { functionResponse: { name: "get_time", response: { output: "14:05" } } },
              { text: "And tomorrow?" }
            ]
          }
        ])
      }))

    it.scoped("a result is named after the nearest earlier call with its id; with none, after the message's name, else the id", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(helloResponse))
        const call = (name: string) => ({ id: "call_0", type: "function" as const, function: { name, arguments: "{}" } })
        yield* provider.chat({
          ...request,
          messages: [
            { role: "user", content: "Go" },
            { role: "assistant", tool_calls: [call("first")] },
            { role: "tool", tool_call_id: "call_0", content: "1" },
            { role: "assistant", tool_calls: [call("second")] },
            { role: "tool", tool_call_id: "call_0", content: "2" },
            { role: "tool", tool_call_id: "unknown_id", content: "3", name: "legacy_name" },
            { role: "tool", tool_call_id: "unknown_id", content: "not json {" }
          ]
        })
        const names = (bodyOf(requests[0]!).contents as Array<{ parts: Array<Record<string, any>> }>)
          .flatMap((c) => c.parts)
          .filter((p) => p.functionResponse !== undefined)
          .map((p) => [p.functionResponse.name, p.functionResponse.response])
        assert.deepStrictEqual(names, [
          ["first", { output: "1" }],
          ["second", { output: "2" }],
          ["legacy_name", { output: "3" }],
          ["unknown_id", { output: "not json {" }]
        ])
      }))

    it.scoped("tool_choice as functionCallingConfig", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(functionCallResponse))
        const cases: ReadonlyArray<readonly [Partial<ChatRequest>, unknown]> = [
          [{ tool_choice: "required" }, { functionCallingConfig: { mode: "ANY" } }],
          [{ tool_choice: "none" }, { functionCallingConfig: { mode: "NONE" } }],
          [
            { tool_choice: { type: "function", function: { name: "find_theaters" } } },
            { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["find_theaters"] } }
          ],
          [{}, undefined],
          // Gemini's own wins
          [
            { tool_choice: "auto", toolConfig: { functionCallingConfig: { mode: "VALIDATED" } } },
            { functionCallingConfig: { mode: "VALIDATED" } }
          ]
        ]
        for (const [i, [fields, expected]] of cases.entries()) {
          yield* provider.chat({ ...request, tools: [theatersTool], ...fields })
          assert.deepStrictEqual(bodyOf(requests[i]!).toolConfig, expected, JSON.stringify(fields))
        }
      }))

    it.scoped("thought signatures go out with the calls and come back with them (https://ai.google.dev/gemini-api/docs/thought-signatures)", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(parallelCallsResponse))
        const ask: ChatRequest = { ...request, model: "gemini-3-pro-preview", tools: [theatersTool] }
        const response = yield* provider.chat(ask)
        const calls = response.choices[0]!.message.tool_calls!
        assert.deepStrictEqual(calls, [
          {
            id: "call_0",
            type: "function",
            function: { name: "get_current_temperature", arguments: "{\"location\":\"Paris\"}" },
            extra_content: { google: { thought_signature: "<Signature_A>" } }
          },
          { id: "call_1", type: "function", function: { name: "get_current_temperature", arguments: "{\"location\":\"London\"}" } }
        ])
        assert.deepStrictEqual(response.usage, {
          prompt_tokens: 90,
          completion_tokens: 60,
          total_tokens: 150,
          completion_tokens_details: { reasoning_tokens: 30 }
        })

        yield* provider.chat({
          ...ask,
          messages: [
            ...ask.messages,
            { role: "assistant", content: null, tool_calls: calls },
            { role: "tool", tool_call_id: "call_0", content: "{\"temperature\":15}" },
            { role: "tool", tool_call_id: "call_1", content: "{\"temperature\":12}" }
          ]
        })
        assert.deepStrictEqual((bodyOf(requests[1]!).contents as Array<unknown>)[1], {
          role: "model",
          parts: [
            { functionCall: { name: "get_current_temperature", args: { location: "Paris" } }, thoughtSignature: "<Signature_A>" },
            { functionCall: { name: "get_current_temperature", args: { location: "London" } } }
          ]
        })
      }))

    it.scoped("Gemini's call ids are kept; arguments that are not JSON are sent as they are, for Gemini to refuse", () =>
      Effect.gen(function*() {
        const withId = {
          ...functionCallResponse,
          candidates: [{ ...functionCallResponse.candidates[0]!, content: { role: "model", parts: [{ functionCall: { id: "fc_77", name: "f", args: {} } }] } }]
        }
        const { provider, requests } = yield* build(() => FakeUpstream.json(withId))
        const response = yield* provider.chat(request)
        assert.strictEqual(response.choices[0]!.message.tool_calls![0]!.id, "fc_77")
        assert.strictEqual(response.choices[0]!.message.tool_calls![0]!.function.arguments, "{}")

        yield* provider.chat({
          ...request,
          messages: [
            ...request.messages,
            { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] }
          ]
        })
        const contents = bodyOf(requests[1]!).contents as Array<{ parts: Array<Record<string, any>> }>
        assert.strictEqual(contents[1]!.parts[0]!.functionCall.args, "{oops")
      }))
  })

  it.scoped("thought parts become reasoning_content; usage counts thoughts in the completion, the cache in the prompt", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(thinkingResponse))
      const response = yield* provider.chat({ ...request, model: "gemini-2.5-flash" })
      assert.deepStrictEqual(response.choices[0]!.message, {
        role: "assistant",
        content: "2 + 2 = 4",
        reasoning_content: "**Calculating the sum**\n\nThe user wants 2 + 2. That is 4."
      })
      // https://ai.google.dev/gemini-api/docs/thinking#pricing: thoughts are output tokens
      assert.deepStrictEqual(response.usage, {
        prompt_tokens: 10,
        completion_tokens: 119,
        total_tokens: 129,
        completion_tokens_details: { reasoning_tokens: 112 }
      })

      const cached = yield* build(() => FakeUpstream.json({ ...helloResponse, usageMetadata: cachedUsage }))
      assert.deepStrictEqual((yield* cached.provider.chat(request)).usage, {
        prompt_tokens: 696219 + 100,
        completion_tokens: 214,
        total_tokens: 696533,
        prompt_tokens_details: { cached_tokens: 696190 }
      })
    }))

  it.scoped("finish reasons (https://ai.google.dev/api/generate-content#FinishReason)", () =>
    Effect.gen(function*() {
      const cases = [
        ["STOP", "stop"],
        ["MAX_TOKENS", "length"],
        ["SAFETY", "content_filter"],
        ["RECITATION", "content_filter"],
        ["BLOCKLIST", "content_filter"],
        ["PROHIBITED_CONTENT", "content_filter"],
        ["SPII", "content_filter"],
        ["IMAGE_SAFETY", "content_filter"],
        ["MALFORMED_FUNCTION_CALL", "malformed_function_call"],
        ["OTHER", "other"],
        ["FINISH_REASON_UNSPECIFIED", null]
      ] as const
      let reason = ""
      const { provider } = yield* build(() =>
        FakeUpstream.json({ ...helloResponse, candidates: [{ ...helloResponse.candidates[0]!, finishReason: reason }] })
      )
      for (const [gemini, openai] of cases) {
        reason = gemini
        assert.strictEqual((yield* provider.chat(request)).choices[0]!.finish_reason, openai, gemini)
      }
    }))

  it.scoped("a blocked prompt (no candidates) is a content_filter answer whose refusal says why; a filtered candidate is content_filter", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(blockedPromptResponse))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response.choices, [{
        index: 0,
        message: { role: "assistant", content: null, refusal: "The prompt was blocked (SAFETY)" },
        finish_reason: "content_filter"
      }])
      assert.deepStrictEqual(response.usage, { prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 })

      // Vertex AI adds a readable message
      const vertex = yield* build(() =>
        FakeUpstream.json({ promptFeedback: { blockReason: "BLOCKLIST", blockReasonMessage: "The prompt contains blocklisted terms." } })
      )
      assert.strictEqual(
        (yield* vertex.provider.chat(request)).choices[0]!.message.refusal,
        "The prompt was blocked (BLOCKLIST): The prompt contains blocklisted terms."
      )

      // https://ai.google.dev/api/generate-content#FinishReason: the answer itself was filtered (no content)
      const filtered = yield* build(() =>
        FakeUpstream.json({ candidates: [{ finishReason: "SAFETY", index: 0, safetyRatings: [] }], usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } })
      )
      const choice = (yield* filtered.provider.chat(request)).choices[0]!
      assert.strictEqual(choice.finish_reason, "content_filter")
      assert.strictEqual(choice.message.content, "")
    }))

  it.scoped("n: candidateCount out, each candidate a choice", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() =>
        FakeUpstream.json({
          candidates: [
            { content: { parts: [{ text: "One." }], role: "model" }, finishReason: "STOP", index: 0 },
            { content: { parts: [{ text: "Two, cut" }], role: "model" }, finishReason: "MAX_TOKENS", index: 1 }
          ],
          usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 6, totalTokenCount: 10 }
        })
      )
      const response = yield* provider.chat({ ...request, n: 2 })
      assert.strictEqual((bodyOf(requests[0]!).generationConfig as Record<string, unknown>).candidateCount, 2)
      assert.deepStrictEqual(response.choices.map((c) => [c.index, c.message.content, c.finish_reason]), [
        [0, "One.", "stop"],
        [1, "Two, cut", "length"]
      ])
    }))
})

describe("GeminiProvider errors (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes)", () => {
  const classes = [
    [400, "INVALID_ARGUMENT", "Request contains an invalid argument.", false],
    [400, "FAILED_PRECONDITION", "User location is not supported for the API use.", false],
    [403, "PERMISSION_DENIED", "Permission denied on resource project my-project.", false],
    [404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.", false],
    [429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.", true],
    [500, "INTERNAL", "An internal error has occurred.", true],
    [503, "UNAVAILABLE", "The model is overloaded. Please try again later.", true],
    [504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", true]
  ] as const

  it.scoped("each documented class: the HTTP status, the status name as the type, the message, retryable for 429 and 5xx", () =>
    Effect.gen(function*() {
      for (const [code, status, message, retryable] of classes) {
        const body = errorBody(code, status, message)
        const { provider } = yield* build(() => FakeUpstream.json(body, { status: code }))
        const error = yield* Effect.flip(provider.chat(request))
        assert(error._tag === "ProviderStatusError", status)
        assert.strictEqual(error.status, code)
        assert.strictEqual(error.upstreamType, status)
        assert.strictEqual(error.upstreamMessage, message)
        assert.strictEqual(error.message, message)
        assert.strictEqual(isRetryable(error), retryable, status)
        assert.deepStrictEqual(JSON.parse(error.body), body)
      }
    }))

  it.scoped("details: RetryInfo gives a 429's delay (a retry-after header wins), ErrorInfo the code, BadRequest the param", () =>
    Effect.gen(function*() {
      const quota = errorBody(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", quotaDetails)
      const limited = yield* build(() => FakeUpstream.json(quota, { status: 429 }))
      const e1 = yield* Effect.flip(limited.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.retryAfterMillis, 17_000)
      assert.isTrue(isRetryable(e1))

      const header = yield* build(() => FakeUpstream.json(quota, { status: 429, headers: { "retry-after": "3" } }))
      const e2 = yield* Effect.flip(header.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.retryAfterMillis, 3000)

      const badKey = yield* build(() =>
        FakeUpstream.json(errorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", invalidKeyDetails), { status: 400 })
      )
      const e3 = yield* Effect.flip(badKey.provider.chat(request))
      assert(e3._tag === "ProviderStatusError")
      assert.strictEqual(e3.upstreamCode, "API_KEY_INVALID")
      assert.isFalse(isRetryable(e3))

      const badField = yield* build(() =>
        FakeUpstream.json(errorBody(400, "INVALID_ARGUMENT", "Invalid value.", badRequestDetails), { status: 400 })
      )
      const e4 = yield* Effect.flip(badField.provider.chat(request))
      assert(e4._tag === "ProviderStatusError")
      assert.strictEqual(e4.upstreamParam, "generation_config.temperature")
    }))

  it.scoped("a body that is not the envelope (a proxy's page) keeps its status; an array of envelopes is read", () =>
    Effect.gen(function*() {
      const html = yield* build(() => ({ status: 502, body: "<html><body>502 Bad Gateway</body></html>" }))
      const e1 = yield* Effect.flip(html.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 502)
      assert.isUndefined(e1.upstreamType)
      assert.isTrue(isRetryable(e1))

      const array = yield* build(() => FakeUpstream.json([errorBody(429, "RESOURCE_EXHAUSTED", "Resource exhausted.")], { status: 429 }))
      const e2 = yield* Effect.flip(array.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.upstreamType, "RESOURCE_EXHAUSTED")
      assert.strictEqual(e2.upstreamMessage, "Resource exhausted.")
    }))

  it.scoped("the API key never appears in an error: a 400 echoing it, credential-like headers, an unreachable upstream", () =>
    Effect.gen(function*() {
      const headers = { "x-proxy-token": "proxy-secret-99" }
      const { provider, requests } = yield* build(
        (exchange) =>
          FakeUpstream.json(
            errorBody(400, "INVALID_ARGUMENT", `API key not valid: ${exchange.headers["x-goog-api-key"]} via ${exchange.headers["x-proxy-token"]}`),
            { status: 400 }
          ),
        { headers }
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(requests[0]!.headers["x-goog-api-key"], secret)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.upstreamMessage, "API key not valid: [REDACTED] via [REDACTED]")
      for (const text of [JSON.stringify(error), String(error), error.message, error.body]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "proxy-secret-99")
      }

      const port = yield* FakeUpstream.closedPort
      const unreachable = yield* GeminiProvider.make({ apiKey, baseUrl: `http://127.0.0.1:${port}`, headers })
      const broken = yield* Effect.flip(unreachable.chat(request))
      assert(broken._tag === "ProviderUnreachable")
      assert.isTrue(isRetryable(broken))
      assert.include(broken.detail, `http://127.0.0.1:${port}/v1beta/models/gemini-2.0-flash:generateContent`)
      for (const text of [JSON.stringify(broken), String(broken), broken.detail]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "proxy-secret-99")
      }
    }))

  it.scoped("a 200 that is not a GenerateContentResponse is a ProviderOutputError; a 200 error envelope is that error", () =>
    Effect.gen(function*() {
      const html = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
      const e1 = yield* Effect.flip(html.provider.chat(request))
      assert.strictEqual(e1._tag, "ProviderOutputError")
      assert.isFalse(isRetryable(e1))

      const empty = yield* build(() => FakeUpstream.json({ usageMetadata: { promptTokenCount: 3 } }))
      assert.strictEqual((yield* Effect.flip(empty.provider.chat(request)))._tag, "ProviderOutputError")

      const envelope = yield* build(() => FakeUpstream.json(errorBody(503, "UNAVAILABLE", "The model is overloaded.")))
      const e3 = yield* Effect.flip(envelope.provider.chat(request))
      assert(e3._tag === "ProviderStatusError")
      assert.strictEqual(e3.status, 503)
      assert.isTrue(isRetryable(e3))
    }))
})

describe("GeminiProvider timeouts", () => {
  it.scoped("no answer within the timeout is ProviderTimeout, and the request is aborted", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request)))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.isFalse(requests[0]!.aborted)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 30_000)
      assert.isTrue(isRetryable(error))
      yield* FakeUpstream.abortedBy(upstream)
    }))

  it.scoped("CallOptions.timeoutMillis shortens the provider's timeout on the wire, and never extends it", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
      assert.isTrue(provider.enforcesTimeouts)
      const short = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 2000 })))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(short)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(short)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 2000)
      yield* FakeUpstream.abortedBy(upstream)

      const long = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 60_000 })))
      yield* FakeUpstream.received(upstream, 2)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(long)))
      yield* TestClock.adjust("1 millis")
      const capped = yield* Fiber.join(long)
      assert(capped._tag === "ProviderTimeout")
      assert.strictEqual(capped.afterMillis, 30_000)
    }))

  it.scoped("the default timeout is 10 minutes", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never)
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request)))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 600_000)
    }))
})

describe("GeminiProvider.listModels", () => {
  it.scoped("asks GET /v1beta/models (https://ai.google.dev/api/models#method:-models.list), following the pages", () =>
    Effect.gen(function*() {
      let page = 0
      const { provider, requests } = yield* build(() => FakeUpstream.json(modelPages[page++]))
      const models = yield* provider.listModels
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[0]!.method, "GET")
      assert.strictEqual(requests[0]!.path, "/v1beta/models?pageSize=1000")
      assert.strictEqual(requests[0]!.headers["x-goog-api-key"], secret)
      assert.strictEqual(requests[1]!.path, `/v1beta/models?pageSize=1000&pageToken=${encodeURIComponent(modelPages[0]!.nextPageToken!)}`)
      assert.deepStrictEqual(models, [
        { id: "gemini-2.0-flash", object: "model", created: 0, owned_by: "gemini" },
        { id: "gemini-2.5-pro", object: "model", created: 0, owned_by: "gemini" },
        { id: "text-embedding-004", object: "model", created: 0, owned_by: "gemini" }
      ])
    }))

  it.scoped("lists the configured models without wildcards, without a request; a failing list is classified like chat", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json({}), { name: "g", models: ["gemini-2.0-flash", "gemini-2.5-*"] })
      assert.deepStrictEqual(yield* provider.listModels, [{ id: "gemini-2.0-flash", object: "model", created: 0, owned_by: "g" }])
      assert.strictEqual(requests.length, 0)

      const failing = yield* build(() => FakeUpstream.json(errorBody(403, "PERMISSION_DENIED", "nope"), { status: 403 }))
      const error = yield* Effect.flip(failing.provider.listModels)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 403)
      assert.strictEqual(error.upstreamType, "PERMISSION_DENIED")
    }))
})

describe("GeminiProvider.serves and layer", () => {
  it.scoped("by default the gemini families; with models, exactly those patterns; no prefill", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}))
      assert.strictEqual(provider.name, "gemini")
      assert.strictEqual(provider.kind, "gemini")
      assert.isFalse(provider.supportsPrefill)
      assert.isTrue(provider.serves("gemini-2.5-pro"))
      assert.isTrue(provider.serves("gemma-3-27b-it"))
      assert.isFalse(provider.serves("gpt-4o"))
      for (const family of Provider.modelFamilies("gemini")) assert.isTrue(provider.serves(family.replace("*", "x")))

      const scoped = yield* build(() => FakeUpstream.json({}), { models: ["gemini-2.5-*", "my-gemini"] })
      assert.isTrue(scoped.provider.serves("gemini-2.5-flash"))
      assert.isTrue(scoped.provider.serves("my-gemini"))
      assert.isFalse(scoped.provider.serves("gemini-2.0-flash"))
    }))

  it.scoped("layer registers the provider under its name", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(helloResponse))
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(registry.all().map((p) => p.name), ["google", "gemini"])
        const google = Option.getOrThrow(registry.get("google"))
        const response = yield* google.chat(request)
        assert.strictEqual(response.id, "cVJ1aLfkCbCz1dkP4q6tkQk")
        assert.strictEqual(upstream.requests[0]!.headers["x-goog-api-key"], secret)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(
              GeminiProvider.layer({ name: "google", apiKey, baseUrl: upstream.origin }),
              GeminiProvider.layer({ apiKey, baseUrl: "http://127.0.0.1:9" })
            ),
            ProviderRegistry.layer
          )
        )
      )
    }))
})
