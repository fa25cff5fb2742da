/**
 * An OpenAI-compatible upstream on loopback that answers like a model using tools, for
 * end-to-end tests of the gateway's tool loop. Its answer depends only on the conversation it
 * is sent: the last user message is an instruction, the messages after it (the assistant's
 * tool calls and the `tool` results) say how far it got.
 *
 * Instructions (the last user message's text):
 * - `add A B`, `multiply A B`, `lookup Q`, `fail`, `slow`: a call of that tool (arguments
 *   `{a, b}`, `{query}` or `{}`); several joined by ` and ` (`add 2 3 and multiply 4 5`) are
 *   called in ONE answer (parallel calls). Once the conversation holds tool results after the
 *   instruction, the answer is the text `The results: <r1>, <r2>` (the results in order).
 * - `chain`: calls `add` again and again, never answering without a call (for the depth limit):
 *   round n calls `add {a: <the last result, or 0>, b: 1}` with the text `Step n.` beside it.
 * - `ping` (or anything else): the text `pong` (`You said: <text>` for anything else).
 * A tool is only called if it was offered in `tools`: with none offered the answer is the text
 * `I have no tools.`, with the one needed missing `I have no tool named <name>.`.
 *
 * Wire format as documented by OpenAI: the chat completion object
 * https://platform.openai.com/docs/api-reference/chat/object (tool calls as
 * `message.tool_calls[] = { id, type: "function", function: { name, arguments } }` with
 * `finish_reason: "tool_calls"`), and its stream
 * https://platform.openai.com/docs/api-reference/chat/streaming: `data: <chunk>` events, the
 * first delta with `role`; text in several deltas (one per word); each tool call's first
 * fragment with `index`, `id`, `type`, `function.name` and empty arguments, then its arguments
 * in two fragments; a last choice chunk with `finish_reason`; with
 * `stream_options.include_usage` every chunk has `usage: null` and one more chunk with
 * `choices: []` carries the usage; then `data: [DONE]`. `GET /v1/models` answers an empty list.
 *
 * Usage differs from round to round (prompt: 10 per message + 1 per tool offered; completion:
 * 1 + the words of the text + 4 per call), so a sum over rounds tells the rounds apart. Every
 * chat request is recorded with the answer it got.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

export interface Call {
  readonly id: string
  readonly name: string
  /** The arguments' JSON text. */
  readonly arguments: string
}

/** What the model answered one request. */
export interface Answer {
  readonly content: string | null
  readonly toolCalls: ReadonlyArray<Call>
  readonly finishReason: "stop" | "tool_calls"
  readonly usage: Usage
}

/** One chat request as received, with the answer it got. */
export interface ModelRequest {
  /** 0 for the first chat request received. */
  readonly index: number
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  /** The parsed JSON body. */
  readonly body: any
  readonly stream: boolean
  readonly answer: Answer
}

export interface ScriptedModel {
  /** `http://127.0.0.1:<port>` (configure a provider with `url + "/v1"`). */
  readonly url: string
  /** Every chat request, oldest first. */
  readonly requests: Array<ModelRequest>
  /** How many `GET /v1/models` were answered. */
  readonly listings: () => number
  readonly close: () => Promise<void>
}

/** The names of the tools a request offered, in order. */
export const offered = (request: ModelRequest): Array<string> =>
  ((request.body?.tools ?? []) as Array<any>).map((t) => t?.function?.name as string)

/** The text of a message's content (a string or text parts). */
export const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
    ? content.map((p: any) => (typeof p === "string" ? p : typeof p?.text === "string" ? p.text : "")).join("")
    : ""

/** The messages after the last user message (the tool rounds of this turn). */
export const afterInstruction = (messages: ReadonlyArray<any>): Array<any> => {
  let last = -1
  messages.forEach((m, i) => {
    if (m?.role === "user") last = i
  })
  return messages.slice(last + 1)
}

/** The sum of answers' usage. */
export const sumUsage = (answers: ReadonlyArray<Answer>): Usage =>
  answers.reduce(
    (acc, a) => ({
      prompt_tokens: acc.prompt_tokens + a.usage.prompt_tokens,
      completion_tokens: acc.completion_tokens + a.usage.completion_tokens,
      total_tokens: acc.total_tokens + a.usage.total_tokens
    }),
    { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  )

/** A text in the pieces a stream sends it: each word with the space before it. */
export const piecesOf = (text: string): Array<string> => text.split(/(?= )/)

interface Planned {
  readonly name: string
  readonly args: Record<string, unknown>
}

/** The calls an instruction asks for; undefined when it asks for none. */
const parse = (instruction: string): ReadonlyArray<Planned> | "chain" | undefined => {
  const trimmed = instruction.trim()
  if (trimmed === "chain") return "chain"
  const planned: Array<Planned> = []
  for (const part of trimmed.split(/\s+and\s+/)) {
    const words = part.trim().split(/\s+/)
    const [name, ...rest] = words
    if ((name === "add" || name === "multiply") && rest.length === 2 && rest.every((w) => /^-?\d+(\.\d+)?$/.test(w))) {
      planned.push({ name, args: { a: Number(rest[0]), b: Number(rest[1]) } })
    } else if (name === "lookup" && rest.length > 0) {
      planned.push({ name, args: { query: rest.join(" ") } })
    } else if ((name === "fail" || name === "slow") && rest.length === 0) {
      planned.push({ name, args: {} })
    } else {
      return undefined
    }
  }
  return planned
}

const usageOf = (body: any, content: string | null, calls: number): Usage => {
  const prompt = 10 * (body?.messages?.length ?? 0) + (body?.tools?.length ?? 0)
  const completion = 1 + (content === null || content === "" ? 0 : content.split(" ").length) + 4 * calls
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/** The answer to a request: what a tool-using model would say next. */
const decide = (body: any, index: number): Answer => {
  const messages: Array<any> = Array.isArray(body?.messages) ? body.messages : []
  const users = messages.filter((m) => m?.role === "user")
  const instruction = textOf(users.at(-1)?.content)
  const after = afterInstruction(messages)
  const results = after.filter((m) => m?.role === "tool").map((m) => textOf(m.content))
  const tools = new Set<string>(((body?.tools ?? []) as Array<any>).map((t) => t?.function?.name))
  const text = (content: string): Answer => ({ content, toolCalls: [], finishReason: "stop", usage: usageOf(body, content, 0) })
  const call = (planned: ReadonlyArray<Planned>, content: string | null): Answer => {
    const missing = planned.find((p) => !tools.has(p.name))
    if (missing !== undefined) return text(tools.size === 0 ? "I have no tools." : `I have no tool named ${missing.name}.`)
    const toolCalls = planned.map((p, i) => ({ id: `call_${index}_${i}`, name: p.name, arguments: JSON.stringify(p.args) }))
    return { content, toolCalls, finishReason: "tool_calls", usage: usageOf(body, content, toolCalls.length) }
  }
  const plan = parse(instruction)
  if (plan === "chain") {
    const rounds = after.filter((m) => m?.role === "assistant" && Array.isArray(m.tool_calls) && m.tool_calls.length > 0).length
    const last = Number(results.at(-1))
    return call([{ name: "add", args: { a: Number.isFinite(last) ? last : 0, b: 1 } }], `Step ${rounds + 1}.`)
  }
  if (plan !== undefined) return results.length > 0 ? text(`The results: ${results.join(", ")}`) : call(plan, null)
  return text(instruction.trim() === "ping" ? "pong" : `You said: ${instruction}`)
}

const sendJson = (res: Http.ServerResponse, status: number, body: unknown) => {
  const out = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(out) })
  res.end(out)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const write = (res: Http.ServerResponse, text: string) =>
  new Promise<void>((resolve, reject) => res.write(text, (error) => (error ? reject(error) : resolve())))

/** Splits a text in two non-empty halves (or one piece when it is too short). */
const halves = (text: string): Array<string> =>
  text.length < 2 ? [text] : [text.slice(0, Math.floor(text.length / 2)), text.slice(Math.floor(text.length / 2))]

export const start = (options: { readonly delayMs?: number } = {}): Promise<ScriptedModel> => {
  const requests: Array<ModelRequest> = []
  let listings = 0
  const delay = options.delayMs ?? 2

  const stream = async (res: Http.ServerResponse, body: any, id: string, answer: Answer) => {
    const withUsage = body?.stream_options?.include_usage === true
    const base = { id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: body?.model ?? "unknown", system_fingerprint: null }
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {})
    })
    const events: Array<unknown> = [chunk({ role: "assistant", content: answer.content === null ? null : "", refusal: null }, null)]
    if (answer.content !== null) for (const piece of piecesOf(answer.content)) events.push(chunk({ content: piece }, null))
    answer.toolCalls.forEach((c, index) => {
      events.push(chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }, null))
      for (const fragment of halves(c.arguments)) events.push(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }, null))
    })
    events.push(chunk({}, answer.finishReason))
    if (withUsage) events.push({ ...base, choices: [], usage: answer.usage })
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    res.flushHeaders()
    for (const event of events) {
      if (res.destroyed) return
      await write(res, `data: ${JSON.stringify(event)}\n\n`)
      if (delay > 0) await sleep(delay)
    }
    res.end("data: [DONE]\n\n")
  }

  const server = Http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!
      if (req.method === "GET" && /^(\/v1)?\/models$/.test(path)) {
        listings++
        return sendJson(res, 200, { object: "list", data: [] })
      }
      if (req.method !== "POST" || !/^(\/v1)?\/chat\/completions$/.test(path)) {
        return sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "invalid_request_error", param: null, code: null } })
      }
      let body: any
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8"))
      } catch {
        return sendJson(res, 400, { error: { message: "body is not JSON", type: "invalid_request_error", param: null, code: null } })
      }
      const index = requests.length
      const answer = decide(body, index)
      const isStream = body?.stream === true
      requests.push({ index, path, headers: req.headers, body, stream: isStream, answer })
      const id = `chatcmpl-scripted-${index}`
      if (isStream) {
        stream(res, body, id, answer).catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))))
        return
      }
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body?.model ?? "unknown",
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: answer.content,
            refusal: null,
            ...(answer.toolCalls.length > 0
              ? { tool_calls: answer.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }
              : {})
          },
          logprobs: null,
          finish_reason: answer.finishReason
        }],
        usage: answer.usage
      })
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        listings: () => listings,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}
