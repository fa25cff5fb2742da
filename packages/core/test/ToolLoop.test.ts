/**
 * The agentic loop through the whole Gateway: a scripted model (a `TestProvider`) that calls
 * the gateway's tools (an in-memory `Tools`), JSON and streamed.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest, ChatResponse, Message, Tool, ToolCall } from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import * as Hooks from "@switchyard/core/Hooks"
import * as RequestContext from "@switchyard/core/RequestContext"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as ToolLoop from "@switchyard/core/ToolLoop"
import * as Tools from "@switchyard/core/Tools"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { gatewayWith } from "./utils/gateways.js"

const tool = (name: string): Tool => ({ type: "function", function: { name, description: name, parameters: { type: "object" } } })

const call = (id: string, name: string, args: unknown): ToolCall => ({
  id,
  type: "function",
  function: { name, arguments: JSON.stringify(args) }
})

const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }

const answer = (message: ChatResponse["choices"][number]["message"], finish: string): ChatResponse => ({
  id: "chatcmpl-x",
  object: "chat.completion",
  created: 1,
  model: "m-1",
  choices: [{ index: 0, message, finish_reason: finish }],
  usage
})

const calling = (...calls: ReadonlyArray<ToolCall>) => answer({ role: "assistant", content: null, tool_calls: calls }, "tool_calls")
const saying = (text: string) => answer({ role: "assistant", content: text }, "stop")

/** The tool results a request carries, in order. */
const results = (req: ChatRequest) =>
  req.messages.filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool").map((m) => [m.tool_call_id, m.content])

/** `add` sums its arguments; `fail` reports an error; anything else is unknown. */
const toolsLayer = (maxDepth: number, calls: Array<string> = [], gate?: Deferred.Deferred<void>) =>
  Layer.succeed(Tools.Tools, {
    list: Effect.succeed([tool("add"), tool("fail")]),
    maxDepth,
    call: (name, args) =>
      Effect.suspend((): Effect.Effect<Tools.CallResult> => {
        calls.push(name)
        const wait = gate === undefined ? Effect.void : calls.length >= 2 ? Deferred.succeed(gate, undefined) : Deferred.await(gate)
        if (name === "fail") return Effect.as(wait, { content: "the tool failed: disk full", isError: true })
        const { a, b } = JSON.parse(args) as { a: number; b: number }
        return Effect.as(wait, { content: String(a + b), isError: false })
      })
  })

const withTools = (
  provider: TestProvider.TestProvider,
  tools: Layer.Layer<Tools.Tools>,
  hooks: Layer.Layer<Hooks.Hooks> = Hooks.layerNone
) => Layer.provide(gatewayWith({}, [provider], hooks), tools)

const request: ChatRequest = { model: "m-1", messages: [{ role: "user", content: "What is 2 + 3?" }] }

describe("ToolLoop (JSON)", () => {
  it.effect("offers the tools, runs the call the model made, asks again with its result", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: (_, n) =>
        Effect.succeed(
          n === 0
            ? answer({ role: "assistant", content: "Let me add. ", tool_calls: [call("c1", "add", { a: 2, b: 3 })] }, "tool_calls")
            : saying("2 + 3 = 5")
        )
    })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const result = yield* gateway.chat({ ...request, tools: [tool("lookup")] })
      assert.strictEqual(result.response.choices[0]!.message.content, "Let me add. 2 + 3 = 5", "every round's text, as streamed")
      assert.strictEqual(result.response.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual(result.response.usage, { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 })
      const [first, second] = model.received
      assert.deepStrictEqual(first!.tools!.map((t) => t.function.name), ["lookup", "add", "fail"])
      assert.deepStrictEqual(results(second!), [["c1", "5"]])
      assert.deepStrictEqual(second!.messages[1], { role: "assistant", content: "Let me add. ", tool_calls: [call("c1", "add", { a: 2, b: 3 })] })
    }).pipe(Effect.provide(withTools(model, toolsLayer(5))))
  })

  it.effect("runs several calls of one answer at once", () => {
    const calls: Array<string> = []
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: (_, n) =>
        Effect.succeed(n === 0 ? calling(call("c1", "add", { a: 1, b: 1 }), call("c2", "add", { a: 2, b: 2 })) : saying("done"))
    })
    return Effect.gen(function*() {
      // Each call waits until both started: run one after the other, they would never finish.
      const gate = yield* Deferred.make<void>()
      const result = yield* Effect.flatMap(Gateway.Gateway, (g) => g.chat(request)).pipe(
        Effect.provide(withTools(model, toolsLayer(5, calls, gate)))
      )
      assert.strictEqual(result.response.choices[0]!.message.content, "done")
      assert.deepStrictEqual(results(model.received[1]!), [["c1", "2"], ["c2", "4"]])
    })
  })

  it.effect("a failing tool's error goes to the model, and the request goes on; every call is an audit event", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: (_, n) =>
        Effect.succeed(n === 0 ? calling(call("c1", "fail", {}), call("c2", "add", { a: 1, b: 1 })) : saying("the tool could not help"))
    })
    const audited: Array<Hooks.ToolCallEvent> = []
    const hooks = Hooks.layer(() => Effect.void, { onToolCall: (event) => Effect.sync(() => void audited.push(event)) })
    return Effect.gen(function*() {
      const result = yield* Effect.flatMap(Gateway.Gateway, (g) => g.chat(request, RequestContext.make({ requestId: "req-1" })))
      assert.strictEqual(result.response.choices[0]!.message.content, "the tool could not help")
      assert.deepStrictEqual(results(model.received[1]!), [["c1", "the tool failed: disk full"], ["c2", "2"]])
      yield* Effect.yieldNow()
      assert.deepStrictEqual(
        audited.map((e) => [e.requestId, e.tool, e.callId, e.outcome, e.error]).sort(),
        [["req-1", "add", "c2", "success", undefined], ["req-1", "fail", "c1", "error", "the tool failed: disk full"]]
      )
    }).pipe(Effect.provide(withTools(model, toolsLayer(5), hooks)))
  })

  it.effect("nested calls stop at the depth limit: the last answer, its calls left out, a clear finish reason", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: (_, n) => Effect.succeed(calling(call(`c${n}`, "add", { a: n, b: 1 })))
    })
    return Effect.gen(function*() {
      const result = yield* Effect.flatMap(Gateway.Gateway, (g) => g.chat(request))
      const choice = result.response.choices[0]!
      assert.strictEqual(choice.finish_reason, ToolLoop.depthLimitReached)
      assert.isUndefined(choice.message.tool_calls)
      assert.strictEqual(model.received.length, 3, "the first answer and two rounds of calls")
      assert.deepStrictEqual(results(model.received[2]!), [["c0", "1"], ["c1", "2"]])
    }).pipe(Effect.provide(withTools(model, toolsLayer(2))))
  })

  it.effect("a call to the client's own tool is the client's: the answer as the model gave it", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: () => Effect.succeed(calling(call("c1", "lookup", { q: "x" })))
    })
    return Effect.gen(function*() {
      const result = yield* Effect.flatMap(Gateway.Gateway, (g) => g.chat({ ...request, tools: [tool("lookup")] }))
      assert.deepStrictEqual(result.response.choices[0]!.message.tool_calls, [call("c1", "lookup", { q: "x" })])
      assert.strictEqual(result.response.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(model.received.length, 1)
    }).pipe(Effect.provide(withTools(model, toolsLayer(5))))
  })
})

describe("ToolLoop: the client's tools", () => {
  it.effect("a tool the client sent is the client's, even named like one of the gateway's; the client is given only its calls", () => {
    const calls: Array<string> = []
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      chat: (_, n) =>
        Effect.succeed(
          n === 0 ? calling(call("c1", "add", { a: 1, b: 2 })) : calling(call("c2", "fail", {}), call("c3", "lookup", { q: "x" }))
        )
    })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const own = yield* gateway.chat({ ...request, tools: [{ ...tool("add"), function: { name: "add", description: "the client's" } }] })
      assert.deepStrictEqual(own.response.choices[0]!.message.tool_calls, [call("c1", "add", { a: 1, b: 2 })])
      assert.deepStrictEqual(
        model.received[0]!.tools!.map((t) => [t.function.name, t.function.description]),
        [["add", "the client's"], ["fail", "fail"]],
        "offered once, as the client's"
      )
      const mixed = yield* gateway.chat({ ...request, tools: [tool("lookup")] })
      assert.deepStrictEqual(mixed.response.choices[0]!.message.tool_calls, [call("c3", "lookup", { q: "x" })])
      assert.deepStrictEqual(calls, [], "the gateway ran nothing")
    }).pipe(Effect.provide(withTools(model, toolsLayer(5, calls))))
  })
})

const streamed = (chunks: ReadonlyArray<ChatChunk["choices"][number]["delta"]>, finish: string): Stream.Stream<ChatChunk> =>
  Stream.fromIterable([
    ...chunks.map((delta): ChatChunk => ({ id: "chatcmpl-r", object: "chat.completion.chunk", created: 1, model: "m-1", choices: [{ index: 0, delta, finish_reason: null }] })),
    { id: "chatcmpl-r", object: "chat.completion.chunk", created: 1, model: "m-1", choices: [{ index: 0, delta: {}, finish_reason: finish }] },
    TestProvider.usageChunk("m-1", usage)
  ])

describe("ToolLoop (streamed)", () => {
  it.scoped("each round's text reaches the client as it comes, the gateway's calls never do, one finish and the summed usage at the end", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      openStream: true,
      chatStream: (_, n) =>
        n === 0
          ? streamed([
            { role: "assistant", content: "Let me add. " },
            { tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "add", arguments: "" } }] },
            { tool_calls: [{ index: 0, function: { arguments: "{\"a\":2," } }] },
            { tool_calls: [{ index: 0, function: { arguments: "\"b\":3}" } }] }
          ], "tool_calls")
          : streamed([{ role: "assistant", content: "It is " }, { content: "5." }], "stop")
    })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const result = yield* gateway.chatStream({ ...request, stream: true, stream_options: { include_usage: true } })
      const chunks = Chunk.toArray(yield* Stream.runCollect(result.stream))
      const texts = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? ""))
      assert.deepStrictEqual(texts.filter((t) => t !== ""), ["Let me add. ", "It is ", "5."], "several chunks, as they came")
      assert.isTrue(chunks.every((c) => c.choices.every((ch) => ch.delta.tool_calls === undefined)), "no tool call reaches the client")
      assert.deepStrictEqual(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f != null), ["stop"])
      assert.deepStrictEqual(chunks.filter((c) => c.choices.some((ch) => ch.delta.role !== undefined)).length, 1, "one role")
      assert.deepStrictEqual(chunks.at(-1)!.usage, { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 })
      assert.deepStrictEqual(results(model.received[1]!), [["c1", "5"]])
      assert.deepStrictEqual(model.received[1]!.messages[1], {
        role: "assistant",
        content: "Let me add. ",
        tool_calls: [call("c1", "add", { a: 2, b: 3 })]
      })
    }).pipe(Effect.provide(withTools(model, toolsLayer(5))))
  })

  it.scoped("a stream calling the client's tool and the gateway's gives the client only its own, renumbered", () => {
    const calls: Array<string> = []
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      openStream: true,
      chatStream: () =>
        streamed([
          { role: "assistant", tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "add", arguments: "{}" } }] },
          { tool_calls: [{ index: 1, id: "c2", type: "function", function: { name: "lookup", arguments: "" } }] },
          { tool_calls: [{ index: 1, function: { arguments: "{}" } }] }
        ], "tool_calls")
    })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const result = yield* gateway.chatStream({ ...request, stream: true, tools: [tool("lookup")] })
      const chunks = Chunk.toArray(yield* Stream.runCollect(result.stream))
      const fragments = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(fragments.map((f) => [f.index, f.id, f.function?.name]), [[0, "c2", "lookup"], [0, undefined, undefined]])
      assert.strictEqual(chunks[0]!.choices[0]!.delta.role, "assistant")
      assert.deepStrictEqual(calls, [])
    }).pipe(Effect.provide(withTools(model, toolsLayer(5, calls))))
  })

  it.scoped("a stream calling the client's own tool reaches the client whole", () => {
    const model = TestProvider.make({
      name: "p",
      models: ["m-*"],
      openStream: true,
      chatStream: () =>
        streamed([
          { role: "assistant", content: null, tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "lookup", arguments: "" } }] },
          { tool_calls: [{ index: 0, function: { arguments: "{}" } }] }
        ], "tool_calls")
    })
    return Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const result = yield* gateway.chatStream({ ...request, stream: true, tools: [tool("lookup")] })
      const chunks = Chunk.toArray(yield* Stream.runCollect(result.stream))
      const fragments = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(fragments.map((f) => [f.id, f.function?.name, f.function?.arguments]), [["c1", "lookup", ""], [undefined, undefined, "{}"]])
      assert.deepStrictEqual(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f != null), ["tool_calls"])
      assert.isUndefined(chunks.at(-1)!.usage, "the client did not ask for the usage")
      assert.strictEqual(model.received.length, 1)
    }).pipe(Effect.provide(withTools(model, toolsLayer(5))))
  })
})
