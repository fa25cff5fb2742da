/**
 * The gateway's inbound wire formats, end to end: the official Anthropic, Google Gen AI and
 * OpenAI SDKs, pointed at the real bundled server, talk to three loopback upstreams that speak
 * OpenAI Chat Completions, Anthropic Messages and the Gemini API (`test/utils/VendorUpstreams.ts`),
 * through models named `provider/model`, so that every client reaches every provider.
 *
 * - Each SDK asks each provider for a text (JSON and streamed) and goes through a tool round
 *   trip; the answers must be what the upstream said, in the client's format (text, stop
 *   reason, usage numbers), and each upstream must have been spoken to in its own format, with
 *   its own key and never the client's.
 * - The fast path: a client speaking the provider's own format (OpenAI -> openai, Anthropic ->
 *   anthropic, Gemini -> gemini) is forwarded its request as it came (only the model rewritten) and
 *   handed back the upstream's bytes unchanged, unknown fields included both ways; a
 *   translated request carries neither back.
 * - Token counting, each vendor's error envelope, and the legacy `/v1/completions`.
 */
import Anthropic from "@anthropic-ai/sdk"
import {
  ApiError,
  type Content,
  type FunctionDeclaration,
  type GenerateContentResponse,
  GoogleGenAI,
  Type
} from "@google/genai"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"
import * as Vendors from "../utils/VendorUpstreams.js"
import type { Exchange, Vendor, VendorUpstream } from "../utils/VendorUpstreams.js"

// ---------------------------------------------------------------------------------------------
// The upstreams, the gateway, the targets

const upstreamKeys: Readonly<Record<Vendor, string>> = {
  openai: "sk-upstream-openai",
  anthropic: "sk-ant-upstream",
  gemini: "gemini-upstream-key"
}

/** The keys the clients hold: no upstream may ever see them. */
const clientKeyPattern = /sk-client|client-key/

const vendors: ReadonlyArray<Vendor> = ["openai", "anthropic", "gemini"]
const upstreams = {} as Record<Vendor, VendorUpstream>
let gateway: RunningGateway

beforeAll(async () => {
  upstreams.openai = await Vendors.startOpenAI({ apiKey: upstreamKeys.openai })
  upstreams.anthropic = await Vendors.startAnthropic({ apiKey: upstreamKeys.anthropic })
  upstreams.gemini = await Vendors.startGemini({ apiKey: upstreamKeys.gemini })
  gateway = await startGateway({
    config: `
providers:
  - { name: openai, type: openai, base_url: "${upstreams.openai.url}/v1", api_key: ${upstreamKeys.openai} }
  - { name: anthropic, type: anthropic, base_url: "${upstreams.anthropic.url}", api_key: ${upstreamKeys.anthropic} }
  - { name: gemini, type: gemini, base_url: "${upstreams.gemini.url}", api_key: ${upstreamKeys.gemini} }
  - { name: openai-responses, type: openai, base_url: "${upstreams.openai.url}/v1", api_key: ${upstreamKeys.openai}, passthrough: true }
`
  })
}, 30_000)

afterAll(async () => {
  await gateway?.stop()
  await Promise.all(vendors.map((vendor) => upstreams[vendor]?.close()))
})

interface Target {
  readonly vendor: Vendor
  /** The model as a client names it. */
  readonly model: string
  /** The model as the upstream must receive it. */
  readonly upstreamModel: string
}

const targets: ReadonlyArray<Target> = [
  { vendor: "openai", model: "openai/gpt-4o-mini", upstreamModel: "gpt-4o-mini" },
  { vendor: "anthropic", model: "anthropic/claude-sonnet-4-5", upstreamModel: "claude-sonnet-4-5" },
  { vendor: "gemini", model: "gemini/gemini-2.5-flash", upstreamModel: "gemini-2.5-flash" }
]
const target = (vendor: Vendor): Target => targets.find((t) => t.vendor === vendor)!

const question = "What is the weather in Paris?"
const toolOutput = "21C and sunny"

// ---------------------------------------------------------------------------------------------
// What the upstreams received

type Seen = (vendor: Vendor) => Array<Exchange>

/** Runs `call`, then gives what it returned and the POSTs each upstream received meanwhile. */
const observe = async <A>(call: () => Promise<A>): Promise<{ readonly result: A; readonly seen: Seen }> => {
  const from = Object.fromEntries(vendors.map((v) => [v, upstreams[v].requests.length])) as Record<Vendor, number>
  const result = await call()
  return { result, seen: (vendor) => upstreams[vendor].posts(from[vendor]) }
}

/** `count` requests reached the target's upstream, and none any other. */
const onlyTo = (t: Target, seen: Seen, count: number): Array<Exchange> => {
  for (const vendor of vendors) {
    if (vendor !== t.vendor) expect(seen(vendor).map((r) => r.url), `requests to the ${vendor} upstream`).toEqual([])
  }
  const got = seen(t.vendor)
  expect(got.map((r) => r.url), `requests to the ${t.vendor} upstream`).toHaveLength(count)
  return got
}

const isRecord = (value: unknown): value is Record<string, any> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
const asArray = (value: unknown): ReadonlyArray<any> => (Array.isArray(value) ? value : [])

/** The text of a message's content: a string, or the `text` of its parts or blocks. */
const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : asArray(content).map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : "")).join("")

interface ToolTurn {
  readonly call: { readonly id: string | undefined; readonly name: string; readonly args: unknown }
  readonly result: { readonly id: string | undefined; readonly name: string | undefined; readonly text: string }
}

/** How to read each vendor's request. */
interface WireView {
  /** Checks the request's path, model, credentials and streaming. */
  readonly addressed: (request: Exchange, model: string, stream: boolean) => void
  /** The text of the last user turn. */
  readonly userText: (body: any) => string
  /** The function tools offered, with their parameters' property names. */
  readonly tools: (body: any) => Array<{ readonly name: string; readonly properties: Array<string> }>
  /** The conversation's tool call and its result. */
  readonly toolTurn: (body: any) => ToolTurn | undefined
}

const noClientKey = (request: Exchange) => {
  expect(JSON.stringify(request.headers), "the client's key in the upstream's headers").not.toMatch(clientKeyPattern)
  expect(request.url, "the client's key in the upstream's URL").not.toMatch(clientKeyPattern)
}

const wire: Readonly<Record<Vendor, WireView>> = {
  openai: {
    addressed: (request, model, stream) => {
      expect(request.path).toBe("/v1/chat/completions")
      expect(request.headers.authorization).toBe(`Bearer ${upstreamKeys.openai}`)
      noClientKey(request)
      expect(request.body.model).toBe(model)
      if (stream) expect(request.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
      else expect(request.body.stream ?? false).toBe(false)
    },
    userText: (body) => textOf(asArray(body.messages).filter((m) => m.role === "user").at(-1)?.content),
    tools: (body) =>
      asArray(body.tools).map((tool) => ({
        name: tool.function?.name,
        properties: Object.keys(tool.function?.parameters?.properties ?? {})
      })),
    toolTurn: (body) => {
      const messages = asArray(body.messages)
      const call = messages.find((m) => m.role === "assistant" && asArray(m.tool_calls).length > 0)?.tool_calls[0]
      const result = messages.find((m) => m.role === "tool")
      if (call === undefined || result === undefined) return undefined
      return {
        call: { id: call.id, name: call.function.name, args: JSON.parse(call.function.arguments) },
        result: { id: result.tool_call_id, name: undefined, text: textOf(result.content) }
      }
    }
  },
  anthropic: {
    addressed: (request, model, stream) => {
      expect(request.path).toBe("/v1/messages")
      expect(request.headers["x-api-key"]).toBe(upstreamKeys.anthropic)
      expect(request.headers.authorization).toBeUndefined()
      expect(request.headers["anthropic-version"]).toEqual(expect.any(String))
      noClientKey(request)
      expect(request.body.model).toBe(model)
      expect(request.body.stream ?? false).toBe(stream)
    },
    userText: (body) => textOf(asArray(body.messages).filter((m) => m.role === "user").at(-1)?.content),
    tools: (body) =>
      asArray(body.tools).map((tool) => ({ name: tool.name, properties: Object.keys(tool.input_schema?.properties ?? {}) })),
    toolTurn: (body) => {
      const blocks = asArray(body.messages).flatMap((m) => asArray(m.content))
      const call = blocks.find((b) => b.type === "tool_use")
      const result = blocks.find((b) => b.type === "tool_result")
      if (call === undefined || result === undefined) return undefined
      return {
        call: { id: call.id, name: call.name, args: call.input },
        result: { id: result.tool_use_id, name: undefined, text: textOf(result.content) }
      }
    }
  },
  gemini: {
    addressed: (request, model, stream) => {
      expect(request.path).toBe(`/v1beta/models/${model}:${stream ? "streamGenerateContent" : "generateContent"}`)
      if (stream) expect(request.query.get("alt")).toBe("sse")
      expect(request.headers["x-goog-api-key"]).toBe(upstreamKeys.gemini)
      noClientKey(request)
      expect(request.body).not.toHaveProperty("model")
    },
    userText: (body) => textOf(asArray(body.contents).filter((c) => c.role === "user").at(-1)?.parts),
    tools: (body) =>
      asArray(body.tools).flatMap((tool) => asArray(tool.functionDeclarations)).map((declaration) => ({
        name: declaration.name,
        properties: Object.keys((declaration.parametersJsonSchema ?? declaration.parameters)?.properties ?? {})
      })),
    toolTurn: (body) => {
      const parts = asArray(body.contents).flatMap((c) => asArray(c.parts))
      const call = parts.find((p) => p.functionCall !== undefined)?.functionCall
      const result = parts.find((p) => p.functionResponse !== undefined)?.functionResponse
      if (call === undefined || result === undefined) return undefined
      return {
        call: { id: call.id, name: call.name, args: call.args },
        result: { id: result.id, name: result.name, text: JSON.stringify(result.response) }
      }
    }
  }
}

/** The upstream was offered `get_weather` (with its `city` parameter) and nothing else. */
const expectWeatherToolOffered = (t: Target, request: Exchange) =>
  expect(wire[t.vendor].tools(request.body)).toEqual([{ name: "get_weather", properties: ["city"] }])

/**
 * The upstream's conversation holds the call (as the client sent it back: `clientCallId`) and
 * its result, paired as the vendor pairs them: by id (OpenAI, Anthropic), by name (Gemini).
 */
const expectToolTurn = (t: Target, request: Exchange, clientCallId: string | undefined) => {
  const turn = wire[t.vendor].toolTurn(request.body)
  expect(turn, "the upstream's conversation holds the tool call and its result").toBeDefined()
  expect(turn!.call).toMatchObject({ name: Vendors.toolCall.name, args: Vendors.toolCall.arguments })
  expect(turn!.result.text).toContain(toolOutput)
  if (t.vendor === "gemini") {
    expect(turn!.result.name).toBe(Vendors.toolCall.name)
  } else {
    expect(turn!.call.id).toEqual(expect.any(String))
    expect(turn!.result.id).toBe(turn!.call.id)
    if (clientCallId !== undefined) expect(turn!.call.id).toBe(clientCallId)
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

interface Sent {
  readonly url: string
  readonly headers: Headers
  readonly body: string
}

/** A `fetch` that records what a client sends. */
const recordingFetch = (sent: Array<Sent>) => (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  sent.push({
    url: input instanceof Request ? input.url : String(input),
    headers: new Headers(init?.headers),
    body: typeof init?.body === "string" ? init.body : ""
  })
  return fetch(input, init)
}

const anthropicClient = () => {
  const sent: Array<Sent> = []
  const client = new Anthropic({ apiKey: "sk-client", baseURL: gateway.url, maxRetries: 0, fetch: recordingFetch(sent) })
  return { client, sent }
}

const geminiClient = () => {
  const sent: Array<Sent> = []
  const ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gateway.url, fetch: recordingFetch(sent) } })
  return { ai, sent }
}

const openaiClient = () => new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}/v1`, maxRetries: 0 })

/** A POST straight to the gateway, for the byte-level checks. */
const post = (path: string, body: string, headers: Record<string, string>) =>
  fetch(`${gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })

// ---------------------------------------------------------------------------------------------
// Anthropic SDK

const weatherSchema = {
  type: "object" as const,
  properties: { city: { type: "string", description: "The city's name" } },
  required: ["city"]
}

const anthropicTool: Anthropic.Tool = {
  name: "get_weather",
  description: "The current weather in a city",
  input_schema: weatherSchema
}

describe.each(targets)("Anthropic SDK -> $model", (t) => {
  const hello = Vendors.helloText(t.vendor)
  const usage = Vendors.usage[t.vendor]

  it("messages.create: the upstream's text, end_turn and usage", async () => {
    const { client, sent } = anthropicClient()
    const { result: message, seen } = await observe(() =>
      client.messages.create({ model: t.model, max_tokens: 256, messages: [{ role: "user", content: "Hi" }] })
    )
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: hello }],
      stop_reason: "end_turn",
      usage: { input_tokens: usage.input, output_tokens: usage.output }
    })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, false)
    expect(wire[t.vendor].userText(request!.body)).toBe("Hi")
    // What the SDK sends: its key as a bearer token and its own API version.
    expect(sent[0]!.url).toBe(`${gateway.url}/v1/messages`)
    expect(sent[0]!.headers.get("authorization")).toBe("Bearer sk-client")
    if (t.vendor === "anthropic") {
      expect(request!.headers["anthropic-version"]).toBe(sent[0]!.headers.get("anthropic-version"))
      expect(request!.body).toEqual({ ...JSON.parse(sent[0]!.body), model: t.upstreamModel })
    }
  })

  it("messages.stream: text deltas and the final message", async () => {
    const { client } = anthropicClient()
    const deltas: Array<string> = []
    const { result: message, seen } = await observe(() => {
      const stream = client.messages.stream({ model: t.model, max_tokens: 256, messages: [{ role: "user", content: "Hi" }] })
      stream.on("text", (delta) => void deltas.push(delta))
      return stream.finalMessage()
    })
    expect(deltas.join("")).toBe(hello)
    expect(deltas.length, "the text came in several deltas").toBeGreaterThan(1)
    expect(message).toMatchObject({
      role: "assistant",
      content: [{ type: "text", text: hello }],
      stop_reason: "end_turn",
      usage: { input_tokens: usage.input, output_tokens: usage.output }
    })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
  })

  it("a tool round trip: tool_use, then tool_result -> the final text", async () => {
    const { client } = anthropicClient()
    const ask: Anthropic.MessageParam = { role: "user", content: question }
    const first = await observe(() =>
      client.messages.create({ model: t.model, max_tokens: 256, tools: [anthropicTool], messages: [ask] })
    )
    expect(first.result.stop_reason).toBe("tool_use")
    const toolUses = first.result.content.filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use")
    expect(toolUses).toHaveLength(1)
    const toolUse = toolUses[0]!
    expect(toolUse).toMatchObject({ name: "get_weather", input: { city: "Paris" }, id: expect.stringMatching(/.+/) })
    expect(first.result.usage).toMatchObject({ input_tokens: usage.input, output_tokens: usage.output })
    expectWeatherToolOffered(t, onlyTo(t, first.seen, 1)[0]!)

    const second = await observe(() =>
      client.messages.create({
        model: t.model,
        max_tokens: 256,
        tools: [anthropicTool],
        messages: [
          ask,
          { role: "assistant", content: first.result.content as Array<Anthropic.ContentBlockParam> },
          { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: toolOutput }] }
        ]
      })
    )
    expect(second.result).toMatchObject({ content: [{ type: "text", text: Vendors.weatherText }], stop_reason: "end_turn" })
    expectToolTurn(t, onlyTo(t, second.seen, 1)[0]!, toolUse.id)
  })

  it("a streamed tool call: the input's JSON deltas assemble to the arguments", async () => {
    const { client } = anthropicClient()
    const fragments: Array<string> = []
    const { result: message, seen } = await observe(() => {
      const stream = client.messages.stream({
        model: t.model,
        max_tokens: 256,
        tools: [anthropicTool],
        messages: [{ role: "user", content: question }]
      })
      stream.on("inputJson", (partial) => void fragments.push(partial))
      return stream.finalMessage()
    })
    expect(message.stop_reason).toBe("tool_use")
    expect(message.content).toMatchObject([{ type: "tool_use", name: "get_weather", input: { city: "Paris" } }])
    expect(JSON.parse(fragments.join(""))).toEqual({ city: "Paris" })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
    expectWeatherToolOffered(t, request!)
  })
})

// ---------------------------------------------------------------------------------------------
// Google Gen AI SDK

const weatherDeclaration: FunctionDeclaration = {
  name: "get_weather",
  description: "The current weather in a city",
  parameters: {
    type: Type.OBJECT,
    properties: { city: { type: Type.STRING, description: "The city's name" } },
    required: ["city"]
  }
}

const textOfChunks = (chunks: ReadonlyArray<GenerateContentResponse>) => chunks.map((chunk) => chunk.text ?? "").join("")

describe.each(targets)("Google Gen AI SDK -> $model", (t) => {
  const hello = Vendors.helloText(t.vendor)
  const usage = Vendors.usage[t.vendor]
  const usageMetadata = {
    promptTokenCount: usage.input,
    candidatesTokenCount: usage.output,
    totalTokenCount: usage.input + usage.output
  }

  it("models.generateContent: .text, STOP and the usage", async () => {
    const { ai, sent } = geminiClient()
    const { result: response, seen } = await observe(() => ai.models.generateContent({ model: t.model, contents: "Hi" }))
    expect(response.text).toBe(hello)
    expect(response.candidates?.[0]?.finishReason).toBe("STOP")
    expect(response.usageMetadata).toMatchObject(usageMetadata)
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, false)
    expect(wire[t.vendor].userText(request!.body)).toBe("Hi")
    // What the SDK sends: the model's slash as it is in the path, the key in a header.
    expect(sent[0]!.url).toBe(`${gateway.url}/v1beta/models/${t.model}:generateContent`)
    expect(sent[0]!.headers.get("x-goog-api-key")).toBe("client-key")
    if (t.vendor === "gemini") expect(request!.text, "the body as the client sent it").toBe(sent[0]!.body)
  })

  it("models.generateContentStream: the chunks' .text concatenate to the text", async () => {
    const { ai, sent } = geminiClient()
    const { result: chunks, seen } = await observe(async () => {
      const chunks: Array<GenerateContentResponse> = []
      for await (const chunk of await ai.models.generateContentStream({ model: t.model, contents: "Hi" })) chunks.push(chunk)
      return chunks
    })
    expect(textOfChunks(chunks)).toBe(hello)
    expect(chunks.filter((chunk) => (chunk.text ?? "") !== "").length, "the text came in several chunks").toBeGreaterThan(1)
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP")
    expect(chunks.at(-1)?.usageMetadata).toMatchObject(usageMetadata)
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
    expect(sent[0]!.url).toBe(`${gateway.url}/v1beta/models/${t.model}:streamGenerateContent?alt=sse`)
  })

  it("a tool round trip: functionCalls, then a functionResponse -> the final text", async () => {
    const { ai } = geminiClient()
    const ask: Content = { role: "user", parts: [{ text: question }] }
    const config = { tools: [{ functionDeclarations: [weatherDeclaration] }] }
    const first = await observe(() => ai.models.generateContent({ model: t.model, contents: [ask], config }))
    const calls = first.result.functionCalls ?? []
    expect(calls).toHaveLength(1)
    const call = calls[0]!
    expect(call).toMatchObject({ name: "get_weather", args: { city: "Paris" } })
    expect(first.result.candidates?.[0]?.finishReason).toBe("STOP")
    expect(first.result.usageMetadata).toMatchObject(usageMetadata)
    expectWeatherToolOffered(t, onlyTo(t, first.seen, 1)[0]!)

    const answer: Content = {
      role: "user",
      parts: [{
        functionResponse: {
          ...(call.id !== undefined ? { id: call.id } : {}),
          name: call.name!,
          response: { result: toolOutput }
        }
      }]
    }
    const second = await observe(() =>
      ai.models.generateContent({ model: t.model, contents: [ask, first.result.candidates![0]!.content!, answer], config })
    )
    expect(second.result.text).toBe(Vendors.weatherText)
    expectToolTurn(t, onlyTo(t, second.seen, 1)[0]!, call.id)
  })

  it("a streamed tool call: one whole functionCall", async () => {
    const { ai } = geminiClient()
    const { result: chunks, seen } = await observe(async () => {
      const chunks: Array<GenerateContentResponse> = []
      const stream = await ai.models.generateContentStream({
        model: t.model,
        contents: question,
        config: { tools: [{ functionDeclarations: [weatherDeclaration] }] }
      })
      for await (const chunk of stream) chunks.push(chunk)
      return chunks
    })
    const calls = chunks.flatMap((chunk) => chunk.functionCalls ?? [])
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
    expectWeatherToolOffered(t, request!)
  })
})

// ---------------------------------------------------------------------------------------------
// OpenAI SDK, Responses API

const responsesTool: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "The current weather in a city",
  parameters: weatherSchema,
  strict: false
}

/** The event types of a stream, runs of one type (the deltas) as one. */
const collapsed = (types: ReadonlyArray<string>) => types.filter((type, i) => type !== types[i - 1])

describe.each(targets)("OpenAI SDK, Responses API -> $model", (t) => {
  const hello = Vendors.helloText(t.vendor)
  const usage = Vendors.usage[t.vendor]
  const responseUsage = { input_tokens: usage.input, output_tokens: usage.output, total_tokens: usage.input + usage.output }

  it("responses.create: output_text, completed, the usage", async () => {
    const client = openaiClient()
    const { result: response, seen } = await observe(() => client.responses.create({ model: t.model, input: "Hi" }))
    expect(response.output_text).toBe(hello)
    expect(response).toMatchObject({
      object: "response",
      status: "completed",
      output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: hello }] }],
      usage: responseUsage
    })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, false)
    expect(wire[t.vendor].userText(request!.body)).toBe("Hi")
  })

  it("responses.create({ stream: true }): the documented event sequence, deltas that make the text", async () => {
    const client = openaiClient()
    const { result: events, seen } = await observe(async () => {
      const events: Array<OpenAI.Responses.ResponseStreamEvent> = []
      for await (const event of await client.responses.create({ model: t.model, input: "Hi", stream: true })) events.push(event)
      return events
    })
    const types = events.map((event) => event.type)
    expect(collapsed(types)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed"
    ])
    const deltas = events.flatMap((event) => (event.type === "response.output_text.delta" ? [event.delta] : []))
    expect(deltas.join("")).toBe(hello)
    expect(deltas.length, "the text came in several deltas").toBeGreaterThan(1)
    const sequence = events.map((event) => event.sequence_number)
    expect(sequence, "sequence numbers increase").toEqual([...sequence].sort((a, b) => a - b))
    expect(new Set(sequence).size).toBe(sequence.length)
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent
    expect(completed.response).toMatchObject({ status: "completed", usage: responseUsage })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
  })

  it("a tool round trip: a function_call item, then function_call_output -> output_text", async () => {
    const client = openaiClient()
    const ask = { role: "user" as const, content: question }
    const first = await observe(() => client.responses.create({ model: t.model, input: [ask], tools: [responsesTool] }))
    const calls = first.result.output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall =>
      item.type === "function_call"
    )
    expect(calls).toHaveLength(1)
    const call = calls[0]!
    expect(call).toMatchObject({ name: "get_weather", call_id: expect.stringMatching(/.+/) })
    expect(JSON.parse(call.arguments)).toEqual({ city: "Paris" })
    expect(first.result.usage).toMatchObject(responseUsage)
    expectWeatherToolOffered(t, onlyTo(t, first.seen, 1)[0]!)

    const second = await observe(() =>
      client.responses.create({
        model: t.model,
        tools: [responsesTool],
        input: [ask, call, { type: "function_call_output", call_id: call.call_id, output: toolOutput }]
      })
    )
    expect(second.result.output_text).toBe(Vendors.weatherText)
    expect(second.result.status).toBe("completed")
    expectToolTurn(t, onlyTo(t, second.seen, 1)[0]!, call.call_id)
  })

  it("responses.stream(...).finalResponse(): a streamed function call", async () => {
    const client = openaiClient()
    const fragments: Array<string> = []
    const { result: response, seen } = await observe(() => {
      const stream = client.responses.stream({
        model: t.model,
        input: question,
        tools: [responsesTool]
      })
      stream.on("response.function_call_arguments.delta", (event) => void fragments.push(event.delta))
      return stream.finalResponse()
    })
    expect(response.status).toBe("completed")
    const calls = response.output.filter((item) => item.type === "function_call")
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ name: "get_weather" })
    expect(JSON.parse((calls[0] as OpenAI.Responses.ResponseFunctionToolCall).arguments)).toEqual({ city: "Paris" })
    expect(JSON.parse(fragments.join(""))).toEqual({ city: "Paris" })
    const [request] = onlyTo(t, seen, 1)
    wire[t.vendor].addressed(request!, t.upstreamModel, true)
  })
})

// ---------------------------------------------------------------------------------------------
// The fast path

describe("Google Gen AI SDK in Vertex AI mode (express: an API key, no project)", () => {
  // The SDK then posts to `/v1beta1/publishers/{publisher}/models/{model}:generateContent`, the
  // model `a/b` naming publisher `a`: the gateway reads the publisher as the provider.
  const vertexClient = () => {
    const sent: Array<Sent> = []
    const ai = new GoogleGenAI({ vertexai: true, apiKey: "client-key", httpOptions: { baseUrl: gateway.url, fetch: recordingFetch(sent) } })
    return { ai, sent }
  }

  it.each(targets)("models.generateContent -> $model", async (t) => {
    const { ai, sent } = vertexClient()
    const { result: response, seen } = await observe(() => ai.models.generateContent({ model: t.model, contents: "Hi" }))
    expect(new URL(sent[0]!.url).pathname).toBe(`/v1beta1/publishers/${t.model.replace("/", "/models/")}:generateContent`)
    expect(response.text).toBe(Vendors.helloText(t.vendor))
    onlyTo(t, seen, 1)
  })
})

describe("the fast path: a client in the provider's own format", () => {
  const extra = { x_client_extra: { a: 1 } }

  it("Anthropic -> anthropic, JSON: forwarded as sent but for the model, the answer's bytes back", async () => {
    const { client, sent } = anthropicClient()
    const params = {
      model: "anthropic/claude-sonnet-4-5",
      max_tokens: 64,
      system: "Be brief.",
      messages: [{ role: "user", content: "Hi" }],
      metadata: { user_id: "user-1" },
      ...extra
    }
    const { result: response, seen } = await observe(() =>
      client.messages
        .create(params as unknown as Anthropic.MessageCreateParamsNonStreaming, {
          headers: { "anthropic-beta": "switchyard-e2e-2025-01-01" }
        })
        .asResponse()
    )
    const raw = await response.text()
    const [request] = onlyTo(target("anthropic"), seen, 1)
    const clientBody = JSON.parse(sent[0]!.body)
    expect(clientBody, "the SDK sent the unknown field").toMatchObject(extra)
    expect(request!.body).toEqual({ ...clientBody, model: "claude-sonnet-4-5" })
    expect(request!.headers["anthropic-version"]).toBe(sent[0]!.headers.get("anthropic-version"))
    expect(request!.headers["anthropic-beta"]).toBe("switchyard-e2e-2025-01-01")
    expect(request!.headers["x-api-key"]).toBe(upstreamKeys.anthropic)
    expect(request!.headers.authorization).toBeUndefined()
    expect(response.status).toBe(200)
    expect(response.headers.get("x-switchyard-provider")).toBe("anthropic")
    expect(raw, "the upstream's answer, byte for byte").toBe(request!.response)
    expect(JSON.parse(raw)).toMatchObject(Vendors.vendorExtra)
  })

  it("Anthropic -> anthropic, streamed: the upstream's event stream, byte for byte", async () => {
    const body = JSON.stringify({
      model: "anthropic/claude-sonnet-4-5",
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
      ...extra
    })
    const { result: response, seen } = await observe(() =>
      post("/v1/messages", body, { "x-api-key": "sk-client", "anthropic-version": "2023-06-01" })
    )
    const raw = await response.text()
    const [request] = onlyTo(target("anthropic"), seen, 1)
    expect(request!.body).toEqual({ ...JSON.parse(body), model: "claude-sonnet-4-5" })
    expect(request!.headers["anthropic-version"]).toBe("2023-06-01")
    expect(request!.headers["x-api-key"]).toBe(upstreamKeys.anthropic)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
    expect(raw, "the upstream's stream, byte for byte").toBe(request!.response)
    expect(raw).toContain("\"x_vendor_extra\":{\"kept\":true}")
  })

  it("Gemini -> gemini, JSON: the body as sent, the model in the path, the answer's bytes back", async () => {
    const body = JSON.stringify({
      contents: [{ role: "user", parts: [{ text: "Hi" }] }],
      generationConfig: { temperature: 0.2 },
      ...extra
    })
    const { result: response, seen } = await observe(() =>
      post("/v1beta/models/gemini/gemini-2.5-flash:generateContent", body, { "x-goog-api-key": "client-key" })
    )
    const raw = await response.text()
    const [request] = onlyTo(target("gemini"), seen, 1)
    expect(request!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    expect(request!.text, "the body, byte for byte").toBe(body)
    expect(request!.headers["x-goog-api-key"]).toBe(upstreamKeys.gemini)
    noClientKey(request!)
    expect(response.status).toBe(200)
    expect(response.headers.get("x-switchyard-provider")).toBe("gemini")
    expect(raw, "the upstream's answer, byte for byte").toBe(request!.response)
    expect(JSON.parse(raw)).toMatchObject(Vendors.vendorExtra)
  })

  it("Gemini -> gemini, streamed: the upstream's events, byte for byte", async () => {
    const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hi" }] }], ...extra })
    const { result: response, seen } = await observe(() =>
      post("/v1beta/models/gemini/gemini-2.5-flash:streamGenerateContent?alt=sse", body, { "x-goog-api-key": "client-key" })
    )
    const raw = await response.text()
    const [request] = onlyTo(target("gemini"), seen, 1)
    expect(request!.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    expect(request!.query.get("alt")).toBe("sse")
    expect(request!.text).toBe(body)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
    expect(raw, "the upstream's stream, byte for byte").toBe(request!.response)
    expect(raw).toContain("\"x_vendor_extra\":{\"kept\":true}")
  })

  it("OpenAI SDK -> openai, JSON: forwarded as sent but for the model, the answer's bytes back", async () => {
    const params = { model: "openai/gpt-4o-mini", messages: [{ role: "user" as const, content: "Hi" }], ...extra }
    const { result: response, seen } = await observe(() =>
      openaiClient().chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming).asResponse()
    )
    const raw = await response.text()
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body).toEqual({ ...params, model: "gpt-4o-mini" })
    expect(request!.headers.authorization).toBe(`Bearer ${upstreamKeys.openai}`)
    noClientKey(request!)
    expect(response.status).toBe(200)
    expect(response.headers.get("x-switchyard-provider")).toBe("openai")
    expect(raw, "the upstream's answer, byte for byte").toBe(request!.response)
    expect(JSON.parse(raw)).toMatchObject({ ...Vendors.vendorExtra, choices: [{ message: { content: Vendors.helloText("openai") } }] })
  })

  it("OpenAI -> openai, JSON and streamed with include_usage: the client's bytes up, the upstream's bytes back", async () => {
    // Laid out as JSON.stringify would not, for a model that needs no rewriting: a translated
    // request would reach the upstream re-encoded.
    for (const stream of [false, true]) {
      const body = JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Hi" }],
        ...(stream ? { stream, stream_options: { include_usage: true } } : {}),
        ...extra
      }, null, 2)
      const { result: response, seen } = await observe(() => post("/v1/chat/completions", body, { authorization: "Bearer sk-client" }))
      const raw = await response.text()
      const [request] = onlyTo(target("openai"), seen, 1)
      expect(request!.text, "the client's body, byte for byte").toBe(body)
      noClientKey(request!)
      expect(response.headers.get("content-type")).toMatch(stream ? /^text\/event-stream/ : /^application\/json/)
      expect(raw, "the upstream's answer, byte for byte").toBe(request!.response)
      expect(raw).toContain("\"x_vendor_extra\":{\"kept\":true}")
    }
  })

  it("OpenAI SDK -> openai, streamed without include_usage: the usage is asked for upstream, and the client gets the stream without it", async () => {
    const { result: stream, seen } = await observe(async () => {
      const stream = await openaiClient().chat.completions.create({
        model: "openai/gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "Hi" }]
      })
      const chunks: Array<OpenAI.ChatCompletionChunk> = []
      for await (const chunk of stream) chunks.push(chunk)
      return chunks
    })
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body.stream_options).toEqual({ include_usage: true })
    const upstreamEvents = request!.response.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)))
    const withoutUsage = upstreamEvents.filter((e) => e.usage === null).map(({ usage: _, ...rest }) => rest)
    expect(upstreamEvents.at(-1).usage, "the upstream sent the usage").toMatchObject({ total_tokens: expect.any(Number) })
    expect(stream).toEqual(withoutUsage)
    expect(stream.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(Vendors.helloText("openai"))
  })

  it("Anthropic -> openai is translated: neither side's unknown field crosses", async () => {
    const { client } = anthropicClient()
    const params = { model: "openai/gpt-4o-mini", max_tokens: 64, messages: [{ role: "user", content: "Hi" }], ...extra }
    const { result: response, seen } = await observe(() =>
      client.messages.create(params as unknown as Anthropic.MessageCreateParamsNonStreaming).asResponse()
    )
    const answer = JSON.parse(await response.text())
    expect(answer).toMatchObject({ type: "message", content: [{ type: "text", text: Vendors.helloText("openai") }] })
    expect(answer).not.toHaveProperty("x_vendor_extra")
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body).not.toHaveProperty("x_client_extra")
    expect(request!.response, "the upstream did send its field").toContain("x_vendor_extra")
  })

  it("Anthropic -> openai, streamed, is translated: Anthropic's events, no unknown field", async () => {
    const body = JSON.stringify({
      model: "openai/gpt-4o-mini",
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
      ...extra
    })
    const { result: response, seen } = await observe(() =>
      post("/v1/messages", body, { "x-api-key": "sk-client", "anthropic-version": "2023-06-01" })
    )
    const raw = await response.text()
    const names = [...raw.matchAll(/^event: (\S+)$/gm)].map((match) => match[1])
    expect(names[0]).toBe("message_start")
    expect(names.at(-1)).toBe("message_stop")
    expect(names).toContain("content_block_delta")
    expect(raw).not.toContain("x_vendor_extra")
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body).not.toHaveProperty("x_client_extra")
  })

  it("Gemini -> anthropic is translated: neither side's unknown field crosses", async () => {
    const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hi" }] }], ...extra })
    const { result: response, seen } = await observe(() =>
      post("/v1beta/models/anthropic/claude-sonnet-4-5:generateContent", body, { "x-goog-api-key": "client-key" })
    )
    const answer = JSON.parse(await response.text())
    expect(response.status).toBe(200)
    expect(answer.candidates[0].content.parts).toEqual([{ text: Vendors.helloText("anthropic") }])
    expect(answer).not.toHaveProperty("x_vendor_extra")
    const [request] = onlyTo(target("anthropic"), seen, 1)
    expect(request!.body).not.toHaveProperty("x_client_extra")
  })
})

// ---------------------------------------------------------------------------------------------
// Token counting

describe("Responses clients and a provider that serves the Responses API (openai, passthrough: true)", () => {
  const params = {
    model: "openai-responses/gpt-4o-mini",
    input: "What is new today?",
    tools: [{ type: "web_search" }],
    x_client_extra: { a: 1 }
  }

  it("forwarded as sent but for the model, built-in tools and unknown fields included; the answer's bytes back", async () => {
    const { result: response, seen } = await observe(() =>
      openaiClient().responses.create(params as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming).asResponse()
    )
    const raw = await response.text()
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.path).toBe("/v1/responses")
    expect(request!.body).toEqual({ ...params, model: "gpt-4o-mini" })
    expect(request!.headers.authorization).toBe(`Bearer ${upstreamKeys.openai}`)
    noClientKey(request!)
    expect(response.status).toBe(200)
    expect(response.headers.get("x-switchyard-provider")).toBe("openai-responses")
    expect(raw, "the upstream's answer, byte for byte").toBe(request!.response)
    expect(JSON.parse(raw).output[0].content[0].text).toBe(Vendors.responsesText)
  })

  it("streamed: the upstream's events, byte for byte, and the SDK reads them", async () => {
    const { result: response, seen } = await observe(() =>
      post("/v1/responses", JSON.stringify({ ...params, stream: true }), { authorization: "Bearer sk-client" })
    )
    const raw = await response.text()
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body).toEqual({ ...params, stream: true, model: "gpt-4o-mini" })
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
    expect(raw, "the upstream's stream, byte for byte").toBe(request!.response)
    const final = await openaiClient().responses.stream({ model: params.model, input: params.input }).finalResponse()
    expect(final.output_text).toBe(Vendors.responsesText)
  })

  it("what only the Responses API can do, asked of a provider that cannot: 400 naming the field, nothing sent", async () => {
    const { result: error, seen } = await observe(() =>
      openaiClient().responses.create({ ...params, model: "anthropic/claude-sonnet-4-5" } as never).then(() => undefined, (e: unknown) => e)
    )
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("tools[0].type")
    for (const vendor of vendors) expect(seen(vendor)).toEqual([])
  })
})

describe("token counting, by the vendor that speaks the client's format", () => {
  it("Anthropic SDK messages.countTokens -> anthropic: the upstream's input_tokens", async () => {
    const { client, sent } = anthropicClient()
    const { result, seen } = await observe(() =>
      client.messages.countTokens({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "Hi" }] })
    )
    expect(result.input_tokens).toBe(Vendors.countedTokens.anthropic)
    const [request] = onlyTo(target("anthropic"), seen, 1)
    expect(request!.path).toBe("/v1/messages/count_tokens")
    expect(request!.body).toEqual({ ...JSON.parse(sent[0]!.body), model: "claude-sonnet-4-5" })
    expect(request!.headers["anthropic-version"]).toBe(sent[0]!.headers.get("anthropic-version"))
    expect(request!.headers["x-api-key"]).toBe(upstreamKeys.anthropic)
    noClientKey(request!)
  })

  it("Anthropic SDK messages.countTokens -> openai: 404 not_found_error, in Anthropic's envelope", async () => {
    const { client } = anthropicClient()
    const { result: error, seen } = await observe(() =>
      client.messages.countTokens({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }).then(
        () => undefined,
        (e: unknown) => e
      )
    )
    expect(error).toBeInstanceOf(Anthropic.NotFoundError)
    const apiError = error as InstanceType<typeof Anthropic.NotFoundError>
    expect(apiError.status).toBe(404)
    expect(apiError.error).toMatchObject({ type: "error", error: { type: "not_found_error" } })
    const message = (apiError.error as { error: { message: string } }).error.message
    expect(message).toMatch(/openai/)
    expect(message).toMatch(/token/i)
    for (const vendor of vendors) expect(seen(vendor)).toHaveLength(0)
  })

  it("Google Gen AI SDK models.countTokens -> gemini: the upstream's totalTokens", async () => {
    const { ai, sent } = geminiClient()
    const { result, seen } = await observe(() => ai.models.countTokens({ model: "gemini/gemini-2.5-flash", contents: "Hi" }))
    expect(result.totalTokens).toBe(Vendors.countedTokens.gemini)
    const [request] = onlyTo(target("gemini"), seen, 1)
    expect(sent[0]!.url).toBe(`${gateway.url}/v1beta/models/gemini/gemini-2.5-flash:countTokens`)
    expect(request!.path).toBe("/v1beta/models/gemini-2.5-flash:countTokens")
    expect(request!.text).toBe(sent[0]!.body)
    expect(request!.headers["x-goog-api-key"]).toBe(upstreamKeys.gemini)
    noClientKey(request!)
  })
})

// ---------------------------------------------------------------------------------------------
// Errors, in each vendor's envelope

describe("errors in each vendor's envelope", () => {
  it("Anthropic SDK without max_tokens: BadRequestError, invalid_request_error", async () => {
    const { client } = anthropicClient()
    const params = { model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "Hi" }] }
    const { result: error, seen } = await observe(() =>
      client.messages.create(params as unknown as Anthropic.MessageCreateParamsNonStreaming).then(
        () => undefined,
        (e: unknown) => e
      )
    )
    expect(error).toBeInstanceOf(Anthropic.BadRequestError)
    const apiError = error as InstanceType<typeof Anthropic.BadRequestError>
    expect(apiError.status).toBe(400)
    expect(apiError.error).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringMatching(/max_tokens/) }
    })
    for (const vendor of vendors) expect(seen(vendor)).toHaveLength(0)
  })

  it("Google Gen AI SDK on an unknown model: 404 in Google's envelope, NOT_FOUND", async () => {
    const { ai } = geminiClient()
    const { result: error, seen } = await observe(() =>
      ai.models.generateContent({ model: "nope/x", contents: "Hi" }).then(() => undefined, (e: unknown) => e)
    )
    expect(error).toBeInstanceOf(ApiError)
    const apiError = error as ApiError
    expect(apiError.status).toBe(404)
    // The SDK's message is the error body, as JSON.
    expect(JSON.parse(apiError.message)).toEqual({
      error: { code: 404, message: expect.stringContaining("nope/x"), status: "NOT_FOUND" }
    })
    for (const vendor of vendors) expect(seen(vendor)).toHaveLength(0)
  })

  it("Responses with previous_response_id: 400 in OpenAI's envelope, with param", async () => {
    const client = openaiClient()
    const { result: error, seen } = await observe(() =>
      client.responses
        .create({ model: "openai/gpt-4o-mini", input: "Hi", previous_response_id: "resp_0123456789" })
        .then(() => undefined, (e: unknown) => e)
    )
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    const apiError = error as InstanceType<typeof OpenAI.BadRequestError>
    expect(apiError.status).toBe(400)
    expect(apiError.param).toBe("previous_response_id")
    expect(apiError.error).toMatchObject({ message: expect.any(String), type: "invalid_request_error", param: "previous_response_id" })
    for (const vendor of vendors) expect(seen(vendor)).toHaveLength(0)
  })
})

// ---------------------------------------------------------------------------------------------
// Legacy completions

describe("OpenAI SDK, legacy completions", () => {
  const hello = Vendors.helloText("openai")
  const usage = Vendors.usage.openai

  it("completions.create: choices[0].text", async () => {
    const client = openaiClient()
    const { result: completion, seen } = await observe(() =>
      client.completions.create({ model: "openai/gpt-4o-mini", prompt: "Say hi" })
    )
    expect(completion).toMatchObject({
      object: "text_completion",
      choices: [{ index: 0, text: hello, finish_reason: "stop" }],
      usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output }
    })
    const [request] = onlyTo(target("openai"), seen, 1)
    wire.openai.addressed(request!, "gpt-4o-mini", false)
    expect(wire.openai.userText(request!.body)).toBe("Say hi")
  })

  it("completions.create({ stream: true }): text pieces, a stop", async () => {
    const client = openaiClient()
    const { result: chunks, seen } = await observe(async () => {
      const chunks: Array<OpenAI.Completions.Completion> = []
      for await (const chunk of await client.completions.create({ model: "openai/gpt-4o-mini", prompt: "Say hi", stream: true })) {
        chunks.push(chunk)
      }
      return chunks
    })
    const texts = chunks.map((chunk) => chunk.choices[0]?.text ?? "")
    expect(texts.join("")).toBe(hello)
    expect(texts.filter((text) => text !== "").length, "the text came in several chunks").toBeGreaterThan(1)
    expect(new Set(chunks.map((chunk) => chunk.object))).toEqual(new Set(["text_completion"]))
    expect(chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => (choice.finish_reason ? [choice.finish_reason] : []))))
      .toEqual(["stop"])
    const [request] = onlyTo(target("openai"), seen, 1)
    expect(request!.body.stream).toBe(true)
    expect(wire.openai.userText(request!.body)).toBe("Say hi")
  })
})
