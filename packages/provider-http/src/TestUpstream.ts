/**
 * A fake upstream for adapter tests: a real `node:http` server on 127.0.0.1 (a free port),
 * started in the test's Scope, that answers from a function and records every request it
 * receives, and whether the client went away before the answer ended (no mock of the
 * provider's HTTP client). Vendor-neutral: each adapter's tests give it their vendor's answers.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { Socket } from "node:net"

/** One request the upstream received, and the answer it is giving. */
export interface Exchange {
  readonly method: string
  /** The request target, e.g. `/v1/chat/completions`. */
  readonly path: string
  /** `http://127.0.0.1:<port><path>` */
  readonly url: string
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, parsed (`undefined` when empty, the text when not JSON). */
  readonly body: unknown
  /** The body exactly as received, as UTF-8 text ("" when empty): what a request signature covers. */
  readonly bodyText: string
  /** The connection it came on (compare identities to see a reused connection). */
  readonly socket: Socket
  readonly remotePort: number
  /** The client closed the connection before the answer ended. */
  readonly aborted: boolean
  /** `Date.now()` when that was seen. */
  readonly abortedAt: number | undefined
  /** The whole answer was sent. */
  readonly finished: boolean
  /** Sends the status line and headers now (the first `write` does it with status 200 otherwise). */
  readonly head: (status: number, headers?: Record<string, string>) => void
  /** Writes body bytes; resolves once they are handed to the socket (or the client is gone). */
  readonly write: (text: string | Uint8Array) => Promise<void>
  /** Ends the answer. */
  readonly end: (text?: string) => Promise<void>
}

/** An answer: status (default 200), headers, and the body, written by the server. */
export interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string>
  /**
   * The whole body in one write, or pieces written one at a time (an event-loop turn apart, to
   * reach the client in separate reads).
   */
  readonly body?: string | ReadonlyArray<string | Uint8Array>
  /** Leave the answer open after the body (it never ends). */
  readonly keepOpen?: boolean
}

/**
 * How the upstream answers a request: a `Reply`, or `undefined` when the test drives the
 * exchange itself (`head` / `write` / `end`), or never answers.
 */
export type Answer = (exchange: Exchange) => Reply | undefined

/** Never answers (not even the status line). */
export const never: Answer = () => undefined

export interface Upstream {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string
  /** Every request received, in order of arrival (recorded once its body was read). */
  readonly requests: ReadonlyArray<Exchange>
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const flatten = (headers: Http.IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const parseBody = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const serve = async (exchange: Exchange, reply: Reply) => {
  exchange.head(reply.status ?? 200, reply.headers)
  const pieces = typeof reply.body === "string" ? [reply.body] : reply.body ?? []
  for (const [i, piece] of pieces.entries()) {
    if (exchange.aborted) return
    if (i > 0) await turn()
    await exchange.write(piece)
  }
  if (reply.keepOpen !== true && !exchange.aborted) await exchange.end()
}

/**
 * Starts an upstream on 127.0.0.1 (a free port) answering with `answer`; closed, with every
 * connection, when the Scope closes.
 */
export const start = (answer: Answer): Effect.Effect<Upstream, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly upstream: Upstream; readonly server: Http.Server }>((resume) => {
      const requests: Array<Exchange> = []
      let origin = ""
      const server = Http.createServer((req, res) => {
        req.on("error", () => {})
        res.on("error", () => {})
        let aborted = false
        let abortedAt: number | undefined
        res.on("close", () => {
          if (!res.writableFinished) {
            aborted = true
            abortedAt = Date.now()
          }
        })
        const parts: Array<Buffer> = []
        req.on("data", (part: Buffer) => parts.push(part))
        req.on("end", () => {
          const path = req.url ?? "/"
          const bodyText = Buffer.concat(parts).toString("utf8")
          const exchange: Exchange = {
            method: req.method ?? "",
            path,
            url: origin + path,
            headers: flatten(req.headers),
            body: parseBody(bodyText),
            bodyText,
            socket: req.socket,
            remotePort: req.socket.remotePort ?? 0,
            get aborted() {
              return aborted
            },
            get abortedAt() {
              return abortedAt
            },
            get finished() {
              return res.writableFinished
            },
            head: (status, headers = {}) => {
              res.writeHead(status, headers)
              res.flushHeaders()
            },
            write: (text) =>
              new Promise<void>((resolve) => {
                if (res.destroyed) return resolve()
                res.write(text, () => resolve())
              }),
            end: (text) =>
              new Promise<void>((resolve) => {
                if (res.destroyed) return resolve()
                res.end(text ?? "", () => resolve())
              })
          }
          requests.push(exchange)
          const reply = answer(exchange)
          if (reply !== undefined) void serve(exchange, reply)
        })
      })
      server.on("clientError", (_, socket) => socket.destroy())
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        origin = `http://127.0.0.1:${port}`
        resume(Effect.succeed({ server, upstream: { port, origin, baseUrl: `${origin}/v1`, requests } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ upstream }) => upstream))

/** A port nothing listens on: a server is started there, then closed. */
export const closedPort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number }
    server.close(() => resume(Effect.succeed(port)))
  })
})

export const json = (body: unknown, init: Omit<Reply, "body"> = {}): Reply => ({
  ...init,
  headers: { "content-type": "application/json", ...init.headers },
  body: JSON.stringify(body)
})

export const sse = (body: string | ReadonlyArray<string>, init: Omit<Reply, "body"> = {}): Reply => ({
  ...init,
  headers: { "content-type": "text/event-stream", ...init.headers },
  body
})

/** A body in pieces of `size` bytes, to cross event and UTF-8 boundaries. */
export const inPieces = (text: string, size: number): ReadonlyArray<Uint8Array> => {
  const bytes = new TextEncoder().encode(text)
  const pieces: Array<Uint8Array> = []
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size))
  return pieces
}

/** Waits in real time (polling every 5 ms, at most `withinMillis`) until `check` holds; dies otherwise. */
export const eventually = (what: string, check: () => boolean, withinMillis = 2000): Effect.Effect<void> =>
  Effect.suspend(() => {
    const until = Date.now() + withinMillis
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (check()) return Effect.void
      if (Date.now() > until) return Effect.dieMessage(`timed out waiting (in real time) for: ${what}`)
      return Effect.zipRight(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5))), loop)
    })
    return loop
  })

/** Waits in real time until the upstream received `count` requests. */
export const received = (upstream: Upstream, count = 1): Effect.Effect<void> =>
  eventually(`${count} request(s) received`, () => upstream.requests.length >= count)

/** Waits in real time until the upstream saw request `index` aborted by the client. */
export const abortedBy = (upstream: Upstream, index = 0): Effect.Effect<void> =>
  eventually(`request ${index} aborted`, () => upstream.requests[index]?.aborted === true)

