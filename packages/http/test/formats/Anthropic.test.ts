import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest, ChatResponse, Usage } from "@switchyard/core/ChatSchema"
import * as GatewayError from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Anthropic from "../../src/formats/Anthropic.js"
import * as HttpErrors from "../../src/HttpErrors.js"

const decoded = (body: unknown): ChatRequest => {
  const result = Anthropic.decodeRequest(body)
  if (Either.isLeft(result)) return assert.fail(`refused: ${result.left.message}`)
  return result.right
}

const refused = (body: unknown): GatewayError.InvalidRequest => {
  const result = Anthropic.decodeRequest(body)
  if (Either.isRight(result)) return assert.fail(`accepted: ${JSON.stringify(result.right)}`)
  return result.left
}

/** A request with `overrides`, after the docs' first example (https://platform.claude.com/docs/en/api/messages). */
const request = (overrides: Record<string, unknown> = {}) => ({
  model: "claude-sonnet-4-5",
  max_tokens: 1024,
  messages: [{ role: "user", content: "Hello, world" }],
  ...overrides
})

const weatherTool = {
  name: "get_weather",
  description: "Get the current weather in a given location",
  input_schema: {
    type: "object",
    properties: { location: { type: "string", description: "The city and state, e.g. San Francisco, CA" } },
    required: ["location"]
  }
}

describe("Anthropic.decodeRequest", () => {
  it("maps the docs' basic request", () => {
    // https://platform.claude.com/docs/en/api/messages
    assert.deepStrictEqual(decoded(request()), {
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: "Hello, world" }],
      max_tokens: 1024
    })
  })

  it("puts the system prompt first, as a string or as text parts keeping cache_control", () => {
    assert.deepStrictEqual(decoded(request({ system: "You are a seasoned data scientist." })).messages, [
      { role: "system", content: "You are a seasoned data scientist." },
      { role: "user", content: "Hello, world" }
    ])
    // https://platform.claude.com/docs/en/build-with-claude/prompt-caching
    const system = [
      { type: "text", text: "You are an AI assistant tasked with analyzing literary works." },
      { type: "text", text: "<the entire contents of Pride and Prejudice>", cache_control: { type: "ephemeral" } }
    ]
    assert.deepStrictEqual(decoded(request({ system })).messages[0], {
      role: "system",
      content: [
        { type: "text", text: "You are an AI assistant tasked with analyzing literary works." },
        { type: "text", text: "<the entire contents of Pride and Prejudice>", cache_control: { type: "ephemeral" } }
      ]
    })
    assert.deepStrictEqual(decoded(request({ system: [{ type: "text", text: "Be brief." }] })).messages[0], {
      role: "system",
      content: "Be brief."
    })
    assert.strictEqual(decoded(request({ system: [] })).messages[0]!.role, "user")
  })

  it("maps base64 and URL images to image_url parts, and passes a Files API image as it is", () => {
    // https://platform.claude.com/docs/en/build-with-claude/vision
    const fileImage = { type: "image", source: { type: "file", file_id: "file_011CNha8iCJcU1wXNR6q4V8w" } }
    const body = request({
      messages: [{
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQSkZJRg==" } },
          { type: "image", source: { type: "url", url: "https://upload.wikimedia.org/ant.jpg" } },
          fileImage,
          { type: "text", text: "Compare these images." }
        ]
      }]
    })
    assert.deepStrictEqual(decoded(body).messages, [{
      role: "user",
      content: [
        { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQSkZJRg==" } },
        { type: "image_url", image_url: { url: "https://upload.wikimedia.org/ant.jpg" } },
        fileImage,
        { type: "text", text: "Compare these images." }
      ]
    }])
  })

  it("maps tool_use to tool_calls and puts tool results before the rest of their user turn", () => {
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use
    const body = request({
      tools: [weatherTool],
      messages: [
        { role: "user", content: "What's the weather like in San Francisco?" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "I'll check the current weather in San Francisco for you." },
            {
              type: "tool_use",
              id: "toolu_01A09q90qw90lq917835lq9",
              name: "get_weather",
              input: { location: "San Francisco, CA" }
            }
          ]
        },
        {
          role: "user",
          content: [
            { type: "text", text: "And in Celsius, please." },
            { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees" }
          ]
        }
      ]
    })
    assert.deepStrictEqual(decoded(body).messages, [
      { role: "user", content: "What's the weather like in San Francisco?" },
      {
        role: "assistant",
        content: "I'll check the current weather in San Francisco for you.",
        tool_calls: [{
          id: "toolu_01A09q90qw90lq917835lq9",
          type: "function",
          function: { name: "get_weather", arguments: "{\"location\":\"San Francisco, CA\"}" }
        }]
      },
      { role: "tool", tool_call_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees" },
      { role: "user", content: "And in Celsius, please." }
    ])
  })

  it("maps parallel tool results, with block content, errors and images, to one tool message each", () => {
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use
    const body = request({
      messages: [
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_01", name: "get_weather", input: { location: "Paris" } },
            { type: "tool_use", id: "toolu_02", name: "get_time", input: {} }
          ]
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_01",
              content: [
                { type: "text", text: "15 degrees" },
                { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }
              ]
            },
            {
              type: "tool_result",
              tool_use_id: "toolu_02",
              content: [{ type: "text", text: "ConnectionError: the time service is unavailable" }],
              is_error: true
            }
          ]
        }
      ]
    })
    assert.deepStrictEqual(decoded(body).messages, [
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "toolu_01", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Paris\"}" } },
          { id: "toolu_02", type: "function", function: { name: "get_time", arguments: "{}" } }
        ]
      },
      {
        role: "tool",
        tool_call_id: "toolu_01",
        content: [
          { type: "text", text: "15 degrees" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }
        ]
      },
      {
        role: "tool",
        tool_call_id: "toolu_02",
        content: "ConnectionError: the time service is unavailable",
        is_error: true
      }
    ])
    const empty = request({
      messages: [{
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "toolu_03" }, { type: "tool_result", tool_use_id: "toolu_04", content: [] }]
      }]
    })
    assert.deepStrictEqual(decoded(empty).messages, [
      { role: "tool", tool_call_id: "toolu_03", content: "" },
      { role: "tool", tool_call_id: "toolu_04", content: "" }
    ])
  })

  it("leaves thinking out, joins an all-text assistant turn, passes other block types as parts", () => {
    // https://platform.claude.com/docs/en/build-with-claude/extended-thinking and
    // https://platform.claude.com/docs/en/build-with-claude/pdf-support
    const document = {
      type: "document",
      source: { type: "url", url: "https://assets.anthropic.com/m/1cd9d098ac3e6467/original/Claude-3-Model-Card-October-Addendum.pdf" }
    }
    const body = request({
      messages: [
        { role: "user", content: [document, { type: "text", text: "Summarize this document." }] },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Let me read it.", signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3h" },
            { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
            { type: "text", text: "The document " },
            { type: "text", text: "is a model card." }
          ]
        },
        { role: "assistant", content: [{ type: "thinking", thinking: "Nothing to say.", signature: "Eq" }] },
        { role: "user", content: "Thanks" }
      ]
    })
    assert.deepStrictEqual(decoded(body).messages, [
      { role: "user", content: [document, { type: "text", text: "Summarize this document." }] },
      { role: "assistant", content: "The document is a model card." },
      { role: "user", content: "Thanks" }
    ])
  })

  it("keeps a block's cache_control on its part", () => {
    // https://platform.claude.com/docs/en/build-with-claude/prompt-caching
    const body = request({
      messages: [{ role: "user", content: [{ type: "text", text: "Long context", cache_control: { type: "ephemeral" } }] }]
    })
    assert.deepStrictEqual(decoded(body).messages, [{
      role: "user",
      content: [{ type: "text", text: "Long context", cache_control: { type: "ephemeral" } }]
    }])
  })

  it("maps custom tools to function tools and leaves server tools out", () => {
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/overview and
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool
    const body = request({
      tools: [
        weatherTool,
        { type: "web_search_20250305", name: "web_search", max_uses: 5 },
        { type: "bash_20250124", name: "bash" },
        {
          type: "custom",
          name: "get_time",
          input_schema: { type: "object", properties: {} },
          strict: true,
          cache_control: { type: "ephemeral" }
        }
      ]
    })
    assert.deepStrictEqual(decoded(body).tools, [
      {
        type: "function",
        function: { name: "get_weather", description: weatherTool.description, parameters: weatherTool.input_schema }
      },
      {
        type: "function",
        function: { name: "get_time", parameters: { type: "object", properties: {} }, strict: true },
        cache_control: { type: "ephemeral" }
      }
    ])
  })

  it("maps every tool_choice and disable_parallel_tool_use", () => {
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use
    const cases: Array<[unknown, ChatRequest["tool_choice"], boolean | undefined]> = [
      [{ type: "auto" }, "auto", undefined],
      [{ type: "any" }, "required", undefined],
      [{ type: "tool", name: "get_weather" }, { type: "function", function: { name: "get_weather" } }, undefined],
      [{ type: "none" }, "none", undefined],
      [{ type: "auto", disable_parallel_tool_use: true }, "auto", false],
      [{ type: "any", disable_parallel_tool_use: true }, "required", false],
      [{ type: "tool", name: "get_weather", disable_parallel_tool_use: true }, {
        type: "function",
        function: { name: "get_weather" }
      }, false],
      [{ type: "auto", disable_parallel_tool_use: false }, "auto", undefined]
    ]
    for (const [choice, expected, parallel] of cases) {
      const req = decoded(request({ tools: [weatherTool], tool_choice: choice }))
      assert.deepStrictEqual(req.tool_choice, expected, JSON.stringify(choice))
      assert.strictEqual(req.parallel_tool_calls, parallel, JSON.stringify(choice))
    }
  })

  it("leaves tool_choice out with the tools when only server tools were given", () => {
    const req = decoded(request({
      tools: [{ type: "web_search_20250305", name: "web_search" }],
      tool_choice: { type: "any", disable_parallel_tool_use: true }
    }))
    assert.doesNotHaveAnyKeys(req, ["tools", "tool_choice", "parallel_tool_calls"])
  })

  it("maps sampling parameters, the user id and the stream flag", () => {
    const req = decoded(request({
      stop_sequences: ["\n\nHuman:", "END"],
      temperature: 0.7,
      top_p: 0.9,
      top_k: 40,
      metadata: { user_id: "13803d75-b4b5-4c3e-b2a2-6f21399b021b" },
      stream: true
    }))
    assert.deepStrictEqual(req, {
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: "Hello, world" }],
      max_tokens: 1024,
      stop: ["\n\nHuman:", "END"],
      temperature: 0.7,
      top_p: 0.9,
      user: "13803d75-b4b5-4c3e-b2a2-6f21399b021b",
      stream: true,
      stream_options: { include_usage: true }
    })
    assert.doesNotHaveAnyKeys(decoded(request({ stream: false, metadata: { user_id: null } })), [
      "stream",
      "stream_options",
      "user"
    ])
  })

  it("does not copy Anthropic fields canonical cannot carry", () => {
    const req = decoded(request({
      thinking: { type: "enabled", budget_tokens: 10000 },
      service_tier: "auto",
      container: "container_011CPr2KoNBnvBkmyTzgKGvo",
      mcp_servers: [{ type: "url", url: "https://example-server.modelcontextprotocol.io/sse", name: "example-mcp" }],
      context_management: { edits: [{ type: "clear_tool_uses_20250919" }] },
      top_k: 5
    }))
    assert.deepStrictEqual(Object.keys(req), ["model", "messages", "max_tokens"])
  })

  it("refuses a body that is not an object", () => {
    for (const body of [null, [], "hi", 1]) {
      assert.deepStrictEqual(
        refused(body),
        new GatewayError.InvalidRequest({ message: "The request body must be a JSON object." })
      )
    }
  })

  it("refuses what Anthropic refuses, naming the field", () => {
    const user = (content: unknown) => request({ messages: [{ role: "user", content }] })
    const cases: Array<[unknown, string, string]> = [
      [{ max_tokens: 1, messages: [] }, "model", "Missing required parameter: 'model'."],
      [request({ model: "" }), "model", "model: model must be a non-empty string"],
      [request({ model: 4 }), "model", "model: Expected string, actual 4"],
      [{ model: "m", messages: [] }, "max_tokens", "Missing required parameter: 'max_tokens'."],
      [request({ max_tokens: 0 }), "max_tokens", "max_tokens: max_tokens must be a positive integer"],
      [request({ max_tokens: 1.5 }), "max_tokens", "max_tokens: Expected an integer, actual 1.5"],
      [{ model: "m", max_tokens: 1 }, "messages", "Missing required parameter: 'messages'."],
      [request({ messages: [] }), "messages", "messages: messages must not be empty"],
      [
        request({ messages: [{ role: "system", content: "x" }] }),
        "messages[0].role",
        "messages[0].role: Expected \"user\" | \"assistant\", actual \"system\""
      ],
      [user(5), "messages[0].content", "messages[0].content: Expected string | array, actual 5"],
      [user([{ type: "text" }]), "messages[0].content[0].text", "Missing required parameter: 'messages[0].content[0].text'."],
      [user([{ text: "x" }]), "messages[0].content[0].type", "Missing required parameter: 'messages[0].content[0].type'."],
      [
        user([{ type: "image", source: { type: "base64", media_type: "image/png" } }]),
        "messages[0].content[0].source.data",
        "Missing required parameter: 'messages[0].content[0].source.data'."
      ],
      [
        user([{ type: "image", source: { type: "path", path: "/tmp/a.png" } }]),
        "messages[0].content[0].source.type",
        "messages[0].content[0].source.type: Expected \"base64\" | \"url\" | \"file\", actual \"path\""
      ],
      [
        user([{ type: "tool_result", content: "15 degrees" }]),
        "messages[0].content[0].tool_use_id",
        "Missing required parameter: 'messages[0].content[0].tool_use_id'."
      ],
      [
        user([{ type: "tool_result", tool_use_id: "t", content: [{ type: "text", text: 1 }] }]),
        "messages[0].content[0].content[0].text",
        "messages[0].content[0].content[0].text: Expected string, actual 1"
      ],
      [
        request({ messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", input: {} }] }] }),
        "messages[0].content[0].name",
        "Missing required parameter: 'messages[0].content[0].name'."
      ],
      [request({ system: 5 }), "system", "system: Expected string | array, actual 5"],
      [request({ system: [{ type: "text" }] }), "system[0].text", "Missing required parameter: 'system[0].text'."],
      [request({ temperature: 1.5 }), "temperature", "temperature: Expected a number between 0 and 1, actual 1.5"],
      [request({ stop_sequences: "END" }), "stop_sequences", "stop_sequences: Expected ReadonlyArray<string>, actual \"END\""],
      [request({ stream: "yes" }), "stream", "stream: Expected boolean, actual \"yes\""],
      [request({ metadata: { user_id: 5 } }), "metadata.user_id", "metadata.user_id: Expected string, actual 5"],
      [
        request({ tools: [{ name: "get_weather" }] }),
        "tools[0].input_schema",
        "Missing required parameter: 'tools[0].input_schema'."
      ],
      [request({ tools: [{ input_schema: {} }] }), "tools[0].name", "Missing required parameter: 'tools[0].name'."],
      [request({ tool_choice: { type: "tool" } }), "tool_choice.name", "Missing required parameter: 'tool_choice.name'."],
      [
        request({ tool_choice: { type: "required" } }),
        "tool_choice.type",
        "tool_choice.type: Expected \"auto\" | \"any\" | \"tool\" | \"none\", actual \"required\""
      ]
    ]
    for (const [body, param, message] of cases) {
      const error = refused(body)
      assert.strictEqual(error.param, param, message)
      assert.strictEqual(error.message, message)
    }
  })
})

const response = (
  message: ChatResponse["choices"][number]["message"],
  finishReason: string | null,
  usage?: Usage
): ChatResponse => ({
  id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "claude-sonnet-4-5",
  choices: [{ index: 0, message, finish_reason: finishReason }],
  ...(usage === undefined ? {} : { usage })
})

const usage = (prompt: number, completion: number, details?: Usage["prompt_tokens_details"]): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  ...(details === undefined ? {} : { prompt_tokens_details: details })
})

const getWeather = (id: string, args: string) => ({ id, type: "function" as const, function: { name: "get_weather", arguments: args } })

describe("Anthropic.encodeMessage", () => {
  it("writes a text answer as the docs' Message", () => {
    // https://platform.claude.com/docs/en/api/messages (the response example)
    const res = response({ role: "assistant", content: "Hi! My name is Claude." }, "stop", usage(2095, 503))
    assert.deepStrictEqual(Anthropic.encodeMessage(res), {
      id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "Hi! My name is Claude." }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 2095, output_tokens: 503 }
    })
  })

  it("prefixes an id that is not Anthropic's with msg_", () => {
    const res = { ...response({ role: "assistant", content: "Hi" }, "stop"), id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT" }
    assert.strictEqual(Anthropic.encodeMessage(res).id, "msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT")
  })

  it("writes tool calls as tool_use blocks after the text, with their arguments parsed", () => {
    // https://platform.claude.com/docs/en/agents-and-tools/tool-use/implement-tool-use
    const res = response({
      role: "assistant",
      content: "I'll check the current weather in San Francisco for you.",
      tool_calls: [
        getWeather("toolu_01A09q90qw90lq917835lq9", "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"),
        getWeather("toolu_02", "[1,2]"),
        getWeather("toolu_03", "{not json"),
        getWeather("toolu_04", "")
      ]
    }, "tool_calls", usage(384, 92))
    const message = Anthropic.encodeMessage(res)
    assert.deepStrictEqual(message.content, [
      { type: "text", text: "I'll check the current weather in San Francisco for you." },
      {
        type: "tool_use",
        id: "toolu_01A09q90qw90lq917835lq9",
        name: "get_weather",
        input: { location: "San Francisco, CA", unit: "celsius" }
      },
      { type: "tool_use", id: "toolu_02", name: "get_weather", input: {} },
      { type: "tool_use", id: "toolu_03", name: "get_weather", input: {} },
      { type: "tool_use", id: "toolu_04", name: "get_weather", input: {} }
    ])
    assert.strictEqual(message.stop_reason, "tool_use")
    const callsOnly = response({ role: "assistant", content: null, tool_calls: [getWeather("t", "{}")] }, "tool_calls")
    assert.deepStrictEqual(Anthropic.encodeMessage(callsOnly).content, [{ type: "tool_use", id: "t", name: "get_weather", input: {} }])
    assert.deepStrictEqual(Anthropic.encodeMessage(response({ role: "assistant", content: "" }, "stop")).content, [])
  })

  it("writes a refusal as the answer's text", () => {
    const res = response({ role: "assistant", content: null, refusal: "I can't help with that." }, "content_filter")
    const message = Anthropic.encodeMessage(res)
    assert.deepStrictEqual(message.content, [{ type: "text", text: "I can't help with that." }])
    assert.strictEqual(message.stop_reason, "refusal")
  })

  it("maps every finish reason to a stop reason", () => {
    const cases: Array<[string | null, string]> = [
      ["stop", "end_turn"],
      ["length", "max_tokens"],
      ["tool_calls", "tool_use"],
      ["content_filter", "refusal"],
      ["pause_turn", "end_turn"],
      [null, "end_turn"]
    ]
    for (const [finish, stop] of cases) {
      assert.strictEqual(Anthropic.encodeMessage(response({ role: "assistant", content: "x" }, finish)).stop_reason, stop)
    }
  })

  it("takes cache reads and writes out of input_tokens", () => {
    // https://platform.claude.com/docs/en/build-with-claude/prompt-caching#tracking-cache-performance:
    // "total input tokens = cache_read_input_tokens + cache_creation_input_tokens + input_tokens".
    const res = response(
      { role: "assistant", content: "Hi" },
      "stop",
      usage(21 + 188086 + 0, 393, { cached_tokens: 188086, cache_creation_tokens: 0 })
    )
    assert.deepStrictEqual(Anthropic.encodeMessage(res).usage, {
      input_tokens: 21,
      output_tokens: 393,
      cache_read_input_tokens: 188086,
      cache_creation_input_tokens: 0
    })
    const openAi = response({ role: "assistant", content: "Hi" }, "stop", usage(2006, 300, { cached_tokens: 1920 }))
    assert.deepStrictEqual(Anthropic.encodeMessage(openAi).usage, {
      input_tokens: 86,
      output_tokens: 300,
      cache_read_input_tokens: 1920
    })
    const none = response({ role: "assistant", content: "Hi" }, "stop")
    assert.deepStrictEqual(Anthropic.encodeMessage(none).usage, { input_tokens: 0, output_tokens: 0 })
  })
})

// ---------------------------------------------------------------------------------------------
// Streams

interface Event {
  readonly event: string
  readonly data: any
}

/** The events of an SSE text: each one an `event:` line and one `data:` line of JSON. */
const parseSse = (text: string): Array<Event> => {
  assert.isTrue(text.endsWith("\n\n"), "the stream ends with a blank line")
  return text.slice(0, -2).split("\n\n").map((raw) => {
    const match = /^event: ([a-z_]+)\ndata: (.*)$/.exec(raw)
    if (match === null) return assert.fail(`not one event line and one data line: ${raw}`)
    const data = JSON.parse(match[2]!)
    assert.strictEqual(data.type, match[1], "the data's type is the event's name")
    return { event: match[1]!, data }
  })
}

const run = (chunks: ReadonlyArray<ChatChunk>): Array<Event> => {
  const encoder = Anthropic.streamEncoder()
  let text = ""
  for (const chunk of chunks) text += encoder.chunk(chunk)
  return parseSse(text + encoder.end())
}

type Delta = ChatChunk["choices"][number]["delta"]

const chunk = (delta: Delta, finishReason: string | null = null, extra: Partial<ChatChunk> = {}): ChatChunk => ({
  id: "chatcmpl-123",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta, finish_reason: finishReason }],
  ...extra
})

const usageChunk = (u: Usage): ChatChunk => ({ ...chunk({}), choices: [], usage: u })

/**
 * The Message a client builds from the events, as the SDK's `MessageStream` does
 * (`lib/MessageStream.js`, `#accumulateMessage`): blocks by index, deltas appended,
 * `message_delta` setting the stop reason, `output_tokens`, and the other counts it carries.
 */
const accumulate = (events: ReadonlyArray<Event>): Record<string, any> => {
  let message: Record<string, any> | undefined
  const json: Array<string> = []
  for (const { data } of events) {
    switch (data.type) {
      case "message_start":
        assert.isUndefined(message, "one message_start")
        message = structuredClone(data.message)
        break
      case "content_block_start":
        assert.strictEqual(data.index, message!.content.length, "blocks open in order")
        message!.content.push({ ...data.content_block })
        json.push("")
        break
      case "content_block_delta": {
        const block = message!.content[data.index]
        if (data.delta.type === "text_delta") block.text += data.delta.text
        else json[data.index] += data.delta.partial_json
        break
      }
      case "content_block_stop": {
        const block = message!.content[data.index]
        if (block.type === "tool_use" && json[data.index] !== "") block.input = JSON.parse(json[data.index]!)
        break
      }
      case "message_delta":
        message!.stop_reason = data.delta.stop_reason
        message!.stop_sequence = data.delta.stop_sequence
        message!.usage = { ...message!.usage, ...data.usage }
        break
    }
  }
  return message!
}

describe("Anthropic.streamEncoder", () => {
  it("writes a text stream, with the usage of a trailing chunk in message_delta", () => {
    // https://platform.claude.com/docs/en/build-with-claude/streaming#basic-streaming-request
    const events = run([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hello" }),
      chunk({ content: "!" }),
      chunk({}, "stop"),
      usageChunk(usage(12, 6))
    ])
    assert.deepStrictEqual(events.map((e) => e.data), [
      {
        type: "message_start",
        message: {
          id: "msg_chatcmpl-123",
          type: "message",
          role: "assistant",
          model: "gpt-4o-mini",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 }
        }
      },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "!" } },
      { type: "content_block_stop", index: 0 },
      {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { input_tokens: 12, output_tokens: 6 }
      },
      { type: "message_stop" }
    ])
  })

  it("writes text then two tool calls as three blocks, their arguments as input_json_delta fragments", () => {
    // https://platform.claude.com/docs/en/build-with-claude/streaming#streaming-request-with-tool-use
    const chunks = [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Okay, let's check" }),
      chunk({ content: " the weather." }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"location\": " } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "\"San Francisco, CA\"}" } }] }),
      chunk({
        tool_calls: [{ index: 1, id: "call_2", type: "function", function: { name: "get_time", arguments: "{\"tz\"" } }]
      }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: ": \"PST\"}" } }] }),
      chunk({}, "tool_calls"),
      usageChunk(usage(472, 89))
    ]
    const events = run(chunks)
    assert.deepStrictEqual(events.map((e) => [e.event, e.data.index]), [
      ["message_start", undefined],
      ["content_block_start", 0],
      ["content_block_delta", 0],
      ["content_block_delta", 0],
      ["content_block_stop", 0],
      ["content_block_start", 1],
      ["content_block_delta", 1],
      ["content_block_delta", 1],
      ["content_block_stop", 1],
      ["content_block_start", 2],
      ["content_block_delta", 2],
      ["content_block_delta", 2],
      ["content_block_stop", 2],
      ["message_delta", undefined],
      ["message_stop", undefined]
    ])
    assert.deepStrictEqual(events[5]!.data.content_block, { type: "tool_use", id: "call_1", name: "get_weather", input: {} })
    assert.deepStrictEqual(events[9]!.data.content_block, { type: "tool_use", id: "call_2", name: "get_time", input: {} })
    const fragments = (index: number) =>
      events.filter((e) => e.event === "content_block_delta" && e.data.index === index).map((e) => e.data.delta)
    assert.strictEqual(fragments(0).map((d) => d.text).join(""), "Okay, let's check the weather.")
    assert.isTrue(fragments(1).every((d) => d.type === "input_json_delta"))
    assert.deepStrictEqual(JSON.parse(fragments(1).map((d) => d.partial_json).join("")), { location: "San Francisco, CA" })
    assert.deepStrictEqual(JSON.parse(fragments(2).map((d) => d.partial_json).join("")), { tz: "PST" })
    // The client's Message is what the JSON answer would have been.
    const message = accumulate(events)
    assert.deepStrictEqual(
      message,
      Anthropic.encodeMessage({
        id: "chatcmpl-123",
        object: "chat.completion",
        created: 1_700_000_000,
        model: "gpt-4o-mini",
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: "Okay, let's check the weather.",
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"location\": \"San Francisco, CA\"}" } },
              { id: "call_2", type: "function", function: { name: "get_time", arguments: "{\"tz\": \"PST\"}" } }
            ]
          },
          finish_reason: "tool_calls"
        }],
        usage: usage(472, 89)
      })
    )
  })

  it("takes the usage from the finish chunk, cache counts included", () => {
    const events = run([
      chunk({ role: "assistant", content: "Hi" }),
      chunk({}, "length", { usage: usage(2006, 300, { cached_tokens: 1920, cache_creation_tokens: 50 }) })
    ])
    assert.deepStrictEqual(events.map((e) => e.event), [
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop"
    ])
    assert.deepStrictEqual(events[4]!.data, {
      type: "message_delta",
      delta: { stop_reason: "max_tokens", stop_sequence: null },
      usage: { input_tokens: 36, output_tokens: 300, cache_read_input_tokens: 1920, cache_creation_input_tokens: 50 }
    })
    assert.deepStrictEqual(accumulate(events).usage, {
      input_tokens: 36,
      output_tokens: 300,
      cache_read_input_tokens: 1920,
      cache_creation_input_tokens: 50
    })
  })

  it("writes a tool call given whole in one fragment, and only choice 0", () => {
    const events = run([
      {
        ...chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_time", arguments: "{}" } }] }),
        choices: [
          { index: 1, delta: { content: "another choice" }, finish_reason: null },
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_time", arguments: "{}" } }] },
            finish_reason: "tool_calls"
          }
        ]
      }
    ])
    assert.deepStrictEqual(accumulate(events).content, [{ type: "tool_use", id: "call_1", name: "get_time", input: {} }])
    assert.strictEqual(accumulate(events).stop_reason, "tool_use")
  })

  it("writes a refusal as text", () => {
    const events = run([chunk({ refusal: "I can't help with that." }, "content_filter")])
    const message = accumulate(events)
    assert.deepStrictEqual(message.content, [{ type: "text", text: "I can't help with that." }])
    assert.strictEqual(message.stop_reason, "refusal")
  })

  it("still starts and ends a message when no chunk came", () => {
    assert.deepStrictEqual(parseSse(Anthropic.streamEncoder().end()).map((e) => e.event), [
      "message_start",
      "message_delta",
      "message_stop"
    ])
  })

  it("writes a failure as an error event", () => {
    // https://platform.claude.com/docs/en/build-with-claude/streaming#error-events
    const encoder = Anthropic.streamEncoder()
    encoder.chunk(chunk({ content: "Hi" }))
    const info = HttpErrors.describe(
      new GatewayError.ProviderStatusError({
        provider: "anthropic",
        status: 529,
        body: "",
        upstreamType: "overloaded_error",
        upstreamMessage: "Overloaded"
      })
    )
    assert.deepStrictEqual(parseSse(encoder.error(info)), [
      { event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }
    ])
  })
})

describe("Anthropic.errorBody", () => {
  const info = (status: number, type: string): HttpErrors.ErrorInfo => ({ status, type, message: "m", param: null, code: null })

  it("keeps an Anthropic error type and derives the others from the status", () => {
    // https://platform.claude.com/docs/en/api/errors
    const cases: Array<[HttpErrors.ErrorInfo, string]> = [
      [info(529, "overloaded_error"), "overloaded_error"],
      [info(500, "api_error"), "api_error"],
      [info(429, "rate_limit_error"), "rate_limit_error"],
      [info(402, "billing_error"), "billing_error"],
      [info(400, "invalid_request_error"), "invalid_request_error"],
      [info(400, "upstream_error"), "invalid_request_error"],
      [info(401, "upstream_error"), "authentication_error"],
      [info(402, "insufficient_quota"), "billing_error"],
      [info(403, "upstream_error"), "permission_error"],
      [info(404, "upstream_error"), "not_found_error"],
      [info(413, "upstream_error"), "request_too_large"],
      [info(422, "upstream_error"), "invalid_request_error"],
      [info(429, "requests"), "rate_limit_error"],
      [info(502, "upstream_error"), "api_error"],
      [info(503, "server_error"), "api_error"],
      [info(504, "upstream_error"), "timeout_error"],
      [info(529, "upstream_error"), "overloaded_error"]
    ]
    for (const [given, type] of cases) {
      assert.deepStrictEqual(Anthropic.errorBody(given), { type: "error", error: { type, message: "m" } }, JSON.stringify(given))
    }
  })

  it("gives the gateway's own errors Anthropic's types for their statuses", () => {
    const cases: Array<[HttpErrors.HttpError, string]> = [
      [new GatewayError.InvalidRequest({ message: "bad" }), "invalid_request_error"],
      // OpenAI calls these invalid_request_error too; Anthropic names them after the status.
      [new GatewayError.ModelNotFound({ model: "claude-9" }), "not_found_error"],
      [new HttpErrors.RequestTooLarge({ limit: 1024 }), "request_too_large"],
      [new GatewayError.ProviderTimeout({ provider: "p", afterMillis: 1000 }), "timeout_error"],
      [new GatewayError.CircuitOpen({ targets: ["p"], retryAfterMillis: 1000 }), "api_error"],
      [new GatewayError.ProviderUnreachable({ provider: "p", detail: "ECONNREFUSED" }), "api_error"]
    ]
    for (const [error, type] of cases) {
      const body = Anthropic.errorBody(HttpErrors.describe(error))
      assert.deepStrictEqual(body, { type: "error", error: { type, message: error.message } }, error._tag)
    }
    assert.strictEqual(Anthropic.errorBody(HttpErrors.internalError).error.type, "api_error")
  })
})
