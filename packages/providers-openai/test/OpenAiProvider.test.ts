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
import * as OpenAiProvider from "../src/OpenAiProvider.js"
import * as FakeUpstream from "./FakeUpstream.js"
import { apiKey, build, secret } from "./FakeUpstream.js"


const request: ChatRequest = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] }

const completion = {
  id: "chatcmpl-abc123",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-mini-2024-07-18",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello! How can I help?", refusal: null, annotations: [] },
    logprobs: null,
    finish_reason: "stop"
  }],
  usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
  service_tier: "default",
  system_fingerprint: "fp_06737a9306"
}


describe("OpenAiProvider.chat", () => {
  it.scoped("sends the canonical request as it is to baseUrl/chat/completions", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(completion), {
        headers: { "OpenAI-Organization": "org-123", "x-team": "search" }
      })
      const withUnknownFields = {
        ...request,
        temperature: 0.2,
        metadata: { trace: "t-1" },
        service_tier: "flex",
        prediction: { type: "content", content: "Hello" },
        messages: [{ role: "user" as const, content: "Say hello", vendor_extension: { keep: true } }]
      }
      yield* provider.chat(withUnknownFields)
      assert.strictEqual(requests.length, 1)
      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.path, "/v1/chat/completions")
      assert.strictEqual(sent.url, `${upstream.baseUrl}/chat/completions`)
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.strictEqual(sent.headers["accept"], "application/json")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.strictEqual(sent.headers["openai-organization"], "org-123")
      assert.strictEqual(sent.headers["x-team"], "search")
      assert.deepStrictEqual(sent.body, withUnknownFields)
    }))

  it.scoped("sends no authorization header without an API key, and joins a base URL ending in /", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(completion))
      const provider = yield* OpenAiProvider.make({ baseUrl: `${upstream.baseUrl}/` })
      yield* provider.chat(request)
      assert.strictEqual(upstream.requests[0]!.url, `${upstream.origin}/v1/chat/completions`)
      assert.isUndefined(upstream.requests[0]!.headers["authorization"])
    }))

  it.scoped("sends the authorization and custom headers as configured; errors never carry the key or credential-like header values", () =>
    Effect.gen(function*() {
      const headers = { "api-key": "azure-secret", "x-team": "search" }
      // An upstream that refuses the request and echoes every header it received.
      const { provider, requests } = yield* build(
        (exchange) =>
          FakeUpstream.json({
            error: { message: `bad credentials: ${JSON.stringify(exchange.headers)}`, type: "invalid_request_error" }
          }, { status: 401 }),
        { headers }
      )
      const rejected = yield* Effect.flip(provider.chat(request))
      const sent = requests[0]!
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.strictEqual(sent.headers["api-key"], "azure-secret")
      assert.strictEqual(sent.headers["x-team"], "search")
      assert(rejected._tag === "ProviderStatusError")
      assert.strictEqual(rejected.status, 401)
      assert.include(rejected.body, "search")
      for (const text of [JSON.stringify(rejected), String(rejected), rejected.message]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "azure-secret")
      }

      const port = yield* FakeUpstream.closedPort
      const unreachable = yield* OpenAiProvider.make({ apiKey, baseUrl: `http://127.0.0.1:${port}/v1`, headers })
      const broken = yield* Effect.flip(unreachable.chat(request))
      assert(broken._tag === "ProviderUnreachable")
      for (const text of [JSON.stringify(broken), String(broken), broken.detail]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, "azure-secret")
      }
    }))

  it.scoped("apiKeyHeader: the bare key in that header instead of a bearer token, redacted all the same", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(
        (exchange) =>
          FakeUpstream.json({
            error: { message: `bad credentials: ${JSON.stringify(exchange.headers)}`, type: "invalid_request_error" }
          }, { status: 401 }),
        { apiKeyHeader: "Api-Key" }
      )
      const rejected = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(requests[0]!.headers["api-key"], secret)
      assert.isUndefined(requests[0]!.headers["authorization"])
      assert(rejected._tag === "ProviderStatusError")
      for (const text of [JSON.stringify(rejected), String(rejected), rejected.message]) {
        assert.notInclude(text, secret)
      }
    }))

  describe("assistant prefill (what mid-stream failover continues on)", () => {
    const prefilled: ChatRequest = {
      ...request,
      messages: [...request.messages, { role: "assistant", content: "Hello, wor", prefix: true }]
    }

    it.scoped("without a prefill style the provider does not claim to continue one", () =>
      Effect.gen(function*() {
        const { provider } = yield* build(() => FakeUpstream.json(completion))
        assert.notStrictEqual(provider.supportsPrefill, true)
      }))

    it.scoped("prefix: the trailing assistant message goes as it is (Mistral, DeepSeek)", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(() => FakeUpstream.json(completion), { prefill: "prefix" })
        assert.isTrue(provider.supportsPrefill)
        yield* provider.chat(prefilled)
        assert.deepStrictEqual(requests[0]!.body, prefilled)
      }))

    it.scoped("continue_final_message: vLLM's flags instead of the prefix mark, streams included", () =>
      Effect.gen(function*() {
        const { provider, requests } = yield* build(
          () => FakeUpstream.sse(`data: ${JSON.stringify({ ...completion, object: "chat.completion.chunk", choices: [] })}\n\ndata: [DONE]\n\n`),
          { prefill: "continue_final_message" }
        )
        assert.isTrue(provider.supportsPrefill)
        yield* provider.chat(prefilled).pipe(Effect.ignore)
        const sent = requests[0]!.body as Record<string, unknown>
        assert.deepStrictEqual(sent.messages, [...request.messages, { role: "assistant", content: "Hello, wor" }])
        assert.strictEqual(sent.continue_final_message, true)
        assert.strictEqual(sent.add_generation_prompt, false)
        yield* Effect.scoped(Effect.flatMap(provider.openStream!(prefilled), (pull) => pull)).pipe(Effect.ignore)
        const streamed = requests[1]!.body as Record<string, unknown>
        assert.deepStrictEqual(streamed.messages, sent.messages)
        assert.strictEqual(streamed.continue_final_message, true)
        assert.strictEqual(streamed.stream, true)
        // A request that does not end with a prefill is sent untouched.
        yield* provider.chat(request).pipe(Effect.ignore)
        assert.deepStrictEqual(requests[2]!.body, request)
      }))
  })

  it.scoped("parses a completion, keeping fields it does not model", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(completion))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response, completion as unknown)
      assert.strictEqual(response.choices[0]!.message.content, "Hello! How can I help?")
      assert.strictEqual((response as Record<string, unknown>).system_fingerprint, "fp_06737a9306")
    }))

  it.scoped("a 200 that is not JSON is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(error._tag, "ProviderOutputError")
      assert.isFalse(isRetryable(error))
    }))

  it.scoped("a 200 JSON without choices is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({ id: "x", object: "chat.completion" }))
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(error._tag, "ProviderOutputError")
    }))

  it.scoped("a 200 carrying an error envelope (some compatible servers) is a ProviderStatusError", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json({ error: { message: "upstream overloaded", code: 503 } })
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.upstreamMessage, "upstream overloaded")
      assert.isTrue(isRetryable(error))
    }))
})

describe("OpenAiProvider errors", () => {
  it.scoped("429 with retry-after-ms is retryable and carries the delay", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json({
          error: {
            message: "Rate limit reached for gpt-4o-mini in organization org-123 on requests per min (RPM): Limit 3, Used 3.",
            type: "requests",
            param: null,
            code: "rate_limit_exceeded"
          }
        }, { status: 429, headers: { "retry-after-ms": "1500", "retry-after": "2" } })
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 429)
      assert.isTrue(isRetryable(error))
      assert.strictEqual(error.retryAfterMillis, 1500)
      assert.strictEqual(error.upstreamCode, "rate_limit_exceeded")
      assert.strictEqual(error.upstreamType, "requests")
      assert.match(error.message, /Rate limit reached/)
    }))

  it.scoped("retry-after in seconds and as an HTTP date", () =>
    Effect.gen(function*() {
      const seconds = yield* build(() => ({ status: 429, headers: { "retry-after": "7" }, body: "slow down" }))
      const e1 = yield* Effect.flip(seconds.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.retryAfterMillis, 7000)
      assert.strictEqual(e1.body, "slow down")
      assert.isUndefined(e1.upstreamMessage)

      yield* TestClock.setTime(Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))
      const date = yield* build(() => ({ status: 503, headers: { "retry-after": "Wed, 21 Oct 2015 07:28:30 GMT" }, body: "" }))
      const e2 = yield* Effect.flip(date.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 503)
      assert.strictEqual(e2.retryAfterMillis, 30_000)
      assert.isTrue(isRetryable(e2))
    }))

  it.scoped("400 is terminal and carries the upstream message, type and code", () =>
    Effect.gen(function*() {
      const body = {
        error: {
          message: "Invalid value for 'temperature': expected a number between 0 and 2.",
          type: "invalid_request_error",
          param: "temperature",
          code: "invalid_value"
        }
      }
      const { provider } = yield* build(() => FakeUpstream.json(body, { status: 400 }))
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.isFalse(isRetryable(error))
      assert.strictEqual(error.upstreamMessage, body.error.message)
      assert.strictEqual(error.upstreamType, "invalid_request_error")
      assert.strictEqual(error.upstreamCode, "invalid_value")
      assert.strictEqual(error.upstreamParam, "temperature")
      assert.strictEqual(error.message, body.error.message)
      assert.isUndefined(error.retryAfterMillis)
      assert.deepStrictEqual(JSON.parse(error.body), body)
    }))

  it.scoped("a 401 whose body echoes the API key never carries the key", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() =>
        FakeUpstream.json({
          error: {
            message: `Incorrect API key provided: ${secret}. You can find your API key at https://platform.openai.com/account/api-keys.`,
            type: "invalid_request_error",
            param: null,
            code: "invalid_api_key"
          }
        }, { status: 401 })
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 401)
      assert.include(error.body, "[REDACTED]")
      assert.include(error.upstreamMessage ?? "", "[REDACTED]")
      assert.include(error.message, "[REDACTED]")
      assert.notInclude(error.body, secret)
      assert.notInclude(error.message, secret)
      assert.notInclude(JSON.stringify(error), secret)
      assert.notInclude(String(error), secret)
    }))

  it.scoped("a credential-like custom header echoed in a body is redacted too", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => ({ status: 401, body: "bad api-key azure-secret-42" }), {
        apiKey: undefined,
        headers: { "api-key": "azure-secret-42" }
      })
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.body, "bad api-key [REDACTED]")
    }))

  it.scoped("reads at most 64 KiB of an error body", () =>
    Effect.gen(function*() {
      const huge = "x".repeat(1024 * 1024)
      const { provider } = yield* build(() => ({ status: 500, body: FakeUpstream.inPieces(huge, 16 * 1024) }))
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.body.length, 64 * 1024)
    }))

  it.scoped("a transport failure is ProviderUnreachable (retryable)", () =>
    Effect.gen(function*() {
      const port = yield* FakeUpstream.closedPort
      const provider = yield* OpenAiProvider.make({ apiKey, baseUrl: `http://127.0.0.1:${port}/v1` })
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderUnreachable")
      assert.strictEqual(error.provider, "openai")
      assert.isTrue(isRetryable(error))
      assert.include(error.detail, "ECONNREFUSED")
      assert.include(error.detail, `http://127.0.0.1:${port}/v1/chat/completions`)
      assert.notInclude(JSON.stringify(error), secret)
    }))

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

  it.scoped("a call's own shorter timeout (a target's) bounds it on the wire; a longer one does not extend the provider's", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
      assert.isTrue(provider.enforcesTimeouts)
      const short = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 2000 })))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("2 seconds")
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
      const { provider, requests, upstream } = yield* build(FakeUpstream.never)
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request)))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.isFalse(requests[0]!.aborted)
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 600_000)
      yield* FakeUpstream.abortedBy(upstream)
    }))
})

describe("OpenAiProvider.listModels", () => {
  it.scoped("asks GET /models when no models are configured", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() =>
        FakeUpstream.json({
          object: "list",
          data: [
            { id: "gpt-4o-mini", object: "model", created: 1721172741, owned_by: "system" },
            { id: "o3-mini", object: "model", created: 1737146383, owned_by: "system" },
            { id: "llama3.2:latest", object: "model" },
            { object: "model" }
          ]
        })
      )
      const models = yield* provider.listModels
      assert.strictEqual(requests[0]!.method, "GET")
      assert.strictEqual(requests[0]!.url, `${upstream.baseUrl}/models`)
      assert.isUndefined(requests[0]!.body)
      assert.deepStrictEqual(models, [
        { id: "gpt-4o-mini", object: "model", created: 1721172741, owned_by: "system" },
        { id: "o3-mini", object: "model", created: 1737146383, owned_by: "system" },
        { id: "llama3.2:latest", object: "model", created: 0, owned_by: "openai" }
      ])
    }))

  it.scoped("lists the configured models without wildcards, without a request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json({}), {
        name: "local",
        models: ["llama3.2", "qwen2.5-*", "mistral-small"]
      })
      const models = yield* provider.listModels
      assert.strictEqual(requests.length, 0)
      assert.deepStrictEqual(models, [
        { id: "llama3.2", object: "model", created: 0, owned_by: "local" },
        { id: "mistral-small", object: "model", created: 0, owned_by: "local" }
      ])
    }))

  it.scoped("a failing GET /models is classified like chat", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({ error: { message: "nope" } }, { status: 403 }))
      const error = yield* Effect.flip(provider.listModels)
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 403)
    }))
})

describe("OpenAiProvider.serves", () => {
  it.scoped("by default, the OpenAI families", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}))
      assert.strictEqual(provider.name, "openai")
      assert.strictEqual(provider.kind, "openai")
      for (const family of Provider.modelFamilies("openai")) {
        assert.isTrue(provider.serves(family.replace("*", "x")), family)
      }
      assert.isTrue(provider.serves("gpt-4o-mini"))
      assert.isTrue(provider.serves("o3-mini"))
      assert.isFalse(provider.serves("claude-3-5-sonnet"))
      assert.isFalse(provider.serves("llama3.2"))
    }))

  it.scoped("with models, exactly those patterns", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}), {
        name: "vllm",
        models: ["meta-llama/*", "qwen2.5-coder"]
      })
      assert.strictEqual(provider.name, "vllm")
      assert.isTrue(provider.serves("meta-llama/Llama-3.1-8B-Instruct"))
      assert.isTrue(provider.serves("qwen2.5-coder"))
      assert.isFalse(provider.serves("qwen2.5-coder-32b"))
      assert.isFalse(provider.serves("gpt-4o"))
    }))

  it.scoped("without models, the families given instead of OpenAI's; none serves no model by name", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}), { families: ["deepseek-*"] })
      assert.isTrue(provider.serves("deepseek-chat"))
      assert.isFalse(provider.serves("gpt-4o"))
      const none = (yield* build(() => FakeUpstream.json({}), { families: [] })).provider
      assert.isFalse(none.serves("gpt-4o"))
      assert.isFalse(none.serves("llama-3.3-70b"))
      const listed = (yield* build(() => FakeUpstream.json({}), { families: [], models: ["llama-*"] })).provider
      assert.isTrue(listed.serves("llama-3.3-70b"))
    }))
})

describe("OpenAiProvider.layer", () => {
  it.scoped("registers the provider under its name", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(completion))
      // The providers' connection pools live as long as the Layer: use them inside it.
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(registry.all().map((p) => p.name), ["primary", "local"])
        const primary = Option.getOrThrow(registry.get("primary"))
        const response = yield* primary.chat(request)
        assert.strictEqual(response.id, "chatcmpl-abc123")
        assert.strictEqual(upstream.requests.length, 1)
        assert.strictEqual(upstream.requests[0]!.headers["authorization"], `Bearer ${secret}`)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(
              OpenAiProvider.layer({ name: "primary", apiKey, baseUrl: upstream.baseUrl }),
              OpenAiProvider.layer({ name: "local", baseUrl: "http://127.0.0.1:8000/v1", models: ["llama*"] })
            ),
            ProviderRegistry.layer
          )
        )
      )
    }))
})
