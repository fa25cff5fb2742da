import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import { isRetryable, type ProviderError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./FakeUpstream.js"
import { build, secret } from "./FakeUpstream.js"
import {
  b64Image,
  base64Embeddings,
  embeddingRequest,
  errors,
  floatEmbeddings,
  gptImageRequest,
  urlImage,
  urlImageRequest,
  vector
} from "./fixtures/openaiOperations.js"

const float32s = (base64: string): Array<number> => {
  const bytes = Buffer.from(base64, "base64")
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))
}

describe("OpenAiProvider.embed (https://platform.openai.com/docs/api-reference/embeddings/create)", () => {
  it.scoped("POSTs the request as it is to baseUrl/embeddings, unknown fields included, and answers the floats", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(floatEmbeddings), {
        headers: { "OpenAI-Organization": "org-123" }
      })
      const response = yield* provider.embed!(embeddingRequest)
      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.baseUrl}/embeddings`)
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.strictEqual(sent.headers["openai-organization"], "org-123")
      assert.deepStrictEqual(sent.body, embeddingRequest)
      assert.deepStrictEqual(response, floatEmbeddings as unknown)
      assert.deepStrictEqual(response.data[0]!.embedding, vector)
    }))

  it.scoped("encoding_format base64: the upstream's base64 vectors pass through untouched", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(base64Embeddings))
      const request = { ...embeddingRequest, input: ["first", "second"], encoding_format: "base64" as const }
      const response = yield* provider.embed!(request)
      assert.strictEqual((requests[0]!.body as typeof request).encoding_format, "base64")
      assert.deepStrictEqual(response, base64Embeddings as unknown)
      const first = response.data[0]!.embedding
      assert(typeof first === "string")
      float32s(first).forEach((x, i) => assert.closeTo(x, vector[i]!, 1e-7))
      assert.deepStrictEqual(float32s(response.data[1]!.embedding as string), [1, -1, 0.5])
    }))

  it.scoped("an answer without usage (some compatible servers) is given a zero one", () =>
    Effect.gen(function*() {
      const { usage: _, ...withoutUsage } = floatEmbeddings
      const { provider } = yield* build(() => FakeUpstream.json(withoutUsage))
      const response = yield* provider.embed!(embeddingRequest)
      assert.deepStrictEqual(response, { ...withoutUsage, usage: { prompt_tokens: 0, total_tokens: 0 } } as unknown)
    }))
})

describe("OpenAiProvider.image (https://platform.openai.com/docs/api-reference/images/create)", () => {
  it.scoped("POSTs the request as it is to baseUrl/images/generations and answers b64_json, usage and extras kept", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(b64Image))
      const response = yield* provider.image!(gptImageRequest)
      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.baseUrl}/images/generations`)
      assert.strictEqual(sent.headers["authorization"], `Bearer ${secret}`)
      assert.deepStrictEqual(sent.body, gptImageRequest)
      assert.deepStrictEqual(response, b64Image as unknown)
      assert.strictEqual(response.usage?.total_tokens, 100)
      assert.strictEqual(response.output_format, "png")
    }))

  it.scoped("answers a URL and its revised prompt", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(urlImage))
      const response = yield* provider.image!(urlImageRequest)
      assert.deepStrictEqual(requests[0]!.body, urlImageRequest)
      assert.deepStrictEqual(response, urlImage as unknown)
      assert.strictEqual(response.data[0]!.url, urlImage.data[0]!.url)
    }))

  it.scoped("stream: true is refused with a 400 naming the parameter, before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(b64Image))
      const error = yield* Effect.flip(provider.image!({ ...gptImageRequest, stream: true, partial_images: 2 }))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamParam, "stream")
      assert.include(error.message, "streaming image generation is not supported")
      assert.isFalse(isRetryable(error))
      assert.strictEqual(requests.length, 0)
      // stream: false is an ordinary request
      yield* provider.image!({ ...gptImageRequest, stream: false })
      assert.strictEqual(requests.length, 1)
    }))
})

/** An operation, called with its fixture request. */
interface Operation {
  readonly name: string
  readonly path: string
  readonly call: (provider: Provider.Provider, options?: Provider.CallOptions) => Effect.Effect<unknown, ProviderError>
}

const operations: ReadonlyArray<Operation> = [
  {
    name: "embed",
    path: "/v1/embeddings",
    call: (p: Provider.Provider, options?: Provider.CallOptions) => p.embed!(embeddingRequest, options)
  },
  {
    name: "image",
    path: "/v1/images/generations",
    call: (p: Provider.Provider, options?: Provider.CallOptions) => p.image!(gptImageRequest, options)
  }

]

describe("OpenAiProvider.embed and .image failures", () => {
  for (const operation of operations) {
    describe(operation.name, () => {
      it.scoped("401 is terminal, its message passes through, and the key it echoes is redacted", () =>
        Effect.gen(function*() {
          const { provider } = yield* build(() => FakeUpstream.json(errors.invalidApiKey(secret), { status: 401 }))
          const error = yield* Effect.flip(operation.call(provider))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, 401)
          assert.isFalse(isRetryable(error))
          assert.strictEqual(error.upstreamCode, "invalid_api_key")
          assert.match(error.message, /^Incorrect API key provided: \[REDACTED\]\./)
          for (const text of [JSON.stringify(error), String(error), error.message, error.body]) {
            assert.notInclude(text, secret)
          }
        }))

      it.scoped("429 is retryable and carries its delay; 500 is retryable", () =>
        Effect.gen(function*() {
          const limited = yield* build(() =>
            FakeUpstream.json(errors.rateLimited, { status: 429, headers: { "retry-after-ms": "1200" } })
          )
          const e1 = yield* Effect.flip(operation.call(limited.provider))
          assert(e1._tag === "ProviderStatusError")
          assert.strictEqual(e1.status, 429)
          assert.isTrue(isRetryable(e1))
          assert.strictEqual(e1.retryAfterMillis, 1200)
          assert.strictEqual(e1.upstreamCode, "rate_limit_exceeded")
          assert.strictEqual(e1.message, errors.rateLimited.error.message)

          const failing = yield* build(() => FakeUpstream.json(errors.serverError, { status: 500 }))
          const e2 = yield* Effect.flip(operation.call(failing.provider))
          assert(e2._tag === "ProviderStatusError")
          assert.strictEqual(e2.status, 500)
          assert.isTrue(isRetryable(e2))
          assert.strictEqual(e2.upstreamType, "server_error")
          assert.strictEqual(e2.message, errors.serverError.error.message)
          assert.strictEqual(failing.requests[0]!.path, operation.path)
        }))

      it.scoped("a 200 that is not JSON, or JSON without a data array, is a terminal ProviderOutputError", () =>
        Effect.gen(function*() {
          const html = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
          const e1 = yield* Effect.flip(operation.call(html.provider))
          assert(e1._tag === "ProviderOutputError")
          assert.include(e1.detail, "not JSON")
          assert.isFalse(isRetryable(e1))

          const shapeless = yield* build(() => FakeUpstream.json({ object: "list", data: "nothing" }))
          const e2 = yield* Effect.flip(operation.call(shapeless.provider))
          assert(e2._tag === "ProviderOutputError")
          assert.include(e2.detail, "with a data array")
        }))

      it.scoped("a 200 carrying an error envelope is that error", () =>
        Effect.gen(function*() {
          const { provider } = yield* build(() => FakeUpstream.json({ error: { message: "upstream overloaded", code: 503 } }))
          const error = yield* Effect.flip(operation.call(provider))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, 503)
          assert.strictEqual(error.upstreamMessage, "upstream overloaded")
          assert.isTrue(isRetryable(error))
        }))

      it.scoped("no answer within the call's timeout is ProviderTimeout, and the request is aborted", () =>
        Effect.gen(function*() {
          const { provider, requests, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
          const fiber = yield* Effect.fork(Effect.flip(operation.call(provider, { timeoutMillis: 5000 })))
          yield* FakeUpstream.received(upstream)
          yield* TestClock.adjust("4999 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
          assert.isFalse(requests[0]!.aborted)
          yield* TestClock.adjust("1 millis")
          const error = yield* Fiber.join(fiber)
          assert(error._tag === "ProviderTimeout")
          assert.strictEqual(error.afterMillis, 5000)
          assert.isTrue(isRetryable(error))
          yield* FakeUpstream.abortedBy(upstream)
        }))
    })
  }
})

describe("OpenAiProvider capabilities", () => {
  it.scoped("by default: chat, embeddings and images, every parameter honoured and unknown fields forwarded", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}))
      assert.isDefined(provider.embed)
      assert.isDefined(provider.image)
      assert.deepStrictEqual(provider.capabilities, {
        chat: Capabilities.everything("chat"),
        embeddings: Capabilities.everything("embeddings"),
        images: Capabilities.everything("images")
      })
      assert.isUndefined(provider.unsupportedParams)
    }))

  it.scoped("unsupported parameters, operations left out and the policy, as configured", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}), {
        unsupported: { chat: ["logit_bias"], images: ["style"] },
        operations: { embeddings: false },
        unsupportedParams: "reject"
      })
      assert.isUndefined(provider.embed)
      assert.isUndefined(provider.capabilities?.embeddings)
      assert.isDefined(provider.image)
      assert.isFalse(provider.capabilities?.chat.parameters.logit_bias)
      assert.isTrue(provider.capabilities?.chat.parameters.temperature)
      assert.isFalse(provider.capabilities?.images?.parameters.style)
      assert.isTrue(provider.capabilities?.chat.forwardsUnknown)
      assert.strictEqual(provider.unsupportedParams, "reject")
    }))
})
