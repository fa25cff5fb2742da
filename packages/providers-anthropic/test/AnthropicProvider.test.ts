import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as AnthropicProvider from "../src/AnthropicProvider.js"
import * as FakeUpstream from "./AnthropicUpstream.js"
import { apiKey, build, secret } from "./AnthropicUpstream.js"
import { cachedMessage, errorBody, helloMessage, toolUseMessage } from "./fixtures/anthropicWire.js"

const request: ChatRequest = { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Hello, Claude" }] }

/** The body the upstream received, as JSON. */
const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Record<string, unknown>

describe("AnthropicProvider.chat", () => {
  it.scoped("sends POST /v1/messages with x-api-key, anthropic-version and content-type, and maps the Message back", () =>
    Effect.gen(function*() {
      const now = Date.parse("2025-03-10T12:00:00Z")
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(helloMessage))
      const response = yield* provider.chat(request)

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}/v1/messages`)
      // https://platform.claude.com/docs/en/api/overview#authentication
      assert.strictEqual(sent.headers["x-api-key"], secret)
      assert.strictEqual(sent.headers["anthropic-version"], "2023-06-01")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.isUndefined(sent.headers["authorization"])
      // max_tokens is required: the default when the request gives none
      assert.deepStrictEqual(sent.body, {
        model: "claude-sonnet-4-5",
        max_tokens: 4096,
        messages: [{ role: "user", content: "Hello, Claude" }]
      })

      assert.deepStrictEqual(response, {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL",
        object: "chat.completion",
        created: now / 1000,
        model: "claude-sonnet-4-5",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "Hello! How can I assist you today?" },
          finish_reason: "stop"
        }],
        usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 }
      })
    }))

  it.scoped("options: anthropic-version, extra headers (which may replace the adapter's), max_tokens default, a base URL with a path", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(helloMessage))
      const provider = yield* AnthropicProvider.make({
        name: "claude",
        apiKey,
        baseUrl: `${upstream.origin}/anthropic/`,
        anthropicVersion: "2024-01-01",
        headers: { "Anthropic-Beta": "output-128k-2025-02-19", "x-team": "search" },
        defaultMaxTokens: 1024
      })
      yield* provider.chat(request)
      const sent = upstream.requests[0]!
      assert.strictEqual(sent.path, "/anthropic/v1/messages")
      assert.strictEqual(sent.headers["anthropic-version"], "2024-01-01")
      assert.strictEqual(sent.headers["anthropic-beta"], "output-128k-2025-02-19")
      assert.strictEqual(sent.headers["x-team"], "search")
      assert.strictEqual(bodyOf(sent).max_tokens, 1024)

      // max_completion_tokens wins over max_tokens, either over the default
      yield* provider.chat({ ...request, max_tokens: 300 })
      assert.strictEqual(bodyOf(upstream.requests[1]!).max_tokens, 300)
      yield* provider.chat({ ...request, max_tokens: 300, max_completion_tokens: 200 })
      assert.strictEqual(bodyOf(upstream.requests[2]!).max_tokens, 200)
    }))

  it.scoped("system and developer messages, wherever they are, become the top-level system prompt", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
      yield* provider.chat({
        model: "claude-sonnet-4-5",
        messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Hi" }]
      })
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        model: "claude-sonnet-4-5",
        max_tokens: 4096,
        system: "You are a helpful assistant.",
        messages: [{ role: "user", content: "Hi" }]
      })

      yield* provider.chat({
        model: "claude-sonnet-4-5",
        messages: [
          { role: "system", content: [{ type: "text", text: "Long policy.", cache_control: { type: "ephemeral" } }] },
          { role: "developer", content: "Answer in French." },
          { role: "user", content: "Hi" },
          { role: "system", content: "Be brief." }
        ]
      })
      const sent = bodyOf(requests[1]!)
      assert.deepStrictEqual(sent.system, [
        { type: "text", text: "Long policy.", cache_control: { type: "ephemeral" } },
        { type: "text", text: "Answer in French." },
        { type: "text", text: "Be brief." }
      ])
      assert.deepStrictEqual(sent.messages, [{ role: "user", content: "Hi" }])
    }))

  it.scoped("multi-turn: user and assistant alternate, consecutive turns of one role are merged", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
      yield* provider.chat({
        model: "claude-sonnet-4-5",
        messages: [
          { role: "user", content: "Hello there." },
          { role: "assistant", content: "Hi, I'm Claude. How can I help you?" },
          { role: "user", content: "Can you explain LLMs in plain English?" },
          { role: "user", content: [{ type: "text", text: "Keep it short." }] },
          { role: "assistant", content: [{ type: "text", text: "Sure." }, { type: "text", text: "" }], name: "claude" },
          { role: "assistant", content: null, refusal: null },
          { role: "user", content: "Thanks!", name: "ann" }
        ]
      })
      // https://platform.claude.com/docs/en/api/messages (the `messages` parameter)
      assert.deepStrictEqual(bodyOf(requests[0]!).messages, [
        { role: "user", content: "Hello there." },
        { role: "assistant", content: "Hi, I'm Claude. How can I help you?" },
        {
          role: "user",
          content: [{ type: "text", text: "Can you explain LLMs in plain English?" }, { type: "text", text: "Keep it short." }]
        },
        { role: "assistant", content: "Sure." },
        { role: "user", content: "Thanks!" }
      ])
    }))

  it.scoped("sampling parameters map to Anthropic's; OpenAI-only fields are not sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
      yield* provider.chat({
        ...request,
        temperature: 0.4,
        top_p: 0.9,
        stop: "\n\nHuman:",
        user: "user-1234",
        // OpenAI-only: dropped
        n: 1,
        seed: 7,
        presence_penalty: 0.5,
        frequency_penalty: 0.5,
        logprobs: true,
        top_logprobs: 2,
        logit_bias: { "50256": -100 },
        store: true,
        service_tier: "flex",
        stream_options: { include_usage: true },
        response_format: { type: "json_object" },
        metadata: { trace: "t-1" },
        unknown_vendor_field: { x: 1 },
        // Anthropic's own: kept
        top_k: 40,
        thinking: { type: "enabled", budget_tokens: 2048 }
      })
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        model: "claude-sonnet-4-5",
        max_tokens: 4096,
        messages: [{ role: "user", content: "Hello, Claude" }],
        temperature: 0.4,
        top_p: 0.9,
        stop_sequences: ["\n\nHuman:"],
        metadata: { user_id: "user-1234" },
        top_k: 40,
        thinking: { type: "enabled", budget_tokens: 2048 }
      })

      // a stop list as it is; temperature capped at Anthropic's 1; metadata.user_id preferred to user;
      // a json_schema response format as structured output
      const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] }
      yield* provider.chat({
        ...request,
        temperature: 1.6,
        stop: ["END", "", "STOP"],
        user: "user-1234",
        metadata: { user_id: "hashed-42", trace: "t-1" },
        response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } }
      })
      const second = bodyOf(requests[1]!)
      assert.strictEqual(second.temperature, 1)
      assert.deepStrictEqual(second.stop_sequences, ["END", "STOP"])
      assert.deepStrictEqual(second.metadata, { user_id: "hashed-42" })
      assert.deepStrictEqual(second.output_config, { format: { type: "json_schema", schema } })
    }))

  it.scoped("images: a data: URL as a base64 source, an http(s) URL as a URL source", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
      const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
      yield* provider.chat({
        model: "claude-sonnet-4-5",
        messages: [{
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${png}`, detail: "high" } },
            { type: "image_url", image_url: { url: "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg" } },
            { type: "image_url", image_url: { url: "data:image/svg+xml,%3Csvg%2F%3E" } },
            { type: "text", text: "Describe these images." }
          ]
        }]
      })
      // https://platform.claude.com/docs/en/build-with-claude/vision (base64 and URL sources)
      assert.deepStrictEqual(bodyOf(requests[0]!).messages, [{
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          {
            type: "image",
            source: { type: "url", url: "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg" }
          },
          { type: "image", source: { type: "base64", media_type: "image/svg+xml", data: Buffer.from("<svg/>").toString("base64") } },
          { type: "text", text: "Describe these images." }
        ]
      }])
    }))

  it.scoped("other parts: a PDF file becomes a document; parts Anthropic has no use for are not sent; its own blocks pass", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
      yield* provider.chat({
        model: "claude-sonnet-4-5",
        messages: [{
          role: "user",
          content: [
            { type: "file", file: { filename: "report.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
            { type: "file", file: { file_id: "file-abc123" } },
            { type: "input_audio", input_audio: { data: "UklGR", format: "wav" } },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." }, title: "Notes" },
            { type: "text", text: "Summarize.", cache_control: { type: "ephemeral" } }
          ]
        }]
      })
      // https://platform.claude.com/docs/en/build-with-claude/pdf-support
      assert.deepStrictEqual(bodyOf(requests[0]!).messages, [{
        role: "user",
        content: [
          { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "report.pdf" },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." }, title: "Notes" },
          { type: "text", text: "Summarize.", cache_control: { type: "ephemeral" } }
        ]
      }])
    }))

  describe("tools (https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use)", () => {
    const weatherTool = {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Get the current weather in a given location",
        parameters: {
          type: "object",
          properties: { location: { type: "string", description: "The city and state, e.g. San Francisco, CA" } },
          required: ["location"]
        }
      }
    }

    it.scoped("round trip: tools out, tool_use back as tool_calls, tool results sent as tool_result blocks", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(toolUseMessage))
        const ask: ChatRequest = {
          model: "claude-sonnet-4-5",
          messages: [{ role: "user", content: "What is the weather like in San Francisco?" }],
          tools: [weatherTool, { type: "function", function: { name: "get_time", strict: true } }],
          tool_choice: "auto"
        }
        const response = yield* provider.chat(ask)
        const sent = bodyOf(requests[0]!)
        assert.deepStrictEqual(sent.tools, [
          {
            name: "get_weather",
            description: "Get the current weather in a given location",
            input_schema: weatherTool.function.parameters
          },
          { name: "get_time", input_schema: { type: "object", properties: {} }, strict: true }
        ])
        assert.deepStrictEqual(sent.tool_choice, { type: "auto" })

        const choice = response.choices[0]!
        assert.strictEqual(choice.finish_reason, "tool_calls")
        assert.strictEqual(choice.message.content, "I'll check the current weather in San Francisco for you.")
        assert.deepStrictEqual(choice.message.tool_calls, [{
          id: "toolu_01A09q90qw90lq917835lq9",
          type: "function",
          function: { name: "get_weather", arguments: "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}" }
        }])

        // The next turn: the assistant's calls and the results, two results in one user turn.
        yield* provider.chat({
          ...ask,
          messages: [
            ...ask.messages,
            {
              role: "assistant",
              content: choice.message.content,
              tool_calls: [
                ...choice.message.tool_calls!,
                { id: "toolu_02", type: "function", function: { name: "get_time", arguments: "" } }
              ]
            },
            { role: "tool", tool_call_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees" },
            { role: "tool", tool_call_id: "toolu_02", content: [{ type: "text", text: "14:05" }], is_error: false },
            { role: "user", content: "And tomorrow?" }
          ]
        })
        assert.deepStrictEqual(bodyOf(requests[1]!).messages, [
          { role: "user", content: "What is the weather like in San Francisco?" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "I'll check the current weather in San Francisco for you." },
              {
                type: "tool_use",
                id: "toolu_01A09q90qw90lq917835lq9",
                name: "get_weather",
                input: { location: "San Francisco, CA", unit: "celsius" }
              },
              { type: "tool_use", id: "toolu_02", name: "get_time", input: {} }
            ]
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees" },
              { type: "tool_result", tool_use_id: "toolu_02", content: [{ type: "text", text: "14:05" }], is_error: false },
              { type: "text", text: "And tomorrow?" }
            ]
          }
        ])
      }))

    it.scoped("tool_choice and parallel_tool_calls", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(toolUseMessage))
        const cases: ReadonlyArray<readonly [Partial<ChatRequest>, unknown]> = [
          [{ tool_choice: "required" }, { type: "any" }],
          [{ tool_choice: "none" }, { type: "none" }],
          [{ tool_choice: { type: "function", function: { name: "get_weather" } } }, { type: "tool", name: "get_weather" }],
          [{ tool_choice: "required", parallel_tool_calls: false }, { type: "any", disable_parallel_tool_use: true }],
          [{ parallel_tool_calls: false }, { type: "auto", disable_parallel_tool_use: true }],
          [{ tool_choice: "none", parallel_tool_calls: false }, { type: "none" }],
          [{ parallel_tool_calls: true }, undefined]
        ]
        for (const [i, [fields, expected]] of cases.entries()) {
          yield* provider.chat({ ...request, tools: [weatherTool], ...fields })
          assert.deepStrictEqual(bodyOf(requests[i]!).tool_choice, expected, JSON.stringify(fields))
        }
      }))

    it.scoped("a tool call's arguments that are not JSON are sent as they are, for Anthropic to refuse", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(helloMessage))
        yield* provider.chat({
          ...request,
          messages: [
            ...request.messages,
            { role: "assistant", tool_calls: [{ id: "toolu_1", type: "function", function: { name: "f", arguments: "{oops" } }] },
            { role: "tool", tool_call_id: "toolu_1", content: "" }
          ]
        })
        const messages = bodyOf(requests[0]!).messages as Array<{ content: Array<Record<string, unknown>> }>
        assert.strictEqual(messages[1]!.content[0]!.input, "{oops")
        // an empty result has no content
        assert.deepStrictEqual(messages[2]!.content, [{ type: "tool_result", tool_use_id: "toolu_1" }])
      }))
  })

  it.scoped("usage: prompt tokens include the cache reads and writes, which are reported in the details", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(cachedMessage))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response.usage, {
        prompt_tokens: 50 + 200000 + 248,
        completion_tokens: 503,
        total_tokens: 50 + 200000 + 248 + 503,
        prompt_tokens_details: { cached_tokens: 200000, cache_creation_tokens: 248 }
      })
    }))

  it.scoped("stop reasons: end_turn and stop_sequence are stop, max_tokens is length, refusal is content_filter", () =>
    Effect.gen(function*() {
      // https://platform.claude.com/docs/en/api/messages (`stop_reason`)
      const cases = [
        ["end_turn", "stop"],
        ["stop_sequence", "stop"],
        ["max_tokens", "length"],
        ["tool_use", "tool_calls"],
        ["refusal", "content_filter"],
        ["pause_turn", "pause_turn"]
      ] as const
      let stopReason = ""
      const { provider } = yield* build(() => FakeUpstream.json({ ...helloMessage, stop_reason: stopReason }))
      for (const [anthropic, openai] of cases) {
        stopReason = anthropic
        const response = yield* provider.chat(request)
        assert.strictEqual(response.choices[0]!.finish_reason, openai, anthropic)
      }
    }))

  it.scoped("thinking blocks become reasoning_content; an answer of tool calls only has null content", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json({
          ...toolUseMessage,
          content: [
            { type: "thinking", thinking: "The user wants the weather.", signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..." },
            toolUseMessage.content[1]
          ]
        })
      )
      const message = (yield* provider.chat(request)).choices[0]!.message
      assert.isNull(message.content)
      assert.strictEqual(message.reasoning_content, "The user wants the weather.")
      assert.strictEqual(message.tool_calls?.length, 1)
    }))

  describe("assistant prefill (what mid-stream failover continues on)", () => {
    it.scoped("is claimed by default and can be turned off for models that refuse it", () =>
      Effect.gen(function*() {
        const { provider: off } = yield* build(() => FakeUpstream.json(helloMessage), { prefill: false })
        assert.isFalse(off.supportsPrefill)
      }))


    it.scoped("a trailing assistant message marked prefix: true is sent as the last assistant turn, without the mark", () =>
      Effect.gen(function*() {
        // https://platform.claude.com/docs/en/api/messages: "If the final message uses the
        // assistant role, the response content will continue immediately from the content in that message."
        const { provider, requests } = yield* build(() =>
          FakeUpstream.json({ ...helloMessage, content: [{ type: "text", text: "B)" }] })
        )
        assert.isTrue(provider.supportsPrefill)
        const response = yield* provider.chat({
          model: "claude-sonnet-4-5",
          messages: [
            { role: "user", content: "What's the Greek name for Sun? (A) Sol (B) Helios (C) Sun" },
            { role: "assistant", content: "The best answer is (", prefix: true }
          ]
        })
        assert.deepStrictEqual(bodyOf(requests[0]!).messages, [
          { role: "user", content: "What's the Greek name for Sun? (A) Sol (B) Helios (C) Sun" },
          { role: "assistant", content: "The best answer is (" }
        ])
        assert.strictEqual(response.choices[0]!.message.content, "B)")
      }))

    it.scoped("a prefill ending in whitespace (which Anthropic refuses) is sent without it, and the answer does not repeat it", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() =>
          FakeUpstream.json({ ...helloMessage, content: [{ type: "text", text: " world!" }] })
        )
        const response = yield* provider.chat({
          ...request,
          messages: [...request.messages, { role: "assistant", content: [{ type: "text", text: "Hello, " }], prefix: true }]
        })
        assert.deepStrictEqual((bodyOf(requests[0]!).messages as Array<unknown>)[1], { role: "assistant", content: "Hello," })
        assert.strictEqual(response.choices[0]!.message.content, "world!")
      }))
  })
})

describe("AnthropicProvider errors (https://platform.claude.com/docs/en/api/errors)", () => {
  const classes = [
    [400, "invalid_request_error", "messages: roles must alternate between \"user\" and \"assistant\"", false],
    [401, "authentication_error", "invalid x-api-key", false],
    [403, "permission_error", "Your API key does not have permission to use the specified resource.", false],
    [404, "not_found_error", "The requested resource could not be found.", false],
    [413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", false],
    [429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", true],
    [500, "api_error", "Internal server error", true],
    [529, "overloaded_error", "Overloaded", true]
  ] as const

  it.scoped("each documented class: the HTTP status, the type and message, retryable for 429 and 5xx", () =>
    Effect.gen(function*() {
      for (const [status, type, message, retryable] of classes) {
        const body = errorBody(type, message)
        const { provider } = yield* build(() => FakeUpstream.json(body, { status }))
        const error = yield* Effect.flip(provider.chat(request))
        assert(error._tag === "ProviderStatusError", type)
        assert.strictEqual(error.status, status)
        assert.strictEqual(error.upstreamType, type)
        assert.strictEqual(error.upstreamMessage, message)
        assert.strictEqual(error.message, message)
        assert.strictEqual(isRetryable(error), retryable, type)
        assert.deepStrictEqual(JSON.parse(error.body), body)
      }
    }))

  it.scoped("429 with retry-after (https://platform.claude.com/docs/en/api/rate-limits) is retryable and carries the delay", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json(errorBody("rate_limit_error", "This request would exceed your organization's rate limit."), {
          status: 429,
          headers: { "retry-after": "17" }
        })
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.retryAfterMillis, 17_000)
      assert.isTrue(isRetryable(error))
    }))

  it.scoped("529 overloaded is retryable; a 413 body that is not JSON (from the CDN) still has its status", () =>
    Effect.gen(function*() {
      const overloaded = yield* build(() => FakeUpstream.json(errorBody("overloaded_error", "Overloaded"), { status: 529 }))
      const e1 = yield* Effect.flip(overloaded.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 529)
      assert.isTrue(isRetryable(e1))

      const html = yield* build(() => ({ status: 413, body: "<html><body>413 Request Entity Too Large</body></html>" }))
      const e2 = yield* Effect.flip(html.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 413)
      assert.isUndefined(e2.upstreamType)
      assert.isFalse(isRetryable(e2))
    }))

  it.scoped("the API key never appears in an error: a 401 echoing it, credential-like headers, an unreachable upstream", () =>
    Effect.gen(function*() {
      const headers = { "x-proxy-token": "proxy-secret-99" }
      const { provider, requests } = yield* build(
        (exchange) =>
          FakeUpstream.json(
            errorBody("authentication_error", `invalid x-api-key ${exchange.headers["x-api-key"]} via ${exchange.headers["x-proxy-token"]}`),
            { status: 401 }
          ),
        { headers }
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(requests[0]!.headers["x-api-key"], secret)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 401)
      assert.strictEqual(error.upstreamMessage, "invalid x-api-key [REDACTED] via [REDACTED]")
      for (const text of [JSON.stringify(error), String(error), error.message, error.body]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "proxy-secret-99")
      }

      const port = yield* FakeUpstream.closedPort
      const unreachable = yield* AnthropicProvider.make({ apiKey, baseUrl: `http://127.0.0.1:${port}`, headers })
      const broken = yield* Effect.flip(unreachable.chat(request))
      assert(broken._tag === "ProviderUnreachable")
      assert.isTrue(isRetryable(broken))
      assert.include(broken.detail, `http://127.0.0.1:${port}/v1/messages`)
      for (const text of [JSON.stringify(broken), String(broken), broken.detail]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "proxy-secret-99")
      }
    }))

  it.scoped("a 200 that is not a Message is a ProviderOutputError; a 200 error envelope is that error", () =>
    Effect.gen(function*() {
      const html = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
      const e1 = yield* Effect.flip(html.provider.chat(request))
      assert.strictEqual(e1._tag, "ProviderOutputError")
      assert.isFalse(isRetryable(e1))

      const shape = yield* build(() => FakeUpstream.json({ id: "msg_1", type: "message" }))
      assert.strictEqual((yield* Effect.flip(shape.provider.chat(request)))._tag, "ProviderOutputError")

      const envelope = yield* build(() => FakeUpstream.json(errorBody("overloaded_error", "Overloaded")))
      const e3 = yield* Effect.flip(envelope.provider.chat(request))
      assert(e3._tag === "ProviderStatusError")
      assert.strictEqual(e3.status, 529)
      assert.isTrue(isRetryable(e3))
    }))
})

describe("AnthropicProvider timeouts", () => {
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
})

describe("AnthropicProvider.listModels", () => {
  it.scoped("asks GET /v1/models (https://platform.claude.com/docs/en/api/models-list), following the pages", () =>
    Effect.gen(function*() {
      const pages = [
        {
          data: [
            { type: "model", id: "claude-sonnet-4-5-20250929", display_name: "Claude Sonnet 4.5", created_at: "2025-09-29T00:00:00Z" },
            { type: "model", id: "claude-haiku-4-5-20251001", display_name: "Claude Haiku 4.5", created_at: "2025-10-01T00:00:00Z" }
          ],
          has_more: true,
          first_id: "claude-sonnet-4-5-20250929",
          last_id: "claude-haiku-4-5-20251001"
        },
        {
          data: [{ type: "model", id: "claude-3-haiku-20240307", display_name: "Claude Haiku 3", created_at: "2024-03-07T00:00:00Z" }],
          has_more: false,
          first_id: "claude-3-haiku-20240307",
          last_id: "claude-3-haiku-20240307"
        }
      ]
      let page = 0
      const { provider, requests } = yield* build(() => FakeUpstream.json(pages[page++]))
      const models = yield* provider.listModels
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[0]!.method, "GET")
      assert.strictEqual(requests[0]!.path, "/v1/models?limit=1000")
      assert.strictEqual(requests[0]!.headers["x-api-key"], secret)
      assert.strictEqual(requests[0]!.headers["anthropic-version"], "2023-06-01")
      assert.strictEqual(requests[1]!.path, "/v1/models?limit=1000&after_id=claude-haiku-4-5-20251001")
      assert.deepStrictEqual(models, [
        { id: "claude-sonnet-4-5-20250929", object: "model", created: Date.parse("2025-09-29T00:00:00Z") / 1000, owned_by: "anthropic" },
        { id: "claude-haiku-4-5-20251001", object: "model", created: Date.parse("2025-10-01T00:00:00Z") / 1000, owned_by: "anthropic" },
        { id: "claude-3-haiku-20240307", object: "model", created: Date.parse("2024-03-07T00:00:00Z") / 1000, owned_by: "anthropic" }
      ])
    }))

  it.scoped("lists the configured models without wildcards, without a request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json({}), {
        name: "claude",
        models: ["claude-sonnet-4-5", "claude-3-*"]
      })
      assert.deepStrictEqual(yield* provider.listModels, [
        { id: "claude-sonnet-4-5", object: "model", created: 0, owned_by: "claude" }
      ])
      assert.strictEqual(requests.length, 0)
    }))

  it.scoped("a failing GET /v1/models is classified like chat", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(errorBody("permission_error", "nope"), { status: 403 }))
      const error = yield* Effect.flip(provider.listModels)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 403)
      assert.strictEqual(error.upstreamType, "permission_error")
    }))
})

describe("AnthropicProvider.serves and layer", () => {
  it.scoped("by default the claude-* family; with models, exactly those patterns", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}))
      assert.strictEqual(provider.name, "anthropic")
      assert.strictEqual(provider.kind, "anthropic")
      assert.isTrue(provider.serves("claude-sonnet-4-5"))
      assert.isTrue(provider.serves("claude-3-haiku-20240307"))
      assert.isFalse(provider.serves("gpt-4o"))
      for (const family of Provider.modelFamilies("anthropic")) assert.isTrue(provider.serves(family.replace("*", "x")))

      const scoped = yield* build(() => FakeUpstream.json({}), { models: ["claude-3-5-*", "my-claude"] })
      assert.isTrue(scoped.provider.serves("claude-3-5-sonnet-latest"))
      assert.isTrue(scoped.provider.serves("my-claude"))
      assert.isFalse(scoped.provider.serves("claude-sonnet-4-5"))
    }))

  it.scoped("layer registers the provider under its name", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(helloMessage))
      // The providers' connection pools live as long as the Layer: use them inside it.
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(registry.all().map((p) => p.name), ["claude", "anthropic"])
        const claude = Option.getOrThrow(registry.get("claude"))
        const response = yield* claude.chat(request)
        assert.strictEqual(response.id, "msg_01XFDUDYJgAACzvnptvVoYEL")
        assert.strictEqual(upstream.requests[0]!.headers["x-api-key"], secret)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(
              AnthropicProvider.layer({ name: "claude", apiKey, baseUrl: upstream.origin }),
              AnthropicProvider.layer({ baseUrl: "http://127.0.0.1:9" })
            ),
            ProviderRegistry.layer
          )
        )
      )
    }))
})

describe("AnthropicProvider capabilities", () => {
  it.scoped("chat: what the Messages API maps is honoured, response_format and metadata partly; Anthropic's own fields are vendor fields", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(FakeUpstream.never)
      assert.isUndefined(provider.capabilities!.embeddings)
      assert.isUndefined(provider.capabilities!.images)
      const support = provider.capabilities!.chat
      for (const honoured of ["temperature", "top_p", "max_tokens", "stop", "user", "tools", "tool_choice", "parallel_tool_calls"] as const) {
        assert.isTrue(support.parameters[honoured], honoured)
      }
      for (const dropped of ["n", "seed", "presence_penalty", "logprobs", "store", "service_tier", "reasoning_effort"] as const) {
        assert.isFalse(support.parameters[dropped], dropped)
      }
      assert.strictEqual(Capabilities.describeSupport(support.parameters.response_format), "partial: json_schema only")
      assert.strictEqual(Capabilities.describeSupport(support.parameters.metadata), "partial: user_id only")
      assert.deepStrictEqual(support.vendorFields, ["top_k", "thinking", "output_config"])
      assert.isFalse(support.forwardsUnknown)

      const unsupported = Capabilities.check("chat", support)
      assert.isUndefined(unsupported({
        ...request,
        parallel_tool_calls: false,
        top_k: 40,
        thinking: { type: "enabled", budget_tokens: 1024 },
        metadata: { user_id: "u-1" },
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } }
      }))
      assert.deepStrictEqual(
        unsupported({
          ...request,
          n: 2,
          seed: 1,
          metadata: { user_id: "u-1", team: "search" },
          response_format: { type: "json_object" },
          logit_bias: { "50256": -100 }
        }),
        ["n", "seed", "metadata", "response_format", "logit_bias"]
      )
    }))

  it.scoped("the unsupportedParams option is the provider's policy (none set: the gateway's default)", () =>
    Effect.gen(function*() {
      assert.isUndefined((yield* build(FakeUpstream.never)).provider.unsupportedParams)
      assert.strictEqual((yield* build(FakeUpstream.never, { unsupportedParams: "drop" })).provider.unsupportedParams, "drop")
    }))
})
