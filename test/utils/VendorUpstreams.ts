/**
 * Three loopback upstreams that speak the vendors' own wire formats, for end-to-end tests of
 * the gateway's inbound formats: an OpenAI Chat Completions API, an Anthropic Messages API and
 * a Gemini API. Each records every request it receives (method, URL, headers, raw and parsed
 * body) together with the exact text it answered, so a test can check both what reached the
 * vendor and that an answer came back to the client byte for byte.
 *
 * The three behave alike:
 * - a request that offers tools, in a conversation that holds no tool result yet, is answered
 *   with ONE call of `get_weather` with the arguments `{"city":"Paris"}` (finish: tool calls);
 * - otherwise the answer is the text `Sunny in Paris, 21C.` when the conversation holds a tool
 *   result, `Hello from <Vendor>!` when not;
 * - usage numbers are fixed per vendor (`usage` below), so a test can tell which upstream
 *   answered and check they survived translation;
 * - every answer carries one field no vendor documents, at its top level (`x_vendor_extra`),
 *   which only a byte-for-byte relay can hand back to a client;
 * - streams split the text into several deltas and the tool call's arguments into several
 *   fragments (Gemini, which has no argument deltas, sends the whole `functionCall` part);
 * - GET requests (the gateway's model discovery at start) get an empty model list;
 * - with `apiKey` given, a request without that key gets 401 in the vendor's error envelope.
 *
 * Wire formats, as documented:
 * - OpenAI: the chat completion object https://platform.openai.com/docs/api-reference/chat/object
 *   and its stream https://platform.openai.com/docs/api-reference/chat/streaming: `data: <chunk>`
 *   events, the first delta carrying `role`, tool calls as `delta.tool_calls[]` whose first
 *   fragment has `id`, `type` and `function.name` and the next ones `function.arguments` pieces,
 *   a last choice chunk with `finish_reason`; with `stream_options.include_usage` every chunk
 *   has `usage: null` and one more chunk with `choices: []` carries the usage; then
 *   `data: [DONE]`. Errors: `{ error: { message, type, param, code } }`
 *   (https://platform.openai.com/docs/guides/error-codes). Model list: `{ object: "list", data }`.
 * - Anthropic: the Message object https://platform.claude.com/docs/en/api/messages (`x-api-key`
 *   and `anthropic-version` headers), its event stream
 *   https://platform.claude.com/docs/en/build-with-claude/streaming (`event:` + `data:` lines:
 *   message_start, content_block_start, ping, content_block_delta..., content_block_stop,
 *   message_delta, message_stop; text as `text_delta`, tool input as `input_json_delta`
 *   `partial_json` fragments, starting with an empty one as in the documented example), token
 *   counting `POST /v1/messages/count_tokens` -> `{ input_tokens }`
 *   (https://platform.claude.com/docs/en/api/messages-count-tokens), errors
 *   `{ type: "error", error: { type, message } }` (https://platform.claude.com/docs/en/api/errors).
 * - Gemini: https://ai.google.dev/api/generate-content: `POST /v1beta/models/{model}:generateContent`
 *   answers a GenerateContentResponse (`candidates[].content.parts`, `finishReason`,
 *   `usageMetadata`, `modelVersion`, `responseId`); `:streamGenerateContent?alt=sse` one
 *   GenerateContentResponse per `data:` event (framed with CRLF as the API frames them), the
 *   last with `finishReason: "STOP"` and the whole usage, the ones before with the prompt's
 *   count only; a function call is a whole `functionCall` part and still finishes `STOP`
 *   (https://ai.google.dev/gemini-api/docs/function-calling). `:countTokens` ->
 *   `{ totalTokens, promptTokensDetails }` (https://ai.google.dev/api/tokens). The key comes as
 *   `x-goog-api-key`. Errors: `{ error: { code, message, status } }`
 *   (https://ai.google.dev/gemini-api/docs/troubleshooting). Model list: `{ models }`.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export type Vendor = "openai" | "anthropic" | "gemini"

/** How each vendor's answers name it: `Hello from OpenAI!`. */
export const vendorNames: Readonly<Record<Vendor, string>> = { openai: "OpenAI", anthropic: "Anthropic", gemini: "Gemini" }

/** The text answer of a conversation without a tool result. */
export const helloText = (vendor: Vendor): string => `Hello from ${vendorNames[vendor]}!`

/** The text answer of a conversation that holds a tool result. */
export const weatherText = "Sunny in Paris, 21C."

/** The one tool call an upstream asks for. */
export const toolCall = { name: "get_weather", arguments: { city: "Paris" } } as const

/** The tool call's arguments as the streams send them, in fragments. */
export const argumentFragments: ReadonlyArray<string> = ["{\"city\": ", "\"Paris\"}"]

/** Every answer's undocumented top-level field. */
export const vendorExtra = { x_vendor_extra: { kept: true } } as const

/** Each vendor's fixed usage, in input (prompt) and output (completion) tokens. */
export const usage: Readonly<Record<Vendor, { readonly input: number; readonly output: number }>> = {
  openai: { input: 11, output: 7 },
  anthropic: { input: 13, output: 5 },
  gemini: { input: 17, output: 3 }
}

/** What the token-counting methods answer. */
export const countedTokens = { anthropic: 42, gemini: 29 } as const

/** The text in the pieces a stream sends it: each word with the space before it. */
export const piecesOf = (text: string): ReadonlyArray<string> => text.split(/(?= )/)

/** One request as an upstream received it, and what it answered. */
export interface Exchange {
  /** 0 for the first request this upstream received. */
  readonly index: number
  readonly method: string
  /** The path and query, as received. */
  readonly url: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
  /** The body's text, as received. */
  readonly text: string
  /** The parsed JSON body; `undefined` when empty or not JSON. */
  readonly body: any
  /** The answer's status. */
  status: number
  /** Every byte of the answer's body, in the order written (complete once the answer ended). */
  response: string
}

export interface VendorUpstream {
  readonly vendor: Vendor
  /** `http://127.0.0.1:<port>`, without any API version path. */
  readonly url: string
  /** Every request received, oldest first. */
  readonly requests: Array<Exchange>
  /** The `POST` requests received from the `from`-th request on (model discovery is `GET`). */
  readonly posts: (from?: number) => Array<Exchange>
  /** Stops listening and drops every connection. */
  readonly close: () => Promise<void>
}

export interface Options {
  /** When given, a request that does not carry this key is answered 401. */
  readonly apiKey?: string
}

/** How an exchange is answered. */
interface Reply {
  readonly json: (status: number, body: unknown) => Promise<void>
  /** An event stream of `events`, each written on its own. */
  readonly events: (events: ReadonlyArray<string>) => Promise<void>
}

type Answer = (exchange: Exchange, reply: Reply, n: number) => Promise<void>

const isRecord = (value: unknown): value is Record<string, any> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const asArray = (value: unknown): ReadonlyArray<any> => (Array.isArray(value) ? value : [])

const write = (res: Http.ServerResponse, exchange: Exchange, text: string) =>
  new Promise<void>((resolve, reject) => {
    exchange.response += text
    res.write(text, (error) => (error ? reject(error) : resolve()))
  })

const end = (res: Http.ServerResponse) => new Promise<void>((resolve) => res.end(() => resolve()))

const serve = (vendor: Vendor, answer: Answer): Promise<VendorUpstream> => {
  const requests: Array<Exchange> = []
  let answered = 0
  const server = Http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      const text = Buffer.concat(parts).toString("utf8")
      let body: unknown = undefined
      try {
        body = text === "" ? undefined : JSON.parse(text)
      } catch {
        body = undefined
      }
      const url = req.url ?? "/"
      const parsed = new URL(url, "http://upstream")
      const exchange: Exchange = {
        index: requests.length,
        method: req.method ?? "",
        url,
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        text,
        body,
        status: 0,
        response: ""
      }
      requests.push(exchange)
      const reply: Reply = {
        json: async (status, value) => {
          const out = JSON.stringify(value)
          exchange.status = status
          res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(out) })
          await write(res, exchange, out)
          await end(res)
        },
        events: async (events) => {
          exchange.status = 200
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
          res.flushHeaders()
          for (const event of events) {
            if (res.destroyed) return
            await write(res, exchange, event)
          }
          await end(res)
        }
      }
      answer(exchange, reply, ++answered).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        vendor,
        url: `http://127.0.0.1:${port}`,
        requests,
        posts: (from = 0) => requests.slice(from).filter((r) => r.method === "POST"),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}

/** What a conversation asks for: the tool call, or one of the two texts. */
const decide = (vendor: Vendor, offersTools: boolean, hasToolResult: boolean) =>
  offersTools && !hasToolResult
    ? { kind: "tool" as const }
    : { kind: "text" as const, text: hasToolResult ? weatherText : helloText(vendor) }

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions

const openAiError = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, param: null, code }
})

/**
 * An OpenAI Chat Completions API: `POST /v1/chat/completions`, JSON or SSE. Configure the
 * gateway's provider with `base_url: <url>/v1`.
 */
export const startOpenAI = (options: Options = {}): Promise<VendorUpstream> =>
  serve("openai", async (exchange, reply, n) => {
    if (exchange.method === "GET" && exchange.path === "/v1/models") return reply.json(200, { object: "list", data: [] })
    if (exchange.method === "POST" && exchange.path === "/v1/responses") return respond(exchange, reply, n)
    if (exchange.method !== "POST" || exchange.path !== "/v1/chat/completions") {
      return reply.json(404, openAiError(`Unknown request URL: ${exchange.method} ${exchange.path}.`, "invalid_request_error", "unknown_url"))
    }
    if (options.apiKey !== undefined && exchange.headers.authorization !== `Bearer ${options.apiKey}`) {
      return reply.json(401, openAiError("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
    }
    const body = isRecord(exchange.body) ? exchange.body : {}
    const messages = asArray(body.messages)
    const choice = decide("openai", asArray(body.tools).length > 0, messages.some((m) => isRecord(m) && m.role === "tool"))
    const identity = {
      id: `chatcmpl-vendor-openai-${n}`,
      object: "chat.completion",
      created: 1_760_000_000 + n,
      model: typeof body.model === "string" ? body.model : "unknown"
    }
    const callId = `call_weather_${n}`
    const tokens = {
      prompt_tokens: usage.openai.input,
      completion_tokens: usage.openai.output,
      total_tokens: usage.openai.input + usage.openai.output
    }
    if (body.stream !== true) {
      const message = choice.kind === "tool"
        ? {
          role: "assistant",
          content: null,
          tool_calls: [{
            id: callId,
            type: "function",
            function: { name: toolCall.name, arguments: JSON.stringify(toolCall.arguments) }
          }],
          refusal: null,
          annotations: []
        }
        : { role: "assistant", content: choice.text, refusal: null, annotations: [] }
      return reply.json(200, {
        ...identity,
        choices: [{ index: 0, message, logprobs: null, finish_reason: choice.kind === "tool" ? "tool_calls" : "stop" }],
        usage: tokens,
        service_tier: "default",
        system_fingerprint: "fp_vendor",
        ...vendorExtra
      })
    }
    const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      ...identity,
      object: "chat.completion.chunk",
      service_tier: "default",
      system_fingerprint: "fp_vendor",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
      ...vendorExtra
    })
    const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`
    const events: Array<string> = []
    if (choice.kind === "tool") {
      events.push(data(chunk({
        role: "assistant",
        content: null,
        tool_calls: [{ index: 0, id: callId, type: "function", function: { name: toolCall.name, arguments: "" } }],
        refusal: null
      }, null)))
      for (const fragment of argumentFragments) {
        events.push(data(chunk({ tool_calls: [{ index: 0, function: { arguments: fragment } }] }, null)))
      }
      events.push(data(chunk({}, "tool_calls")))
    } else {
      events.push(data(chunk({ role: "assistant", content: "", refusal: null }, null)))
      for (const piece of piecesOf(choice.text)) events.push(data(chunk({ content: piece }, null)))
      events.push(data(chunk({}, "stop")))
    }
    if (includeUsage) {
      events.push(data({
        ...identity,
        object: "chat.completion.chunk",
        service_tier: "default",
        system_fingerprint: "fp_vendor",
        choices: [],
        usage: tokens,
        ...vendorExtra
      }))
    }
    events.push("data: [DONE]\n\n")
    return reply.events(events)
  })

/** What OpenAI's Responses API answers here, whatever it is asked. */
export const responsesText = "Hello from the Responses API!"

/**
 * OpenAI's Responses API, text only: the Response object
 * (https://platform.openai.com/docs/api-reference/responses/object) as JSON, or its event stream
 * (https://platform.openai.com/docs/api-reference/responses-streaming: response.created,
 * response.in_progress, output_item.added, content_part.added, output_text.delta...,
 * output_text.done, content_part.done, output_item.done, response.completed).
 */
const respond = (exchange: Exchange, reply: Reply, n: number) => {
  const body = isRecord(exchange.body) ? exchange.body : {}
  const part = { type: "output_text", text: responsesText, annotations: [] }
  const item = { type: "message", id: `msg_vendor_${n}`, status: "completed", role: "assistant", content: [part] }
  const response = (status: string, output: ReadonlyArray<unknown>, withUsage: boolean) => ({
    id: `resp_vendor_${n}`,
    object: "response",
    created_at: 1_760_000_000 + n,
    status,
    model: typeof body.model === "string" ? body.model : "unknown",
    output,
    usage: withUsage
      ? {
        input_tokens: usage.openai.input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: usage.openai.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.openai.input + usage.openai.output
      }
      : null,
    ...vendorExtra
  })
  if (body.stream !== true) return reply.json(200, response("completed", [item], true))
  let sequence = 0
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`
  const at = { item_id: item.id, output_index: 0, content_index: 0 }
  return reply.events([
    event("response.created", { response: response("in_progress", [], false) }),
    event("response.in_progress", { response: response("in_progress", [], false) }),
    event("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", content: [] } }),
    event("response.content_part.added", { ...at, part: { ...part, text: "" } }),
    ...piecesOf(responsesText).map((delta) => event("response.output_text.delta", { ...at, delta, logprobs: [] })),
    event("response.output_text.done", { ...at, text: responsesText, logprobs: [] }),
    event("response.content_part.done", { ...at, part }),
    event("response.output_item.done", { output_index: 0, item }),
    event("response.completed", { response: response("completed", [item], true) })
  ])
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

const anthropicError = (type: string, message: string) => ({ type: "error", error: { type, message } })

const anthropicUsage = (output: number) => ({
  input_tokens: usage.anthropic.input,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: output,
  service_tier: "standard"
})

/**
 * An Anthropic Messages API: `POST /v1/messages` (JSON or its event stream) and
 * `POST /v1/messages/count_tokens`. Configure the gateway's provider with `base_url: <url>`.
 */
export const startAnthropic = (options: Options = {}): Promise<VendorUpstream> =>
  serve("anthropic", async (exchange, reply, n) => {
    if (exchange.method === "GET" && exchange.path === "/v1/models") {
      return reply.json(200, { data: [], has_more: false, first_id: null, last_id: null })
    }
    const known = exchange.path === "/v1/messages" || exchange.path === "/v1/messages/count_tokens"
    if (exchange.method !== "POST" || !known) {
      return reply.json(404, anthropicError("not_found_error", `Not found: ${exchange.method} ${exchange.path}`))
    }
    if (options.apiKey !== undefined && exchange.headers["x-api-key"] !== options.apiKey) {
      return reply.json(401, anthropicError("authentication_error", "invalid x-api-key"))
    }
    if (typeof exchange.headers["anthropic-version"] !== "string") {
      return reply.json(400, anthropicError("invalid_request_error", "anthropic-version: header is required"))
    }
    if (exchange.path === "/v1/messages/count_tokens") {
      return reply.json(200, { input_tokens: countedTokens.anthropic, ...vendorExtra })
    }
    const body = isRecord(exchange.body) ? exchange.body : {}
    const hasToolResult = asArray(body.messages).some((m) =>
      isRecord(m) && asArray(m.content).some((block) => isRecord(block) && block.type === "tool_result")
    )
    const choice = decide("anthropic", asArray(body.tools).length > 0, hasToolResult)
    const message = {
      id: `msg_01VendorAnthropic${n}`,
      type: "message",
      role: "assistant",
      model: typeof body.model === "string" ? body.model : "unknown"
    }
    const toolUseId = `toolu_01Weather${n}`
    const stopReason = choice.kind === "tool" ? "tool_use" : "end_turn"
    if (body.stream !== true) {
      return reply.json(200, {
        ...message,
        content: choice.kind === "tool"
          ? [{ type: "tool_use", id: toolUseId, name: toolCall.name, input: toolCall.arguments }]
          : [{ type: "text", text: choice.text }],
        stop_reason: stopReason,
        stop_sequence: null,
        usage: anthropicUsage(usage.anthropic.output),
        ...vendorExtra
      })
    }
    const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
    const delta = (value: Record<string, unknown>) => event("content_block_delta", { index: 0, delta: value })
    const events = [
      event("message_start", {
        message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(1), ...vendorExtra }
      }),
      event("content_block_start", {
        index: 0,
        content_block: choice.kind === "tool"
          ? { type: "tool_use", id: toolUseId, name: toolCall.name, input: {} }
          : { type: "text", text: "" }
      }),
      event("ping", {}),
      ...(choice.kind === "tool"
        ? ["", ...argumentFragments].map((partial_json) => delta({ type: "input_json_delta", partial_json }))
        : piecesOf(choice.text).map((text) => delta({ type: "text_delta", text }))),
      event("content_block_stop", { index: 0 }),
      event("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.anthropic.output } }),
      event("message_stop", {})
    ]
    return reply.events(events)
  })

// ---------------------------------------------------------------------------------------------
// Gemini API

const googleStatus: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND"
}

const googleError = (code: number, message: string) => ({ error: { code, message, status: googleStatus[code] ?? "INTERNAL" } })

/** The model and method of `/v1beta/models/{model}:{method}` (or `/v1/...`). */
const geminiTarget = (path: string) => {
  const match = /^\/(?:v1|v1beta)\/models\/([^:]+):([A-Za-z]+)$/.exec(path)
  return match === null ? undefined : { model: decodeURIComponent(match[1]!), method: match[2]! }
}

/**
 * A Gemini API: `POST /v1beta/models/{model}:generateContent`,
 * `:streamGenerateContent?alt=sse` and `:countTokens`. Configure the gateway's provider with
 * `base_url: <url>`.
 */
export const startGemini = (options: Options = {}): Promise<VendorUpstream> =>
  serve("gemini", async (exchange, reply, n) => {
    if (exchange.method === "GET" && /^\/(v1|v1beta)\/models$/.test(exchange.path)) return reply.json(200, { models: [] })
    const target = geminiTarget(exchange.path)
    const known = target !== undefined && ["generateContent", "streamGenerateContent", "countTokens"].includes(target.method)
    if (exchange.method !== "POST" || !known) {
      return reply.json(404, googleError(404, `Method not found: ${exchange.method} ${exchange.path}`))
    }
    if (options.apiKey !== undefined && exchange.headers["x-goog-api-key"] !== options.apiKey) {
      return reply.json(400, googleError(400, "API key not valid. Please pass a valid API key."))
    }
    if (target.method === "countTokens") {
      return reply.json(200, {
        totalTokens: countedTokens.gemini,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: countedTokens.gemini }],
        ...vendorExtra
      })
    }
    const body = isRecord(exchange.body) ? exchange.body : {}
    const offersTools = asArray(body.tools).some((tool) => isRecord(tool) && asArray(tool.functionDeclarations).length > 0)
    const hasToolResult = asArray(body.contents).some((content) =>
      isRecord(content) && asArray(content.parts).some((part) => isRecord(part) && part.functionResponse !== undefined)
    )
    const choice = decide("gemini", offersTools, hasToolResult)
    const whole = {
      promptTokenCount: usage.gemini.input,
      candidatesTokenCount: usage.gemini.output,
      totalTokenCount: usage.gemini.input + usage.gemini.output,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: usage.gemini.input }]
    }
    const promptOnly = {
      promptTokenCount: usage.gemini.input,
      totalTokenCount: usage.gemini.input,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: usage.gemini.input }]
    }
    const response = (parts: ReadonlyArray<unknown>, last: boolean) => ({
      candidates: [{ content: { parts, role: "model" }, ...(last ? { finishReason: "STOP" } : {}), index: 0 }],
      usageMetadata: last ? whole : promptOnly,
      modelVersion: target.model,
      responseId: `vendor-gemini-${n}`,
      ...vendorExtra
    })
    const callPart = { functionCall: { name: toolCall.name, args: toolCall.arguments } }
    if (target.method === "generateContent") {
      return reply.json(200, response(choice.kind === "tool" ? [callPart] : [{ text: choice.text }], true))
    }
    const data = (value: unknown) => `data: ${JSON.stringify(value)}\r\n\r\n`
    if (choice.kind === "tool") return reply.events([data(response([callPart], true))])
    const pieces = piecesOf(choice.text)
    return reply.events(pieces.map((text, i) => data(response([{ text }], i === pieces.length - 1))))
  })
