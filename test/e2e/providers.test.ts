/**
 * One answer shape from every provider: the official `openai` SDK, pointed at the real bundled
 * server, asks `openai/...` (an OpenAI upstream, `test/utils/ScriptedUpstream.ts`) and
 * `anthropic/...` (an Anthropic Messages upstream, below) the same questions, JSON and
 * streamed, and must not be able to tell the providers apart by shape.
 *
 * The Anthropic upstream follows https://platform.claude.com/docs/en/api/messages (the message
 * object, `x-api-key` and `anthropic-version` headers) and
 * https://platform.claude.com/docs/en/build-with-claude/streaming (the event sequence
 * message_start, content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop).
 */
import OpenAI from "openai"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"
import * as Scripted from "../utils/ScriptedUpstream.js"
import { Reply, type ScriptedUpstream } from "../utils/ScriptedUpstream.js"

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk

interface AnthropicUpstream {
  readonly url: string
  readonly requests: Array<{ readonly headers: Http.IncomingHttpHeaders; readonly body: Record<string, unknown> }>
  readonly close: () => Promise<void>
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** Answers every `POST /v1/messages` with `pieces` of text, as JSON or as the documented event stream. */
const startAnthropic = (pieces: ReadonlyArray<string>): Promise<AnthropicUpstream> => {
  const requests: AnthropicUpstream["requests"] = []
  const server = Http.createServer((req, res) => {
    let raw = ""
    req.on("data", (d) => (raw += d))
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>
      requests.push({ headers: req.headers, body })
      const message = {
        id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        type: "message",
        role: "assistant",
        model: body.model,
        stop_sequence: null
      }
      if (body.stream !== true) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({
          ...message,
          content: [{ type: "text", text: pieces.join("") }],
          stop_reason: "end_turn",
          usage: { input_tokens: 12, output_tokens: 6 }
        }))
        return
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      res.write(sse("message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } }))
      res.write(sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }))
      res.write(sse("ping", { type: "ping" }))
      for (const text of pieces) {
        res.write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }))
      }
      res.write(sse("content_block_stop", { type: "content_block_stop", index: 0 }))
      res.write(sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 6 } }))
      res.end(sse("message_stop", { type: "message_stop" }))
    })
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  )
}

const pieces = ["Hello", " from", " upstream."]
let openaiUpstream: ScriptedUpstream
let anthropic: AnthropicUpstream
let gateway: RunningGateway
let client: OpenAI

beforeAll(async () => {
  openaiUpstream = await Scripted.start("openai")
  openaiUpstream.otherwise((request) =>
    (request.body as { stream?: boolean }).stream === true ? Reply.stream(pieces) : Reply.json(pieces.join(""))
  )
  anthropic = await startAnthropic(pieces)
  gateway = await startGateway({
    config: `
providers:
  - { name: openai, type: openai, base_url: "${openaiUpstream.url}", api_key: sk-openai-test }
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: sk-ant-test }
`
  })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed", maxRetries: 0 })
}, 30_000)

afterAll(async () => {
  await gateway?.stop()
  await openaiUpstream?.close()
  await anthropic?.close()
})

const models = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"] as const

describe("the openai SDK gets one answer shape from every provider", () => {
  it("non-streaming: a chat.completion with the text, a stop finish and usage", async () => {
    const answers = await Promise.all(models.map((model) =>
      client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] })
        .withResponse()
    ))
    const shapes = answers.map(({ data, response }) => ({
      provider: response.headers.get("x-switchyard-provider"),
      object: data.object,
      role: data.choices[0]?.message.role,
      content: data.choices[0]?.message.content,
      finish: data.choices[0]?.finish_reason,
      usageKeys: Object.keys(data.usage ?? {}).filter((k) => k.endsWith("_tokens")).sort(),
      id: typeof data.id,
      created: typeof data.created
    }))
    expect(shapes[0]).toMatchObject({ provider: "openai" })
    expect(shapes[1]).toMatchObject({ provider: "anthropic" })
    const { provider: _a, ...openaiShape } = shapes[0]!
    const { provider: _b, ...anthropicShape } = shapes[1]!
    expect(anthropicShape).toEqual(openaiShape)
    expect(openaiShape).toMatchObject({ object: "chat.completion", role: "assistant", content: "Hello from upstream.", finish: "stop" })
    expect(answers[1]!.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 })

    // Anthropic was spoken to in its own format: key header, version, system prompt, max_tokens.
    const sent = anthropic.requests.at(-1)!
    expect(sent.headers["x-api-key"]).toBe("sk-ant-test")
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
    expect(sent.body).toMatchObject({ model: "claude-sonnet-4-5", system: "Be brief.", messages: [{ role: "user", content: "Hi" }] })
    expect(typeof sent.body.max_tokens).toBe("number")
  })

  it("streaming: chat.completion.chunk events, one role delta, the text in pieces, a stop, usage last", async () => {
    const streams = await Promise.all(models.map(async (model) => {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
        stream_options: { include_usage: true }
      })
      const chunks: Array<Chunk> = []
      for await (const chunk of stream) chunks.push(chunk)
      return chunks
    }))
    const shapeOf = (chunks: ReadonlyArray<Chunk>) => ({
      objects: [...new Set(chunks.map((c) => c.object))],
      ids: new Set(chunks.map((c) => c.id)).size,
      roleDeltas: chunks.filter((c) => c.choices[0]?.delta.role === "assistant").length,
      text: chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
      contentChunks: chunks.filter((c) => (c.choices[0]?.delta.content ?? "") !== "").length,
      finishes: chunks.flatMap((c) => c.choices[0]?.finish_reason ? [c.choices[0].finish_reason] : []),
      usageLast: chunks.at(-1)?.choices.length === 0 && chunks.at(-1)?.usage !== undefined && chunks.at(-1)?.usage !== null
    })
    const [openaiShape, anthropicShape] = streams.map(shapeOf)
    expect(anthropicShape).toEqual(openaiShape)
    expect(openaiShape).toEqual({
      objects: ["chat.completion.chunk"],
      ids: 1,
      roleDeltas: 1,
      text: "Hello from upstream.",
      contentChunks: pieces.length,
      finishes: ["stop"],
      usageLast: true
    })
    expect(anthropic.requests.at(-1)!.body.stream).toBe(true)
  })
})
