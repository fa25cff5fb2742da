import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatResponse } from "@switchyard/core/ChatSchema"
import type { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Responses from "../../src/formats/Responses.js"

const decoded = (body: unknown) => {
  const result = Responses.decodeRequest(body)
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}

const refusal = (body: unknown): InvalidRequest => {
  const result = Responses.decodeRequest(body)
  if (Either.isRight(result)) assert.fail(`accepted ${JSON.stringify(body)}`)
  return result.left
}

// https://platform.openai.com/docs/guides/function-calling?api-mode=responses
const getWeather = {
  type: "function",
  name: "get_weather",
  description: "Get current temperature for a given location.",
  parameters: {
    type: "object",
    properties: { location: { type: "string", description: "City and country e.g. Bogotá, Colombia" } },
    required: ["location"],
    additionalProperties: false
  },
  strict: true
}

describe("Responses.decodeRequest", () => {
  it("takes a string input as one user message", () => {
    // https://platform.openai.com/docs/api-reference/responses/create
    assert.deepStrictEqual(decoded({ model: "gpt-4.1", input: "Tell me a three sentence bedtime story about a unicorn." }), {
      model: "gpt-4.1",
      messages: [{ role: "user", content: "Tell me a three sentence bedtime story about a unicorn." }]
    })
  })

  it("puts instructions first and maps messages and their parts", () => {
    const body = {
      model: "gpt-4.1",
      instructions: "Talk like a pirate.",
      input: [
        { role: "developer", content: "Answer briefly." },
        {
          // https://platform.openai.com/docs/guides/images-vision?api-mode=responses
          role: "user",
          content: [
            { type: "input_text", text: "what's in this image?" },
            { type: "input_image", image_url: "https://upload.wikimedia.org/boardwalk.jpg", detail: "low" },
            { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "original" },
            // https://platform.openai.com/docs/guides/pdf-files?api-mode=responses
            { type: "input_file", filename: "draconomicon.pdf", file_data: "data:application/pdf;base64,JVBERi0=" },
            { type: "input_file", file_id: "file-6F2ksmvXxt4VdoqmHRw6kL" }
          ]
        },
        // An earlier answer sent back as it came: an output message with its id and status.
        {
          type: "message",
          id: "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
          status: "completed",
          role: "assistant",
          content: [
            { type: "output_text", text: "A boardwalk.", annotations: [] },
            { type: "refusal", refusal: "I cannot say more." }
          ]
        },
        { type: "message", role: "system", content: [{ type: "input_text", text: "Be kind." }] }
      ]
    }
    assert.deepStrictEqual(decoded(body).messages, [
      { role: "system", content: "Talk like a pirate." },
      { role: "developer", content: "Answer briefly." },
      {
        role: "user",
        content: [
          { type: "text", text: "what's in this image?" },
          { type: "image_url", image_url: { url: "https://upload.wikimedia.org/boardwalk.jpg", detail: "low" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
          { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "draconomicon.pdf" } },
          { type: "file", file: { file_id: "file-6F2ksmvXxt4VdoqmHRw6kL" } }
        ]
      },
      {
        role: "assistant",
        content: [{ type: "text", text: "A boardwalk." }, { type: "refusal", refusal: "I cannot say more." }]
      },
      { role: "system", content: [{ type: "text", text: "Be kind." }] }
    ])
  })

  it("turns function calls into one assistant turn and their outputs into tool messages, leaving reasoning out", () => {
    // https://platform.openai.com/docs/guides/function-calling?api-mode=responses (the second request)
    const body = {
      model: "o4-mini",
      input: [
        { role: "user", content: "What is the weather like in Paris and Bogotá today?" },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" },
        { role: "assistant", content: "Checking both." },
        {
          type: "function_call",
          id: "fc_12345xyz",
          call_id: "call_12345xyz",
          name: "get_weather",
          arguments: "{\"location\":\"Paris, France\"}"
        },
        {
          type: "function_call",
          id: "fc_67890abc",
          call_id: "call_67890abc",
          name: "get_weather",
          arguments: "{\"location\":\"Bogotá, Colombia\"}",
          status: "completed"
        },
        { type: "function_call_output", call_id: "call_12345xyz", output: "14" },
        { type: "function_call_output", call_id: "call_67890abc", output: [{ type: "input_text", text: "18" }] },
        { type: "function_call", call_id: "call_3", name: "get_weather", arguments: "{}" }
      ],
      tools: [getWeather]
    }
    assert.deepStrictEqual(decoded(body).messages, [
      { role: "user", content: "What is the weather like in Paris and Bogotá today?" },
      {
        role: "assistant",
        content: "Checking both.",
        tool_calls: [
          { id: "call_12345xyz", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Paris, France\"}" } },
          { id: "call_67890abc", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Bogotá, Colombia\"}" } }
        ]
      },
      { role: "tool", tool_call_id: "call_12345xyz", content: "14" },
      { role: "tool", tool_call_id: "call_67890abc", content: [{ type: "text", text: "18" }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_3", type: "function", function: { name: "get_weather", arguments: "{}" } }] }
    ])
  })

  it("maps the parameters and leaves out what Chat Completions has no use for", () => {
    const body = {
      model: "gpt-4o-2024-08-06",
      input: "Alice and Bob are going to a science fair on Friday.",
      tools: [getWeather, { type: "function", name: "now", description: null, parameters: null, strict: null }],
      tool_choice: { type: "function", name: "get_weather" },
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 2048,
      parallel_tool_calls: false,
      user: "user-1234",
      seed: 7,
      service_tier: "flex",
      // https://platform.openai.com/docs/guides/structured-outputs?api-mode=responses
      text: {
        format: {
          type: "json_schema",
          name: "calendar_event",
          schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false },
          strict: true
        }
      },
      // https://platform.openai.com/docs/guides/reasoning?api-mode=responses
      reasoning: { effort: "low", summary: "auto" },
      stream: true,
      store: true,
      metadata: { session: "s1" },
      truncation: "auto",
      include: ["reasoning.encrypted_content"],
      background: false,
      previous_response_id: null,
      conversation: null,
      prompt_cache_key: "k",
      top_logprobs: 2,
      unknown_field: 1
    }
    assert.deepStrictEqual(decoded(body), {
      model: "gpt-4o-2024-08-06",
      messages: [{ role: "user", content: "Alice and Bob are going to a science fair on Friday." }],
      temperature: 0.2,
      top_p: 0.9,
      parallel_tool_calls: false,
      user: "user-1234",
      seed: 7,
      service_tier: "flex",
      max_completion_tokens: 2048,
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Get current temperature for a given location.",
            parameters: getWeather.parameters,
            strict: true
          }
        },
        { type: "function", function: { name: "now" } }
      ],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "calendar_event",
          schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false },
          strict: true
        }
      },
      reasoning_effort: "low",
      stream: true,
      stream_options: { include_usage: true }
    })
  })

  it("passes tool_choice strings and the other text formats as they are", () => {
    for (const choice of ["auto", "none", "required"] as const) {
      assert.strictEqual(decoded({ model: "m", input: "x", tool_choice: choice }).tool_choice, choice)
    }
    for (const type of ["text", "json_object"] as const) {
      assert.deepStrictEqual(decoded({ model: "m", input: "x", text: { format: { type } } }).response_format, { type })
    }
  })

  it("refuses what it cannot translate, naming the field", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ input: "x", previous_response_id: "resp_123" }, "previous_response_id", "keeps no response state"],
      [{ input: "x", conversation: "conv_123" }, "conversation", "send the whole conversation in `input`"],
      [{ input: "x", background: true }, "background", "keeps no response state"],
      [{ input: "x", prompt: { id: "pmpt_123", version: "2" } }, "prompt", "Stored prompts"],
      [{ input: "x", tools: [getWeather, { type: "web_search_preview" }] }, "tools[1].type", "function tools only"],
      [{ input: "x", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }, "tools[0].type", "function tools only"],
      [{ input: "x", tools: [{ type: "mcp", server_label: "deepwiki" }] }, "tools[0].type", "function tools only"],
      [{ input: "x", tools: [{ type: "function", parameters: {} }] }, "tools[0].name", "Missing required parameter"],
      [{ input: "x", tool_choice: { type: "file_search" } }, "tool_choice.type", "cannot be translated"],
      [{ input: "x", tool_choice: "sometimes" }, "tool_choice", "Expected \"auto\" | \"none\" | \"required\""],
      [{ input: [{ type: "item_reference", id: "msg_123" }] }, "input[0].type", "Item references cannot be resolved"],
      [{ input: ["hi", { type: "web_search_call" }] }, "input[0]", "Expected"],
      [{ input: [{ role: "user", content: "x" }, { type: "computer_call_output", call_id: "c" }] }, "input[1].type", "cannot be translated"],
      [{ input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id", "Missing required parameter"],
      [{ input: [{ type: "function_call_output", call_id: "c" }] }, "input[0].output", "Missing required parameter"],
      [{ input: [{ role: "tool", content: "x" }] }, "input[0].role", "Expected \"user\""],
      [
        { input: [{ role: "user", content: [{ type: "input_image", file_id: "file-123", detail: "auto" }] }] },
        "input[0].content[0].file_id",
        "file_id cannot be translated"
      ],
      [
        { input: [{ role: "user", content: [{ type: "input_file", file_url: "https://example.com/a.pdf" }] }] },
        "input[0].content[0].file_url",
        "file_url cannot be translated"
      ],
      [
        { input: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "mp3" } }] }] },
        "input[0].content[0].type",
        "Expected \"input_text\""
      ],
      [{ input: "x", text: { format: { type: "json_schema", schema: {} } } }, "text.format.name", "Missing required parameter"],
      [{ input: "x", max_output_tokens: 0 }, "max_output_tokens", "positive"],
      [{ input: "x", temperature: 2.5 }, "temperature", "between 0 and 2"],
      [{ input: [{ type: "reasoning", summary: [] }] }, "input", "no message"],
      [{}, "input", "Missing required parameter"]
    ]
    for (const [fields, param, message] of cases) {
      const error = refusal({ model: "gpt-4.1", ...fields })
      assert.strictEqual(error.param, param, JSON.stringify(fields))
      assert.include(error.message, message)
    }
  })

  it("refuses a body that is not an object, or without a model", () => {
    assert.strictEqual(refusal("Tell me a story").message, "The request body must be a JSON object.")
    assert.strictEqual(refusal({ input: "x" }).param, "model")
  })
})

// https://platform.openai.com/docs/api-reference/responses/object
const story =
  "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool that reflected the stars."

const answer = (message: ChatResponse["choices"][number]["message"], finish_reason: string, withUsage = true): ChatResponse => ({
  id: "chatcmpl-67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  object: "chat.completion",
  created: 1741476542,
  model: "gpt-4.1-2025-04-14",
  choices: [{ index: 0, message, finish_reason }],
  ...(withUsage
    ? {
      usage: {
        prompt_tokens: 36,
        completion_tokens: 87,
        total_tokens: 123,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 2 }
      }
    }
    : {})
})

const defaults = {
  id: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  object: "response",
  created_at: 1741476542,
  background: false,
  error: null,
  model: "gpt-4.1-2025-04-14",
  instructions: null,
  max_output_tokens: null,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: null,
  truncation: "disabled",
  user: null,
  metadata: {}
}

const usage = {
  input_tokens: 36,
  input_tokens_details: { cached_tokens: 4 },
  output_tokens: 87,
  output_tokens_details: { reasoning_tokens: 2 },
  total_tokens: 123
}

const stem = "67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
const textItem = (text: string, status = "completed") => ({
  type: "message",
  id: `msg_${stem}_0`,
  status,
  role: "assistant",
  content: [{ type: "output_text", text, annotations: [], logprobs: [] }]
})
const callItem = (index: number, callId: string, args: string, status = "completed") => ({
  type: "function_call",
  id: `fc_${stem}_${index}`,
  call_id: callId,
  name: "get_weather",
  arguments: args,
  status
})

describe("Responses.encodeResponse", () => {
  it("gives the Response object of a text answer", () => {
    const res = answer({ role: "assistant", content: story }, "stop")
    assert.deepStrictEqual(Responses.encodeResponse(res, { model: "gpt-4.1", input: "Tell me a story." }), {
      ...defaults,
      status: "completed",
      incomplete_details: null,
      output: [textItem(story)],
      usage
    })
  })

  it("repeats the request's settings", () => {
    const request = {
      model: "gpt-4.1",
      input: "x",
      instructions: "Talk like a pirate.",
      max_output_tokens: 100,
      parallel_tool_calls: false,
      temperature: 0.5,
      top_p: 0.8,
      user: "user-1",
      metadata: { session: "s1" },
      reasoning: { effort: "low" },
      text: { format: { type: "json_object" }, verbosity: "low" },
      tool_choice: "required",
      tools: [getWeather, { type: "function", name: "now" }]
    }
    const res = Responses.encodeResponse(answer({ role: "assistant", content: "{}" }, "stop"), request)
    assert.deepStrictEqual(res, {
      ...defaults,
      status: "completed",
      incomplete_details: null,
      output: [textItem("{}")],
      usage,
      instructions: "Talk like a pirate.",
      max_output_tokens: 100,
      parallel_tool_calls: false,
      temperature: 0.5,
      top_p: 0.8,
      user: "user-1",
      metadata: { session: "s1" },
      reasoning: { effort: "low", summary: null },
      text: { format: { type: "json_object" }, verbosity: "low" },
      tool_choice: "required",
      tools: [getWeather, { type: "function", name: "now", description: null, parameters: null, strict: null }]
    })
  })

  it("gives text, then each tool call as a function_call item", () => {
    const res = answer({
      role: "assistant",
      content: "Checking.",
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Paris, France\"}" } },
        { id: "call_2", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Bogotá, Colombia\"}" } }
      ]
    }, "tool_calls")
    const encoded = Responses.encodeResponse(res, {})
    assert.deepStrictEqual(encoded.output, [
      textItem("Checking."),
      callItem(1, "call_1", "{\"location\":\"Paris, France\"}"),
      callItem(2, "call_2", "{\"location\":\"Bogotá, Colombia\"}")
    ])
    assert.strictEqual(encoded.status, "completed")
    // The same answer encodes the same way.
    assert.deepStrictEqual(Responses.encodeResponse(res, {}), encoded)
  })

  it("marks an answer cut short incomplete, with its last item", () => {
    const cut = Responses.encodeResponse(answer({ role: "assistant", content: "In a peaceful" }, "length"), {})
    assert.strictEqual(cut.status, "incomplete")
    assert.deepStrictEqual(cut.incomplete_details, { reason: "max_output_tokens" })
    assert.deepStrictEqual(cut.output, [textItem("In a peaceful", "incomplete")])

    const filtered = Responses.encodeResponse(
      answer({
        role: "assistant",
        content: "Sure.",
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"loc" } }]
      }, "content_filter"),
      {}
    )
    assert.strictEqual(filtered.status, "incomplete")
    assert.deepStrictEqual(filtered.incomplete_details, { reason: "content_filter" })
    assert.deepStrictEqual(filtered.output, [textItem("Sure."), callItem(1, "call_1", "{\"loc", "incomplete")])
  })

  it("gives a refusal as a refusal part, and null usage when there is none", () => {
    const res = Responses.encodeResponse(
      answer({ role: "assistant", content: null, refusal: "I can't help with that." }, "stop", false),
      {}
    )
    assert.deepStrictEqual(res.output, [{
      type: "message",
      id: `msg_${stem}_0`,
      status: "completed",
      role: "assistant",
      content: [{ type: "refusal", refusal: "I can't help with that." }]
    }])
    assert.isNull(res.usage)
  })
})

// ---------------------------------------------------------------------------------------------
// Streams: https://platform.openai.com/docs/api-reference/responses-streaming

interface Sse {
  readonly event: string
  readonly data: Record<string, any>
}

/** Reads the stream back as a client does: `event:` then `data:` per event. */
const parse = (sse: string): Array<Sse> => {
  const blocks = sse.split("\n\n")
  assert.strictEqual(blocks.pop(), "")
  return blocks.map((block) => {
    const [eventLine, dataLine, ...rest] = block.split("\n")
    assert.lengthOf(rest, 0)
    assert.isTrue(eventLine!.startsWith("event: ") && dataLine!.startsWith("data: "), block)
    const event = { event: eventLine!.slice(7), data: JSON.parse(dataLine!.slice(6)) }
    assert.strictEqual(event.data.type, event.event)
    return event
  })
}

const chunk = (delta: ChatChunk["choices"][number]["delta"], finish_reason: string | null = null): ChatChunk => ({
  id: "chatcmpl-67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  object: "chat.completion.chunk",
  created: 1741476542,
  model: "gpt-4.1-2025-04-14",
  choices: [{ index: 0, delta, finish_reason }]
})

const usageChunk: ChatChunk = {
  ...chunk({}),
  choices: [],
  usage: {
    prompt_tokens: 36,
    completion_tokens: 87,
    total_tokens: 123,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: { reasoning_tokens: 2 }
  }
}

const run = (chunks: ReadonlyArray<ChatChunk>, request: Record<string, unknown> = {}) => {
  const encoder = Responses.streamEncoder(request)
  const events = parse(chunks.map(encoder.chunk).join("") + encoder.end())
  events.forEach((e, i) => assert.strictEqual(e.data.sequence_number, i))
  return events
}

const deltas = (events: ReadonlyArray<Sse>, type: string, outputIndex: number) =>
  events.filter((e) => e.event === type && e.data.output_index === outputIndex).map((e) => e.data.delta).join("")

describe("Responses.streamEncoder", () => {
  it("writes a text answer with its usage arriving after the finish", () => {
    const request = { model: "gpt-4.1", input: "Tell me a story.", temperature: 0.7 }
    const events = run([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "In a peaceful grove" }),
      chunk({ content: " beneath a silver moon," }),
      chunk({ content: story.slice(42) }),
      chunk({}, "stop"),
      usageChunk
    ], request)
    assert.deepStrictEqual(events.map((e) => e.event), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed"
    ])
    const item = { item_id: `msg_${stem}_0`, output_index: 0, content_index: 0 }
    const inProgress = { ...defaults, temperature: 0.7, status: "in_progress", incomplete_details: null, output: [], usage: null }
    assert.deepStrictEqual(events[0]!.data.response, inProgress)
    assert.deepStrictEqual(events[1]!.data.response, inProgress)
    assert.deepStrictEqual(events[2]!.data, {
      type: "response.output_item.added",
      sequence_number: 2,
      output_index: 0,
      item: { type: "message", id: `msg_${stem}_0`, status: "in_progress", role: "assistant", content: [] }
    })
    assert.deepStrictEqual(events[3]!.data, {
      type: "response.content_part.added",
      sequence_number: 3,
      ...item,
      part: { type: "output_text", text: "", annotations: [], logprobs: [] }
    })
    assert.deepStrictEqual(events[4]!.data, {
      type: "response.output_text.delta",
      sequence_number: 4,
      ...item,
      delta: "In a peaceful grove",
      logprobs: []
    })
    assert.strictEqual(deltas(events, "response.output_text.delta", 0), story)
    assert.deepStrictEqual(events[7]!.data, { type: "response.output_text.done", sequence_number: 7, ...item, text: story, logprobs: [] })
    assert.deepStrictEqual(events[8]!.data.part, { type: "output_text", text: story, annotations: [], logprobs: [] })
    assert.deepStrictEqual(events[9]!.data.item, textItem(story))
    assert.deepStrictEqual(
      events[10]!.data.response,
      Responses.encodeResponse(answer({ role: "assistant", content: story }, "stop"), request)
    )
  })

  it("writes text then two function calls sent in fragments, each item closed when the next starts", () => {
    const request = { model: "gpt-4.1", input: "Weather in Paris and Bogotá?", tools: [getWeather] }
    const call = (index: number, fragment: Record<string, unknown>) => chunk({ tool_calls: [{ index, ...fragment }] })
    const events = run([
      chunk({ role: "assistant", content: "Checking " }),
      chunk({ content: "both." }),
      call(0, { id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }),
      call(0, { function: { arguments: "{\"location\":" } }),
      call(0, { function: { arguments: "\"Paris, France\"}" } }),
      call(1, { id: "call_2", type: "function", function: { name: "get_weather", arguments: "{\"location\":" } }),
      call(1, { function: { arguments: "\"Bogotá, Colombia\"}" } }),
      { ...chunk({}, "tool_calls"), usage: usageChunk.usage! }
    ], request)
    assert.deepStrictEqual(events.map((e) => [e.event, e.data.output_index]), [
      ["response.created", undefined],
      ["response.in_progress", undefined],
      ["response.output_item.added", 0],
      ["response.content_part.added", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.output_item.done", 0],
      ["response.output_item.added", 1],
      ["response.function_call_arguments.delta", 1],
      ["response.function_call_arguments.delta", 1],
      ["response.function_call_arguments.done", 1],
      ["response.output_item.done", 1],
      ["response.output_item.added", 2],
      ["response.function_call_arguments.delta", 2],
      ["response.function_call_arguments.delta", 2],
      ["response.function_call_arguments.done", 2],
      ["response.output_item.done", 2],
      ["response.completed", undefined]
    ])
    const paris = "{\"location\":\"Paris, France\"}"
    const bogota = "{\"location\":\"Bogotá, Colombia\"}"
    assert.strictEqual(deltas(events, "response.output_text.delta", 0), "Checking both.")
    assert.strictEqual(deltas(events, "response.function_call_arguments.delta", 1), paris)
    assert.strictEqual(deltas(events, "response.function_call_arguments.delta", 2), bogota)
    assert.deepStrictEqual(events[9]!.data.item, callItem(1, "call_1", "", "in_progress"))
    assert.deepStrictEqual(events[10]!.data, {
      type: "response.function_call_arguments.delta",
      sequence_number: 10,
      item_id: `fc_${stem}_1`,
      output_index: 1,
      delta: "{\"location\":"
    })
    assert.deepStrictEqual(events[12]!.data, {
      type: "response.function_call_arguments.done",
      sequence_number: 12,
      item_id: `fc_${stem}_1`,
      output_index: 1,
      name: "get_weather",
      arguments: paris
    })
    assert.deepStrictEqual(events[13]!.data.item, callItem(1, "call_1", paris))
    assert.deepStrictEqual(events[18]!.data.item, callItem(2, "call_2", bogota))
    const res = answer({
      role: "assistant",
      content: "Checking both.",
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: paris } },
        { id: "call_2", type: "function", function: { name: "get_weather", arguments: bogota } }
      ]
    }, "tool_calls")
    assert.deepStrictEqual(events[19]!.data.response, Responses.encodeResponse(res, request))
  })

  it("ends an answer cut short with response.incomplete, its last item incomplete", () => {
    const events = run([chunk({ content: "In a peaceful" }), chunk({}, "length"), usageChunk])
    const last = events.at(-1)!
    assert.strictEqual(last.event, "response.incomplete")
    assert.deepStrictEqual(events.at(-2)!.data.item, textItem("In a peaceful", "incomplete"))
    assert.deepStrictEqual(last.data.response, Responses.encodeResponse(answer({ role: "assistant", content: "In a peaceful" }, "length"), {}))
  })

  it("writes text then a refusal as two parts of one message", () => {
    const events = run([chunk({ content: "Here is " }), chunk({ refusal: "no answer." }), chunk({}, "stop"), usageChunk])
    assert.deepStrictEqual(events.map((e) => [e.event, e.data.content_index]).slice(2, -1), [
      ["response.output_item.added", undefined],
      ["response.content_part.added", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.content_part.added", 1],
      ["response.refusal.delta", 1],
      ["response.refusal.done", 1],
      ["response.content_part.done", 1],
      ["response.output_item.done", undefined]
    ])
    assert.deepStrictEqual(
      events.at(-1)!.data.response,
      Responses.encodeResponse(answer({ role: "assistant", content: "Here is ", refusal: "no answer." }, "stop"), {})
    )
  })

  it("writes a refusal as a refusal part", () => {
    const events = run([chunk({ refusal: "I can't " }), chunk({ refusal: "help." }), chunk({}, "stop"), usageChunk])
    assert.deepStrictEqual(events.map((e) => e.event).slice(3, -2), [
      "response.content_part.added",
      "response.refusal.delta",
      "response.refusal.delta",
      "response.refusal.done",
      "response.content_part.done"
    ])
    assert.strictEqual(events[6]!.data.refusal, "I can't help.")
    assert.deepStrictEqual(
      events.at(-1)!.data.response,
      Responses.encodeResponse(answer({ role: "assistant", content: null, refusal: "I can't help." }, "stop"), {})
    )
  })

  it("writes a failure as the error event, numbered in sequence", () => {
    const encoder = Responses.streamEncoder({})
    const started = parse(encoder.chunk(chunk({ content: "In" })))
    const [error] = parse(encoder.error({
      status: 502,
      type: "upstream_error",
      message: "Provider 'openai' is unreachable: ECONNRESET",
      param: null,
      code: "provider_unreachable"
    }))
    assert.deepStrictEqual(error!.data, {
      type: "error",
      sequence_number: started.length,
      code: "provider_unreachable",
      message: "Provider 'openai' is unreachable: ECONNRESET",
      param: null,
      error: {
        type: "upstream_error",
        code: "provider_unreachable",
        message: "Provider 'openai' is unreachable: ECONNRESET",
        param: null
      }
    })
  })
})
