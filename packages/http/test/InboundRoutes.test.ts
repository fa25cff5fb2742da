/**
 * The routes of the inbound wire formats over real HTTP, translated (the fake provider speaks
 * no vendor format): how Gemini paths name models and methods, which requests stream, and
 * errors in each vendor's envelope and status, before and after a stream started.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { get, makeFake, post, serve } from "./utils/server.js"

const fake = Effect.runSync(makeFake)

const gemini = { contents: [{ role: "user", parts: [{ text: "Hi" }] }] }
const anthropic = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 64,
  messages: [{ role: "user", content: "Hi" }],
  ...extra
})

/** The `data:` payloads of an SSE body, parsed. */
const dataEvents = (text: string): Array<any> =>
  text.split(/\r?\n\r?\n/).flatMap((event) =>
    event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => JSON.parse(line.slice(6)))
  )

/** The `event:` names of an SSE body. */
const eventNames = (text: string): Array<string> =>
  text.split("\n").filter((line) => line.startsWith("event: ")).map((line) => line.slice(7))

layer(Layer.fresh(serve(fake)), { excludeTestServices: true })("inbound routes", (it) => {
  describe("Gemini paths", () => {
    it.effect("a model with a slash names its provider, on the Gemini API's path and Vertex AI's", () =>
      Effect.gen(function*() {
        for (
          const path of [
            "/v1beta/models/fake/fake-json:generateContent",
            "/v1/models/fake-json:generateContent",
            "/v1/projects/p/locations/us-central1/publishers/google/models/fake-json:generateContent",
            "/v1beta1/projects/p/locations/global/publishers/fake/models/fake-json:generateContent",
            "/v1beta1/publishers/fake/models/fake-json:generateContent"
          ]
        ) {
          const res = yield* post(path, gemini)
          assert.strictEqual(res.status, 200, path)
          assert.strictEqual(res.json.candidates[0].content.parts[0].text, "Hello", path)
          assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        }
      }))

    it.effect("streams on :streamGenerateContent, and on alt=sse whatever the method", () =>
      Effect.gen(function*() {
        for (const path of ["/v1beta/models/fake-sse:streamGenerateContent?alt=sse", "/v1beta/models/fake-sse:generateContent?alt=sse"]) {
          const res = yield* post(path, gemini)
          assert.strictEqual(res.status, 200)
          assert.include(res.headers["content-type"], "text/event-stream")
          const texts = dataEvents(res.text).flatMap((e) => e.candidates?.[0]?.content?.parts ?? []).map((p: any) => p.text).join("")
          assert.isAbove(texts.length, 0)
        }
      }))

    it.effect("an unknown method, a model the gateway does not serve, and an upstream 429 answer in Google's envelope", () =>
      Effect.gen(function*() {
        const unknown = yield* post("/v1beta/models/fake-json:predictLongRunning", gemini)
        assert.strictEqual(unknown.status, 404)
        assert.deepStrictEqual(Object.keys(unknown.json.error).sort(), ["code", "message", "status"])
        assert.strictEqual(unknown.json.error.status, "NOT_FOUND")
        const model = yield* post("/v1beta/models/nope/x:generateContent", gemini)
        assert.strictEqual(model.status, 404)
        assert.strictEqual(model.json.error.code, 404)
        const limited = yield* post("/v1beta/models/fake-429:generateContent", gemini)
        assert.strictEqual(limited.status, 429)
        assert.strictEqual(limited.json.error.status, "RESOURCE_EXHAUSTED")
        assert.strictEqual(limited.headers["retry-after"], "2")
        const invalid = yield* post("/v1beta/models/fake-json:generateContent", { contents: "nope" })
        assert.strictEqual(invalid.status, 400)
        assert.strictEqual(invalid.json.error.status, "INVALID_ARGUMENT")
        assert.include(invalid.json.error.message, "contents")
      }))

    it.effect("a failure after the stream started is Google's error as the last event", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1beta/models/fake-midfail:streamGenerateContent?alt=sse", gemini)
        assert.strictEqual(res.status, 200)
        const last = dataEvents(res.text).at(-1)
        assert.strictEqual(last.error.code, 502)
        assert.strictEqual(last.error.status, "INTERNAL")
      }))
  })

  describe("Anthropic Messages", () => {
    it.effect("errors in Anthropic's envelope, before and after a stream started", () =>
      Effect.gen(function*() {
        const invalid = yield* post("/v1/messages", { model: "fake-json", messages: [] })
        assert.strictEqual(invalid.status, 400)
        assert.deepStrictEqual(Object.keys(invalid.json).sort(), ["error", "type"])
        assert.strictEqual(invalid.json.type, "error")
        assert.strictEqual(invalid.json.error.type, "invalid_request_error")
        const limited = yield* post("/v1/messages", anthropic("fake-429"))
        assert.strictEqual(limited.status, 429)
        assert.strictEqual(limited.json.error.type, "rate_limit_error")
        const broken = yield* post("/v1/messages", anthropic("fake-midfail", { stream: true }))
        assert.strictEqual(broken.status, 200)
        assert.deepStrictEqual(eventNames(broken.text).slice(0, 1), ["message_start"])
        assert.strictEqual(eventNames(broken.text).at(-1), "error")
        assert.strictEqual(dataEvents(broken.text).at(-1).error.type, "api_error")
      }))

    it.effect("counts tokens only through a provider that speaks Anthropic's API", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/messages/count_tokens", { model: "fake-json", messages: [{ role: "user", content: "Hi" }] })
        assert.strictEqual(res.status, 404)
        assert.strictEqual(res.json.error.type, "not_found_error")
        assert.include(res.json.error.message, "does not speak the API whose token count was asked for")
      }))
  })

  describe("no route", () => {
    it.effect("a wrong method or path under a vendor's routes answers in that vendor's envelope", () =>
      Effect.gen(function*() {
        const wrongMethod = yield* get("/v1/messages")
        assert.strictEqual(wrongMethod.status, 405)
        assert.strictEqual(wrongMethod.headers["allow"], "POST")
        assert.strictEqual(wrongMethod.json.type, "error")
        assert.strictEqual(wrongMethod.json.error.type, "invalid_request_error")
        const google = yield* get("/v1beta/models/fake-json:generateContent")
        assert.strictEqual(google.status, 404)
        assert.strictEqual(google.json.error.status, "NOT_FOUND")
        const openai = yield* get("/v1/nothing")
        assert.strictEqual(openai.json.error.code, "unknown_url")
      }))
  })

  describe("OpenAI Responses and Completions", () => {
    it.effect("a failure after a Responses stream started is its error event; a legacy stream ends with [DONE]", () =>
      Effect.gen(function*() {
        const broken = yield* post("/v1/responses", { model: "fake-midfail", input: "Hi", stream: true })
        assert.strictEqual(broken.status, 200)
        assert.deepStrictEqual(eventNames(broken.text).slice(0, 2), ["response.created", "response.in_progress"])
        assert.strictEqual(eventNames(broken.text).at(-1), "error")
        const legacy = yield* post("/v1/completions", { model: "fake-sse", prompt: "Hi", stream: true })
        assert.strictEqual(legacy.status, 200)
        assert.isTrue(legacy.text.trimEnd().endsWith("data: [DONE]"))
      }))
  })
})
