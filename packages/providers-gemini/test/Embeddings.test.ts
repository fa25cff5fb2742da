import { assert, describe, it } from "@effect/vitest"
import type { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import type * as Provider from "@switchyard/core/Provider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { batchEmbedResponse, geminiVectors, tokenResponse, vertexEmbeddingResponse } from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { apiRequests, build, buildVertex, secret, tokenRequests } from "./GeminiUpstream.js"

const embed = (provider: Provider.Provider, req: EmbeddingRequest) => {
  assert.isDefined(provider.embed)
  return provider.embed!(req)
}

type Body = Record<string, any>
const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Body

/** The Gemini API answering each batch with the vectors of its texts (`"t<i>"` -> `[i]`, else `geminiVectors`). */
const geminiAnswer = (exchange: FakeUpstream.Exchange) => {
  const requests = bodyOf(exchange).requests as Array<Body>
  return FakeUpstream.json(batchEmbedResponse(requests.map((r, i) => {
    const text = r.content.parts[0].text as string
    return text.startsWith("t") ? [Number(text.slice(1))] : geminiVectors[i]!
  })))
}

/** Vertex AI answering each instance with `[<position in the batch>]`, 7 tokens each. */
const vertexAnswer = (exchange: FakeUpstream.Exchange) => {
  const instances = bodyOf(exchange).instances as Array<Body>
  return FakeUpstream.json(vertexEmbeddingResponse(instances.map((_, i) => [i]), instances.map(() => 7)))
}

const token = () => FakeUpstream.json(tokenResponse("ya29.embeddings"))

/** The float32 values of an embedding in OpenAI's base64 encoding. */
const floatsOf = (base64: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(base64, "base64")).buffer))

describe("GeminiProvider.embed (https://ai.google.dev/api/embeddings)", () => {
  it.scoped("one input: POST /v1beta/models/{model}:batchEmbedContents with x-goog-api-key; usage 0, as the API counts no tokens", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(geminiAnswer)
      const response = yield* embed(provider, { model: "gemini-embedding-001", input: "What is the meaning of life?" })

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}/v1beta/models/gemini-embedding-001:batchEmbedContents`)
      assert.strictEqual(sent.headers["x-goog-api-key"], secret)
      assert.deepStrictEqual(sent.body, {
        requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "What is the meaning of life?" }] } }]
      })
      assert.deepStrictEqual(response, {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: geminiVectors[0]! }],
        model: "gemini-embedding-001",
        usage: { prompt_tokens: 0, total_tokens: 0 }
      })
    }))

  it.scoped("many inputs with dimensions, task_type and title: one EmbedContentRequest each, the vectors in order", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(geminiAnswer)
      const texts = ["What is the meaning of life?", "How much wood would a woodchuck chuck?", "How does the brain work?"]
      const response = yield* embed(provider, {
        model: "gemini-embedding-001",
        input: texts,
        dimensions: 4,
        task_type: "RETRIEVAL_DOCUMENT",
        title: "Field notes",
        user: "user-1234"
      })
      assert.strictEqual(requests.length, 1)
      assert.deepStrictEqual(
        bodyOf(requests[0]!).requests,
        texts.map((text) => ({
          model: "models/gemini-embedding-001",
          content: { parts: [{ text }] },
          outputDimensionality: 4,
          taskType: "RETRIEVAL_DOCUMENT",
          title: "Field notes"
        }))
      )
      assert.deepStrictEqual(response.data.map((d) => [d.index, d.embedding]), geminiVectors.map((v, i) => [i, v]))

      // Google's camelCase spelling too
      yield* embed(provider, { model: "gemini-embedding-001", input: "q", taskType: "RETRIEVAL_QUERY" })
      assert.strictEqual(bodyOf(requests[1]!).requests[0].taskType, "RETRIEVAL_QUERY")
    }))

  it.scoped("encoding_format base64 (what the openai SDK asks for): little-endian float32s of the same values", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(geminiAnswer)
      const texts = ["a", "b", "c"]
      const floats = yield* embed(provider, { model: "gemini-embedding-001", input: texts })
      const base64 = yield* embed(provider, { model: "gemini-embedding-001", input: texts, encoding_format: "base64" })
      for (const [i, item] of base64.data.entries()) {
        assert.isString(item.embedding)
        assert.deepStrictEqual(floatsOf(item.embedding as string), (floats.data[i]!.embedding as Array<number>).map(Math.fround))
      }
    }))

  it.scoped("more than 100 inputs go in batches of 100 (Google refuses more in one), answered in the inputs' order", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(geminiAnswer)
      const input = Array.from({ length: 250 }, (_, i) => `t${i}`)
      const response = yield* embed(provider, { model: "text-embedding-004", input })
      assert.deepStrictEqual(requests.map((r) => bodyOf(r).requests.length).sort(), [100, 100, 50])
      assert.deepStrictEqual(response.data.map((d) => d.embedding), input.map((_, i) => [i]))
      assert.deepStrictEqual(response.data.map((d) => d.index), input.map((_, i) => i))
    }))

  it.scoped("an answer with another number of vectors, or without values, is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const short = yield* build(() => FakeUpstream.json(batchEmbedResponse([[0.1]])))
      const e1 = yield* Effect.flip(embed(short.provider, { model: "gemini-embedding-001", input: ["a", "b"] }))
      assert(e1._tag === "ProviderOutputError")
      assert.include(e1.detail, "expected 2 embeddings, got 1")

      const empty = yield* build(() => FakeUpstream.json({ embeddings: [{}] }))
      const e2 = yield* Effect.flip(embed(empty.provider, { model: "gemini-embedding-001", input: "a" }))
      assert(e2._tag === "ProviderOutputError")
      assert.isFalse(isRetryable(e2))
    }))
})

describe("VertexProvider.embed (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api)", () => {
  it.scoped("POST .../publishers/google/models/{model}:predict with the bearer token; usage from statistics.token_count", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* buildVertex(vertexAnswer, token)
      const response = yield* embed(provider, {
        model: "text-embedding-005",
        input: ["What is life?", "What is a woodchuck?"],
        dimensions: 256,
        task_type: "RETRIEVAL_QUERY"
      })
      const [sent] = apiRequests(requests)
      assert.strictEqual(
        sent!.url,
        `${upstream.origin}/v1/projects/my-project/locations/us-central1/publishers/google/models/text-embedding-005:predict`
      )
      assert.strictEqual(sent!.headers["authorization"], "Bearer ya29.embeddings")
      assert.isUndefined(sent!.headers["x-goog-api-key"])
      assert.deepStrictEqual(sent!.body, {
        instances: [
          { content: "What is life?", task_type: "RETRIEVAL_QUERY" },
          { content: "What is a woodchuck?", task_type: "RETRIEVAL_QUERY" }
        ],
        parameters: { outputDimensionality: 256 }
      })
      assert.deepStrictEqual(response, {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0] }, { object: "embedding", index: 1, embedding: [1] }],
        model: "text-embedding-005",
        usage: { prompt_tokens: 14, total_tokens: 14 }
      })

      // Without dimensions, no parameters
      yield* embed(provider, { model: "text-embedding-005", input: "x" })
      assert.deepStrictEqual(apiRequests(requests)[1]!.body, { instances: [{ content: "x" }] })
    }))

  it.scoped("gemini-embedding-* takes one instance per request: one :predict per input, the answers in order, usage summed", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* buildVertex((exchange) => {
        const content = bodyOf(exchange).instances[0].content as string
        return FakeUpstream.json(vertexEmbeddingResponse([[Number(content.slice(1))]], [content.length]))
      }, token)
      const input = ["t0", "t1", "t2", "t3", "t4", "t10"]
      const response = yield* embed(provider, { model: "gemini-embedding-001", input })
      const sent = apiRequests(requests)
      assert.strictEqual(sent.length, 6)
      for (const exchange of sent) assert.strictEqual(bodyOf(exchange).instances.length, 1)
      assert.deepStrictEqual(response.data.map((d) => d.embedding), [[0], [1], [2], [3], [4], [10]])
      assert.deepStrictEqual(response.usage, { prompt_tokens: 13, total_tokens: 13 })
      assert.strictEqual(tokenRequests(requests).length, 1)
    }))

  it.scoped("the timeout bounds the whole call: a request sent later gets the time left", () =>
    Effect.gen(function*() {
      const held: Array<FakeUpstream.Exchange> = []
      const { provider } = yield* buildVertex((exchange) => {
        held.push(exchange)
        return undefined // answered below, or never
      }, token, { timeout: "30 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(embed(provider, { model: "gemini-embedding-001", input: ["a", "b", "c", "d", "e"] })))
      // 4 requests in flight at once; the fifth waits for one of them
      yield* FakeUpstream.eventually("4 requests", () => held.length === 4)
      yield* TestClock.adjust("20 seconds")
      for (const exchange of held.slice(0, 4)) {
        exchange.head(200, { "content-type": "application/json" })
        yield* Effect.promise(() => exchange.end(JSON.stringify(vertexEmbeddingResponse([[0.5]], [1]))))
      }
      yield* FakeUpstream.eventually("the fifth request", () => held.length === 5)
      yield* TestClock.adjust("9999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      // The error names the request's timeout, not what was left of it for the fifth request.
      assert.strictEqual(error.afterMillis, 30_000)
      assert.isTrue(isRetryable(error))
    }))
})

describe("embeddings of token ids", () => {
  it.scoped("are refused with a terminal 400 naming input, before anything is sent (not even for a token)", () =>
    Effect.gen(function*() {
      const gemini = yield* build(geminiAnswer)
      const vertex = yield* buildVertex(vertexAnswer, token)
      for (const provider of [gemini.provider, vertex.provider]) {
        for (const input of [[1917, 374], [[1917, 374], [42]]]) {
          const error = yield* Effect.flip(embed(provider, { model: "gemini-embedding-001", input }))
          assert(error._tag === "ProviderStatusError")
          assert.strictEqual(error.status, 400)
          assert.strictEqual(error.upstreamParam, "input")
          assert.include(error.message, "token ids")
          assert.isFalse(isRetryable(error))
        }
      }
      assert.strictEqual(gemini.requests.length, 0)
      assert.strictEqual(vertex.requests.length, 0)
    }))
})
