/**
 * The official `openai` SDK against the real server (a child process), which forwards over
 * real HTTP on loopback to a simulated OpenAI-compatible upstream.
 */
import { MockUpstream } from "@switchyard/providers-mock"
import { createServer, type Server } from "node:http"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"

const UPSTREAM_KEY = "sk-upstream-e2e-secret-0001"
const LEAKY_KEY = "sk-leaky-e2e-secret-0002"

/** An upstream that, like a careless API, echoes the credential it was sent in its 401. */
const startLeakyUpstream = () =>
  new Promise<{ server: Server; url: string }>((resolve) => {
    const server = createServer((req, res) => {
      req.resume()
      res.writeHead(401, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `Invalid key: ${req.headers.authorization}`, type: "invalid_request_error", code: "invalid_api_key" } }))
    }).listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({ server, url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/v1` })
    })
  })

describe("openai SDK against the gateway", () => {
  let upstream: MockUpstream.Running
  let leaky: { server: Server; url: string }
  let gateway: RunningGateway
  let client: OpenAI

  beforeAll(async () => {
    upstream = await MockUpstream.start({ apiKey: UPSTREAM_KEY, tokens: 10, chunks: 5 })
    leaky = await startLeakyUpstream()
    gateway = await startGateway({
      env: { UPSTREAM_KEY, LEAKY_KEY },
      config: `
providers:
  - name: upstream
    type: openai
    base_url: ${upstream.url}
    api_key: \${UPSTREAM_KEY}
  - name: leaky
    type: openai
    base_url: ${leaky.url}
    api_key: \${LEAKY_KEY}
    models: ["leaky-*"]
  - name: sim
    type: mock
server:
  max_body_bytes: 1048576
`
    })
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "no-key-needed", maxRetries: 0 })
  })

  afterAll(async () => {
    await gateway?.stop()
    await upstream?.close()
    leaky?.server.close()
  })

  it("chat: answers from the upstream, forwarding unknown fields, with request id and provider", async () => {
    const params = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hi" }], switchyard_probe: "kept" }
    const { data, response } = await client.chat.completions.create(params).withResponse()
    expect(data.object).toBe("chat.completion")
    expect(data.model).toBe("gpt-4o-mini")
    expect(data.choices[0]?.message.content).toContain("simulated")
    expect(data.usage?.completion_tokens).toBe(10)
    expect(response.headers.get("x-switchyard-provider")).toBe("upstream")
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/)
    const forwarded = upstream.requests.at(-1)!
    expect(forwarded.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
    expect(forwarded.body).toMatchObject({ model: "gpt-4o-mini", switchyard_probe: "kept" })
  })

  it("streaming with usage: deltas in order, then one usage chunk", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream please" }],
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
    expect(text.split(" ")).toHaveLength(10)
    expect(chunks.at(-1)?.choices).toEqual([])
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(10)
    expect(chunks.slice(0, -1).every((c) => c.usage == null)).toBe(true)
  })

  it("streaming without usage: the client is not sent usage it did not ask for", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream please" }],
      stream: true
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks.some((c) => "usage" in c)).toBe(false)
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop")
  })

  it("tools: a tool call round trip", async () => {
    const tools = [{
      type: "function" as const,
      function: { name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } } } }
    }]
    const messages: Array<OpenAI.Chat.ChatCompletionMessageParam> = [{ role: "user", content: "Weather in Paris?" }]
    const first = await client.chat.completions.create({ model: "gpt-4o", messages, tools })
    const call = first.choices[0]?.message.tool_calls?.[0]
    expect(first.choices[0]?.finish_reason).toBe("tool_calls")
    expect(call?.type === "function" && call.function.name).toBe("get_weather")
    messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call!.id, content: "sunny, 21C" })
    const second = await client.chat.completions.create({ model: "gpt-4o", messages, tools })
    expect(second.choices[0]?.message.content).toContain("sunny, 21C")
    expect(upstream.requests.at(-1)!.body).toMatchObject({ messages: [{ role: "user" }, { role: "assistant" }, { role: "tool", tool_call_id: call!.id }] })
  })

  it("models: lists every provider's models", async () => {
    const ids = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids).toContain("mock-1")
    expect(ids.length).toBeGreaterThan(1)
  })

  describe("bad input: the status and envelope, and the process keeps serving", () => {
    const post = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
      fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })

    const expectEnvelope = async (response: Response, status: number) => {
      expect(response.status).toBe(status)
      expect(response.headers.get("x-request-id")).toBeTruthy()
      const body = await response.json() as { error: { message: string; type: string; code: string | null } }
      expect(typeof body.error.message).toBe("string")
      expect(typeof body.error.type).toBe("string")
      return body.error
    }

    it("invalid JSON -> 400", async () => {
      const error = await expectEnvelope(await post("{not json"), 400)
      expect(error.message).toMatch(/not valid JSON/)
    })

    it("missing model -> 400 naming the field", async () => {
      const error = await client.chat.completions.create({ messages: [{ role: "user", content: "x" }] } as never).catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.BadRequestError)
      expect(error.message).toMatch(/model/)
    })

    it("a field of the wrong type -> 400 with its path", async () => {
      const error = await expectEnvelope(await post(JSON.stringify({ model: "gpt-4o", messages: [{ role: "bot", content: "x" }] })), 400)
      expect(error.message).toMatch(/messages\[0\]\.role/)
    })

    it("unknown model -> 404 model_not_found", async () => {
      const error = await client.chat.completions.create({ model: "llama-nope", messages: [{ role: "user", content: "x" }] }).catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.NotFoundError)
      expect(error.code).toBe("model_not_found")
    })

    it("unknown provider prefix -> 404", async () => {
      const error = await client.chat.completions.create({ model: "nobody/gpt-4o", messages: [{ role: "user", content: "x" }] }).catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    })

    it("body over the limit -> 413", async () => {
      const big = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(2 * 1024 * 1024) }] })
      const error = await expectEnvelope(await post(big), 413)
      expect(error.code).toBe("request_too_large")
    })

    it("upstream 401 reaches the client as 401, without the provider's key", async () => {
      const error = await client.chat.completions.create({ model: "leaky-1", messages: [{ role: "user", content: "x" }] }).catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
      expect(JSON.stringify(error.error)).toContain("[REDACTED]")
      expect(JSON.stringify(error.error)).not.toContain(LEAKY_KEY)
      expect(gateway.output()).not.toContain(LEAKY_KEY)
    })

    it("unknown route -> 404 envelope", async () => {
      const response = await fetch(`${gateway.url}/v1/nothing-here`)
      await expectEnvelope(response, 404)
    })

    it("the process still serves after all of the above", async () => {
      const health = await fetch(`${gateway.url}/health`)
      expect(health.status).toBe(200)
      const ok = await client.chat.completions.create({ model: "mock-1", messages: [{ role: "user", content: "still there?" }] })
      expect(ok.choices[0]?.message.content).toContain("simulated")
      expect(gateway.process.exitCode).toBeNull()
    })
  })
})
