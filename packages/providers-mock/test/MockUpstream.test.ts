import { assert, describe, it } from "@effect/vitest"
import * as ChatSchema from "@switchyard/core/ChatSchema"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as MockUpstream from "../src/MockUpstream.js"

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "hello" }], ...extra })

const post = (url: string, body: string, init: RequestInit = {}) =>
  fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body,
    ...(init.signal === undefined ? {} : { signal: init.signal })
  })

const json = (res: Response): Promise<any> => res.json()

const sseData = (text: string): Array<string> =>
  text.split("\n\n").filter((e) => e.length > 0).map((e) => {
    assert.isTrue(e.startsWith("data: "), e)
    return e.slice("data: ".length)
  })

/** Starts an upstream for the test and closes it afterwards, whatever happens. */
const withUpstream = async <A>(options: MockUpstream.Options, f: (u: MockUpstream.Running) => Promise<A>) => {
  const upstream = await MockUpstream.start(options)
  try {
    return await f(upstream)
  } finally {
    await upstream.close()
  }
}

const waitFor = async (condition: () => boolean, withinMillis: number): Promise<boolean> => {
  const deadline = Date.now() + withinMillis
  while (Date.now() < deadline) {
    if (condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return condition()
}

describe("MockUpstream", () => {
  it("answers a chat completion as JSON on loopback", () =>
    withUpstream({ tokens: 5 }, async (u) => {
      assert.match(u.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const res = await post(u.url, chatBody())
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.headers.get("content-type"), "application/json")
      const body = await json(res)
      assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ChatSchema.ChatResponse)(body)))
      assert.strictEqual(body.choices[0].message.content, "This is a simulated answer")
      assert.strictEqual(body.usage.completion_tokens, 5)
      assert.strictEqual(body.model, "mock-1")
      assert.strictEqual(u.requests.length, 1)
      assert.strictEqual(u.requests[0]!.path, "/v1/chat/completions")
      assert.deepStrictEqual(u.requests[0]!.body, JSON.parse(chatBody()))
      assert.strictEqual(u.requests[0]!.headers["content-type"], "application/json")
    }))

  it("also serves /chat/completions without the /v1 prefix", () =>
    withUpstream({}, async (u) => {
      const res = await fetch(`${u.url.replace(/\/v1$/, "")}/chat/completions`, { method: "POST", body: chatBody() })
      assert.strictEqual(res.status, 200)
      await res.arrayBuffer()
    }))

  it("streams SSE events ending with [DONE]", () =>
    withUpstream({ tokens: 6, chunks: 3 }, async (u) => {
      const res = await post(u.url, chatBody({ stream: true, stream_options: { include_usage: true } }))
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.headers.get("content-type"), "text/event-stream")
      const data = sseData(await res.text())
      assert.strictEqual(data[data.length - 1], "[DONE]")
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
      assert.strictEqual(chunks.length, 1 + 3 + 1 + 1)
      for (const c of chunks) assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ChatSchema.ChatChunk)(c)))
      assert.strictEqual(chunks[0].choices[0].delta.role, "assistant")
      assert.strictEqual(
        chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
        "This is a simulated answer from"
      )
      assert.strictEqual(chunks[4].choices[0].finish_reason, "stop")
      assert.deepStrictEqual(chunks[5].choices, [])
      assert.strictEqual(chunks[5].usage.completion_tokens, 6)
      assert.strictEqual(u.aborted(), 0)
    }))

  it("paces a stream with the chunk delay", () =>
    withUpstream({ tokens: 4, chunks: 4, chunkDelay: 30 }, async (u) => {
      const started = Date.now()
      const res = await post(u.url, chatBody({ stream: true }))
      const data = sseData(await res.text())
      assert.isAtLeast(Date.now() - started, 4 * 30 - 5)
      assert.strictEqual(data.length, 1 + 4 + 1 + 1)
      assert.strictEqual(data[data.length - 1], "[DONE]")
      assert.strictEqual(u.aborted(), 0)
    }))

  it("waits the latency before answering", () =>
    withUpstream({ latency: 100 }, async (u) => {
      const started = Date.now()
      const res = await post(u.url, chatBody())
      await json(res)
      assert.isAtLeast(Date.now() - started, 95)
    }))

  it("answers 400 with an OpenAI error envelope to bad JSON or a body that is not a chat request", () =>
    withUpstream({}, async (u) => {
      const bad = await post(u.url, "{not json")
      assert.strictEqual(bad.status, 400)
      const body = await json(bad)
      assert.strictEqual(body.error.type, "invalid_request_error")
      assert.isString(body.error.message)
      assert.strictEqual(u.requests[0]!.body, "{not json")
      for (const body of ["", "[]", JSON.stringify({ model: "mock-1", messages: [] }), JSON.stringify({ messages: [{}] })]) {
        const res = await post(u.url, body)
        assert.strictEqual(res.status, 400, body)
        assert.property(await json(res), "error")
      }
    }))

  it("requires the API key when one is set", () =>
    withUpstream({ apiKey: "sk-test" }, async (u) => {
      const missing = await post(u.url, chatBody())
      assert.strictEqual(missing.status, 401)
      assert.strictEqual((await json(missing)).error.code, "invalid_api_key")
      const wrong = await post(u.url, chatBody(), { headers: { authorization: "Bearer nope" } })
      assert.strictEqual(wrong.status, 401)
      await wrong.arrayBuffer()
      const right = await post(u.url, chatBody(), { headers: { authorization: "Bearer sk-test" } })
      assert.strictEqual(right.status, 200)
      await right.arrayBuffer()
      assert.strictEqual(u.requests[2]!.headers.authorization, "Bearer sk-test")
    }))

  it("answers simulated errors with errorStatus and an OpenAI error envelope", () =>
    withUpstream({ errorRate: 1, errorStatus: 502 }, async (u) => {
      for (const stream of [false, true]) {
        const res = await post(u.url, chatBody({ stream }))
        assert.strictEqual(res.status, 502)
        const body = await json(res)
        assert.strictEqual(body.error.code, "simulated_error")
        assert.include(body.error.message, "Simulated")
      }
    }))

  it("lists models and answers 404 elsewhere", () =>
    withUpstream({}, async (u) => {
      const models = await fetch(`${u.url}/models`)
      assert.strictEqual(models.status, 200)
      assert.deepStrictEqual((await json(models)).data.map((m: { id: string }) => m.id), ["mock-1"])
      const missing = await fetch(`${u.url}/nothing`)
      assert.strictEqual(missing.status, 404)
      assert.property(await json(missing), "error")
    }))

  it("keeps the last 1000 requests", () =>
    withUpstream({}, async (u) => {
      for (let i = 0; i < 1005; i++) (await fetch(`${u.url}/models?i=${i}`)).body?.cancel()
      assert.strictEqual(u.requests.length, 1000)
      assert.strictEqual(u.requests[999]!.path, "/v1/models")
    }))

  it("counts a stream whose client went away before it finished", () =>
    withUpstream({ tokens: 50, chunks: 10, chunkDelay: 50 }, async (u) => {
      const controller = new AbortController()
      const res = await post(u.url, chatBody({ stream: true }), { signal: controller.signal })
      const reader = res.body!.getReader()
      const first = await reader.read()
      assert.isFalse(first.done)
      assert.include(new TextDecoder().decode(first.value), "\"role\":\"assistant\"")
      assert.strictEqual(u.aborted(), 0)
      controller.abort()
      assert.isTrue(await waitFor(() => u.aborted() === 1, 1000), "aborted() reached 1 within 1 s")
      // A finished stream is not counted.
      const full = await post(u.url, chatBody({ stream: true, max_tokens: 2 }))
      await full.text()
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.strictEqual(u.aborted(), 1)
    }))

  it("counts a stream abandoned during the latency", () =>
    withUpstream({ latency: 5000 }, async (u) => {
      const controller = new AbortController()
      const pending = post(u.url, chatBody({ stream: true }), { signal: controller.signal }).catch(() => undefined)
      assert.isTrue(await waitFor(() => u.requests.length === 1, 1000))
      controller.abort()
      await pending
      assert.isTrue(await waitFor(() => u.aborted() === 1, 1000))
    }))

  it("close ends open streams and stops listening", async () => {
    const u = await MockUpstream.start({ chunkDelay: 1000 })
    const res = await post(u.url, chatBody({ stream: true }))
    const reader = res.body!.getReader()
    await reader.read()
    await u.close()
    await u.close() // idempotent
    const rest = await reader.read().then(() => "ended", () => "failed")
    assert.include(["ended", "failed"], rest)
    const refused = await fetch(`${u.url}/models`).then(() => false, () => true)
    assert.isTrue(refused)
  })

  it.live("scoped starts it for the scope and closes it after", () =>
    Effect.gen(function*() {
      const url = yield* Effect.gen(function*() {
        const u = yield* MockUpstream.scoped({ tokens: 2 })
        const body = yield* Effect.promise(() => post(u.url, chatBody()).then(json))
        assert.strictEqual(body.choices[0].message.content, "This is")
        return u.url
      }).pipe(Effect.scoped)
      const refused = yield* Effect.promise(() => fetch(`${url}/models`).then(() => false, () => true))
      assert.isTrue(refused)
    }))

  it.live("layer provides the running upstream", () =>
    Effect.gen(function*() {
      const u = yield* MockUpstream.MockUpstream
      const res = yield* Effect.promise(() => fetch(`${u.url}/models`).then((r) => r.status))
      assert.strictEqual(res, 200)
    }).pipe(Effect.provide(MockUpstream.layer())))
})
