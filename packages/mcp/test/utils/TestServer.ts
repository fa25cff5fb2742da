/**
 * A real MCP server (the SDK's `McpServer`) over Streamable HTTP on loopback, with sessions,
 * living in the test's Scope. It can be stopped (as if it crashed: its sockets are cut and its
 * sessions forgotten) and started again on the same port, and be given a tool at runtime.
 *
 * Its tools: `add {a, b}` (the sum), `fail` (throws "disk full"), `slow` (answers only once
 * cancelled), `echo {text}` (the text and an image), `stats` (structured content only) and
 * `whoami` (the server's name).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { isInitializeRequest, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import * as z from "zod"

export interface TestServer {
  readonly url: string
  /** Listens again, on the same port. */
  readonly start: Effect.Effect<void>
  /** Cuts every connection and forgets every session, as a crash would. */
  readonly stop: Effect.Effect<void>
  /** Registers a tool (`<name> {a, b}`: the product) on every session, which tells its client. */
  readonly addTool: (name: string) => void
  /** Done once a `slow` call reached its handler. */
  readonly slowCalled: Deferred.Deferred<void>
  /** Done, with the reason the client gave, once a `slow` call was cancelled. */
  readonly slowCancelled: Deferred.Deferred<string>
  /** Sessions opened, and ended by their client (DELETE). */
  readonly sessions: { opened: number; ended: number }
  /** Whether a client's stream for server-sent notifications (GET) is open. */
  readonly listening: () => boolean
  /** The `authorization` header of every request. */
  readonly authorizations: ReadonlyArray<string | undefined>
}

interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly shape: z.ZodRawShape
  readonly outputShape?: z.ZodRawShape
  readonly handler: (args: any, extra: { signal: AbortSignal }) => Promise<CallToolResult> | CallToolResult
}

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] })

/** A 1x1 PNG. */
const pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

const baseTools = (name: string, slowCalled: Deferred.Deferred<void>, slowCancelled: Deferred.Deferred<string>) =>
  [
    { name: "add", description: "Adds two numbers", shape: { a: z.number(), b: z.number() }, handler: ({ a, b }) => text(String(a + b)) },
    {
      name: "fail",
      description: "Always fails",
      shape: {},
      handler: () => {
        throw new Error("disk full")
      }
    },
    {
      name: "slow",
      description: "Answers once cancelled",
      shape: {},
      handler: (_, { signal }) => {
        Deferred.unsafeDone(slowCalled, Effect.void)
        return new Promise<CallToolResult>((resolve) =>
          signal.addEventListener("abort", () => {
            Deferred.unsafeDone(slowCancelled, Effect.succeed(String(signal.reason)))
            resolve(text("cancelled"))
          })
        )
      }
    },
    {
      name: "echo",
      description: "The text, and a picture",
      shape: { text: z.string() },
      handler: ({ text: value }) => ({
        content: [{ type: "text", text: value }, { type: "image", data: pixel, mimeType: "image/png" }]
      })
    },
    {
      name: "stats",
      description: "Structured content only",
      shape: {},
      outputShape: { count: z.number() },
      handler: () => ({ content: [], structuredContent: { count: 3 } })
    },
    { name: "whoami", description: "The server's name", shape: {}, handler: () => text(name) }
  ] satisfies ReadonlyArray<ToolDefinition>

const product = (name: string): ToolDefinition => ({
  name,
  description: "Multiplies two numbers",
  shape: { a: z.number(), b: z.number() },
  handler: ({ a, b }) => text(String(a * b))
})

const register = (server: McpServer, tool: ToolDefinition) =>
  server.registerTool(
    tool.name,
    { description: tool.description, inputSchema: tool.shape, ...(tool.outputShape ? { outputSchema: tool.outputShape } : {}) },
    tool.handler
  )

/**
 * `pageSize`: `tools/list` answers in pages of that many tools, linked by `nextCursor` (the
 * cursor is the index of the page's first tool).
 */
const paginate = (server: McpServer, tools: ReadonlyArray<ToolDefinition>, pageSize: number) =>
  server.server.setRequestHandler(ListToolsRequestSchema, ({ params }) => {
    const start = Number(params?.cursor ?? 0)
    const next = start + pageSize
    return {
      tools: tools.slice(start, next).map((tool) => ({
        name: tool.name,
        description: tool.description,
        inputSchema: z.toJSONSchema(z.object(tool.shape)) as { type: "object" }
      })),
      ...(next < tools.length ? { nextCursor: String(next) } : {})
    }
  })

const readJson = (req: Http.IncomingMessage): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString("utf8"))))
    req.on("error", reject)
  })

export const make = (name: string, options?: { readonly pageSize?: number }): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const slowCalled = yield* Deferred.make<void>()
    const slowCancelled = yield* Deferred.make<string>()
    const tools: Array<ToolDefinition> = baseTools(name, slowCalled, slowCancelled)
    const live = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>()
    const streams = new Set<Http.ServerResponse>()
    const sessions = { opened: 0, ended: 0 }
    const authorizations: Array<string | undefined> = []

    const newSession = async (req: Http.IncomingMessage, res: Http.ServerResponse, body: unknown) => {
      const server = new McpServer({ name, version: "1.0.0" })
      for (const tool of tools) register(server, tool)
      if (options?.pageSize !== undefined) paginate(server, tools, options.pageSize)
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.opened++
          live.set(id, { transport, server })
        },
        onsessionclosed: () => {
          sessions.ended++
        }
      })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) live.delete(transport.sessionId)
      }
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
    }

    const handle = async (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      authorizations.push(req.headers.authorization)
      const id = req.headers["mcp-session-id"]
      const body = req.method === "POST" ? await readJson(req) : undefined
      const session = typeof id === "string" ? live.get(id) : undefined
      if (session !== undefined) {
        if (req.method === "GET") {
          streams.add(res)
          res.on("close", () => streams.delete(res))
        }
        return session.transport.handleRequest(req, res, body)
      }
      if (id === undefined && req.method === "POST" && isInitializeRequest(body)) return newSession(req, res, body)
      res.writeHead(id === undefined ? 400 : 404).end()
    }

    const http = Http.createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500)
        res.end()
      })
    })
    let port = 0

    const start = Effect.async<void>((resume) => {
      http.listen(port, "127.0.0.1", () => {
        port = (http.address() as { port: number }).port
        resume(Effect.void)
      })
    })

    const stop = Effect.promise(async () => {
      const closed = new Promise((resolve) => http.close(resolve))
      http.closeAllConnections()
      await Promise.all(Array.from(live.values(), ({ server }) => server.close()))
      live.clear()
      await closed
    })

    yield* start
    yield* Effect.addFinalizer(() => stop)

    return {
      url: `http://127.0.0.1:${port}/mcp`,
      start,
      stop,
      addTool: (toolName) => {
        const tool = product(toolName)
        tools.push(tool)
        for (const { server } of live.values()) register(server, tool)
      },
      slowCalled,
      slowCancelled,
      sessions,
      listening: () => Array.from(streams).some((res) => res.headersSent && !res.writableEnded),
      authorizations
    }
  })
