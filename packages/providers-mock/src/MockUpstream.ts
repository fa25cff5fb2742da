/**
 * The simulator served over real HTTP as an OpenAI-compatible upstream on loopback: the
 * upstream of end-to-end tests and of the load benchmark.
 *
 * It is the benchmark's upstream, so it must never be the bottleneck: bare `node:http`, the
 * body read as bytes and `JSON.parse`d (no Schema), a JSON answer written with one `res.end`.
 * A stream is written as a model's server streams it, one HTTP chunk per event; unpaced, the
 * events follow one another at once, paced (`chunkDelay`) each content event after the delay.
 *
 * Routes: `POST /v1/chat/completions` (and `/chat/completions`), `GET /v1/models` (and
 * `/models`). Errors use the OpenAI envelope: 400 for a body that is not a chat request, 401
 * for a missing or wrong key (when `apiKey` is set), 404 for other routes, `errorStatus` for
 * simulated failures.
 *
 * @since 0.1.0
 */
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { nextId } from "./internal/ids.js"
import * as Simulation from "./Simulation.js"

/**
 * @since 0.1.0 @category Models
 */
export interface Options extends Simulation.Options {
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** Default `127.0.0.1`. */
  readonly host?: string
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401. */
  readonly apiKey?: string
}

/**
 * A request as the upstream received it. `body` is the parsed JSON, the raw text when it was
 * not JSON, or `undefined` when it was empty.
 *
 * @since 0.1.0 @category Models
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: unknown
}

/**
 * @since 0.1.0 @category Models
 */
export interface Running {
  /** The base URL to configure a provider with, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string
  readonly port: number
  /** The most recent requests, oldest first; at most 1000 are kept. */
  readonly requests: Array<RecordedRequest>
  /** How many streaming requests lost their client before the stream was fully written. */
  readonly aborted: () => number
  /** Stops listening and closes every connection, open streams included. */
  readonly close: () => Promise<void>
}

const maxRecorded = 1000

const jsonHeaders = (body: string): Http.OutgoingHttpHeaders => ({
  "content-type": "application/json",
  "content-length": Buffer.byteLength(body)
})

const sseHeaders: Http.OutgoingHttpHeaders = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache"
}

const send = (res: Http.ServerResponse, status: number, body: string): void => {
  res.writeHead(status, jsonHeaders(body))
  res.end(body)
}

const envelope = (message: string, type: string, code: string | null): string =>
  JSON.stringify(Simulation.errorEnvelope(message, type, code))

const badJson = envelope(
  "The request body is not valid JSON",
  "invalid_request_error",
  "invalid_json"
)
const notChatRequest = envelope(
  "The request body must be a JSON object with a non-empty 'model' string and a non-empty 'messages' array",
  "invalid_request_error",
  "invalid_request"
)
const unauthorized = envelope("Incorrect API key provided to the Switchyard mock upstream", "invalid_request_error", "invalid_api_key")
const notFound = envelope("Unknown route on the Switchyard mock upstream", "invalid_request_error", "not_found")
const modelsBody = JSON.stringify({ object: "list", data: [Simulation.modelInfo(Simulation.defaultModel)] })

const done = "data: [DONE]\n\n"

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// Just what the simulation reads; the full Schema would cost more than the whole answer.
const isChatRequest = (u: unknown): u is ChatRequest =>
  isObject(u) && typeof u.model === "string" && u.model.length > 0 && Array.isArray(u.messages) &&
  u.messages.length > 0 && u.messages.every(isObject)

const parse = (raw: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: JSON.parse(raw) }
  } catch {
    return { ok: false }
  }
}

const stripQuery = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/**
 * Starts the upstream and resolves once it listens.
 *
 * @since 0.1.0 @category Constructors
 */
export const start = (options: Options = {}): Promise<Running> => {
  const sim = Simulation.settings(options)
  const simulated = Simulation.simulatedError(sim.errorStatus)
  const expectedAuthorization = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`
  const requests: Array<RecordedRequest> = []
  let aborted = 0

  const record = (entry: RecordedRequest): void => {
    if (requests.length >= maxRecorded) requests.shift()
    requests.push(entry)
  }

  /** Runs `f` after the latency, unless the client has gone away (which also cancels the timer). */
  const afterLatency = (res: Http.ServerResponse, f: () => void): void => {
    if (sim.latencyMillis <= 0) return f()
    const timer = setTimeout(() => {
      if (!res.destroyed) f()
    }, sim.latencyMillis)
    res.once("close", () => clearTimeout(timer))
  }

  const writeStream = (res: Http.ServerResponse, events: Simulation.EncodedStream): void => {
    res.writeHead(200, sseHeaders)
    if (sim.chunkDelayMillis <= 0) {
      // One HTTP chunk per event, as a model's server streams: never one body of known length.
      res.write(events.first)
      for (const e of events.content) res.write(e)
      res.end(events.last + done)
      return
    }
    res.write(events.first)
    let next = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = (): void => {
      if (res.destroyed) return
      res.write(events.content[next++])
      if (next < events.content.length) {
        timer = setTimeout(tick, sim.chunkDelayMillis)
        return
      }
      res.end(events.last + done)
    }
    timer = setTimeout(tick, sim.chunkDelayMillis)
    res.once("close", () => clearTimeout(timer))
  }

  const chat = (res: Http.ServerResponse, body: unknown): void => {
    if (!isChatRequest(body)) return send(res, 400, notChatRequest)
    const meta: Simulation.Meta = { id: nextId(), created: Math.floor(Date.now() / 1000) }
    const stream = body.stream === true
    if (stream) {
      res.once("close", () => {
        if (!res.writableFinished) aborted++
      })
    }
    if (Simulation.fails(sim, Math.random())) {
      return afterLatency(res, () => send(res, simulated.status, simulated.body))
    }
    // Built before the wait so that a request the simulation cannot read fails at once.
    let answer: string | Simulation.EncodedStream
    try {
      answer = stream
        ? Simulation.encodeStream(Simulation.streamPlan(body, sim, meta))
        : JSON.stringify(Simulation.response(body, sim, meta))
    } catch {
      return send(res, 400, notChatRequest)
    }
    afterLatency(res, () => typeof answer === "string" ? send(res, 200, answer) : writeStream(res, answer))
  }

  const handle = (req: Http.IncomingMessage, res: Http.ServerResponse, raw: string): void => {
    const path = stripQuery(req.url ?? "/")
    const isChat = path === "/v1/chat/completions" || path === "/chat/completions"
    const parsed = raw.length === 0 ? undefined : parse(raw)
    record({
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body: parsed === undefined ? undefined : parsed.ok ? parsed.value : raw
    })
    if (expectedAuthorization !== undefined && req.headers.authorization !== expectedAuthorization) {
      return send(res, 401, unauthorized)
    }
    if (req.method === "POST" && isChat) {
      if (parsed === undefined || !parsed.ok) return send(res, 400, badJson)
      return chat(res, parsed.value)
    }
    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) return send(res, 200, modelsBody)
    send(res, 404, notFound)
  }

  const server = Http.createServer({ noDelay: true }, (req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      const raw = parts.length === 0 ? "" : parts.length === 1 ? parts[0]!.toString("utf8") : Buffer.concat(parts).toString("utf8")
      handle(req, res, raw)
    })
  })

  return new Promise<Running>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      const { address, port } = server.address() as AddressInfo
      const host = address.includes(":") ? `[${address}]` : address
      let closing: Promise<void> | undefined
      resolve({
        url: `http://${host}:${port}/v1`,
        port,
        requests,
        aborted: () => aborted,
        close: () => {
          closing ??= new Promise<void>((done, fail) => {
            server.close((error) => error === undefined ? done() : fail(error))
            server.closeAllConnections()
          })
          return closing
        }
      })
    })
  })
}

/**
 * A running upstream, as a service.
 *
 * @since 0.1.0 @category Context
 */
export class MockUpstream extends Context.Tag("@switchyard/providers-mock/MockUpstream")<MockUpstream, Running>() {}

/**
 * Starts the upstream and closes it when the scope closes. A failure to listen (a port in
 * use) is a defect.
 *
 * @since 0.1.0 @category Constructors
 */
export const scoped = (options: Options = {}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (running) => Effect.promise(() => running.close()))

/**
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options = {}): Layer.Layer<MockUpstream> => Layer.scoped(MockUpstream, scoped(options))
