/**
 * `McpTools` against real MCP servers made with the same SDK: over Streamable HTTP on loopback
 * (`utils/TestServer.ts`) and over stdio (`utils/stdio-server.mjs`, a child process). Timeouts and
 * reconnection backoff run on the TestClock; only real I/O is waited for (`utils/waiting.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as RequestContext from "@switchyard/core/RequestContext"
import type * as Tools from "@switchyard/core/Tools"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { fileURLToPath } from "node:url"
import * as McpTools from "../src/McpTools.js"
import * as TestServer from "./utils/TestServer.js"
import { eventually, settle, sleeping } from "./utils/waiting.js"

const ctx = RequestContext.make({ requestId: "req_test" })

const names = (tools: Tools.Service) => Effect.map(tools.list, (list) => list.map((tool) => tool.function.name))

/** Waits until every one of `wanted` is offered (its server connected, or its list re-read). */
const offering = (tools: Tools.Service, ...wanted: ReadonlyArray<string>) =>
  eventually(Effect.map(names(tools), (offered) => wanted.every((name) => offered.includes(name))), `tools ${wanted.join(", ")}`)

const offeringNothing = (tools: Tools.Service) => eventually(Effect.map(tools.list, (list) => list.length === 0), "no tools")

const ok = (content: string): Tools.CallResult => ({ content, isError: false })

const stdioServer = fileURLToPath(new URL("./utils/stdio-server.mjs", import.meta.url))

interface LogLine {
  readonly level: string
  readonly message: string
  readonly server: unknown
}

/** Keeps every log line, with the server it was annotated with. */
const capturingLogs = (lines: Array<LogLine>) =>
  Logger.add(Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.join(" ") : String(message),
      server: Option.getOrUndefined(HashMap.get(annotations, "mcp.server"))
    })
  }))

/** Runs with a tracer that keeps the spans it makes. */
const recordingSpans = (spans: Array<Tracer.Span>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.tracer, (native) =>
    Effect.withTracer(
      self,
      Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
    ))

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("McpTools: configuration", () => {
  it.effect("a server named twice, or with neither url nor command, is a defect at make", () =>
    Effect.gen(function*() {
      const twice = yield* Effect.exit(Effect.scoped(McpTools.make({
        servers: [{ name: "tools", url: "http://127.0.0.1:1/mcp" }, { name: "tools", command: "true" }]
      })))
      assert.deepStrictEqual(twice, Exit.die(new Cause.RuntimeException("two MCP servers are named 'tools'")))
      const neither = yield* Effect.exit(Effect.scoped(McpTools.make({ servers: [{ name: "tools" }] })))
      assert.deepStrictEqual(neither, Exit.die(new Cause.RuntimeException("the MCP server 'tools' needs either a url or a command")))
    }))

  it.scoped("with no server: no tools, the default depth", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ servers: [] })
      assert.deepStrictEqual(yield* tools.list, [])
      assert.strictEqual(tools.maxDepth, McpTools.defaults.maxCallDepth)
      assert.deepStrictEqual(yield* tools.call("add", "{}", ctx), { content: "no tool named 'add' is available", isError: true })
    }))
})

describe("McpTools: listing", () => {
  it.scoped("offers a server's tools as function tools, their schemas as parameters", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] })
      yield* offering(tools, "add")
      assert.deepStrictEqual(yield* names(tools), ["add", "fail", "slow", "echo", "stats", "whoami"])
      const add = (yield* tools.list)[0]!
      assert.strictEqual(add.type, "function")
      assert.strictEqual(add.function.name, "add")
      assert.strictEqual(add.function.description, "Adds two numbers")
      assert.strictEqual(add.function.parameters?.type, "object")
      assert.deepStrictEqual(add.function.parameters?.properties, { a: { type: "number" }, b: { type: "number" } })
      assert.deepStrictEqual(add.function.parameters?.required, ["a", "b"])
      assert.strictEqual(tools.maxDepth, 5)
    }))

  it.scoped("offers only the allowed tools; a name two servers offer is namespaced, and each call reaches its server", () =>
    Effect.gen(function*() {
      const alpha = yield* TestServer.make("alpha")
      const beta = yield* TestServer.make("beta")
      const tools = yield* McpTools.make({
        servers: [
          { name: "alpha", url: alpha.url, allowedTools: ["add", "whoami"], maxCallDepth: 3 },
          { name: "beta", url: beta.url, maxCallDepth: 7 }
        ]
      })
      yield* offering(tools, "alpha__add", "beta__add")
      assert.deepStrictEqual(yield* names(tools), [
        "alpha__add",
        "alpha__whoami",
        "beta__add",
        "fail",
        "slow",
        "echo",
        "stats",
        "beta__whoami"
      ])
      assert.deepStrictEqual(yield* tools.call("alpha__whoami", "{}", ctx), ok("alpha"))
      assert.deepStrictEqual(yield* tools.call("beta__whoami", "{}", ctx), ok("beta"))
      assert.deepStrictEqual(yield* tools.call("alpha__add", "{\"a\":1,\"b\":2}", ctx), ok("3"))
      assert.isTrue((yield* tools.call("whoami", "{}", ctx)).isError, "the plain name is no longer offered")
      assert.strictEqual(tools.maxDepth, 3, "the smallest of the servers'")
    }))

  it.scoped("follows nextCursor through every page of tools", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("paged", { pageSize: 4 })
      const tools = yield* McpTools.make({ servers: [{ name: "paged", url: server.url }] })
      yield* offering(tools, "add")
      assert.deepStrictEqual(yield* names(tools), ["add", "fail", "slow", "echo", "stats", "whoami"])
      assert.deepStrictEqual(yield* tools.call("stats", "{}", ctx), ok("{\"count\":3}"))
    }))

  it.scoped("notifications/tools/list_changed: a tool registered on the running server is offered", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] })
      yield* offering(tools, "add")
      // Server-sent notifications travel on the client's GET stream, which opens just after connecting.
      yield* eventually(Effect.sync(server.listening), "the notification stream")
      server.addTool("multiply")
      yield* offering(tools, "multiply")
      assert.deepStrictEqual(yield* tools.call("multiply", "{\"a\":3,\"b\":4}", ctx), ok("12"))
      assert.strictEqual(server.sessions.opened, 1, "the same session")
    }))
})

describe("McpTools: calls", () => {
  it.scoped("gives the tool's content as text, and every failure as an error result", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] })
      yield* offering(tools, "add")
      const call = (name: string, args: string) => tools.call(name, args, ctx)

      assert.deepStrictEqual(yield* call("add", "{\"a\":2,\"b\":3}"), ok("5"))
      assert.deepStrictEqual(yield* call("whoami", ""), ok("tools"), "no arguments at all is {}")
      assert.deepStrictEqual(yield* call("echo", "{\"text\":\"hi\"}"), ok("hi\n[image: image/png]"))
      assert.deepStrictEqual(yield* call("stats", "{}"), ok("{\"count\":3}"), "structured content when there is no content")

      assert.deepStrictEqual(yield* call("fail", "{}"), { content: "disk full", isError: true })
      assert.deepStrictEqual(yield* call("nope", "{}"), { content: "no tool named 'nope' is available", isError: true })
      const invalid = yield* call("add", "{\"a\":")
      assert.isTrue(invalid.isError)
      assert.match(invalid.content, /^the arguments of 'add' are not valid JSON: /)
      assert.deepStrictEqual(yield* call("add", "[1, 2]"), {
        content: "the arguments of 'add' must be a JSON object",
        isError: true
      })
      const wrongType = yield* call("add", "{\"a\":\"two\",\"b\":3}")
      assert.isTrue(wrongType.isError)
      assert.include(wrongType.content, "Invalid arguments for tool add")
    }))

  it.scoped("each call is a span naming the server and the tool", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] })
      yield* offering(tools, "add")
      yield* tools.call("add", "{\"a\":2,\"b\":3}", ctx).pipe(recordingSpans(spans))
      const span = spans.find((s) => s.name === "McpTools.call")!
      assert.strictEqual(span.attributes.get("mcp.server"), "tools")
      assert.strictEqual(span.attributes.get("gen_ai.tool.name"), "add")
    }))

  it.scoped("a call that outlives its timeout is an error result, and is cancelled on the server", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] })
      yield* offering(tools, "slow")
      const fiber = yield* Effect.fork(tools.call("slow", "{}", ctx))
      yield* Deferred.await(server.slowCalled)
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(yield* Fiber.join(fiber), {
        content: "the tool 'slow' did not answer within 30 s",
        isError: true
      })
      // The abort of the request becomes notifications/cancelled, which aborts the handler's signal.
      assert.include(yield* Deferred.await(server.slowCancelled), "AbortError")
      assert.deepStrictEqual(yield* tools.call("add", "{\"a\":2,\"b\":3}", ctx), ok("5"), "the connection is still good")
    }))
})

describe("McpTools: connections", () => {
  it.scoped("a server down at start is retried on the clock, backing off, and offers its tools once up", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const server = yield* TestServer.make("tools")
      yield* server.stop
      const tools = yield* McpTools.make({
        servers: [{ name: "tools", url: server.url, headers: { authorization: "Bearer sekret" } }]
      }).pipe(Effect.provide(capturingLogs(logs)))
      assert.deepStrictEqual(yield* tools.list, [], "make returns at once")

      yield* sleeping(500)
      yield* TestClock.adjust("500 millis")
      yield* sleeping(1000)
      yield* server.start
      yield* TestClock.adjust("1 second")
      yield* offering(tools, "add")
      assert.deepStrictEqual(yield* tools.call("add", "{\"a\":2,\"b\":3}", ctx), ok("5"))

      const warnings = logs.filter((line) => line.level === "WARN")
      assert.strictEqual(warnings.length, 2)
      for (const warning of warnings) {
        assert.strictEqual(warning.server, "tools")
        assert.match(warning.message, /^connecting to MCP server 'tools' failed \(fetch failed: .*ECONNREFUSED.*\); retrying$/)
      }
      assert.isFalse(logs.some((line) => line.message.includes("sekret")), "header values are never logged")
      assert.isNotEmpty(server.authorizations)
      assert.isTrue(server.authorizations.every((value) => value === "Bearer sekret"), "the headers go with every request")
    }))

  it.scoped("a server that goes away is withdrawn, then reconnected once back", () =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      const server = yield* TestServer.make("tools")
      const tools = yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] }).pipe(
        Effect.provide(capturingLogs(logs))
      )
      yield* offering(tools, "add")
      yield* eventually(Effect.sync(server.listening), "the notification stream")

      // The notification stream breaks; the ping that checks the connection is refused.
      yield* server.stop
      yield* offeringNothing(tools)
      yield* sleeping(500)
      yield* server.start
      yield* TestClock.adjust("500 millis")
      yield* offering(tools, "add")
      assert.deepStrictEqual(yield* tools.call("add", "{\"a\":2,\"b\":3}", ctx), ok("5"))
      assert.strictEqual(server.sessions.opened, 2)
      assert.isTrue(logs.some((line) => line.level === "WARN" && line.message.startsWith("lost the connection to MCP server 'tools'")))
    }))

  it.scoped("a stdio server: run with its args and env, its tools offered and called; restarted when it dies", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        servers: [{ name: "local", command: process.execPath, args: [stdioServer], env: { GREETING: "hello" } }]
      })
      yield* offering(tools, "add", "whoami")
      assert.deepStrictEqual(yield* tools.call("add", "{\"a\":2,\"b\":3}", ctx), ok("5"))
      const first = JSON.parse((yield* tools.call("whoami", "{}", ctx)).content) as { pid: number; greeting: string }
      assert.strictEqual(first.greeting, "hello")

      process.kill(first.pid, "SIGKILL")
      yield* offeringNothing(tools)
      yield* sleeping(500)
      yield* TestClock.adjust("500 millis")
      yield* offering(tools, "whoami")
      const second = JSON.parse((yield* tools.call("whoami", "{}", ctx)).content) as { pid: number }
      assert.notStrictEqual(second.pid, first.pid)
    }))

  it.scoped("closing the Scope ends the HTTP session and the stdio child process", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      const scope = yield* Scope.make()
      const tools = yield* McpTools.make({
        servers: [
          { name: "remote", url: server.url },
          { name: "local", command: process.execPath, args: [stdioServer] }
        ]
      }).pipe(Scope.extend(scope))
      yield* offering(tools, "remote__add", "local__whoami")
      const { pid } = JSON.parse((yield* tools.call("local__whoami", "{}", ctx)).content) as { pid: number }
      assert.isTrue(alive(pid))

      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(server.sessions, { opened: 1, ended: 1 })
      assert.isFalse(alive(pid))
    }))

  it.scoped("closing the Scope stops reconnecting", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make("tools")
      yield* server.stop
      const scope = yield* Scope.make()
      yield* McpTools.make({ servers: [{ name: "tools", url: server.url }] }).pipe(Scope.extend(scope))
      yield* sleeping(500)
      yield* Scope.close(scope, Exit.void)
      yield* server.start
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual(server.sessions.opened, 0)
    }))
})
