import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as BedrockProvider from "../src/BedrockProvider.js"
import * as FakeUpstream from "./BedrockUpstream.js"
import {
  accessKeyId,
  awsError,
  build,
  checkSignature,
  converse,
  credentials,
  model,
  region,
  requestId,
  secretAccessKey,
  sessionToken
} from "./BedrockUpstream.js"
import {
  cachedResponse,
  documentedErrors,
  helloResponse,
  reasoningResponse,
  toolAnswerResponse,
  topSongTool,
  toolUseResponse
} from "./fixtures/converseWire.js"

const request: ChatRequest = {
  model,
  messages: [{ role: "user", content: "Create a list of 3 pop songs." }]
}

/** The body the upstream received, as JSON. */
const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Record<string, unknown>

const now = Date.parse("2025-03-10T12:00:00Z")

/** A 1x1 PNG. */
const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

describe("BedrockProvider.chat", () => {
  it.scoped("sends POST /model/{modelId}/converse with the model id encoded, and maps the ConverseResponse back", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(() => converse(helloResponse))
      const response = yield* provider.chat(request)

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_RequestSyntax
      assert.strictEqual(sent.path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.isUndefined(sent.headers["accept"])
      assert.strictEqual(sent.headers["host"], new URL(upstream.origin).host)
      assert.strictEqual(sent.headers["x-amz-date"], "20250310T120000Z")
      assert.strictEqual(sent.headers["x-amz-content-sha256"], createHash("sha256").update(sent.bodyText).digest("hex"))
      assert.isUndefined(sent.headers["x-amz-security-token"])
      assert.match(sent.headers["authorization"]!, /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20250310\/us-east-1\/bedrock\/aws4_request, /)
      // The model id is in the path only.
      assert.deepStrictEqual(sent.body, { messages: [{ role: "user", content: [{ text: "Create a list of 3 pop songs." }] }] })

      assert.deepStrictEqual(response, {
        id: requestId,
        object: "chat.completion",
        created: now / 1000,
        model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: helloResponse.output.message.content[0]!.text },
          finish_reason: "stop"
        }],
        usage: { prompt_tokens: 125, completion_tokens: 60, total_tokens: 185 }
      })
    }))

  it.scoped("system and developer messages, wherever they are, become system blocks; cache_control a cache point", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      yield* provider.chat({
        model,
        messages: [
          { role: "system", content: [{ type: "text", text: "Long policy.", cache_control: { type: "ephemeral" } }] },
          { role: "developer", content: "Answer in French." },
          { role: "user", content: "Hi" },
          { role: "system", content: "Be brief." }
        ]
      })
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SystemContentBlock.html
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        messages: [{ role: "user", content: [{ text: "Hi" }] }],
        system: [{ text: "Long policy." }, { cachePoint: { type: "default" } }, { text: "Answer in French." }, { text: "Be brief." }]
      })
    }))

  it.scoped("multi-turn: user and assistant alternate, consecutive turns of one role are merged, empty text left out", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      yield* provider.chat({
        model,
        messages: [
          { role: "user", content: "Hello there." },
          { role: "assistant", content: "Hi, how can I help?" },
          { role: "user", content: "Can you explain LLMs in plain English?" },
          { role: "user", content: [{ type: "text", text: "Keep it short." }, { type: "text", text: "" }] },
          { role: "assistant", content: [{ type: "text", text: "Sure." }], name: "bot", refusal: null },
          { role: "assistant", content: null },
          { role: "user", content: "Thanks!", name: "ann" }
        ]
      })
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html
      assert.deepStrictEqual(bodyOf(requests[0]!).messages, [
        { role: "user", content: [{ text: "Hello there." }] },
        { role: "assistant", content: [{ text: "Hi, how can I help?" }] },
        { role: "user", content: [{ text: "Can you explain LLMs in plain English?" }, { text: "Keep it short." }] },
        { role: "assistant", content: [{ text: "Sure." }] },
        { role: "user", content: [{ text: "Thanks!" }] }
      ])
    }))

  it.scoped("inferenceConfig from the sampling parameters; Converse's own fields kept; the others not sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      yield* provider.chat({
        ...request,
        max_tokens: 512,
        temperature: 0.4,
        top_p: 0.9,
        stop: ["END", "", "STOP"],
        // No Converse counterpart: dropped
        n: 1,
        seed: 7,
        user: "user-1234",
        presence_penalty: 0.5,
        frequency_penalty: 0.5,
        logprobs: true,
        logit_bias: { "50256": -100 },
        parallel_tool_calls: false,
        response_format: { type: "json_object" },
        metadata: { trace: "t-1" },
        stream_options: { include_usage: true },
        top_k: 40,
        // Converse's own: kept
        additionalModelRequestFields: { top_k: 40 },
        additionalModelResponseFieldPaths: ["/stop_sequence"],
        guardrailConfig: { guardrailIdentifier: "gr-1", guardrailVersion: "1" },
        performanceConfig: { latency: "optimized" },
        requestMetadata: { tenant: "acme" }
      })
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html
      assert.deepStrictEqual(bodyOf(requests[0]!), {
        messages: [{ role: "user", content: [{ text: "Create a list of 3 pop songs." }] }],
        inferenceConfig: { maxTokens: 512, temperature: 0.4, topP: 0.9, stopSequences: ["END", "STOP"] },
        additionalModelRequestFields: { top_k: 40 },
        additionalModelResponseFieldPaths: ["/stop_sequence"],
        guardrailConfig: { guardrailIdentifier: "gr-1", guardrailVersion: "1" },
        performanceConfig: { latency: "optimized" },
        requestMetadata: { tenant: "acme" }
      })

      // max_completion_tokens wins over max_tokens; temperature capped at Converse's 1; a stop string
      yield* provider.chat({ ...request, max_tokens: 300, max_completion_tokens: 200, temperature: 1.7, stop: "\n\n" })
      assert.deepStrictEqual(bodyOf(requests[1]!).inferenceConfig, { maxTokens: 200, temperature: 1, stopSequences: ["\n\n"] })
    }))

  it.scoped("images: a data: URL becomes image bytes (base64 in JSON); a document too", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      yield* provider.chat({
        model,
        messages: [{
          role: "user",
          content: [
            { type: "text", text: "What is in these?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${png}`, detail: "high" } },
            { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQSkZJRg==" }, cache_control: { type: "ephemeral" } },
            { type: "file", file: { filename: "Q3 report (final).pdf", file_data: "data:application/pdf;base64,JVBERi0xLjcK" } },
            { type: "file", file: { file_data: "data:text/plain,hello%20world" } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
            { type: "file", file: { file_id: "file-abc" } }
          ]
        }]
      })
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html,
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html
      assert.deepStrictEqual(bodyOf(requests[0]!).messages, [{
        role: "user",
        content: [
          { text: "What is in these?" },
          { image: { format: "png", source: { bytes: png } } },
          { image: { format: "jpeg", source: { bytes: "/9j/4AAQSkZJRg==" } } },
          { cachePoint: { type: "default" } },
          { document: { format: "pdf", name: "Q3 report (final)", source: { bytes: "JVBERi0xLjcK" } } },
          { document: { format: "txt", name: "document 2", source: { bytes: Buffer.from("hello world").toString("base64") } } }
        ]
      }])
    }))

  it.scoped("an image given by an http(s) URL cannot be sent (Converse takes bytes): a 400 naming the part, nothing sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      const error = yield* Effect.flip(provider.chat({
        model,
        messages: [
          { role: "user", content: "Hi" },
          { role: "user", content: [{ type: "text", text: "Look" }, { type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }
        ]
      }))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.provider, "bedrock")
      assert.strictEqual(error.upstreamParam, "messages[1].content[1]")
      assert.include(error.message, "data: URL")
      assert.isFalse(isRetryable(error))

      const format = yield* Effect.flip(provider.chat({
        model,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/bmp;base64,Qk0=" } }] }]
      }))
      assert(format._tag === "ProviderStatusError")
      assert.strictEqual(format.status, 400)
      assert.include(format.message, "image/bmp")

      const stream = yield* Effect.flip(Effect.scoped(provider.openStream!({
        model,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://example.com/a.gif" } }] }]
      })))
      assert(stream._tag === "ProviderStatusError")
      assert.strictEqual(stream.status, 400)
      assert.strictEqual(requests.length, 0)
    }))

  describe("tools", () => {
    it.scoped("round trip: tools out, toolUse back as tool_calls, tool results sent as toolResult blocks", () =>
      Effect.gen(function*() {
        let turn = 0
        const { provider, requests } = yield* build(() => converse(turn++ === 0 ? toolUseResponse : toolAnswerResponse))
        const tools = [{ type: "function" as const, function: topSongTool }]
        const first = yield* provider.chat({
          model,
          messages: [{ role: "user", content: "What is the most popular song on WZPZ?" }],
          tools,
          tool_choice: "auto"
        })
        // https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html (step 1)
        assert.deepStrictEqual(bodyOf(requests[0]!).toolConfig, {
          tools: [{
            toolSpec: { name: "top_song", description: topSongTool.description, inputSchema: { json: topSongTool.parameters } }
          }],
          toolChoice: { auto: {} }
        })
        const call = { id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", type: "function" as const, function: { name: "top_song", arguments: "{\"sign\":\"WZPZ\"}" } }
        assert.deepStrictEqual(first.choices[0], {
          index: 0,
          message: { role: "assistant", content: null, tool_calls: [call] },
          finish_reason: "tool_calls"
        })

        const second = yield* provider.chat({
          model,
          tools,
          messages: [
            { role: "user", content: "What is the most popular song on WZPZ?" },
            { role: "assistant", content: null, tool_calls: [call, { ...call, id: "tooluse_2", function: { name: "top_song", arguments: "" } }] },
            { role: "tool", tool_call_id: call.id, content: "{\"song\": \"Elemental Hotel\", \"artist\": \"8 Storey Hike\"}" },
            { role: "tool", tool_call_id: "tooluse_2", content: [{ type: "text", text: "Station not found" }], is_error: true }
          ]
        })
        // https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html (step 3)
        assert.deepStrictEqual(bodyOf(requests[1]!).messages, [
          { role: "user", content: [{ text: "What is the most popular song on WZPZ?" }] },
          {
            role: "assistant",
            content: [
              { toolUse: { toolUseId: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name: "top_song", input: { sign: "WZPZ" } } },
              { toolUse: { toolUseId: "tooluse_2", name: "top_song", input: {} } }
            ]
          },
          {
            role: "user",
            content: [
              {
                toolResult: {
                  toolUseId: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                  content: [{ text: "{\"song\": \"Elemental Hotel\", \"artist\": \"8 Storey Hike\"}" }]
                }
              },
              { toolResult: { toolUseId: "tooluse_2", content: [{ text: "Station not found" }], status: "error" } }
            ]
          }
        ])
        assert.strictEqual(second.choices[0]!.message.content, "The most popular song on WZPZ is Elemental Hotel by 8 Storey Hike.")
        assert.strictEqual(second.choices[0]!.finish_reason, "stop")
      }))

    it.scoped("tool_choice: required is any, a function is tool, none sends no tools unless the conversation used them", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => converse(helloResponse))
        const tools = [{ type: "function" as const, function: { name: "get_time" } }]
        yield* provider.chat({ ...request, tools, tool_choice: "required" })
        yield* provider.chat({ ...request, tools, tool_choice: { type: "function", function: { name: "get_time" } } })
        yield* provider.chat({ ...request, tools, tool_choice: "none" })
        yield* provider.chat({
          ...request,
          tools,
          tool_choice: "none",
          messages: [
            { role: "user", content: "Time?" },
            { role: "assistant", content: "", tool_calls: [{ id: "t1", type: "function", function: { name: "get_time", arguments: "{}" } }] },
            { role: "tool", tool_call_id: "t1", content: "noon" }
          ]
        })
        // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html
        const noParameters = { toolSpec: { name: "get_time", inputSchema: { json: { type: "object", properties: {} } } } }
        assert.deepStrictEqual(bodyOf(requests[0]!).toolConfig, { tools: [noParameters], toolChoice: { any: {} } })
        assert.deepStrictEqual(bodyOf(requests[1]!).toolConfig, { tools: [noParameters], toolChoice: { tool: { name: "get_time" } } })
        assert.isUndefined(bodyOf(requests[2]!).toolConfig)
        assert.deepStrictEqual(bodyOf(requests[3]!).toolConfig, { tools: [noParameters] })
      }))

    it.scoped("a tool call's arguments that are not JSON are sent as they are, for Bedrock to refuse", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => converse(helloResponse))
        yield* provider.chat({
          model,
          messages: [
            { role: "user", content: "Go" },
            { role: "assistant", content: "", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{not json" } }] },
            { role: "tool", tool_call_id: "t1", content: "" }
          ]
        })
        assert.deepStrictEqual(bodyOf(requests[0]!).messages, [
          { role: "user", content: [{ text: "Go" }] },
          { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "f", input: "{not json" } }] },
          { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [] } }] }
        ])
      }))
  })

  it.scoped("usage: prompt tokens include the cache reads and writes, which are reported in the details", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => converse(cachedResponse))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response.usage, {
        prompt_tokens: 16 + 4022,
        completion_tokens: 423,
        total_tokens: 4461,
        prompt_tokens_details: { cached_tokens: 0, cache_creation_tokens: 4022 }
      })
    }))

  it.scoped("stop reasons: end_turn / stop_sequence stop, max_tokens length, tool_use tool_calls, guardrail and filter content_filter", () =>
    Effect.gen(function*() {
      const reasons = ["end_turn", "stop_sequence", "max_tokens", "tool_use", "guardrail_intervened", "content_filtered", "something_new"]
      let i = 0
      const { provider } = yield* build(() => converse({ ...helloResponse, stopReason: reasons[i++] }))
      const finish: Array<string | null | undefined> = []
      for (const _ of reasons) finish.push((yield* provider.chat(request)).choices[0]!.finish_reason)
      assert.deepStrictEqual(finish, ["stop", "stop", "length", "tool_calls", "content_filter", "content_filter", "something_new"])
    }))

  it.scoped("reasoning content becomes reasoning_content (its signature is not kept)", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => converse(reasoningResponse))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response.choices[0]!.message, {
        role: "assistant",
        content: "27 * 453 = 12,231",
        reasoning_content: "The user wants 27 * 453. 27 * 453 = 12231."
      })
    }))

  it.scoped("a 200 that is not a ConverseResponse is a ProviderOutputError", () =>
    Effect.gen(function*() {
      let i = 0
      const bodies = [{ body: "<html>gateway</html>" }, converse({ message: "odd" }), converse({ output: { message: { role: "assistant" } } })]
      const { provider } = yield* build(() => bodies[i++])
      for (const _ of bodies) {
        const error = yield* Effect.flip(provider.chat(request))
        assert.strictEqual(error._tag, "ProviderOutputError")
      }
    }))
})

describe("BedrockProvider errors", () => {
  it.scoped("each documented class: the status, the type from x-amzn-errortype and the message; retryable for 408, 429 and 5xx", () =>
    Effect.gen(function*() {
      let i = 0
      const { provider } = yield* build(() => {
        const [type, status] = documentedErrors[i++]!
        return awsError(type, status, `${type} happened`)
      })
      for (const [type, status, retryable] of documentedErrors) {
        const error = yield* Effect.flip(provider.chat(request))
        assert(error._tag === "ProviderStatusError", type)
        assert.strictEqual(error.status, status, type)
        assert.strictEqual(error.upstreamType, type)
        assert.strictEqual(error.upstreamMessage, `${type} happened`)
        assert.strictEqual(error.message, `${type} happened`)
        assert.strictEqual(isRetryable(error), retryable, type)
      }
    }))

  it.scoped("an error without the header: the body's __type; a body that is not JSON keeps its status", () =>
    Effect.gen(function*() {
      let i = 0
      const replies = [
        { status: 403, headers: { "content-type": "application/json" }, body: JSON.stringify({ __type: "com.amazon.coral.service#UnrecognizedClientException", Message: "The security token included in the request is invalid." }) },
        { status: 502, headers: { "content-type": "text/html" }, body: "<html>Bad Gateway</html>" }
      ]
      const { provider } = yield* build(() => replies[i++])
      const first = yield* Effect.flip(provider.chat(request))
      assert(first._tag === "ProviderStatusError")
      assert.strictEqual(first.status, 403)
      assert.strictEqual(first.upstreamType, "UnrecognizedClientException")
      assert.strictEqual(first.upstreamMessage, "The security token included in the request is invalid.")
      const second = yield* Effect.flip(provider.chat(request))
      assert(second._tag === "ProviderStatusError")
      assert.strictEqual(second.status, 502)
      assert.strictEqual(second.body, "<html>Bad Gateway</html>")
    }))

  it.scoped("the credentials never appear in an error: an error echoing them, credential-like headers, an unreachable upstream", () =>
    Effect.gen(function*() {
      const echo = `${accessKeyId} ${secretAccessKey} ${sessionToken} proxy-secret-99`
      const { provider, requests } = yield* build(
        () => awsError("InvalidSignatureException", 403, `The request signature we calculated does not match: ${echo}`),
        {
          credentials: { ...credentials, sessionToken: Redacted.make(sessionToken) },
          headers: { "X-Proxy-Token": "proxy-secret-99" }
        }
      )
      const error = yield* Effect.flip(provider.chat(request))
      // The token and the proxy header were sent (and signed).
      assert.strictEqual(requests[0]!.headers["x-amz-security-token"], sessionToken)
      assert.strictEqual(requests[0]!.headers["x-proxy-token"], "proxy-secret-99")
      assert.include(requests[0]!.headers["authorization"]!, "x-amz-security-token")
      assert.include(requests[0]!.headers["authorization"]!, "x-proxy-token")
      for (const text of [JSON.stringify(error), error.message, String(error)]) {
        for (const secret of [secretAccessKey, sessionToken, accessKeyId, "proxy-secret-99"]) assert.notInclude(text, secret)
      }
      assert.include(error.message, "[REDACTED]")

      const port = yield* FakeUpstream.closedPort
      const unreachable = yield* BedrockProvider.make({
        region,
        env: {},
        credentials: { ...credentials, sessionToken: Redacted.make(sessionToken) },
        baseUrl: `http://127.0.0.1:${port}`
      })
      const down = yield* Effect.flip(unreachable.chat(request))
      assert.strictEqual(down._tag, "ProviderUnreachable")
      for (const text of [JSON.stringify(down), down.message]) {
        for (const secret of [secretAccessKey, sessionToken]) assert.notInclude(text, secret)
      }
    }))
})

describe("BedrockProvider signing", () => {
  it.scoped("the request carries a valid SigV4 Authorization for what the upstream received, at the Clock's time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const { provider, requests } = yield* build(() => converse(helloResponse))
      yield* provider.chat({ ...request, messages: [{ role: "user", content: "Unicode too: héllo ✓ \u2028" }] })
      const sent = requests[0]!
      const check = yield* checkSignature(sent, { accessKeyId, secretAccessKey })
      assert.strictEqual(check.scope, "AKIAIOSFODNN7EXAMPLE/20250310/us-east-1/bedrock/aws4_request")
      assert.deepStrictEqual(check.signedHeaders, ["content-type", "host", "x-amz-content-sha256", "x-amz-date"])
      assert.isTrue(check.validBySpec, check.canonicalRequest)
      assert.strictEqual(check.resigned, sent.headers["authorization"])
      // The path's encoded ':' is encoded again in the canonical request, as SigV4 asks of every service but S3.
      assert.include(check.canonicalRequest, "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n")

      // The upstream's check is not a rubber stamp: another body or another secret does not verify.
      const tampered = yield* checkSignature({ ...sent, bodyText: sent.bodyText.replace("héllo", "hello") }, { accessKeyId, secretAccessKey })
      assert.isFalse(tampered.validBySpec)
      const wrongKey = yield* checkSignature(sent, { accessKeyId, secretAccessKey: "not-the-secret" })
      assert.isFalse(wrongKey.validBySpec)
      assert.notStrictEqual(wrongKey.resigned, sent.headers["authorization"])
    }))

  it.scoped("a session token is sent and signed; a base URL's path, an ARN model id and extra headers are signed as sent", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-12-31T23:59:59Z"))
      const upstream = yield* FakeUpstream.start(() => converse(helloResponse))
      const provider = yield* BedrockProvider.make({
        region: "eu-west-3",
        env: {},
        credentials: { ...credentials, sessionToken: Redacted.make(sessionToken) },
        baseUrl: `${upstream.origin}/bedrock/`,
        headers: { "X-Team": "search  team", "User-Agent": "switchyard" }
      })
      const arn = "arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
      yield* provider.chat({ ...request, model: arn })
      const sent = upstream.requests[0]!
      assert.strictEqual(
        sent.path,
        "/bedrock/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
      )
      assert.strictEqual(sent.headers["x-amz-date"], "20251231T235959Z")
      assert.strictEqual(sent.headers["x-amz-security-token"], sessionToken)
      assert.strictEqual(sent.headers["x-team"], "search  team")
      const check = yield* checkSignature(sent, { accessKeyId, secretAccessKey, sessionToken })
      assert.strictEqual(check.scope, "AKIAIOSFODNN7EXAMPLE/20251231/eu-west-3/bedrock/aws4_request")
      // user-agent is never signed (proxies rewrite it); the rest is.
      assert.deepStrictEqual(check.signedHeaders, [
        "content-type",
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
        "x-team"
      ])
      assert.isTrue(check.validBySpec, check.canonicalRequest)
      assert.strictEqual(check.resigned, sent.headers["authorization"])
    }))
})

describe("BedrockProvider credentials", () => {
  it.scoped("from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const upstream = yield* FakeUpstream.start(() => converse(helloResponse))
      const env = {
        AWS_ACCESS_KEY_ID: "ASIAENVEXAMPLEKEYID1",
        AWS_SECRET_ACCESS_KEY: "envSecretKeyEXAMPLE/abcdefghijklmnopqrstu",
        AWS_SESSION_TOKEN: "envSessionTokenEXAMPLE",
        AWS_REGION: "ap-southeast-2",
        AWS_DEFAULT_REGION: "us-west-2"
      }
      const provider = yield* BedrockProvider.make({ env, baseUrl: upstream.origin })
      yield* provider.chat(request)
      const sent = upstream.requests[0]!
      assert.strictEqual(sent.headers["x-amz-security-token"], "envSessionTokenEXAMPLE")
      const check = yield* checkSignature(sent, {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        sessionToken: env.AWS_SESSION_TOKEN
      })
      assert.strictEqual(check.scope, "ASIAENVEXAMPLEKEYID1/20250310/ap-southeast-2/bedrock/aws4_request")
      assert.isTrue(check.validBySpec)

      // AWS_DEFAULT_REGION when AWS_REGION is not set; the options' region and credentials win over the environment.
      const second = yield* BedrockProvider.make({ env: { ...env, AWS_REGION: "" }, baseUrl: upstream.origin })
      yield* second.chat(request)
      assert.include(upstream.requests[1]!.headers["authorization"]!, "/20250310/us-west-2/bedrock/aws4_request")
      const third = yield* BedrockProvider.make({ env, region: "eu-central-1", credentials, baseUrl: upstream.origin })
      yield* third.chat(request)
      assert.include(upstream.requests[2]!.headers["authorization"]!, "Credential=AKIAIOSFODNN7EXAMPLE/20250310/eu-central-1/bedrock/")
      // The environment's session token belongs to the environment's keys, not to the options'.
      assert.isUndefined(upstream.requests[2]!.headers["x-amz-security-token"])
    }))

  it.scoped("no region or no credentials: BedrockConfigError naming what is missing, never a secret", () =>
    Effect.gen(function*() {
      const noRegion = yield* Effect.flip(BedrockProvider.make({ env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } }))
      assert.strictEqual(noRegion._tag, "BedrockConfigError")
      assert.include(noRegion.message, "AWS_REGION")

      const halfKeys = yield* Effect.flip(BedrockProvider.make({ name: "aws", env: { AWS_REGION: region, AWS_SECRET_ACCESS_KEY: secretAccessKey } }))
      assert.strictEqual(halfKeys._tag, "BedrockConfigError")
      assert.strictEqual(halfKeys.provider, "aws")
      assert.include(halfKeys.message, "AWS_ACCESS_KEY_ID")
      assert.notInclude(halfKeys.message, "AWS_SECRET_ACCESS_KEY")
      assert.notInclude(JSON.stringify(halfKeys), secretAccessKey)

      const emptySecret = yield* Effect.flip(BedrockProvider.make({
        region,
        env: {},
        credentials: { accessKeyId, secretAccessKey: Redacted.make("") }
      }))
      assert.include(emptySecret.message, "secretAccessKey")

      // A layer that cannot build its provider fails to build.
      const layerError = yield* Effect.flip(Layer.build(Layer.provide(BedrockProvider.layer({ env: {} }), ProviderRegistry.layer)))
      assert.strictEqual(layerError._tag, "BedrockConfigError")
    }))
})

describe("BedrockProvider timeouts", () => {
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
      assert.isTrue(isRetryable(error))
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

describe("BedrockProvider.serves, listModels and layer", () => {
  it.scoped("by default Bedrock's model ids, inference profiles and ARNs; with models, exactly those patterns", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => converse(helloResponse))
      assert.strictEqual(provider.name, "bedrock")
      assert.strictEqual(provider.kind, "bedrock")
      assert.isFalse(provider.supportsPrefill)
      for (const id of [model, "amazon.nova-pro-v1:0", "meta.llama3-1-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0", "cohere.command-r-plus-v1:0", "ai21.jamba-1-5-large-v1:0", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", "eu.amazon.nova-lite-v1:0", "apac.anthropic.claude-3-haiku-20240307-v1:0", "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"]) {
        assert.isTrue(provider.serves(id), id)
      }
      assert.isFalse(provider.serves("gpt-4o"))
      assert.isFalse(provider.serves("claude-sonnet-4-5"))
      // The catalogue of foundation models is another service (bedrock's ListFoundationModels): nothing is listed.
      assert.deepStrictEqual(yield* provider.listModels, [])

      const scoped = yield* build(() => converse(helloResponse), { name: "aws", models: ["anthropic.claude-3-5-*", "amazon.nova-pro-v1:0"] })
      assert.isTrue(scoped.provider.serves(model))
      assert.isTrue(scoped.provider.serves("amazon.nova-pro-v1:0"))
      assert.isFalse(scoped.provider.serves("amazon.nova-lite-v1:0"))
      assert.deepStrictEqual(yield* scoped.provider.listModels, [
        { id: "amazon.nova-pro-v1:0", object: "model", created: 0, owned_by: "aws" }
      ])
      assert.strictEqual(requests.length, 0)
    }))

  it.scoped("layer registers the provider under its name", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => converse(helloResponse))
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(registry.all().map((p) => p.name), ["aws", "bedrock"])
        const aws = Option.getOrThrow(registry.get("aws"))
        const response = yield* aws.chat(request)
        assert.strictEqual(response.id, requestId)
        assert.match(upstream.requests[0]!.headers["authorization"]!, /^AWS4-HMAC-SHA256 /)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(
              BedrockProvider.layer({ name: "aws", region, env: {}, credentials, baseUrl: upstream.origin }),
              BedrockProvider.layer({ region, env: {}, credentials, baseUrl: "http://127.0.0.1:9" })
            ),
            ProviderRegistry.layer
          )
        )
      )
    }))
})

describe("BedrockProvider capabilities: chat", () => {
  it.scoped("what Converse maps is honoured, what it drops is not; Converse's own fields are vendor fields; nothing unknown is forwarded", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(FakeUpstream.never)
      const support = provider.capabilities!.chat
      for (const honoured of ["temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice"] as const) {
        assert.isTrue(support.parameters[honoured], honoured)
      }
      for (const dropped of ["n", "seed", "user", "metadata", "response_format", "parallel_tool_calls", "logprobs", "reasoning_effort"] as const) {
        assert.isFalse(support.parameters[dropped], dropped)
      }
      assert.includeMembers([...support.vendorFields!], ["additionalModelRequestFields", "guardrailConfig", "performanceConfig"])
      assert.isFalse(support.forwardsUnknown)

      const unsupported = Capabilities.check("chat", support)
      assert.isUndefined(unsupported({ ...request, temperature: 0.2, n: 1, parallel_tool_calls: true, guardrailConfig: { guardrailIdentifier: "g" } }))
      assert.deepStrictEqual(unsupported({ ...request, n: 2, seed: 7, parallel_tool_calls: false, top_k: 5 }), ["n", "seed", "parallel_tool_calls", "top_k"])
    }))

  it.scoped("the unsupportedParams option is the provider's policy (none set: the gateway's default)", () =>
    Effect.gen(function*() {
      assert.isUndefined((yield* build(FakeUpstream.never)).provider.unsupportedParams)
      assert.strictEqual((yield* build(FakeUpstream.never, { unsupportedParams: "reject" })).provider.unsupportedParams, "reject")
    }))
})
