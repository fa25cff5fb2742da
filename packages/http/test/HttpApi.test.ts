import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { chatBody, get, makeFake, post, serve } from "./utils/server.js"

const fake = Effect.runSync(makeFake)

const envelope = (json: any) => {
  assert.isObject(json.error)
  assert.hasAllKeys(json.error, ["message", "type", "param", "code"])
  return json.error as { message: string; type: string; param: string | null; code: string | null }
}

/** The events of an SSE body, each `data: ` payload as a string. */
const events = (text: string): Array<string> => {
  assert.isTrue(text.endsWith("\n\n"), "the body ends with a blank line")
  return text.slice(0, -2).split("\n\n").map((event) => {
    assert.isTrue(event.startsWith("data: "), `an event is one data line: ${event}`)
    assert.notInclude(event, "\n")
    return event.slice("data: ".length)
  })
}

const healthy = Effect.gen(function*() {
  const res = yield* get("/health")
  assert.strictEqual(res.status, 200)
  assert.deepStrictEqual(res.json, { status: "ok" })
})

layer(Layer.fresh(serve(fake)), { excludeTestServices: true })("HttpApi", (it) => {
  describe("POST /v1/chat/completions (JSON)", () => {
    it.effect("answers from the provider, forwards unknown fields, sets provider and request id", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-json", { metadata: { team: "a" }, service_tier: "flex" }))
        assert.strictEqual(res.status, 200)
        assert.include(res.headers["content-type"], "application/json")
        assert.strictEqual(res.json.choices[0].message.content, "Hello")
        assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        assert.strictEqual(res.headers["x-switchyard-attempts"], "1")
        assert.isUndefined(res.headers["x-switchyard-variant"])
        assert.match(res.headers["x-request-id"]!, /^req_[0-9a-f]{32}$/)
        const received = fake.received.at(-1)!
        assert.deepStrictEqual(received["metadata"], { team: "a" })
        assert.strictEqual(received["service_tier"], "flex")
        const ctx = fake.contexts.at(-1)!
        assert.strictEqual(ctx.ingress, "openai")
        assert.strictEqual(ctx.requestId, res.headers["x-request-id"])
        assert.strictEqual(ctx.headers?.["content-type"], "application/json", "conditional routing can read headers")
      }))

    it.effect("echoes a sane x-request-id and replaces one that is not", () =>
      Effect.gen(function*() {
        const sane = yield* post("/v1/chat/completions", chatBody("fake-json"), { "x-request-id": "client.Id:42-x_y" })
        assert.strictEqual(sane.headers["x-request-id"], "client.Id:42-x_y")
        assert.strictEqual(fake.contexts.at(-1)!.requestId, "client.Id:42-x_y")
        const odd = yield* post("/v1/chat/completions", chatBody("fake-json"), { "x-request-id": "no spaces<allowed>" })
        assert.match(odd.headers["x-request-id"]!, /^req_[0-9a-f]{32}$/)
        const long = yield* get("/health", { "x-request-id": "a".repeat(129) })
        assert.match(long.headers["x-request-id"]!, /^req_/)
      }))

    it.effect("resolves aliases in the gateway", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-alias"))
        assert.strictEqual(res.status, 200)
        assert.strictEqual(fake.received.at(-1)!.model, "fake-1")
      }))
  })

  describe("POST /v1/chat/completions (SSE)", () => {
    it.effect("frames chunks as data events and ends with [DONE]; usage only when asked", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-sse", { stream: true }))
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["content-type"], "text/event-stream")
        assert.strictEqual(res.headers["cache-control"], "no-cache")
        assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        assert.match(res.headers["x-request-id"]!, /^req_/)
        const data = events(res.text)
        assert.strictEqual(data.at(-1), "[DONE]")
        const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
        assert.deepStrictEqual(chunks.map((c) => c.choices[0]?.delta.content), ["Hel", "lo"])
        assert.isTrue(chunks.every((c) => c.usage === undefined))

        const withUsage = yield* post(
          "/v1/chat/completions",
          chatBody("fake-sse", { stream: true, stream_options: { include_usage: true } })
        )
        const all = events(withUsage.text)
        assert.strictEqual(all.at(-1), "[DONE]")
        const last = JSON.parse(all.at(-2)!)
        assert.deepStrictEqual(last.choices, [])
        assert.deepStrictEqual(last.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })
        assert.strictEqual(all.slice(0, -2).filter((d) => JSON.parse(d).usage != null).length, 0)
      }))

    it.effect("a failure after the first chunk is one in-band error event, without [DONE]", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-midfail", { stream: true }))
        assert.strictEqual(res.status, 200)
        const data = events(res.text)
        assert.strictEqual(data.length, 2)
        assert.strictEqual(JSON.parse(data[0]!).choices[0].delta.content, "Hel")
        const error = envelope(JSON.parse(data[1]!))
        assert.strictEqual(error.type, "upstream_error")
        assert.strictEqual(error.code, "provider_unreachable")
        assert.include(error.message, "connection reset")
        assert.notInclude(res.text, "[DONE]")
        yield* healthy
      }))

    it.effect("a failure before the first chunk gets the upstream's status and a JSON envelope", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-429", { stream: true }))
        assert.strictEqual(res.status, 429)
        assert.include(res.headers["content-type"], "application/json")
        assert.match(res.headers["x-request-id"]!, /^req_/)
        const error = envelope(res.json)
        assert.strictEqual(error.message, "Rate limit reached for fake-429")
        assert.strictEqual(error.type, "rate_limit_error")
        assert.strictEqual(error.code, "rate_limit_exceeded")
        yield* healthy
      }))
  })

  describe("errors", () => {
    it.effect("invalid JSON is a 400 invalid_request_error", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", "{\"model\": \"fake-1\", ")
        assert.strictEqual(res.status, 400)
        assert.match(res.headers["x-request-id"]!, /^req_/)
        const error = envelope(res.json)
        assert.strictEqual(error.type, "invalid_request_error")
        assert.include(error.message, "not valid JSON")
        const empty = yield* post("/v1/chat/completions", "")
        assert.strictEqual(empty.status, 400)
        assert.include(envelope(empty.json).message, "not valid JSON")
        const array = yield* post("/v1/chat/completions", [1, 2])
        assert.strictEqual(array.status, 400)
        assert.include(envelope(array.json).message, "JSON object")
        yield* healthy
      }))

    it.effect("a missing model is a 400 naming model", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }] })
        assert.strictEqual(res.status, 400)
        const error = envelope(res.json)
        assert.strictEqual(error.type, "invalid_request_error")
        assert.strictEqual(error.param, "model")
        assert.include(error.message, "'model'")
        yield* healthy
      }))

    it.effect("a field of the wrong type is a 400 naming its path", () =>
      Effect.gen(function*() {
        const role = yield* post("/v1/chat/completions", { model: "fake-1", messages: [{ role: "bot", content: "hi" }] })
        assert.strictEqual(role.status, 400)
        const roleError = envelope(role.json)
        assert.strictEqual(roleError.param, "messages[0].role")
        assert.match(roleError.message, /^messages\[0\]\.role: Expected .*"user".*, actual "bot"$/)
        assert.include(roleError.message, "\"system\"")

        const temperature = yield* post("/v1/chat/completions", chatBody("fake-1", { temperature: "hot" }))
        assert.strictEqual(temperature.status, 400)
        assert.deepStrictEqual(envelope(temperature.json).param, "temperature")
        assert.strictEqual(envelope(temperature.json).message, "temperature: Expected number, actual \"hot\"")

        const name = yield* post(
          "/v1/chat/completions",
          chatBody("fake-1", { tools: [{ type: "function", function: { name: 3 } }] })
        )
        assert.strictEqual(envelope(name.json).param, "tools[0].function.name")
        assert.strictEqual(envelope(name.json).message, "tools[0].function.name: Expected string, actual 3")

        const content = yield* post("/v1/chat/completions", { model: "fake-1", messages: [{ role: "user", content: 5 }] })
        assert.strictEqual(envelope(content.json).param, "messages[0].content")
        assert.isBelow(envelope(content.json).message.length, 200)
        yield* healthy
      }))

    it.effect("an unknown model is a 404 model_not_found", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("gpt-nowhere"))
        assert.strictEqual(res.status, 404)
        const error = envelope(res.json)
        assert.strictEqual(error.code, "model_not_found")
        assert.include(error.message, "gpt-nowhere")
        const streamed = yield* post("/v1/chat/completions", chatBody("gpt-nowhere", { stream: true }))
        assert.strictEqual(streamed.status, 404)
        assert.strictEqual(envelope(streamed.json).code, "model_not_found")
        yield* healthy
      }))

    it.effect("an upstream 429 is a 429 with the upstream's message, type, code and retry-after", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-429"))
        assert.strictEqual(res.status, 429)
        assert.strictEqual(res.headers["retry-after"], "2")
        assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        assert.deepStrictEqual(res.json, {
          error: {
            message: "Rate limit reached for fake-429",
            type: "rate_limit_error",
            param: null,
            code: "rate_limit_exceeded"
          }
        })
        yield* healthy
      }))

    it.effect("a terminal upstream 400 is a 400", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-400"))
        assert.strictEqual(res.status, 400)
        const error = envelope(res.json)
        assert.strictEqual(error.message, "Invalid value for 'temperature'")
        assert.strictEqual(error.type, "invalid_request_error")
        assert.strictEqual(error.param, "temperature")
        assert.strictEqual(res.headers["x-switchyard-attempts"], "1", "errors report the attempts made too")
        yield* healthy
      }))

    it.effect("a defect is a generic 500 that leaks nothing", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-defect"))
        assert.strictEqual(res.status, 500)
        assert.match(res.headers["x-request-id"]!, /^req_/)
        const error = envelope(res.json)
        assert.strictEqual(error.type, "server_error")
        assert.notInclude(res.text, "sk-secret")
        assert.notInclude(res.text, "boom")
        yield* healthy
      }))

    it.effect("an unknown route is a 404 envelope with x-request-id; a wrong method a 405", () =>
      Effect.gen(function*() {
        const res = yield* get("/v1/nowhere?x=1", { "x-request-id": "abc" })
        assert.strictEqual(res.status, 404)
        assert.strictEqual(res.headers["x-request-id"], "abc")
        const error = envelope(res.json)
        assert.strictEqual(error.code, "unknown_url")
        assert.include(error.message, "GET /v1/nowhere")

        const wrong = yield* get("/v1/chat/completions")
        assert.strictEqual(wrong.status, 405)
        assert.strictEqual(wrong.headers["allow"], "POST")
        assert.match(wrong.headers["x-request-id"]!, /^req_/)
        assert.strictEqual(envelope(wrong.json).code, "method_not_allowed")

        const post405 = yield* post("/health", {})
        assert.strictEqual(post405.status, 405)
        assert.strictEqual(post405.headers["allow"], "GET, HEAD")
        yield* healthy
      }))
  })

  describe("POST /v1/embeddings and /v1/images/generations", () => {
    it.effect("embeddings answer in OpenAI's shape, floats or base64, with the routing headers", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/embeddings", { model: "fake-alias", input: ["a", "bcd"] })
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        assert.strictEqual(res.headers["x-switchyard-attempts"], "1")
        assert.match(res.headers["x-request-id"]!, /^req_/)
        assert.deepStrictEqual(res.json, {
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: [0, 1] }, { object: "embedding", index: 1, embedding: [1, 3] }],
          model: "fake-1",
          usage: { prompt_tokens: 4, total_tokens: 4 }
        })
        const b64 = yield* post("/v1/embeddings", { model: "fake-1", input: "abcd", encoding_format: "base64" })
        const floats = new Float32Array(new Uint8Array(Buffer.from(b64.json.data[0].embedding, "base64")).buffer)
        assert.deepStrictEqual(Array.from(floats), [0, 4])
      }))

    it.effect("a bad embeddings body is a 400 naming the field; a model nobody serves a 404", () =>
      Effect.gen(function*() {
        const missing = yield* post("/v1/embeddings", { model: "fake-1" })
        assert.strictEqual(missing.status, 400)
        assert.strictEqual(envelope(missing.json).param, "input")
        const empty = yield* post("/v1/embeddings", { model: "fake-1", input: [] })
        assert.strictEqual(empty.status, 400)
        assert.include(envelope(empty.json).message, "input must be a string, a non-empty array of strings")
        assert.strictEqual(envelope(empty.json).param, "input")
        const format = yield* post("/v1/embeddings", { model: "fake-1", input: "x", encoding_format: "int8" })
        assert.strictEqual(envelope(format.json).param, "encoding_format")
        const unknown = yield* post("/v1/embeddings", { model: "nobody-1", input: "x" })
        assert.strictEqual(unknown.status, 404)
        assert.strictEqual(envelope(unknown.json).code, "model_not_found")
        yield* healthy
      }))

    it.effect("image generation answers in OpenAI's shape; an upstream 400 passes through", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/images/generations", { model: "fake-1", prompt: "a lighthouse" })
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["x-switchyard-provider"], "fake")
        assert.deepStrictEqual(res.json, { created: 7, data: [{ b64_json: "aW1n", revised_prompt: "a lighthouse" }] })
        const refused = yield* post("/v1/images/generations", { model: "fake-400", prompt: "x" })
        assert.strictEqual(refused.status, 400)
        assert.strictEqual(envelope(refused.json).param, "temperature")
        const noPrompt = yield* post("/v1/images/generations", { model: "fake-1" })
        assert.strictEqual(noPrompt.status, 400)
        assert.strictEqual(envelope(noPrompt.json).param, "prompt")
        const get405 = yield* get("/v1/images/generations")
        assert.strictEqual(get405.status, 405)
        assert.strictEqual(get405.headers["allow"], "POST")
      }))
  })

  describe("unsupported parameters", () => {
    it.effect("a parameter the provider does not honour is left out and named in x-switchyard-dropped-params", () =>
      Effect.gen(function*() {
        const res = yield* post("/v1/chat/completions", chatBody("fake-json", { seed: 3, temperature: 0.1 }))
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["x-switchyard-dropped-params"], "seed")
        assert.isUndefined(fake.received.at(-1)!.seed)
        assert.strictEqual(fake.received.at(-1)!.temperature, 0.1)
        const streamed = yield* post("/v1/chat/completions", chatBody("fake-sse", { seed: 3, stream: true }))
        assert.strictEqual(streamed.headers["x-switchyard-dropped-params"], "seed")
        const clean = yield* post("/v1/chat/completions", chatBody("fake-json", { temperature: 0.1 }))
        assert.isUndefined(clean.headers["x-switchyard-dropped-params"])
      }))

    it.effect("GET /v1/capabilities lists each provider's support table and policy", () =>
      Effect.gen(function*() {
        const res = yield* get("/v1/capabilities")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.json.object, "list")
        const [row] = res.json.data
        assert.strictEqual(row.provider, "fake")
        assert.strictEqual(row.unsupported_params, "warn")
        assert.strictEqual(row.operations.chat.parameters.seed, "unsupported")
        assert.strictEqual(row.operations.chat.parameters.temperature, "supported")
        assert.strictEqual(row.operations.embeddings.parameters.dimensions, "supported")
        assert.isObject(row.operations.images)
      }))
  })

  describe("GET routes", () => {
    it.effect("/v1/models lists the providers' models and the aliases", () =>
      Effect.gen(function*() {
        const res = yield* get("/v1/models")
        assert.strictEqual(res.status, 200)
        assert.match(res.headers["x-request-id"]!, /^req_/)
        assert.strictEqual(res.json.object, "list")
        assert.deepStrictEqual(res.json.data.map((m: any) => m.id), ["fake-1", "fake-alias"])
      }))

    it.effect("/health is ok", () =>
      Effect.gen(function*() {
        const res = yield* get("/health")
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(res.json, { status: "ok" })
        assert.match(res.headers["x-request-id"]!, /^req_/)
      }))
  })
})
