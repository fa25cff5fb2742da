/**
 * A scripted OpenAI-compatible upstream on loopback, for end-to-end tests of routing and
 * resilience: each request to `POST /v1/chat/completions` (or an Azure OpenAI deployment's
 * `/openai/deployments/<name>/chat/completions`) is answered by the next queued step
 * (an error status, a JSON completion, an SSE stream that ends well, breaks, stalls or hangs
 * up), and every request is recorded (parsed body, headers, arrival time) for assertions.
 *
 * The wire shapes follow OpenAI's API reference:
 * - the chat completion object: https://platform.openai.com/docs/api-reference/chat/object
 * - the streamed chunk object and SSE framing (`data: <chunk>\n\n`, a first chunk carrying
 *   `delta.role`, a last choice chunk with `finish_reason`, then with
 *   `stream_options.include_usage` one chunk with `choices: []` and `usage` while every other
 *   chunk has `usage: null`, then `data: [DONE]`):
 *   https://platform.openai.com/docs/api-reference/chat/streaming
 * - the error envelope `{ error: { message, type, param, code } }`:
 *   https://platform.openai.com/docs/guides/error-codes
 *
 * When the script is empty the upstream answers 418 with an envelope saying so: a status no
 * gateway retries, so a test that under-scripted fails with that message rather than hanging.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** The OpenAI error object, as inside the envelope. */
export interface ErrorBody {
  readonly message: string
  readonly type?: string
  readonly param?: string | null
  readonly code?: string | null
}

/** What identifies a completion; each defaults per response (a fresh id, now, the request's model). */
export interface Identity {
  readonly id?: string
  readonly created?: number
  readonly model?: string
}

/** How a stream ends after its pieces. */
export type StreamEnd =
  /** The last choice chunk with `finish_reason`, the usage chunk if asked for, `data: [DONE]`. */
  | "done"
  /** The socket is destroyed: the body ends mid-chunked-encoding, as when an upstream crashes. */
  | "cut"
  /** Nothing more is sent and the response stays open until the upstream is closed. */
  | "stall"
  /** An in-band `data: {"error": ...}` event, then the body ends (no `[DONE]`). */
  | "error-event"

export type Step =
  | {
    readonly kind: "error"
    readonly status: number
    readonly error: ErrorBody
    readonly headers?: Readonly<Record<string, string>>
  }
  | (Identity & {
    readonly kind: "json"
    readonly content: string
    readonly finishReason?: string
    readonly headers?: Readonly<Record<string, string>>
  })
  | (Identity & {
    readonly kind: "stream"
    readonly pieces: ReadonlyArray<string>
    readonly end: StreamEnd
    /** Send the first chunk with `delta.role` (OpenAI does). Default true. */
    readonly role?: boolean
    /** Milliseconds between two writes (and before a cut). Default 5. */
    readonly delayMs?: number
    readonly finishReason?: string
    /** For `end: "error-event"`. */
    readonly error?: ErrorBody
  })
  /** The socket is destroyed without any answer (no status line). */
  | { readonly kind: "hangup" }
  /** 200 with SSE headers, then the socket is destroyed before any event. */
  | { readonly kind: "headers-then-cut" }
  /** No answer at all: the request is left open (until the client gives up or the upstream closes). */
  | { readonly kind: "silence" }

/** A step, or a function of the request it answers (to answer according to what was received). */
export type Script = Step | ((request: RecordedRequest) => Step)

/** Builders of steps. */
export const Reply = {
  /** A non-2xx answer in the OpenAI error envelope. */
  error: (
    status: number,
    message: string,
    options: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {}
  ): Step => ({
    kind: "error",
    status,
    error: {
      message,
      type: options.type ?? (status >= 500 ? "server_error" : "invalid_request_error"),
      param: options.param ?? null,
      code: options.code ?? null
    },
    ...(options.headers !== undefined ? { headers: options.headers } : {})
  }),
  json: (content: string, options: Identity & { finishReason?: string; headers?: Record<string, string> } = {}): Step => ({
    kind: "json",
    content,
    ...options
  }),
  stream: (
    pieces: ReadonlyArray<string>,
    options: Identity & { role?: boolean; delayMs?: number; finishReason?: string } = {}
  ): Step => ({ kind: "stream", pieces, end: "done", ...options }),
  /** The role chunk and `pieces`, then the socket is destroyed. */
  streamThenCut: (pieces: ReadonlyArray<string>, options: Identity & { delayMs?: number } = {}): Step => ({
    kind: "stream",
    pieces,
    end: "cut",
    ...options
  }),
  /** The role chunk and `pieces`, then silence with the response left open. */
  streamThenStall: (pieces: ReadonlyArray<string>, options: Identity & { delayMs?: number } = {}): Step => ({
    kind: "stream",
    pieces,
    end: "stall",
    ...options
  }),
  /** The role chunk and `pieces`, then an in-band error event. */
  streamThenError: (pieces: ReadonlyArray<string>, error: ErrorBody, options: Identity & { delayMs?: number } = {}): Step => ({
    kind: "stream",
    pieces,
    end: "error-event",
    error,
    ...options
  }),
  hangup: (): Step => ({ kind: "hangup" }),
  headersThenCut: (): Step => ({ kind: "headers-then-cut" }),
  silence: (): Step => ({ kind: "silence" }),
  /** 200 with SSE headers, then no event at all, the response left open. */
  silentStream: (): Step => ({ kind: "stream", pieces: [], end: "stall", role: false, delayMs: 0 })
} as const

/** A request as the upstream received it. */
export interface RecordedRequest {
  /** 0 for the first request this upstream received. */
  readonly index: number
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  /** The parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  readonly body: any
  /** `performance.now()` when the request's headers arrived. */
  readonly at: number
}

export interface ScriptedUpstream {
  readonly name: string
  /** The base URL to configure a provider with, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string
  /** Every request received, oldest first. */
  readonly requests: Array<RecordedRequest>
  /** Queues steps, answered one per request in order. */
  readonly enqueue: (...steps: ReadonlyArray<Script>) => void
  /** What answers once the queue is empty (default: 418 "no step queued"). */
  readonly otherwise: (step: Script | undefined) => void
  /** Steps still queued. */
  readonly pending: () => number
  /** Forgets the queue, the `otherwise` step and the recorded requests. */
  readonly reset: () => void
  /** Stops listening and destroys every connection, stalled streams included. */
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const sendJson = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const write = (res: Http.ServerResponse, text: string) => new Promise<void>((resolve) => res.write(text, () => resolve()))

/**
 * Starts an upstream on `127.0.0.1` on a free port. `name` goes into response ids, so two
 * upstreams' chunks are told apart.
 */
export const start = (name: string): Promise<ScriptedUpstream> => {
  const requests: Array<RecordedRequest> = []
  let queue: Array<Script> = []
  let fallback: Script | undefined
  let responses = 0

  const next = (request: RecordedRequest): Step => {
    const script = queue.shift() ?? fallback
    if (script === undefined) {
      return Reply.error(418, `scripted upstream '${name}' has no step queued for request #${request.index}`, {
        type: "script_exhausted"
      })
    }
    return typeof script === "function" ? script(request) : script
  }

  const answer = async (req: Http.IncomingMessage, res: Http.ServerResponse, request: RecordedRequest, step: Step) => {
    const n = ++responses
    const body = request.body as { model?: string; stream_options?: { include_usage?: boolean } } | undefined
    const identity = (s: Identity) => ({
      id: s.id ?? `chatcmpl-${name}-${n}`,
      created: s.created ?? Math.floor(Date.now() / 1000),
      model: s.model ?? body?.model ?? "unknown"
    })
    switch (step.kind) {
      case "error":
        return sendJson(res, step.status, { error: step.error }, step.headers)
      case "json": {
        const completion = {
          ...identity(step),
          object: "chat.completion",
          choices: [{
            index: 0,
            message: { role: "assistant", content: step.content, refusal: null },
            logprobs: null,
            finish_reason: step.finishReason ?? "stop"
          }],
          usage: { prompt_tokens: 5, completion_tokens: step.content.split(" ").length, total_tokens: 5 + step.content.split(" ").length }
        }
        return sendJson(res, 200, completion, step.headers)
      }
      case "hangup":
        req.socket.destroy()
        return
      case "silence":
        return
      case "headers-then-cut":
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        res.flushHeaders()
        await sleep(20)
        res.socket?.destroy()
        return
      case "stream": {
        const usage = body?.stream_options?.include_usage === true
        const base = { ...identity(step), object: "chat.completion.chunk", system_fingerprint: null }
        const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
          ...base,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
          ...(usage ? { usage: null } : {})
        })
        const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`
        const delay = step.delayMs ?? 5
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
        res.flushHeaders()
        if (step.role !== false) await write(res, event(chunk({ role: "assistant", content: "", refusal: null }, null)))
        for (const piece of step.pieces) {
          if (delay > 0) await sleep(delay)
          if (res.destroyed) return
          await write(res, event(chunk({ content: piece }, null)))
        }
        if (delay > 0) await sleep(delay)
        switch (step.end) {
          case "cut":
            res.socket?.destroy()
            return
          case "stall":
            return
          case "error-event":
            res.end(event({ error: step.error ?? { message: "upstream failed", type: "server_error", param: null, code: null } }))
            return
          case "done": {
            let tail = event(chunk({}, step.finishReason ?? "stop"))
            if (usage) {
              const completion = step.pieces.length
              tail += event({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: completion, total_tokens: 5 + completion } })
            }
            res.end(`${tail}data: [DONE]\n\n`)
            return
          }
        }
      }
    }
  }

  const server = Http.createServer((req, res) => {
    const at = performance.now()
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      const text = Buffer.concat(parts).toString("utf8")
      let body: unknown = undefined
      if (text !== "") {
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      }
      const path = (req.url ?? "/").split("?")[0]!
      const request: RecordedRequest = { index: requests.length, method: req.method ?? "", path, headers: req.headers, body, at }
      requests.push(request)
      // OpenAI's path, or an Azure OpenAI deployment's (the same wire format).
      if (req.method !== "POST" || !/^((\/v1)?|\/openai\/deployments\/[^/]+)\/chat\/completions$/.test(path)) {
        sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "invalid_request_error", param: null, code: null } })
        return
      }
      answer(req, res, request, next(request)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        name,
        url: `http://127.0.0.1:${port}/v1`,
        requests,
        enqueue: (...steps) => void queue.push(...steps),
        otherwise: (step) => {
          fallback = step
        },
        pending: () => queue.length,
        reset: () => {
          queue = []
          fallback = undefined
          requests.length = 0
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}
