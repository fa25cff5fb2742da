/**
 * The MCP tool loop end to end: the real bundled server (a child process) configured with one
 * `openai` provider at a scripted tool-using model and one MCP server (a real one, made with the
 * official SDK), driven by the official `openai` SDK. Each case checks what the client got and
 * what the model and the MCP server received.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"
import * as McpTestServer from "../utils/McpTestServer.js"
import * as ScriptedModel from "../utils/ScriptedModel.js"
import { afterInstruction, type ModelRequest, offered, sumUsage, textOf } from "../utils/ScriptedModel.js"

const MODEL = "gpt-4o-mini"
const MCP_TOOLS = ["add", "fail", "multiply", "slow"]

const config = (modelUrl: string, mcpUrl: string) => `
providers:
  - name: scripted
    type: openai
    base_url: ${modelUrl}/v1
    api_key: k
mcp_servers:
  - name: calc
    url: ${mcpUrl}/mcp
    max_call_depth: 3
    timeout_seconds: 0.5
`

const clientOf = (gateway: RunningGateway) =>
  new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}/v1`, maxRetries: 0 })

const user = (content: string): Array<OpenAI.Chat.ChatCompletionMessageParam> => [{ role: "user", content }]

/** The chat requests the model received from `from` on. */
const since = (model: ScriptedModel.ScriptedModel, from: number): Array<ModelRequest> => model.requests.slice(from)

/**
 * Sends `ping` until one reaches the model with the MCP tools offered (the gateway connects in
 * the background), for at most `withinMs`.
 */
const untilToolsOffered = async (client: OpenAI, model: ScriptedModel.ScriptedModel, withinMs: number) => {
  const deadline = Date.now() + withinMs
  for (;;) {
    const from = model.requests.length
    await client.chat.completions.create({ model: MODEL, messages: user("ping") })
    if (since(model, from).some((r) => offered(r).includes("add"))) return
    if (Date.now() > deadline) throw new Error(`the gateway did not offer the MCP tools within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The tool messages appended after the instruction in a request. */
const toolMessages = (request: ModelRequest) => afterInstruction(request.body.messages).filter((m) => m.role === "tool")

/** The assistant messages carrying tool calls appended after the instruction in a request. */
const callMessages = (request: ModelRequest) =>
  afterInstruction(request.body.messages).filter((m) => m.role === "assistant" && Array.isArray(m.tool_calls))

const args = (call: { function: { arguments: string } }) => JSON.parse(call.function.arguments) as unknown

describe("MCP tools through the gateway", () => {
  let model: ScriptedModel.ScriptedModel
  let mcp: McpTestServer.McpTestServer
  let gateway: RunningGateway
  let client: OpenAI

  beforeAll(async () => {
    model = await ScriptedModel.start()
    mcp = await McpTestServer.start()
    gateway = await startGateway({ config: config(model.url, mcp.url) })
    client = clientOf(gateway)
    await untilToolsOffered(client, model, 10_000)
  }, 40_000)

  afterAll(async () => {
    await gateway?.stop()
    await mcp?.close()
    await model?.close()
  })

  it("a single call: run once, its result given to the model, the final answer to the client", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: user("add 2 3") }).withResponse()

    expect(response.status).toBe(200)
    const choice = data.choices[0]!
    expect(choice.message.content).toBe("The results: 5")
    expect(choice.message.tool_calls).toBeUndefined()
    expect(choice.finish_reason).toBe("stop")

    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    for (const round of rounds) expect([...offered(round)].sort()).toEqual(MCP_TOOLS)
    const add = rounds[0]!.body.tools.find((t: any) => t.function.name === "add")
    expect(add).toMatchObject({
      type: "function",
      function: { description: "Adds two numbers", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } } }
    })
    expect(rounds[0]!.body.messages).toEqual([{ role: "user", content: "add 2 3" }])

    const made = rounds[0]!.answer.toolCalls[0]!
    const second = rounds[1]!.body.messages as Array<any>
    expect(second).toHaveLength(3)
    expect(second[0]).toEqual({ role: "user", content: "add 2 3" })
    expect(second[1]).toMatchObject({ role: "assistant", tool_calls: [{ id: made.id, type: "function", function: { name: "add" } }] })
    expect(args(second[1].tool_calls[0])).toEqual({ a: 2, b: 3 })
    expect(second[2]).toMatchObject({ role: "tool", tool_call_id: made.id })
    expect(textOf(second[2].content)).toBe("5")

    expect(mcp.calls.slice(ran).map(({ name, args }) => ({ name, args }))).toEqual([{ name: "add", args: { a: 2, b: 3 } }])
    expect(data.usage).toEqual(sumUsage(rounds.map((r) => r.answer)))
  })

  it("parallel calls: both run, both results in the next round in the order of the calls", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const data = await client.chat.completions.create({ model: MODEL, messages: user("add 2 3 and multiply 4 5") })

    expect(data.choices[0]!.message.content).toBe("The results: 5, 20")
    expect(data.choices[0]!.message.tool_calls).toBeUndefined()
    expect(data.choices[0]!.finish_reason).toBe("stop")

    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    const [first, second] = rounds.map((r) => r.answer.toolCalls)
    expect(first).toHaveLength(2)
    expect(second).toHaveLength(0)
    const calls = callMessages(rounds[1]!)
    expect(calls).toHaveLength(1)
    expect(calls[0].tool_calls.map((c: any) => c.id)).toEqual(first!.map((c) => c.id))
    expect(toolMessages(rounds[1]!).map((m) => [m.tool_call_id, textOf(m.content)])).toEqual([
      [first![0]!.id, "5"],
      [first![1]!.id, "20"]
    ])

    const ranNow = mcp.calls.slice(ran).map(({ name, args }) => ({ name, args }))
    expect(ranNow).toHaveLength(2)
    expect(ranNow).toEqual(expect.arrayContaining([{ name: "add", args: { a: 2, b: 3 } }, { name: "multiply", args: { a: 4, b: 5 } }]))
    expect(data.usage).toEqual(sumUsage(rounds.map((r) => r.answer)))
  })

  it("parallel calls run at the same time: two slow calls start together and both time out", async () => {
    const ran = mcp.calls.length
    const from = model.requests.length
    const data = await client.chat.completions.create({ model: MODEL, messages: user("slow and slow") })

    const started = mcp.calls.slice(ran)
    expect(started.map((c) => c.name)).toEqual(["slow", "slow"])
    // One after the other, the second would start only when the first timed out (0.5 s).
    expect(Math.abs(started[1]!.at - started[0]!.at)).toBeLessThan(250)
    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    expect(toolMessages(rounds[1]!)).toHaveLength(2)
    expect(data.choices[0]!.finish_reason).toBe("stop")
  })

  it("nested calls stop at max_call_depth: 3 rounds run, the 4th answer returned as max_tool_depth without calls", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const data = await client.chat.completions.create({ model: MODEL, messages: user("chain") })

    const rounds = since(model, from)
    expect(rounds).toHaveLength(4)
    expect(rounds.every((r) => r.answer.toolCalls.length === 1)).toBe(true)
    expect(mcp.calls.slice(ran).map(({ name, args }) => ({ name, args }))).toEqual([
      { name: "add", args: { a: 0, b: 1 } },
      { name: "add", args: { a: 1, b: 1 } },
      { name: "add", args: { a: 2, b: 1 } }
    ])
    expect(callMessages(rounds[3]!)).toHaveLength(3)
    expect(toolMessages(rounds[3]!).map((m) => textOf(m.content))).toEqual(["1", "2", "3"])

    const choice = data.choices[0]!
    expect(choice.finish_reason as string).toBe("max_tool_depth")
    expect(choice.message.tool_calls).toBeUndefined()
    expect(choice.message.content, "every round's text, as a stream would show it").toBe("Step 1.Step 2.Step 3.Step 4.")
    expect(data.usage).toEqual(sumUsage(rounds.map((r) => r.answer)))
  })

  it("a failing tool: the model gets an error result mentioning 'disk full', the client a normal answer", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: user("fail") }).withResponse()

    expect(response.status).toBe(200)
    expect(mcp.calls.slice(ran).map((c) => c.name)).toEqual(["fail"])
    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    const results = toolMessages(rounds[1]!)
    expect(results).toHaveLength(1)
    expect(results[0].tool_call_id).toBe(rounds[0]!.answer.toolCalls[0]!.id)
    expect(textOf(results[0].content)).toContain("disk full")
    expect(data.choices[0]!.finish_reason).toBe("stop")
    expect(data.choices[0]!.message.content).toBe(`The results: ${textOf(results[0].content)}`)
  })

  it("a slow tool: after timeout_seconds (0.5 s) the model gets an error result, the client a normal answer", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const started = performance.now()
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: user("slow") }).withResponse()
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    // Bounded by the 0.5 s timeout, not by the tool (60 s): well under 5 times the bound.
    expect(elapsed).toBeGreaterThanOrEqual(450)
    expect(elapsed).toBeLessThan(2_500)
    expect(mcp.calls.slice(ran).map((c) => c.name)).toEqual(["slow"])
    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    const results = toolMessages(rounds[1]!)
    expect(results).toHaveLength(1)
    const said = textOf(results[0].content)
    expect(said).toMatch(/did not answer|timed? ?out/i)
    expect(said).not.toMatch(/finally done|cancelled|server closed/)
    expect(data.choices[0]!.finish_reason).toBe("stop")
    expect(data.choices[0]!.message.content).toBe(`The results: ${said}`)
  })

  it("streaming: the final answer in several content chunks, no tool calls, one finish reason, the summed usage", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: user("add 2 3"),
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks: Array<OpenAI.Chat.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)

    const contents = chunks.map((c) => c.choices[0]?.delta.content ?? "").filter((t) => t !== "")
    expect(contents.length).toBeGreaterThanOrEqual(2)
    expect(contents.join("")).toBe("The results: 5")
    expect(chunks.some((c) => c.choices.some((ch) => ch.delta.tool_calls !== undefined))).toBe(false)
    const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason).filter((f) => f != null))
    expect(finishes).toEqual(["stop"])

    const rounds = since(model, from)
    expect(rounds).toHaveLength(2)
    expect(rounds.every((r) => r.stream)).toBe(true)
    expect(textOf(toolMessages(rounds[1]!)[0]?.content)).toBe("5")
    expect(mcp.calls.slice(ran).map(({ name, args }) => ({ name, args }))).toEqual([{ name: "add", args: { a: 2, b: 3 } }])

    const withUsage = chunks.filter((c) => c.usage != null)
    expect(withUsage).toHaveLength(1)
    expect(chunks.at(-1)).toBe(withUsage[0])
    expect(withUsage[0]!.choices).toEqual([])
    expect(withUsage[0]!.usage).toEqual(sumUsage(rounds.map((r) => r.answer)))
  })

  it("streaming at the depth limit: one finish reason max_tool_depth, no tool calls", async () => {
    const from = model.requests.length
    const ran = mcp.calls.length
    const stream = await client.chat.completions.create({ model: MODEL, messages: user("chain"), stream: true })
    const chunks: Array<OpenAI.Chat.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)

    expect(since(model, from)).toHaveLength(4)
    expect(mcp.calls.slice(ran)).toHaveLength(3)
    expect(chunks.some((c) => c.choices.some((ch) => ch.delta.tool_calls !== undefined))).toBe(false)
    const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason as string | null).filter((f) => f != null))
    expect(finishes).toEqual(["max_tool_depth"])
    expect(chunks.some((c) => c.usage != null)).toBe(false)
  })

  describe("the client's own tools", () => {
    const lookup: OpenAI.Chat.ChatCompletionFunctionTool = {
      type: "function",
      function: { name: "lookup", description: "Looks a thing up", parameters: { type: "object", properties: { query: { type: "string" } } } }
    }
    const clientAdd: OpenAI.Chat.ChatCompletionFunctionTool = {
      type: "function",
      function: { name: "add", description: "The client's own add", parameters: { type: "object", properties: { x: { type: "string" } } } }
    }

    it("a call to the client's tool is handed to the client, not run", async () => {
      const from = model.requests.length
      const ran = mcp.calls.length
      const data = await client.chat.completions.create({ model: MODEL, messages: user("lookup weather in Paris"), tools: [lookup] })

      const choice = data.choices[0]!
      expect(choice.finish_reason).toBe("tool_calls")
      expect(choice.message.tool_calls).toHaveLength(1)
      const call = choice.message.tool_calls![0]!
      expect(call.type === "function" && call.function.name).toBe("lookup")
      expect(args(call as OpenAI.Chat.ChatCompletionMessageFunctionToolCall)).toEqual({ query: "weather in Paris" })

      const rounds = since(model, from)
      expect(rounds).toHaveLength(1)
      expect(offered(rounds[0]!)[0]).toBe("lookup")
      expect([...offered(rounds[0]!)].sort()).toEqual(["lookup", ...MCP_TOOLS].sort())
      expect(mcp.calls.length).toBe(ran)
      expect(data.usage).toEqual(rounds[0]!.answer.usage)
    })

    it("a client tool named like an MCP tool is offered once, the client's", async () => {
      const from = model.requests.length
      const data = await client.chat.completions.create({ model: MODEL, messages: user("lookup x"), tools: [lookup, clientAdd] })

      expect(data.choices[0]!.finish_reason).toBe("tool_calls")
      const rounds = since(model, from)
      expect(rounds).toHaveLength(1)
      const names = offered(rounds[0]!)
      expect(names.filter((n) => n === "add")).toHaveLength(1)
      expect([...names].sort()).toEqual(["add", "fail", "lookup", "multiply", "slow"])
      expect(rounds[0]!.body.tools.find((t: any) => t.function.name === "add").function.description).toBe("The client's own add")
    })

    it("a call to the client's tool of an MCP tool's name is handed to the client, not run by the gateway", async () => {
      const from = model.requests.length
      const ran = mcp.calls.length
      const data = await client.chat.completions.create({ model: MODEL, messages: user("add 2 3"), tools: [clientAdd] })

      expect(since(model, from)).toHaveLength(1)
      expect(mcp.calls.slice(ran)).toEqual([])
      expect(data.choices[0]!.finish_reason).toBe("tool_calls")
      const call = data.choices[0]!.message.tool_calls?.[0]
      expect(call?.type === "function" && call.function.name).toBe("add")
    })
  })
})

describe("an MCP server down when the gateway starts", () => {
  let model: ScriptedModel.ScriptedModel
  let mcp: McpTestServer.McpTestServer | undefined
  let gateway: RunningGateway
  let client: OpenAI
  let port: number

  beforeAll(async () => {
    model = await ScriptedModel.start()
    port = await McpTestServer.freePort()
    gateway = await startGateway({ config: config(model.url, `http://127.0.0.1:${port}`) })
    client = clientOf(gateway)
  }, 30_000)

  afterAll(async () => {
    await gateway?.stop()
    await mcp?.close()
    await model?.close()
  })

  it("answers without tools while it is down, and with them once it is up", async () => {
    const from = model.requests.length
    const down = await client.chat.completions.create({ model: MODEL, messages: user("add 2 3") })
    expect(down.choices[0]!.message.content).toBe("I have no tools.")
    expect(down.choices[0]!.finish_reason).toBe("stop")
    const asked = since(model, from)
    expect(asked).toHaveLength(1)
    expect(asked[0]!.body.tools).toBeUndefined()

    mcp = await McpTestServer.start({ port })
    await untilToolsOffered(client, model, 15_000)

    const before = model.requests.length
    const up = await client.chat.completions.create({ model: MODEL, messages: user("add 2 3") })
    expect(up.choices[0]!.message.content).toBe("The results: 5")
    expect(up.choices[0]!.finish_reason).toBe("stop")
    expect(since(model, before)).toHaveLength(2)
    expect(mcp.calls.map(({ name, args }) => ({ name, args }))).toEqual([{ name: "add", args: { a: 2, b: 3 } }])
  }, 40_000)
})
