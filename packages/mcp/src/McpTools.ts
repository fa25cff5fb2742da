/**
 * The gateway's tools from MCP servers: `Tools.Tools` over the official MCP SDK client, each
 * server reached over Streamable HTTP (`url`) or run as a child process speaking stdio
 * (`command`).
 *
 * - Each server connects in the background: `make` returns at once and a gateway starts while a
 *   server is down. A server down, or whose connection is lost, is retried on the Effect clock
 *   (500 ms doubling, at most 30 s apart, forever), logged at warn with its name; meanwhile it
 *   offers no tools.
 * - Its tools are listed on connecting (every page) and again when it sends
 *   `notifications/tools/list_changed`.
 * - Tools are offered under their names made what models take (`files.read` as `files_read`),
 *   and a name two connected servers offer as `<server>__<tool>` by both (so a name may change
 *   while a server comes and goes); calls reach each server under its own name.
 * - A call never fails: an unknown tool, bad arguments, a server down, a timeout, an error thrown
 *   or reported by the tool all give an error result the model reads. A call that outlives its
 *   timeout is cancelled on the server (`notifications/cancelled`).
 * - A transport error, or a call failing without an answer from the server, is checked with a
 *   ping: a server that does not answer it is lost, and reconnected.
 *
 * ```ts
 * const ToolsLive = McpTools.layer({
 *   servers: [{ name: "tools", url: "http://127.0.0.1:7000/mcp", allowedTools: ["add"] }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { CallToolResult, Tool as McpTool } from "@modelcontextprotocol/sdk/types.js"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Tools from "@switchyard/core/Tools"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { constVoid, identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Catalog from "./internal/catalog.js"
import { answered, describe, parseArguments, render } from "./internal/results.js"

/**
 * One MCP server: `url` or `command`, not both.
 *
 * @since 0.1.0 @category Models
 */
export interface ServerOptions {
  /** Unique among the servers: it names the server in logs, spans and namespaced tool names. */
  readonly name: string
  /** Streamable HTTP endpoint (e.g. http://127.0.0.1:7000/mcp) ... */
  readonly url?: string | undefined
  /** Sent on every HTTP request (auth). Their values are never logged. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** ... or a stdio server: the command run, with args and env (added to a minimal PATH, HOME, ...). */
  readonly command?: string | undefined
  readonly args?: ReadonlyArray<string> | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Only these of its tools are offered (absent: all). */
  readonly allowedTools?: ReadonlyArray<string> | undefined
  /** The most rounds of tool calls a request may take; the gateway uses the smallest of its servers'. Default 5. */
  readonly maxCallDepth?: number | undefined
  /** Each request's bound (a call, a listing, connecting). Default 30 s. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** @since 0.1.0 @category Models */
export interface Options {
  readonly servers: ReadonlyArray<ServerOptions>
}

/** @since 0.1.0 @category Defaults */
export const defaults = { maxCallDepth: 5, timeout: Duration.seconds(30) } as const

/**
 * Starts connecting to every server, in the background and in the Scope: closing it ends every
 * session (the HTTP DELETE the spec asks for, bounded to 5 s) and child process, and stops
 * reconnecting.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (options: Options): Effect.Effect<Tools.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const servers = yield* resolve(options.servers)
    const state = yield* Ref.make<State>({ live: new Map(), catalog: Catalog.empty })
    const offer = offerFrom(servers, state)
    yield* Effect.forkScoped(Effect.forEach(servers, (server) => supervise(server, offer), { concurrency: "unbounded", discard: true }))
    return Tools.Tools.of({
      list: Effect.map(Ref.get(state), (s) => s.catalog.tools),
      call: (name, args) => Effect.flatMap(Ref.get(state), (s) => call(s.catalog.byName.get(name), name, args)),
      maxDepth: servers.length === 0
        ? defaults.maxCallDepth
        : Math.min(...servers.map((server) => server.options.maxCallDepth ?? defaults.maxCallDepth))
    })
  })

/** @since 0.1.0 @category Layers */
export const layer = (options: Options): Layer.Layer<Tools.Tools> => Layer.scoped(Tools.Tools, make(options))

interface Server {
  readonly name: string
  readonly options: ServerOptions
  readonly timeout: Duration.Duration
  readonly allowed: ReadonlySet<string> | undefined
}

interface Connection {
  readonly server: Server
  readonly client: Client
  /** Fails once the connection is gone. */
  readonly lost: Deferred.Deferred<never, ConnectionLost>
  /** Errors that put the connection in doubt, each checked with a ping (a burst is checked once). */
  readonly doubts: Queue.Queue<unknown>
  /** The server's tools changed (several notifications in a row are one re-listing). */
  readonly changes: Queue.Queue<void>
}

class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly reason: string }> {}

interface Live {
  readonly connection: Connection
  readonly tools: ReadonlyArray<McpTool>
}

interface State {
  readonly live: ReadonlyMap<string, Live>
  readonly catalog: Catalog.Catalog<Connection>
}

/** Offers a server's tools (or, `undefined`, withdraws them): the catalog is rebuilt at once. */
type Offer = (server: string, live: Live | undefined) => Effect.Effect<void>

/** The configuration, checked: a configuration the decoder let through by mistake is a bug, a defect. */
const resolve = (servers: ReadonlyArray<ServerOptions>): Effect.Effect<ReadonlyArray<Server>> =>
  Effect.suspend(() => {
    const names = new Set<string>()
    for (const server of servers) {
      if (names.has(server.name)) return Effect.dieMessage(`two MCP servers are named '${server.name}'`)
      names.add(server.name)
      if ((server.url === undefined) === (server.command === undefined)) {
        return Effect.dieMessage(`the MCP server '${server.name}' needs either a url or a command`)
      }
      if (server.url !== undefined && !URL.canParse(server.url)) {
        return Effect.dieMessage(`the url of the MCP server '${server.name}' is not a URL`)
      }
    }
    return Effect.succeed(servers.map((options): Server => ({
      name: options.name,
      options,
      timeout: Duration.decode(options.timeout ?? defaults.timeout),
      allowed: options.allowedTools === undefined ? undefined : new Set(options.allowedTools)
    })))
  })

const offerFrom = (servers: ReadonlyArray<Server>, state: Ref.Ref<State>): Offer => (name, live) =>
  Ref.update(state, (current) => {
    const next = new Map(current.live)
    if (live === undefined) next.delete(name)
    else next.set(name, live)
    return {
      live: next,
      catalog: Catalog.build(servers.flatMap((server) => {
        const entry = next.get(server.name)
        return entry === undefined ? [] : [{ server: server.name, allowed: server.allowed, ...entry }]
      }))
    }
  })

/**
 * The reconnection backoff: 500 ms doubling, at most 30 s apart, forever. It starts over once a
 * connection is made.
 */
const reconnection = Schedule.exponential("500 millis").pipe(Schedule.union(Schedule.spaced("30 seconds")))

/** Keeps one server connected for as long as the Scope lasts. */
const supervise = (server: Server, offer: Offer): Effect.Effect<never> =>
  Effect.flatMap(Schedule.driver(reconnection), (backoff) =>
    session(server, offer, backoff.reset).pipe(
      Effect.zipRight(Effect.ignore(backoff.next(undefined))),
      Effect.forever
    )).pipe(Effect.annotateLogs("mcp.server", server.name))

/** One connection, from connecting to its loss (or its failure to connect), logged. */
const session = (server: Server, offer: Offer, connected: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const connection = yield* open(server)
    const tools = yield* listTools(connection)
    yield* Effect.addFinalizer(() => offer(server.name, undefined))
    yield* offer(server.name, { connection, tools })
    yield* connected
    yield* Effect.logInfo(`connected to MCP server '${server.name}'`).pipe(Effect.annotateLogs("tools", tools.length))
    yield* Effect.forkScoped(followChanges(connection, offer))
    yield* Effect.forkScoped(checkDoubts(connection))
    return yield* Deferred.await(connection.lost)
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) =>
      error instanceof ConnectionLost
        ? Effect.logWarning(`lost the connection to MCP server '${server.name}' (${error.reason}); reconnecting`)
        : Effect.logWarning(`connecting to MCP server '${server.name}' failed (${describe(error)}); retrying`)
    )
  )

const clientInfo = { name: "switchyard", version: "0.1.0" }

/** A connected client, closed with the Scope. */
const open = (server: Server): Effect.Effect<Connection, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const lost = yield* Deferred.make<never, ConnectionLost>()
    const doubts = yield* Queue.sliding<unknown>(1)
    const changes = yield* Queue.sliding<void>(1)
    const transport = transportOf(server.options)
    const client = new Client(clientInfo)
    client.onclose = () => Deferred.unsafeDone(lost, Effect.fail(new ConnectionLost({ reason: "the connection closed" })))
    client.onerror = (error) => doubts.unsafeOffer(error)
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes.unsafeOffer(undefined)
    })
    yield* Effect.addFinalizer(() => close(client, transport))
    yield* request(server, (options) => client.connect(transport, options))
    return { server, client, lost, doubts, changes }
  })

const transportOf = (server: ServerOptions): Transport =>
  server.url !== undefined
    ? new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { ...server.headers } } })
    : new StdioClientTransport({
      command: server.command!,
      args: [...(server.args ?? [])],
      ...(server.env === undefined ? {} : { env: { ...server.env } })
    })

/** How long closing waits for the server to acknowledge the end of the session. */
const sessionEndMillis = 5_000

/**
 * Ends the session: over HTTP the DELETE the spec asks for (without it the server keeps the
 * session), then the transport (a child process is ended: stdin closed, then signals).
 */
const close = (client: Client, transport: Transport): Effect.Effect<void> =>
  Effect.promise(async () => {
    if (transport instanceof StreamableHTTPClientTransport) {
      // A finalizer cannot be interrupted, so the bound is a timer: `client.close` aborts the request.
      const bound = new Promise<void>((resolve) => setTimeout(resolve, sessionEndMillis).unref())
      await Promise.race([transport.terminateSession(), bound]).catch(constVoid)
    }
    await client.close().catch(constVoid)
  })

/** The largest delay `setTimeout` takes: the SDK's own request timer, set never to race ours. */
const sdkTimeoutMillis = 2_147_483_647

/**
 * One request, bounded by the server's timeout on the Effect clock; interrupted (or timed out),
 * its signal aborts it and the SDK tells the server (`notifications/cancelled`).
 */
const request = <A>(server: Server, send: (options: RequestOptions) => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({ try: (signal) => send({ signal, timeout: sdkTimeoutMillis }), catch: identity }).pipe(
    Effect.timeout(server.timeout)
  )

/** Every page of the server's tools. */
const listTools = (connection: Connection): Effect.Effect<ReadonlyArray<McpTool>, unknown> => {
  const from = (cursor: string | undefined, listed: ReadonlyArray<McpTool>): Effect.Effect<ReadonlyArray<McpTool>, unknown> =>
    request(connection.server, (options) => connection.client.listTools(cursor === undefined ? undefined : { cursor }, options)).pipe(
      Effect.flatMap((page) => {
        const tools = [...listed, ...page.tools]
        return page.nextCursor === undefined || page.nextCursor === "" ? Effect.succeed(tools) : from(page.nextCursor, tools)
      })
    )
  return from(undefined, [])
}

/** Lists the tools again whenever the server says they changed; a failed listing keeps the last. */
const followChanges = (connection: Connection, offer: Offer): Effect.Effect<never> =>
  Queue.take(connection.changes).pipe(
    Effect.zipRight(listTools(connection)),
    Effect.matchEffect({
      onSuccess: (tools) => offer(connection.server.name, { connection, tools }),
      onFailure: (error) =>
        Effect.logWarning(`listing the tools of MCP server '${connection.server.name}' failed (${describe(error)}); keeping its last list`).pipe(
          Effect.zipRight(doubt(connection, error))
        )
    }),
    Effect.forever
  )

/** A server that does not answer a ping after an error is lost. */
const checkDoubts = (connection: Connection): Effect.Effect<never> =>
  Queue.take(connection.doubts).pipe(
    Effect.zipRight(request(connection.server, (options) => connection.client.ping(options))),
    Effect.catchAll((error) =>
      answered(error) ? Effect.void : Deferred.fail(connection.lost, new ConnectionLost({ reason: describe(error) }))
    ),
    Effect.forever
  )

const doubt = (connection: Connection, error: unknown): Effect.Effect<void> =>
  Effect.sync(() => {
    if (!answered(error) && !Cause.isTimeoutException(error)) connection.doubts.unsafeOffer(error)
  })

const call = (target: Catalog.Target<Connection> | undefined, name: string, args: string): Effect.Effect<Tools.CallResult> => {
  const run = target === undefined
    ? Effect.succeed(failure(`no tool named '${name}' is available`))
    : Either.match(parseArguments(name, args), {
      onLeft: (reason) => Effect.succeed(failure(reason)),
      onRight: (parsed) => invoke(target, name, parsed)
    })
  return run.pipe(Effect.withSpan("McpTools.call", {
    attributes: { "gen_ai.tool.name": name, ...(target === undefined ? {} : { "mcp.server": target.server }) }
  }))
}

const invoke = (target: Catalog.Target<Connection>, name: string, args: Record<string, unknown>): Effect.Effect<Tools.CallResult> => {
  const { connection } = target
  return request(
    connection.server,
    // The default result schema makes it a CallToolResult (the union also has the pre-2025 shape).
    (options) => connection.client.callTool({ name: target.tool.name, arguments: args }, undefined, options) as Promise<CallToolResult>
  ).pipe(
    Effect.map((result): Tools.CallResult => ({ content: render(result), isError: result.isError === true })),
    Effect.catchAll((error) =>
      Cause.isTimeoutException(error)
        ? Effect.succeed(failure(`the tool '${name}' did not answer within ${formatDuration(connection.server.timeout)}`))
        : answered(error)
        ? Effect.succeed(failure(`the tool '${name}' failed: ${describe(error)}`))
        : Effect.as(
          doubt(connection, error),
          failure(`the MCP server '${target.server}' of the tool '${name}' could not be reached: ${describe(error)}`)
        )
    )
  )
}

const failure = (content: string): Tools.CallResult => ({ content, isError: true })

const formatDuration = (duration: Duration.Duration): string => {
  const millis = Duration.toMillis(duration)
  return millis % 1000 === 0 ? `${millis / 1000} s` : `${millis} ms`
}
