import { assert, describe, it } from "@effect/vitest"
import { isRetryable } from "@switchyard/core/GatewayError"
import type { ImageRequest } from "@switchyard/core/ImageSchema"
import type * as Provider from "@switchyard/core/Provider"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { imagenResponse, pngBase64, tokenResponse } from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import { apiRequests, build, buildVertex, secret } from "./GeminiUpstream.js"

const image = (provider: Provider.Provider, req: ImageRequest) => {
  assert.isDefined(provider.image)
  return provider.image!(req)
}

type Body = Record<string, any>
const bodyOf = (exchange: FakeUpstream.Exchange) => exchange.body as Body

/** Imagen answering with as many images as it was asked for. */
const imagen = (exchange: FakeUpstream.Exchange) => FakeUpstream.json(imagenResponse(bodyOf(exchange).parameters.sampleCount))

const token = () => FakeUpstream.json(tokenResponse("ya29.imagen"))

const prompt = "Robot holding a red skateboard"

describe("GeminiProvider.image (https://ai.google.dev/gemini-api/docs/imagen)", () => {
  it.scoped("POST /v1beta/models/{model}:predict with x-goog-api-key: the prompt, n as sampleCount; the images as b64_json", () =>
    Effect.gen(function*() {
      const now = Date.parse("2025-06-01T08:00:00Z")
      yield* TestClock.setTime(now)
      const { provider, requests, upstream } = yield* build(imagen)
      const response = yield* image(provider, { model: "imagen-4.0-generate-001", prompt, n: 2 })

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}/v1beta/models/imagen-4.0-generate-001:predict`)
      assert.strictEqual(sent.headers["x-goog-api-key"], secret)
      assert.deepStrictEqual(sent.body, { instances: [{ prompt }], parameters: { sampleCount: 2 } })
      assert.deepStrictEqual(response, { created: now / 1000, data: [{ b64_json: pngBase64 }, { b64_json: pngBase64 }] })
    }))

  it.scoped("without n one image is asked for (Imagen makes 4 when not told); response_format url still answers b64_json", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(imagen)
      const response = yield* image(provider, { model: "imagen-4.0-fast-generate-001", prompt, n: null, response_format: "url" })
      assert.deepStrictEqual(bodyOf(requests[0]!).parameters, { sampleCount: 1 })
      assert.deepStrictEqual(response.data, [{ b64_json: pngBase64 }])
    }))

  it.scoped("size becomes the aspect ratio it is within 5% of; auto sends none", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(imagen)
      const cases = [
        ["1024x1024", "1:1"],
        ["2048x2048", "1:1"],
        ["1792x1024", "16:9"], // DALL-E 3's landscape, 1.75
        ["1024x1792", "9:16"],
        ["1280x960", "4:3"],
        ["768x1024", "3:4"],
        ["auto", undefined]
      ] as const
      for (const [size] of cases) yield* image(provider, { model: "imagen-4.0-generate-001", prompt, size })
      assert.deepStrictEqual(requests.map((r) => bodyOf(r).parameters.aspectRatio), cases.map(([, ratio]) => ratio))
    }))

  it.scoped("a size near none of Imagen's ratios (1536x1024, 3:2) is refused with a terminal 400 naming size, before anything is sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(imagen)
      // 3:2, 2:3, and 1.43 (7% from 4:3)
      for (const size of ["1536x1024", "1024x1536", "1280x896", "big"]) {
        const error = yield* Effect.flip(image(provider, { model: "imagen-4.0-generate-001", prompt, size }))
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.upstreamParam, "size")
        assert.include(error.message, `'${size}'`)
        assert.isFalse(isRetryable(error))
      }
      assert.strictEqual(requests.length, 0)
    }))

  it.scoped("Imagen's own parameters the Gemini API documents pass; OpenAI-only ones and outputOptions are not sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(imagen)
      yield* image(provider, {
        model: "imagen-4.0-generate-001",
        prompt,
        quality: "hd",
        style: "vivid",
        background: "transparent",
        output_format: "jpeg",
        output_compression: 80,
        moderation: "low",
        user: "user-1234",
        personGeneration: "allow_adult",
        sampleImageSize: "2K",
        seed: 7
      })
      assert.deepStrictEqual(bodyOf(requests[0]!).parameters, {
        sampleCount: 1,
        personGeneration: "allow_adult",
        sampleImageSize: "2K"
      })
    }))

  it.scoped("filtered images are left out; with none left, a terminal 400 content_policy_violation with Imagen's reason; a broken answer is a ProviderOutputError", () =>
    Effect.gen(function*() {
      const reason = "Your current safety filter threshold filtered out 1 generated images."
      const partly = yield* build(() =>
        FakeUpstream.json({ predictions: [...imagenResponse(1).predictions, { raiFilteredReason: reason }] })
      )
      assert.deepStrictEqual((yield* image(partly.provider, { model: "imagen-4.0-generate-001", prompt, n: 2 })).data, [{ b64_json: pngBase64 }])

      const reasoned = yield* build(() => FakeUpstream.json({ predictions: [{ raiFilteredReason: reason }] }))
      const e1 = yield* Effect.flip(image(reasoned.provider, { model: "imagen-4.0-generate-001", prompt }))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 400)
      assert.strictEqual(e1.upstreamCode, "content_policy_violation")
      assert.strictEqual(e1.upstreamMessage, `Imagen made no image: ${reason}`)
      assert.isFalse(isRetryable(e1))

      // Imagen answers {} when it filtered everything and was not asked why
      const silent = yield* build(() => FakeUpstream.json({}))
      const e2 = yield* Effect.flip(image(silent.provider, { model: "imagen-4.0-generate-001", prompt }))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.upstreamCode, "content_policy_violation")

      for (const body of ["<html>oops</html>", JSON.stringify({ predictions: "none" })]) {
        const broken = yield* build(() => ({ status: 200, body }))
        assert.strictEqual((yield* Effect.flip(image(broken.provider, { model: "imagen-4.0-generate-001", prompt })))._tag, "ProviderOutputError")
      }
    }))
})

describe("VertexProvider.image (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api)", () => {
  it.scoped("POST .../publishers/google/models/{model}:predict with the bearer token; outputOptions; Vertex AI's own parameters; revised_prompt", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* buildVertex(
        (exchange) => FakeUpstream.json(imagenResponse(bodyOf(exchange).parameters.sampleCount, { prompt: "A robot, photorealistic" })),
        token
      )
      const response = yield* image(provider, {
        model: "imagen-4.0-generate-001",
        prompt,
        n: 3,
        size: "1408x768",
        output_format: "jpeg",
        output_compression: 75,
        negativePrompt: "blurry",
        seed: 7,
        addWatermark: false,
        quality: "hd"
      })
      const [sent] = apiRequests(requests)
      assert.strictEqual(
        sent!.url,
        `${upstream.origin}/v1/projects/my-project/locations/us-central1/publishers/google/models/imagen-4.0-generate-001:predict`
      )
      assert.strictEqual(sent!.headers["authorization"], "Bearer ya29.imagen")
      assert.deepStrictEqual(sent!.body, {
        instances: [{ prompt }],
        parameters: {
          sampleCount: 3,
          aspectRatio: "16:9",
          outputOptions: { mimeType: "image/jpeg", compressionQuality: 75 },
          negativePrompt: "blurry",
          seed: 7,
          addWatermark: false
        }
      })
      assert.deepStrictEqual(response.data, Array(3).fill({ b64_json: pngBase64, revised_prompt: "A robot, photorealistic" }))
    }))
})
