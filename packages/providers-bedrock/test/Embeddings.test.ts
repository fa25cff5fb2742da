import { assert, describe, it } from "@effect/vitest"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as FakeUpstream from "./BedrockUpstream.js"
import { accessKeyId, awsError, build, checkSignature, invoked, secretAccessKey } from "./BedrockUpstream.js"
import { cohereV3Answer, cohereV4ByTypeAnswer, titanV1Answer, titanV2Answer } from "./fixtures/embeddingsWire.js"

const titanV2 = "amazon.titan-embed-text-v2:0"
const titanV1 = "amazon.titan-embed-text-v1"
const cohereV3 = "cohere.embed-english-v3"
const cohereV4 = "cohere.embed-v4:0"

/** A distinct stand-in vector for each text, so that answers can be matched to inputs. */
const vectorOf = (text: string): Array<number> => [text.length / 8, -text.charCodeAt(0) / 256, 0.015625]

const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Record<string, unknown>

/** Answers an exchange the test holds open. */
const answer = (exchange: FakeUpstream.Exchange, body: unknown) =>
  Effect.promise(() => {
    exchange.head(200, { "content-type": "application/json" })
    return exchange.end(JSON.stringify(body))
  })

/** Titan's answer for the text a request carries, counting a token per character. */
const titanAnswerFor = (exchange: FakeUpstream.Exchange) => {
  const text = bodyOf(exchange).inputText as string
  return titanV2Answer(vectorOf(text), text.length)
}

describe("BedrockProvider.embed: Amazon Titan Text Embeddings", () => {
  it.scoped("one input: a SigV4-signed POST /model/{modelId}/invoke of {inputText, dimensions, normalize}; the vector and its tokens back", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-03-10T12:00:00Z"))
      const { provider, requests } = yield* build(() => invoked(titanV2Answer([0.25, -0.5, 0.125], 7)))
      const response = yield* provider.embed!({
        model: titanV2,
        input: "Amazon Bedrock embeds text.",
        dimensions: 256,
        normalize: false
      })

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.path, "/model/amazon.titan-embed-text-v2%3A0/invoke")
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.deepStrictEqual(sent.body, { inputText: "Amazon Bedrock embeds text.", dimensions: 256, normalize: false })
      const signature = yield* checkSignature(sent, { accessKeyId, secretAccessKey })
      assert.strictEqual(signature.scope, "AKIAIOSFODNN7EXAMPLE/20250310/us-east-1/bedrock/aws4_request")
      assert.isTrue(signature.validBySpec, signature.canonicalRequest)

      assert.deepStrictEqual(response, {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.25, -0.5, 0.125] }],
        model: titanV2,
        usage: { prompt_tokens: 7, total_tokens: 7 }
      })
    }))

  it.scoped("several inputs: one call each, at most 4 at once, answered in the inputs' order whatever order the calls end in; tokens summed", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never)
      const inputs = ["alpha", "be", "gamma ray", "d", "epsilon!", "zeta"]
      const fiber = yield* Effect.fork(provider.embed!({ model: titanV2, input: inputs }))

      yield* FakeUpstream.received(upstream, 4)
      // The fifth call waits for one of the first four to end.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      assert.strictEqual(upstream.requests.length, 4)
      for (const exchange of [...upstream.requests].reverse()) yield* answer(exchange, titanAnswerFor(exchange))
      yield* FakeUpstream.received(upstream, 6)
      for (const exchange of upstream.requests.slice(4).reverse()) yield* answer(exchange, titanAnswerFor(exchange))

      const response = yield* Fiber.join(fiber)
      assert.deepStrictEqual(upstream.requests.map((r) => bodyOf(r).inputText).sort(), [...inputs].sort())
      assert.deepStrictEqual(response.data.map((d) => d.index), [0, 1, 2, 3, 4, 5])
      assert.deepStrictEqual(response.data.map((d) => d.embedding), inputs.map(vectorOf))
      const tokens = inputs.reduce((n, text) => n + text.length, 0)
      assert.deepStrictEqual(response.usage, { prompt_tokens: tokens, total_tokens: tokens })
    }))

  it.scoped("the timeout bounds the calls of one request together, not each call", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never, { timeout: "2 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(provider.embed!({ model: titanV2, input: ["a", "b", "c", "d", "e"] })))
      yield* FakeUpstream.received(upstream, 4)
      yield* TestClock.adjust("1500 millis")
      for (const exchange of upstream.requests.slice(0, 4)) yield* answer(exchange, titanAnswerFor(exchange))
      yield* FakeUpstream.received(upstream, 5)
      // The fifth call started at 1.5 s; on its own it would run until 3.5 s.
      yield* TestClock.adjust("500 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 2000)
      yield* FakeUpstream.abortedBy(upstream, 4)
    }))

  it.scoped("encoding_format base64: each vector as little-endian float32s, which decode to the same floats", () =>
    Effect.gen(function*() {
      const floats = [0.0123, -0.98765, 3.5e-7, 1]
      const { provider } = yield* build(() => invoked(titanV2Answer(floats, 3)))
      const response = yield* provider.embed!({ model: titanV2, input: "base64 please", encoding_format: "base64" })
      const encoded = response.data[0]!.embedding
      assert(typeof encoded === "string")
      const bytes = Buffer.from(encoded, "base64")
      const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4))
      assert.deepStrictEqual(decoded, floats.map(Math.fround))
    }))

  it.scoped("Titan G1 takes inputText only: its own fields of V2 are not sent, and dimensions is refused before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => invoked(titanV1Answer([0.5, 0.25], 2)))
      const response = yield* provider.embed!({ model: titanV1, input: "hi there", normalize: true })
      assert.deepStrictEqual(requests[0]!.body, { inputText: "hi there" })
      assert.strictEqual(requests[0]!.path, "/model/amazon.titan-embed-text-v1/invoke")
      assert.deepStrictEqual(response.usage, { prompt_tokens: 2, total_tokens: 2 })

      const error = yield* Effect.flip(provider.embed!({ model: titanV1, input: "hi there", dimensions: 512 }))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamParam, "dimensions")
      assert.include(error.message, "Titan Text Embeddings V2 and Cohere Embed v4 only")
      assert.isFalse(isRetryable(error))
      assert.strictEqual(requests.length, 1)
    }))
})

describe("BedrockProvider.embed: Cohere Embed", () => {
  it.scoped("the texts go in one call with input_type search_document; the input tokens from x-amzn-bedrock-input-token-count", () =>
    Effect.gen(function*() {
      const texts = ["first document", "second document", "third"]
      const { provider, requests } = yield* build(() => invoked(cohereV3Answer(texts, texts.map(vectorOf)), 11))
      const response = yield* provider.embed!({ model: cohereV3, input: texts })
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0]!.path, "/model/cohere.embed-english-v3/invoke")
      assert.deepStrictEqual(requests[0]!.body, { texts, input_type: "search_document" })
      assert.deepStrictEqual(response.data.map((d) => d.embedding), texts.map(vectorOf))
      assert.deepStrictEqual(response.usage, { prompt_tokens: 11, total_tokens: 11 })
    }))

  it.scoped("Cohere's own input_type and truncate are sent as given; without the token header the count is 0", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => invoked(cohereV3Answer(["query"], [vectorOf("query")])))
      const request: EmbeddingRequest = {
        model: "cohere.embed-multilingual-v3",
        input: "query",
        input_type: "search_query",
        truncate: "END"
      }
      const response = yield* provider.embed!(request)
      assert.deepStrictEqual(requests[0]!.body, { texts: ["query"], input_type: "search_query", truncate: "END" })
      assert.deepStrictEqual(response.usage, { prompt_tokens: 0, total_tokens: 0 })
    }))

  it.scoped("more than 96 texts (Bedrock's limit for a call) go in calls of 96, answered in order", () =>
    Effect.gen(function*() {
      const texts = Array.from({ length: 100 }, (_, i) => `text number ${i}`)
      const { provider, requests } = yield* build((exchange) => {
        const batch = bodyOf(exchange).texts as Array<string>
        return invoked(cohereV3Answer(batch, batch.map(vectorOf)), batch.length)
      })
      const response = yield* provider.embed!({ model: cohereV3, input: texts })
      assert.deepStrictEqual(requests.map((r) => (bodyOf(r).texts as Array<string>).length).sort(), [4, 96])
      assert.deepStrictEqual(response.data.map((d) => d.embedding), texts.map(vectorOf))
      assert.deepStrictEqual(response.data.map((d) => d.index), texts.map((_, i) => i))
      assert.deepStrictEqual(response.usage, { prompt_tokens: 100, total_tokens: 100 })
    }))

  it.scoped("Cohere Embed v4: dimensions as output_dimension; its floats read by type or as a list", () =>
    Effect.gen(function*() {
      const answers = [
        cohereV4ByTypeAnswer(["a", "b"], [vectorOf("a"), vectorOf("b")]),
        cohereV3Answer(["a", "b"], [vectorOf("a"), vectorOf("b")])
      ]
      let i = 0
      const { provider, requests } = yield* build(() => invoked(answers[i++], 2))
      for (const _ of answers) {
        const response = yield* provider.embed!({ model: cohereV4, input: ["a", "b"], dimensions: 1024 })
        assert.deepStrictEqual(response.data.map((d) => d.embedding), [vectorOf("a"), vectorOf("b")])
      }
      assert.strictEqual(requests[0]!.path, "/model/cohere.embed-v4%3A0/invoke")
      assert.deepStrictEqual(requests[0]!.body, { texts: ["a", "b"], input_type: "search_document", output_dimension: 1024 })
    }))

  it.scoped("Cohere Embed v3 makes vectors of one size: dimensions is refused before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(FakeUpstream.never)
      const error = yield* Effect.flip(provider.embed!({ model: cohereV3, input: "x", dimensions: 256 }))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamParam, "dimensions")
      assert.strictEqual(requests.length, 0)
    }))
})

describe("BedrockProvider.embed: model ids and refusals", () => {
  it.scoped("a cross-region inference profile or an ARN naming a supported model is that model's", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build((exchange) =>
        exchange.path.includes("cohere")
          ? invoked(cohereV3Answer(["x"], [vectorOf("x")]))
          : invoked(titanV2Answer(vectorOf("x"), 1))
      )
      yield* provider.embed!({ model: "us.cohere.embed-v4:0", input: "x", dimensions: 512 })
      yield* provider.embed!({
        model: "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.titan-embed-text-v2:0",
        input: "x",
        dimensions: 512
      })
      assert.deepStrictEqual(requests[0]!.body, { texts: ["x"], input_type: "search_document", output_dimension: 512 })
      assert.deepStrictEqual(requests[1]!.body, { inputText: "x", dimensions: 512 })
      assert.strictEqual(
        requests[1]!.path,
        "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.amazon.titan-embed-text-v2%3A0/invoke"
      )
    }))

  it.scoped("token ids are refused with a 400 naming input, before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(FakeUpstream.never)
      for (const input of [[9906, 1917], [[9906], [1917]]]) {
        for (const model of [titanV2, cohereV3]) {
          const error = yield* Effect.flip(provider.embed!({ model, input }))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, 400)
          assert.strictEqual(error.upstreamParam, "input")
          assert.include(error.message, "not token ids")
        }
      }
      assert.strictEqual(requests.length, 0)
    }))

  it.scoped("a model of neither family is refused with a 400 that names the supported embedding models", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(FakeUpstream.never)
      for (const model of ["amazon.titan-embed-image-v1", "anthropic.claude-3-5-sonnet-20240620-v1:0", "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"]) {
        const error = yield* Effect.flip(provider.embed!({ model, input: "x" }))
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.upstreamParam, "model")
        assert.include(error.message, `not '${model}'`)
        assert.include(error.message, "amazon.titan-embed-text-v2:0")
        assert.include(error.message, "cohere.embed-v4:0")
      }
      assert.strictEqual(requests.length, 0)
    }))
})

describe("BedrockProvider.embed: errors", () => {
  it.scoped("ThrottlingException is a retryable 429, ValidationException a terminal 400; one failed call fails the request", () =>
    Effect.gen(function*() {
      const replies = [
        awsError("ThrottlingException", 429, "Too many requests, please wait before trying again."),
        awsError("ValidationException", 400, "Malformed input request: expected maxLength: 50000")
      ]
      let i = 0
      const { provider } = yield* build(() => replies[i++])
      const throttled = yield* Effect.flip(provider.embed!({ model: titanV2, input: "x" }))
      assert(throttled._tag === "ProviderStatusError")
      assert.strictEqual(throttled.status, 429)
      assert.strictEqual(throttled.upstreamType, "ThrottlingException")
      assert.isTrue(isRetryable(throttled))
      const invalid = yield* Effect.flip(provider.embed!({ model: cohereV3, input: "x" }))
      assert(invalid._tag === "ProviderStatusError")
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.upstreamType, "ValidationException")
      assert.strictEqual(invalid.upstreamMessage, "Malformed input request: expected maxLength: 50000")
      assert.isFalse(isRetryable(invalid))

      const { provider: partly } = yield* build((exchange) =>
        bodyOf(exchange).inputText === "b" ? awsError("ThrottlingException", 429, "slow down") : invoked(titanAnswerFor(exchange))
      )
      const failed = yield* Effect.flip(partly.embed!({ model: titanV2, input: ["a", "b", "c"] }))
      assert(failed._tag === "ProviderStatusError")
      assert.strictEqual(failed.status, 429)
    }))

  it.scoped("a 200 that is not the family's answer is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const replies = [
        { model: titanV2, reply: invoked({ inputTextTokenCount: 3 }) },
        { model: titanV2, reply: { body: "<html>gateway</html>" } },
        { model: cohereV3, reply: invoked(cohereV3Answer(["a", "b"], [vectorOf("a")])) },
        { model: cohereV3, reply: invoked({ embeddings: { int8: [[1, 2]] } }) }
      ]
      let i = 0
      const { provider } = yield* build(() => replies[i++]!.reply)
      for (const { model } of replies) {
        const error = yield* Effect.flip(provider.embed!({ model, input: ["a", "b"].slice(0, model === titanV2 ? 1 : 2) }))
        assert.strictEqual(error._tag, "ProviderOutputError", model)
      }
    }))
})

describe("BedrockProvider capabilities: embeddings", () => {
  it.scoped("dimensions in the sizes Titan V2 and Cohere v4 make, no user; Titan's and Cohere's own fields are vendor fields", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(FakeUpstream.never)
      const support = provider.capabilities!.embeddings!
      assert.strictEqual(Capabilities.describeSupport(support.parameters.dimensions), "partial: Titan Text Embeddings V2 (256, 512, 1024) and Cohere Embed v4 (256, 512, 1024, 1536) only")
      assert.isFalse(support.parameters.user)
      assert.isFalse(support.forwardsUnknown)
      const unsupported = Capabilities.check("embeddings", support)
      assert.isUndefined(unsupported({ model: titanV2, input: "x", dimensions: 512, normalize: true, input_type: "search_query", truncate: "END", encoding_format: "base64" }))
      assert.deepStrictEqual(unsupported({ model: titanV2, input: "x", dimensions: 300, user: "u-1", embeddingTypes: ["binary"] }), ["dimensions", "user", "embeddingTypes"])
    }))
})
