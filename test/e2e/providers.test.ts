/**
 * One answer shape from every provider: the official `openai` SDK, pointed at the real bundled
 * server, asks `openai/...` (an OpenAI upstream, `test/utils/ScriptedUpstream.ts`),
 * `anthropic/...` (an Anthropic Messages upstream, below), `gemini/...` (a Gemini API upstream,
 * below), `vertex/...` (Vertex AI: the same body on project URLs, with an OAuth token from a
 * service account key), `azure/...` (an Azure OpenAI deployment) and `bedrock/...` (Bedrock
 * Converse, below) the same questions, JSON and streamed,
 * and must not be able to tell the providers apart by shape.
 *
 * The Anthropic upstream follows https://platform.claude.com/docs/en/api/messages (the message
 * object, `x-api-key` and `anthropic-version` headers) and
 * https://platform.claude.com/docs/en/build-with-claude/streaming (the event sequence
 * message_start, content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop).
 */
import { EventStreamCodec } from "@smithy/eventstream-codec"
import { fromUtf8, toUtf8 } from "@smithy/util-utf8"
import OpenAI from "openai"
import { generateKeyPairSync } from "node:crypto"
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
      // The gateway's model discovery lists models at start: this upstream lists none.
      if (req.method !== "POST") return void res.writeHead(404).end()
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

/**
 * Answers Gemini's `:generateContent` and `:streamGenerateContent?alt=sse` with `pieces`
 * (https://ai.google.dev/api/generate-content: candidates[].content.parts, finishReason,
 * usageMetadata; the stream is one GenerateContentResponse per SSE event), on the Gemini API's
 * paths and Vertex AI's alike, and Google's OAuth token endpoint at `/token`
 * (https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
 */
const startGemini = (pieces: ReadonlyArray<string>): Promise<AnthropicUpstream> => {
  const requests: AnthropicUpstream["requests"] = []
  const usageMetadata = { promptTokenCount: 12, candidatesTokenCount: 6, totalTokenCount: 18 }
  const server = Http.createServer((req, res) => {
    let raw = ""
    req.on("data", (d) => (raw += d))
    req.on("end", () => {
      // The gateway's model discovery lists models at start: this upstream lists none.
      if (req.method !== "POST") return void res.writeHead(404).end()
      if (req.url === "/token") {
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(JSON.stringify({ access_token: "ya29.vertex-test-token", expires_in: 3599, token_type: "Bearer" }))
      }
      requests.push({ headers: { ...req.headers, path: req.url }, body: JSON.parse(raw) as Record<string, unknown> })
      const candidate = (text: string, last: boolean) => ({
        content: { role: "model", parts: [{ text }] },
        index: 0,
        ...(last ? { finishReason: "STOP" } : {})
      })
      if (!(req.url ?? "").includes(":streamGenerateContent")) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ candidates: [candidate(pieces.join(""), true)], usageMetadata, modelVersion: "gemini-2.5-flash" }))
        return
      }
      res.writeHead(200, { "content-type": "text/event-stream" })
      pieces.forEach((text, i) => {
        const last = i === pieces.length - 1
        res.write(`data: ${JSON.stringify({ candidates: [candidate(text, last)], ...(last ? { usageMetadata } : {}), modelVersion: "gemini-2.5-flash" })}\r\n\r\n`)
      })
      res.end()
    })
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((done) => server.close(() => done())) })
    })
  )
}

const codec = new EventStreamCodec(toUtf8, fromUtf8)
const header = (value: string) => ({ type: "string" as const, value })

/**
 * Answers Bedrock's Converse and ConverseStream with `pieces`
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html; the stream
 * in application/vnd.amazon.eventstream frames, events messageStart, contentBlockDelta,
 * contentBlockStop, messageStop, metadata:
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html).
 */
const startBedrock = (pieces: ReadonlyArray<string>): Promise<AnthropicUpstream> => {
  const requests: AnthropicUpstream["requests"] = []
  const usage = { inputTokens: 12, outputTokens: 6, totalTokens: 18 }
  const event = (type: string, payload: unknown) =>
    codec.encode({
      headers: { ":message-type": header("event"), ":event-type": header(type), ":content-type": header("application/json") },
      body: fromUtf8(JSON.stringify(payload))
    })
  const server = Http.createServer((req, res) => {
    let raw = ""
    req.on("data", (d) => (raw += d))
    req.on("end", () => {
      // The gateway's model discovery lists models at start: this upstream lists none.
      if (req.method !== "POST") return void res.writeHead(404).end()
      requests.push({ headers: { ...req.headers, path: req.url }, body: JSON.parse(raw) as Record<string, unknown> })
      const answer = { "x-amzn-requestid": "7f1c2a3b-0d4e-4f5a-8b6c-9d0e1f2a3b4c" }
      if (!(req.url ?? "").endsWith("/converse-stream")) {
        res.writeHead(200, { "content-type": "application/json", ...answer })
        res.end(JSON.stringify({
          output: { message: { role: "assistant", content: [{ text: pieces.join("") }] } },
          stopReason: "end_turn",
          usage,
          metrics: { latencyMs: 120 }
        }))
        return
      }
      res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", ...answer })
      res.write(event("messageStart", { role: "assistant" }))
      for (const text of pieces) res.write(event("contentBlockDelta", { contentBlockIndex: 0, delta: { text } }))
      res.write(event("contentBlockStop", { contentBlockIndex: 0 }))
      res.write(event("messageStop", { stopReason: "end_turn" }))
      res.end(event("metadata", { usage, metrics: { latencyMs: 120 } }))
    })
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((done) => server.close(() => done())) })
    })
  )
}

const pieces = ["Hello", " from", " upstream."]

/** A service account key whose tokens come from `tokenUri`. */
const serviceAccount = (tokenUri: string) =>
  JSON.stringify({
    type: "service_account",
    client_email: "gateway@e2e-project.iam.gserviceaccount.com",
    private_key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }),
    token_uri: tokenUri
  })
let bedrock: AnthropicUpstream
let gemini: AnthropicUpstream
let azureUpstream: ScriptedUpstream
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
  gemini = await startGemini(pieces)
  bedrock = await startBedrock(pieces)
  azureUpstream = await Scripted.start("azure")
  azureUpstream.otherwise((request) =>
    (request.body as { stream?: boolean }).stream === true ? Reply.stream(pieces) : Reply.json(pieces.join(""))
  )
  gateway = await startGateway({
    config: `
providers:
  - { name: openai, type: openai, base_url: "${openaiUpstream.url}", api_key: sk-openai-test }
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: sk-ant-test }
  - { name: gemini, type: gemini, base_url: "${gemini.url}", api_key: gemini-test-key }
  - { name: vertex, type: vertex, base_url: "${gemini.url}", project: e2e-project, location: us-central1, service_account: "\${GOOGLE_SERVICE_ACCOUNT_JSON}" }
  - { name: azure, type: azure-openai, base_url: "${azureUpstream.url.replace(/\/v1$/, "")}", api_key: azure-test-key, deployments: { gpt-4o-mini: prod-mini } }
  - { name: bedrock, type: bedrock, base_url: "${bedrock.url}", region: us-east-1 }
`,
    env: {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      GOOGLE_SERVICE_ACCOUNT_JSON: serviceAccount(`${gemini.url}/token`)
    }
  })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed", maxRetries: 0 })
}, 30_000)

afterAll(async () => {
  await gateway?.stop()
  await openaiUpstream?.close()
  await anthropic?.close()
  await gemini?.close()
  await azureUpstream?.close()
  await bedrock?.close()
})

const models = [
  "openai/gpt-4o-mini",
  "anthropic/claude-sonnet-4-5",
  "gemini/gemini-2.5-flash",
  "vertex/gemini-2.5-flash",
  "azure/gpt-4o-mini",
  "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"
] as const

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
    expect(shapes.map((shape) => shape.provider)).toEqual(["openai", "anthropic", "gemini", "vertex", "azure", "bedrock"])
    const [openaiShape, ...others] = shapes.map(({ provider: _, ...shape }) => shape)
    for (const shape of others) expect(shape).toEqual(openaiShape)
    expect(openaiShape).toMatchObject({ object: "chat.completion", role: "assistant", content: "Hello from upstream.", finish: "stop" })
    expect(answers[1]!.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 })
    expect(answers[2]!.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 })

    // Anthropic was spoken to in its own format: key header, version, system prompt, max_tokens.
    const sent = anthropic.requests.at(-1)!
    expect(sent.headers["x-api-key"]).toBe("sk-ant-test")
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
    expect(sent.body).toMatchObject({ model: "claude-sonnet-4-5", system: "Be brief.", messages: [{ role: "user", content: "Hi" }] })
    expect(typeof sent.body.max_tokens).toBe("number")
    // Gemini and Azure in theirs: key header, model in the path, system instruction; the deployment URL.
    const toGemini = gemini.requests.find((r) => r.headers["x-goog-api-key"] !== undefined)!
    expect(toGemini.headers["x-goog-api-key"]).toBe("gemini-test-key")
    expect(toGemini.headers.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    expect(toGemini.body).toMatchObject({ systemInstruction: { parts: [{ text: "Be brief." }] }, contents: [{ role: "user", parts: [{ text: "Hi" }] }] })
    // Vertex AI: the project's URL and the service account's token, the same body.
    const toVertex = gemini.requests.find((r) => r.headers.authorization !== undefined)!
    expect(toVertex.headers.path).toBe("/v1/projects/e2e-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent")
    expect(toVertex.headers.authorization).toBe("Bearer ya29.vertex-test-token")
    expect(toVertex.body).toEqual(toGemini.body)
    const toAzure = azureUpstream.requests.at(-1)!
    expect(toAzure.path).toBe("/openai/deployments/prod-mini/chat/completions")
    expect(toAzure.headers["api-key"]).toBe("azure-test-key")
    const toBedrock = bedrock.requests.at(-1)!
    expect(toBedrock.headers.path).toBe("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse")
    expect(toBedrock.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request/)
    expect(toBedrock.body).toMatchObject({ system: [{ text: "Be brief." }], messages: [{ role: "user", content: [{ text: "Hi" }] }] })
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
    const [openaiShape, ...others] = streams.map(shapeOf)
    for (const shape of others) expect(shape).toEqual(openaiShape)
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
