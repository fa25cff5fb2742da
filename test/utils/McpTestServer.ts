/**
 * A real MCP server on loopback, made with the official SDK (`McpServer` over
 * `StreamableHTTPServerTransport` on node:http), for end-to-end tests of the gateway's MCP tool
 * loop. It serves the Streamable HTTP transport at `/mcp` statefully, as the SDK's own example
 * does: an `initialize` POST without a session opens a session (its own `McpServer` and
 * transport, its id in `Mcp-Session-Id`); POST, GET (the server's SSE stream) and DELETE with that
 * header go to it; an unknown session gets 404, a request without one that is not `initialize`
 * gets 400. Spec: https://modelcontextprotocol.io/specification/2025-06-18/basic/transports
 *
 * Its tools (input schemas in zod, which the SDK lists as JSON Schema):
 * - `add {a: number, b: number}`: the text of a + b;
 * - `multiply {a: number, b: number}`: the text of a * b;
 * - `fail {}`: throws `Error("disk full")` (the SDK answers it as a result with `isError: true`);
 * - `slow {}`: answers only when cancelled (`notifications/cancelled`, which aborts the
 *   handler's signal), when the server closes, or after `slowMs` (default 60 s).
 *
 * Every tool call is recorded (name, arguments, and for `slow` whether it was cancelled), so a
 * test can check what ran. `start({ port })` listens on a port chosen in advance (see
 * `freePort`), to bring up a server that a gateway was configured with while it was down.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as z from "zod"

/** One tool call as the server ran it. */
export interface RecordedCall {
  readonly name: string
  readonly args: Readonly<Record<string, unknown>>
  /** `performance.now()` when the call started. */
  readonly at: number
  /** For `slow`: set when the call was cancelled (its signal aborted) before it answered. */
  cancelled: boolean
}

export interface McpTestServer {
  /** `http://127.0.0.1:<port>`; the endpoint is `url + "/mcp"`. */
  readonly url: string
  readonly port: number
  /** Every tool call, oldest first. */
  readonly calls: Array<RecordedCall>
  /** The JSON-RPC methods received (requests and notifications), oldest first. */
  readonly methods: Array<string>
  /** Sessions opened so far (one per `initialize`). */
  readonly sessions: () => number
  /** The tools' names, as listed. */
  readonly toolNames: ReadonlyArray<string>
  /** Stops listening, closes every session and drops every connection; pending `slow` calls answer. */
  readonly close: () => Promise<void>
}

export interface Options {
  /** The port to listen on (0, the default: a free one). */
  readonly port?: number
  /** How long `slow` takes when not cancelled. Default 60 000 ms. */
  readonly slowMs?: number
}

export const toolNames = ["add", "multiply", "fail", "slow"] as const

/** A free loopback port, for a server to be started on later. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = Http.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] })

const sendJson = (res: Http.ServerResponse, status: number, body: unknown) => {
  const out = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(out) })
  res.end(out)
}

const rpcError = (res: Http.ServerResponse, status: number, code: number, message: string) =>
  sendJson(res, status, { jsonrpc: "2.0", error: { code, message }, id: null })

export const start = (options: Options = {}): Promise<McpTestServer> => {
  const calls: Array<RecordedCall> = []
  const methods: Array<string> = []
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const transports = new Set<StreamableHTTPServerTransport>()
  const servers = new Set<McpServer>()
  /** What makes every pending `slow` call answer (on close). */
  const pendingSlow = new Set<() => void>()
  let opened = 0
  let closing = false

  const record = (name: string, args: Record<string, unknown>): RecordedCall => {
    const call: RecordedCall = { name, args, at: performance.now(), cancelled: false }
    calls.push(call)
    return call
  }

  /** A fresh `McpServer` with the tools, for one session. */
  const makeServer = (): McpServer => {
    const server = new McpServer({ name: "switchyard-e2e-calc", version: "1.0.0" })
    const operands = { a: z.number().describe("first operand"), b: z.number().describe("second operand") }
    server.registerTool("add", { description: "Adds two numbers", inputSchema: operands }, ({ a, b }) => {
      record("add", { a, b })
      return text(String(a + b))
    })
    server.registerTool("multiply", { description: "Multiplies two numbers", inputSchema: operands }, ({ a, b }) => {
      record("multiply", { a, b })
      return text(String(a * b))
    })
    server.registerTool("fail", { description: "Always fails", inputSchema: {} }, (args) => {
      record("fail", args)
      throw new Error("disk full")
    })
    server.registerTool("slow", { description: "Takes very long", inputSchema: {} }, (args, extra) => {
      const call = record("slow", args)
      return new Promise((resolve) => {
        const done = (value: string) => {
          clearTimeout(timer)
          pendingSlow.delete(onClose)
          resolve(text(value))
        }
        const onClose = () => done("server closed")
        const timer = setTimeout(() => done("finally done"), options.slowMs ?? 60_000)
        timer.unref()
        pendingSlow.add(onClose)
        if (extra.signal.aborted) {
          call.cancelled = true
          done("cancelled")
        }
        extra.signal.addEventListener("abort", () => {
          call.cancelled = true
          done("cancelled")
        }, { once: true })
      })
    })
    servers.add(server)
    return server
  }

  const readBody = (req: Http.IncomingMessage) =>
    new Promise<unknown>((resolve, reject) => {
      const parts: Array<Buffer> = []
      req.on("data", (part: Buffer) => parts.push(part))
      req.on("error", reject)
      req.on("end", () => {
        const raw = Buffer.concat(parts).toString("utf8")
        if (raw === "") return resolve(undefined)
        try {
          resolve(JSON.parse(raw))
        } catch {
          resolve(raw)
        }
      })
    })

  const noteMethods = (body: unknown) => {
    for (const message of Array.isArray(body) ? body : [body]) {
      if (typeof message === "object" && message !== null && typeof (message as { method?: unknown }).method === "string") {
        methods.push((message as { method: string }).method)
      }
    }
  }

  const handle = async (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]
    if (path !== "/mcp") return rpcError(res, 404, -32000, `no route ${req.method} ${path}`)
    if (closing) return rpcError(res, 503, -32000, "closing")
    const header = req.headers["mcp-session-id"]
    const sessionId = Array.isArray(header) ? header[0] : header
    if (req.method === "POST") {
      const body = await readBody(req)
      noteMethods(body)
      if (sessionId !== undefined) {
        const transport = sessions.get(sessionId)
        if (transport === undefined) return rpcError(res, 404, -32001, "Session not found")
        return transport.handleRequest(req, res, body)
      }
      if (!isInitializeRequest(body)) return rpcError(res, 400, -32000, "Bad Request: No valid session ID provided")
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          opened++
          sessions.set(id, transport)
        }
      })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
        transports.delete(transport)
      }
      transports.add(transport)
      await makeServer().connect(transport)
      return transport.handleRequest(req, res, body)
    }
    if (req.method === "GET" || req.method === "DELETE") {
      if (sessionId === undefined) return rpcError(res, 400, -32000, "Bad Request: No valid session ID provided")
      const transport = sessions.get(sessionId)
      if (transport === undefined) return rpcError(res, 404, -32001, "Session not found")
      return transport.handleRequest(req, res)
    }
    res.writeHead(405, { allow: "GET, POST, DELETE" })
    res.end()
  }

  const http = Http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) rpcError(res, 500, -32603, `Internal server error: ${String(error)}`)
      else res.destroy()
    })
  })

  return new Promise((resolve, reject) => {
    http.once("error", reject)
    http.listen(options.port ?? 0, "127.0.0.1", () => {
      const port = (http.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        calls,
        methods,
        sessions: () => opened,
        toolNames,
        close: async () => {
          closing = true
          for (const answer of [...pendingSlow]) answer()
          await Promise.allSettled([...servers].map((s) => s.close()))
          await Promise.allSettled([...transports].map((t) => t.close()))
          await new Promise<void>((done) => {
            http.close(() => done())
            http.closeAllConnections()
          })
        }
      })
    })
  })
}
