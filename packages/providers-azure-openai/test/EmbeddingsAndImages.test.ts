import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import { toBase64 } from "@switchyard/core/EmbeddingSchema"
import { isRetryable, type ProviderError } from "@switchyard/core/GatewayError"
import type { ImageRequest } from "@switchyard/core/ImageSchema"
import type * as Provider from "@switchyard/core/Provider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./AzureUpstream.js"
import { build, entraSecret, operationPath, secret } from "./AzureUpstream.js"
import { errors, imageContentFilterError, referenceEmbeddings, referenceImage } from "./fixtures/azureWire.js"

// The REST reference's examples (https://learn.microsoft.com/azure/ai-services/openai/reference),
// with the model the gateway names and a field Azure may add later.
const embeddingRequest: EmbeddingRequest = {
  model: "text-embedding-3-small",
  input: ["this is a test"],
  dimensions: 3,
  input_type: "query"
}

const imageRequest: ImageRequest = {
  model: "dall-e-3",
  prompt: "In the style of WordArt, Microsoft Clippy wearing a cowboy hat.",
  n: 1,
  style: "natural",
  quality: "standard"
}

describe("AzureOpenAiProvider.embed (https://learn.microsoft.com/azure/ai-services/openai/reference#embeddings)", () => {
  it.scoped("POSTs the body as it is to the deployment's embeddings URL with the api-key, and answers as Azure does", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(referenceEmbeddings), {
        deployments: { "text-embedding-3-small": "embed-small-eastus" }
      })
      const response = yield* provider.embed!(embeddingRequest)
      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}${operationPath("embed-small-eastus", "embeddings")}`)
      assert.strictEqual(sent.headers["api-key"], secret)
      assert.isUndefined(sent.headers["authorization"])
      assert.deepStrictEqual(sent.body, embeddingRequest)
      assert.deepStrictEqual(response, referenceEmbeddings as unknown)
    }))

  it.scoped("base64 vectors pass through untouched", () =>
    Effect.gen(function*() {
      const encoded = { ...referenceEmbeddings, data: [{ index: 0, object: "embedding", embedding: toBase64([0.25, -0.5]) }] }
      const { provider, requests } = yield* build(() => FakeUpstream.json(encoded))
      const request = { ...embeddingRequest, encoding_format: "base64" as const }
      const response = yield* provider.embed!(request)
      assert.deepStrictEqual(requests[0]!.body, request)
      assert.deepStrictEqual(response, encoded as unknown)
    }))
})

describe("AzureOpenAiProvider.image (https://learn.microsoft.com/azure/ai-services/openai/how-to/dall-e)", () => {
  it.scoped("POSTs the body as it is to the deployment's images/generations URL; the URL and annotations pass through", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(referenceImage))
      const response = yield* provider.image!(imageRequest)
      const sent = requests[0]!
      assert.strictEqual(sent.url, `${upstream.origin}${operationPath("dall-e-3", "images/generations")}`)
      assert.strictEqual(sent.headers["api-key"], secret)
      assert.deepStrictEqual(sent.body, imageRequest)
      assert.deepStrictEqual(response, referenceImage as unknown)
    }))

  it.scoped("b64_json answers pass through", () =>
    Effect.gen(function*() {
      const b64 = { created: 1698342300, data: [{ b64_json: "iVBORw0KGgo=", revised_prompt: "Clippy in a hat." }] }
      const { provider, requests } = yield* build(() => FakeUpstream.json(b64))
      const request = { ...imageRequest, response_format: "b64_json" as const }
      assert.deepStrictEqual(yield* provider.image!(request), b64 as unknown)
      assert.deepStrictEqual(requests[0]!.body, request)
    }))

  it.scoped("a prompt the safety system refused: a terminal 400 with code contentFilter and Azure's message", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(imageContentFilterError, { status: 400 }))
      const error = yield* Effect.flip(provider.image!(imageRequest))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamCode, "contentFilter")
      assert.strictEqual(error.message, imageContentFilterError.error.message)
      assert.isFalse(isRetryable(error))
    }))

  it.scoped("stream: true is refused with a 400 naming the parameter, before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(referenceImage))
      const error = yield* Effect.flip(provider.image!({ ...imageRequest, stream: true }))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamParam, "stream")
      assert.include(error.message, "streaming image generation is not supported")
      assert.strictEqual(requests.length, 0)
    }))
})

interface Operation {
  readonly name: string
  readonly operation: "embeddings" | "images/generations"
  readonly deployment: string
  readonly call: (provider: Provider.Provider, options?: Provider.CallOptions) => Effect.Effect<unknown, ProviderError>
}

const operations: ReadonlyArray<Operation> = [
  {
    name: "embed",
    operation: "embeddings",
    deployment: "text-embedding-3-small",
    call: (provider, options) => provider.embed!(embeddingRequest, options)
  },
  {
    name: "image",
    operation: "images/generations",
    deployment: "dall-e-3",
    call: (provider, options) => provider.image!(imageRequest, options)
  }
]

describe("AzureOpenAiProvider.embed and .image, like chat", () => {
  for (const operation of operations) {
    describe(operation.name, () => {
      it.scoped("a Microsoft Entra ID token from an Effect is asked for on every request and sent as a bearer token", () =>
        Effect.gen(function*() {
          let issued = 0
          const answer = operation.name === "embed" ? referenceEmbeddings : referenceImage
          const { provider, requests } = yield* build(() => FakeUpstream.json(answer), {
            entraToken: Effect.sync(() => Redacted.make(`entra-token-${++issued}`))
          })
          yield* operation.call(provider)
          yield* operation.call(provider)
          assert.deepStrictEqual(requests.map((r) => r.headers["authorization"]), ["Bearer entra-token-1", "Bearer entra-token-2"])
          assert.isTrue(requests.every((r) => r.headers["api-key"] === undefined))
        }))

      it.scoped("401, 429 and 500 in Azure's envelope: the status, code and message; retryable for 429 and 500", () =>
        Effect.gen(function*() {
          const classes = [
            [401, errors.unauthorized, "401", false],
            [429, errors.rateLimited, "429", true],
            [500, errors.serverError, undefined, true]
          ] as const
          for (const [status, body, code, retryable] of classes) {
            const { provider, requests } = yield* build(() => FakeUpstream.json(body, { status }))
            const error = yield* Effect.flip(operation.call(provider))
            assert(error._tag === "ProviderStatusError", String(status))
            assert.strictEqual(error.status, status)
            assert.strictEqual(error.upstreamCode, code, String(status))
            assert.strictEqual(error.message, body.error.message)
            assert.strictEqual(isRetryable(error), retryable, String(status))
            assert.strictEqual(requests[0]!.path, operationPath(operation.deployment, operation.operation))
          }
        }))

      it.scoped("the key and tokens never appear in an error, even when the upstream echoes them", () =>
        Effect.gen(function*() {
          const echo = (exchange: FakeUpstream.Exchange) =>
            FakeUpstream.json({
              error: { code: "401", message: `bad credentials: ${exchange.headers["api-key"]} ${exchange.headers["authorization"]}` }
            }, { status: 401 })
          for (const auth of [{}, { entraToken: Redacted.make(entraSecret) }]) {
            const { provider } = yield* build(echo, auth)
            const error = yield* Effect.flip(operation.call(provider))
            assert(error._tag === "ProviderStatusError")
            assert.include(error.message, "[REDACTED]")
            for (const text of [JSON.stringify(error), String(error), error.message]) {
              assert.notInclude(text, secret)
              assert.notInclude(text, entraSecret)
            }
          }
        }))

      it.scoped("a 200 that is not JSON or has no data array is a ProviderOutputError; a 200 error envelope is that error", () =>
        Effect.gen(function*() {
          const html = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
          assert.strictEqual((yield* Effect.flip(operation.call(html.provider)))._tag, "ProviderOutputError")

          const shapeless = yield* build(() => FakeUpstream.json({ created: 1698342300 }))
          assert.strictEqual((yield* Effect.flip(operation.call(shapeless.provider)))._tag, "ProviderOutputError")

          const envelope = yield* build(() => FakeUpstream.json({ error: { code: "429", message: "Too many requests" } }))
          const error = yield* Effect.flip(operation.call(envelope.provider))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, 429)
          assert.isTrue(isRetryable(error))
        }))

      it.scoped("the call's timeout bounds it on the wire", () =>
        Effect.gen(function*() {
          const { provider, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
          const fiber = yield* Effect.fork(Effect.flip(operation.call(provider, { timeoutMillis: 2000 })))
          yield* FakeUpstream.received(upstream)
          yield* TestClock.adjust("1999 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
          yield* TestClock.adjust("1 millis")
          const error = yield* Fiber.join(fiber)
          assert(error._tag === "ProviderTimeout")
          assert.strictEqual(error.afterMillis, 2000)
          yield* FakeUpstream.abortedBy(upstream)
        }))
    })
  }
})

describe("AzureOpenAiProvider capabilities", () => {
  it.scoped("chat, embeddings and images, every parameter honoured; the unsupported-parameter policy as configured", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json({}), { unsupportedParams: "reject" })
      assert.deepStrictEqual(provider.capabilities, {
        chat: Capabilities.everything("chat"),
        embeddings: Capabilities.everything("embeddings"),
        images: Capabilities.everything("images")
      })
      assert.strictEqual(provider.unsupportedParams, "reject")
      const { provider: plain } = yield* build(() => FakeUpstream.json({}))
      assert.isUndefined(plain.unsupportedParams)
    }))
})
