import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest, ChatResponse } from "@switchyard/core/ChatSchema"
import type { EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import type { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Gemini from "../../src/formats/Gemini.js"
import type { ErrorInfo } from "../../src/HttpErrors.js"

const right = <A>(result: Either.Either<A, InvalidRequest>): A => {
  if (Either.isLeft(result)) assert.fail(`expected a decoded request, got: ${result.left.message}`)
  return result.right
}

const left = <A>(result: Either.Either<A, InvalidRequest>): InvalidRequest => {
  if (Either.isRight(result)) assert.fail(`expected an InvalidRequest, got: ${JSON.stringify(result.right)}`)
  return result.left
}

const chat = (body: unknown, stream = false): ChatRequest => right(Gemini.decodeGenerateRequest(body, "gemini-2.5-flash", stream))

const userText = (text: string) => ({ role: "user", parts: [{ text }] })

/** The events of an `alt=sse` body, each `data:` payload parsed, split as `@google/genai` splits them. */
const events = (text: string): Array<any> => {
  if (text === "") return []
  assert.isTrue(text.endsWith("\n\n"), "the body ends with a blank line")
  return text.slice(0, -2).split("\n\n").map((event) => {
    assert.isTrue(event.startsWith("data: "), `an event is one data line: ${event}`)
    assert.notInclude(event, "\n")
    return JSON.parse(event.slice("data: ".length))
  })
}

const chunk = (choices: ChatChunk["choices"], usage?: ChatChunk["usage"]): ChatChunk => ({
  id: "resp-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gemini-2.5-flash",
  choices,
  ...(usage === undefined ? {} : { usage })
})

const encodeStream = (chunks: ReadonlyArray<ChatChunk>): Array<any> => {
  const encoder = Gemini.streamEncoder()
  return events(chunks.map(encoder.chunk).join("") + encoder.end())
}

describe("Gemini.decodeGenerateRequest", () => {
  it("maps the system instruction (either spelling, or a string) to the first message", () => {
    // https://ai.google.dev/gemini-api/docs/text-generation#system-instructions
    const req = chat({
      system_instruction: { parts: [{ text: "You are a cat. Your name is Neko." }] },
      contents: [{ parts: [{ text: "Hello there" }] }]
    })
    assert.deepStrictEqual(req, {
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "You are a cat. Your name is Neko." },
        { role: "user", content: "Hello there" }
      ]
    })
    assert.deepStrictEqual(chat({ systemInstruction: "Be brief.", contents: [userText("Hi")] }).messages[0], {
      role: "system",
      content: "Be brief."
    })
    assert.deepStrictEqual(
      chat({ systemInstruction: { parts: [{ text: "One." }, { text: "Two." }] }, contents: [userText("Hi")] }).messages[0],
      { role: "system", content: [{ type: "text", text: "One." }, { type: "text", text: "Two." }] }
    )
  })

  it("maps a multi-turn conversation, streaming with usage", () => {
    // https://ai.google.dev/gemini-api/docs/text-generation#multi-turn-conversations
    const req = chat({
      contents: [
        { role: "user", parts: [{ text: "Hello" }] },
        { role: "model", parts: [{ text: "Great to meet you. " }, { text: "What would you like to know?" }] },
        { role: "user", parts: [{ text: "I have two dogs in my house. How many paws are in my house?" }] }
      ]
    }, true)
    assert.deepStrictEqual(req, {
      model: "gemini-2.5-flash",
      messages: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Great to meet you. What would you like to know?" },
        { role: "user", content: "I have two dogs in my house. How many paws are in my house?" }
      ],
      stream: true,
      stream_options: { include_usage: true }
    })
  })

  it("merges consecutive model turns, as the SDK's chat history keeps a streamed answer", () => {
    // `chats.sendMessageStream` records one `model` content per event it received.
    const req = chat({
      contents: [
        userText("hi"),
        { role: "model", parts: [{ text: "Hel" }] },
        { role: "model", parts: [{ text: "lo" }] },
        { role: "model", parts: [{ text: "" }] },
        userText("again")
      ]
    })
    assert.deepStrictEqual(req.messages, [
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "again" }
    ])
  })

  it("maps inline and file data: images as image_url, audio as input_audio, others as file; thoughts left out", () => {
    // https://ai.google.dev/gemini-api/docs/image-understanding, https://ai.google.dev/gemini-api/docs/audio,
    // https://ai.google.dev/gemini-api/docs/document-processing
    const req = chat({
      contents: [
        {
          role: "user",
          parts: [
            { inlineData: { mimeType: "image/jpeg", data: "/9j/4AAQ" } },
            { fileData: { mimeType: "image/png", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc" } },
            { inlineData: { mimeType: "audio/mp3", data: "SUQz" } },
            { inlineData: { mimeType: "application/pdf", data: "JVBERi0" } },
            { fileData: { mimeType: "video/mp4", fileUri: "gs://bucket/clip.mp4" } },
            { text: "thinking about it", thought: true },
            { text: "Caption this image." }
          ]
        }
      ]
    })
    assert.deepStrictEqual(req.messages, [{
      role: "user",
      content: [
        { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
        { type: "image_url", image_url: { url: "https://generativelanguage.googleapis.com/v1beta/files/abc" } },
        { type: "input_audio", input_audio: { data: "SUQz", format: "mp3" } },
        { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0" } },
        { type: "file", file: { file_data: "gs://bucket/clip.mp4" } },
        { type: "text", text: "Caption this image." }
      ]
    }])
  })

  it("pairs function responses with calls by id, and without ids by name in order", () => {
    // Parallel function calling: https://ai.google.dev/gemini-api/docs/function-calling#parallel_function_calling
    const req = chat({
      contents: [
        userText("Turn this place into a party!"),
        {
          role: "model",
          parts: [
            { functionCall: { name: "power_disco_ball", args: { power: true } } },
            { functionCall: { name: "start_music", args: { energetic: true, loud: true } }, thoughtSignature: "c2ln" },
            { functionCall: { name: "power_disco_ball", args: { power: false } } },
            { functionCall: { id: "call_0", name: "dim_lights", args: { brightness: 0.5 } } }
          ]
        },
        {
          role: "user",
          parts: [
            { functionResponse: { id: "call_0", name: "dim_lights", response: { result: "dimmed" } } },
            { functionResponse: { name: "start_music", response: { result: "playing" } } },
            { functionResponse: { name: "power_disco_ball", response: { result: "on" } } },
            { functionResponse: { name: "power_disco_ball", response: { result: "off" } } },
            { text: "And now?" }
          ]
        }
      ]
    })
    assert.deepStrictEqual(req.messages, [
      { role: "user", content: "Turn this place into a party!" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          // `call_0` is the request's own id: generated ids skip it.
          { id: "call_1", type: "function", function: { name: "power_disco_ball", arguments: "{\"power\":true}" } },
          {
            id: "call_2",
            type: "function",
            function: { name: "start_music", arguments: "{\"energetic\":true,\"loud\":true}" },
            extra_content: { google: { thought_signature: "c2ln" } }
          },
          { id: "call_3", type: "function", function: { name: "power_disco_ball", arguments: "{\"power\":false}" } },
          { id: "call_0", type: "function", function: { name: "dim_lights", arguments: "{\"brightness\":0.5}" } }
        ]
      },
      { role: "tool", tool_call_id: "call_0", content: "{\"result\":\"dimmed\"}" },
      { role: "tool", tool_call_id: "call_2", content: "{\"result\":\"playing\"}" },
      { role: "tool", tool_call_id: "call_1", content: "{\"result\":\"on\"}" },
      { role: "tool", tool_call_id: "call_3", content: "{\"result\":\"off\"}" },
      { role: "user", content: "And now?" }
    ])
  })

  it("keeps the text of a model turn beside its calls, takes function-role responses, names orphans by function", () => {
    const req = chat({
      contents: [
        userText("What's the temperature in London?"),
        {
          role: "model",
          parts: [{ text: "Let me check." }, { functionCall: { name: "get_current_temperature", args: { location: "London" } } }]
        },
        { role: "function", parts: [{ functionResponse: { name: "get_current_temperature", response: { temperature: 25, unit: "Celsius" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "never_called", response: {} } }] }
      ]
    })
    assert.deepStrictEqual(req.messages.slice(1), [
      {
        role: "assistant",
        content: "Let me check.",
        tool_calls: [{ id: "call_0", type: "function", function: { name: "get_current_temperature", arguments: "{\"location\":\"London\"}" } }]
      },
      { role: "tool", tool_call_id: "call_0", content: "{\"temperature\":25,\"unit\":\"Celsius\"}" },
      { role: "tool", tool_call_id: "never_called", content: "{}" }
    ])
  })

  it("maps function declarations, converting OpenAPI upper-case schemas to JSON Schema", () => {
    // https://ai.google.dev/gemini-api/docs/function-calling (the JavaScript SDK's `Type.OBJECT` declarations)
    const req = chat({
      contents: [userText("What's the temperature in London?")],
      tools: [
        {
          functionDeclarations: [
            {
              name: "get_current_temperature",
              description: "Gets the current temperature for a given location.",
              parameters: {
                type: "OBJECT",
                properties: {
                  location: { type: "STRING", description: "The city name, e.g. San Francisco" },
                  // a property named like a keyword is a name, not a keyword
                  type: { type: "ARRAY", items: { type: "INTEGER" }, nullable: true },
                  unit: { anyOf: [{ type: "STRING", enum: ["C", "F"] }, { type: "NUMBER" }] }
                },
                required: ["location"],
                propertyOrdering: ["location", "type", "unit"]
              }
            },
            { name: "get_time", parametersJsonSchema: { type: "object", properties: { tz: { type: "string" } }, additionalProperties: false } },
            { name: "ping" }
          ]
        },
        { googleSearch: {} },
        { codeExecution: {} }
      ]
    })
    assert.deepStrictEqual(req.tools, [
      {
        type: "function",
        function: {
          name: "get_current_temperature",
          description: "Gets the current temperature for a given location.",
          parameters: {
            type: "object",
            properties: {
              location: { type: "string", description: "The city name, e.g. San Francisco" },
              type: { type: ["array", "null"], items: { type: "integer" } },
              unit: { anyOf: [{ type: "string", enum: ["C", "F"] }, { type: "number" }] }
            },
            required: ["location"],
            propertyOrdering: ["location", "type", "unit"]
          }
        }
      },
      {
        type: "function",
        function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } }, additionalProperties: false } }
      },
      { type: "function", function: { name: "ping" } }
    ])
  })

  it("maps the function calling modes", () => {
    // https://ai.google.dev/gemini-api/docs/function-calling#function_calling_modes
    const tools = [{ functionDeclarations: [{ name: "get_current_temperature" }, { name: "get_time" }, { name: "ping" }] }]
    const decode = (functionCallingConfig: unknown, key = "toolConfig") =>
      chat({ contents: [userText("Hi")], tools, [key]: { functionCallingConfig } })
    assert.strictEqual(decode({ mode: "AUTO" }).tool_choice, "auto")
    assert.strictEqual(decode({ mode: "VALIDATED" }).tool_choice, "auto")
    assert.strictEqual(decode({ mode: "NONE" }, "tool_config").tool_choice, "none")
    assert.strictEqual(decode({ mode: "ANY" }).tool_choice, "required")
    assert.strictEqual(decode({ mode: "ANY" }).tools?.length, 3)
    const one = decode({ mode: "ANY", allowedFunctionNames: ["get_current_temperature"] })
    assert.deepStrictEqual(one.tool_choice, { type: "function", function: { name: "get_current_temperature" } })
    const two = decode({ mode: "ANY", allowedFunctionNames: ["get_time", "ping"] })
    assert.strictEqual(two.tool_choice, "required")
    assert.deepStrictEqual(two.tools?.map((tool) => tool.function.name), ["get_time", "ping"])
    assert.isFalse("tool_choice" in decode({}))
    // No tools, no tool_choice (OpenAI refuses one alone).
    assert.isFalse("tool_choice" in chat({ contents: [userText("Hi")], toolConfig: { functionCallingConfig: { mode: "NONE" } } }))
  })

  it("maps the generation config and leaves out what has no canonical counterpart", () => {
    // https://ai.google.dev/gemini-api/docs/text-generation#configuration-parameters, https://ai.google.dev/api/generate-content#generationconfig
    const req = chat({
      contents: [userText("Explain how AI works")],
      generationConfig: {
        stopSequences: ["Title"],
        temperature: 1.0,
        topP: 0.8,
        topK: 10,
        maxOutputTokens: 800,
        candidateCount: 2,
        presencePenalty: 0.5,
        frequencyPenalty: -0.5,
        seed: 42,
        thinkingConfig: { thinkingBudget: 1024 },
        responseModalities: ["TEXT"]
      },
      safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_ONLY_HIGH" }],
      cachedContent: "cachedContents/abc"
    })
    assert.deepStrictEqual(req, {
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "Explain how AI works" }],
      stop: ["Title"],
      temperature: 1.0,
      top_p: 0.8,
      max_tokens: 800,
      n: 2,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      seed: 42
    })
    assert.strictEqual(chat({ contents: [userText("Hi")], generation_config: { temperature: 0.2 } }).temperature, 0.2)
  })

  it("maps JSON mode and response schemas", () => {
    // https://ai.google.dev/gemini-api/docs/structured-output
    const config = (generationConfig: unknown) => chat({ contents: [userText("List a few cookie recipes.")], generationConfig })
    assert.deepStrictEqual(config({ responseMimeType: "application/json" }).response_format, { type: "json_object" })
    assert.deepStrictEqual(
      config({
        responseMimeType: "application/json",
        responseSchema: {
          type: "ARRAY",
          items: {
            type: "OBJECT",
            properties: { recipeName: { type: "STRING" }, ingredients: { type: "ARRAY", items: { type: "STRING" } } },
            propertyOrdering: ["recipeName", "ingredients"]
          }
        }
      }).response_format,
      {
        type: "json_schema",
        json_schema: {
          name: "response",
          schema: {
            type: "array",
            items: {
              type: "object",
              properties: { recipeName: { type: "string" }, ingredients: { type: "array", items: { type: "string" } } },
              propertyOrdering: ["recipeName", "ingredients"]
            }
          }
        }
      }
    )
    const jsonSchema = { type: "object", properties: { name: { type: "string" } }, required: ["name"] }
    assert.deepStrictEqual(
      config({ responseMimeType: "application/json", responseJsonSchema: jsonSchema }).response_format,
      { type: "json_schema", json_schema: { name: "response", schema: jsonSchema } }
    )
    assert.isFalse("response_format" in config({ responseMimeType: "text/plain" }))
  })

  it("refuses invalid requests, naming the field", () => {
    const decode = (body: unknown) => left(Gemini.decodeGenerateRequest(body, "gemini-2.5-flash", false))
    assert.strictEqual(decode([1]).message, "The request body must be a JSON object.")
    assert.strictEqual(decode(null).message, "The request body must be a JSON object.")
    assert.deepInclude(decode({}), { message: "Missing required parameter: 'contents'.", param: "contents" })
    assert.strictEqual(decode({ contents: [] }).param, "contents")
    assert.strictEqual(decode({ contents: [{ role: "system", parts: [] }] }).param, "contents[0].role")
    assert.strictEqual(decode({ contents: [{ parts: [{ text: 1 }] }] }).param, "contents[0].parts[0].text")
    assert.strictEqual(
      decode({ contents: [{ role: "model", parts: [{ functionCall: { args: {} } }] }] }).param,
      "contents[0].parts[0].functionCall.name"
    )
    assert.strictEqual(decode({ contents: [userText("Hi")], generationConfig: { temperature: 3 } }).param, "generationConfig.temperature")
    assert.strictEqual(decode({ contents: [userText("Hi")], generationConfig: { maxOutputTokens: 1.5 } }).param, "generationConfig.maxOutputTokens")
    assert.strictEqual(
      decode({ contents: [userText("Hi")], toolConfig: { functionCallingConfig: { mode: "SOMETIMES" } } }).param,
      "toolConfig.functionCallingConfig.mode"
    )
    assert.strictEqual(decode({ contents: [{ role: "model", parts: [{ text: "hmm", thought: true }] }] }).param, "contents")
  })
})

const response = (choices: ChatResponse["choices"], usage?: ChatResponse["usage"]): ChatResponse => ({
  id: "resp-1",
  object: "chat.completion",
  created: 1,
  model: "gemini-2.5-flash",
  choices,
  ...(usage === undefined ? {} : { usage })
})

describe("Gemini.encodeResponse", () => {
  it("answers text with usage, as a GenerateContentResponse", () => {
    // https://ai.google.dev/api/generate-content#generatecontentresponse
    const out = Gemini.encodeResponse(response(
      [{ index: 0, message: { role: "assistant", content: "AI learns patterns from data." }, finish_reason: "stop" }],
      { prompt_tokens: 8, completion_tokens: 6, total_tokens: 14 }
    ))
    assert.deepStrictEqual(out, {
      candidates: [{ content: { role: "model", parts: [{ text: "AI learns patterns from data." }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 6, totalTokenCount: 14 },
      modelVersion: "gemini-2.5-flash",
      responseId: "resp-1"
    })
  })

  it("answers function calls with their ids, parsed args and thought signatures; thinking as a thought part", () => {
    // https://ai.google.dev/gemini-api/docs/function-calling, https://ai.google.dev/gemini-api/docs/thought-signatures
    const out = Gemini.encodeResponse(response([{
      index: 0,
      message: {
        role: "assistant",
        content: null,
        reasoning_content: "The user wants a party.",
        tool_calls: [
          {
            id: "call_a",
            type: "function",
            function: { name: "power_disco_ball", arguments: "{\"power\":true}" },
            extra_content: { google: { thought_signature: "c2ln" } }
          },
          { id: "call_b", type: "function", function: { name: "start_music", arguments: "not json" } },
          { id: "call_c", type: "function", function: { name: "dim_lights", arguments: "[1]" } }
        ]
      },
      finish_reason: "tool_calls"
    }]))
    assert.deepStrictEqual(out.candidates, [{
      content: {
        role: "model",
        parts: [
          { text: "The user wants a party.", thought: true },
          { functionCall: { id: "call_a", name: "power_disco_ball", args: { power: true } }, thoughtSignature: "c2ln" },
          { functionCall: { id: "call_b", name: "start_music", args: {} } },
          { functionCall: { id: "call_c", name: "dim_lights", args: {} } }
        ]
      },
      finishReason: "STOP",
      index: 0
    }])
    assert.isFalse("usageMetadata" in out)
  })

  it("answers a refusal as text", () => {
    const out = Gemini.encodeResponse(response([{
      index: 0,
      message: { role: "assistant", content: null, refusal: "I can't help with that." },
      finish_reason: "stop"
    }]))
    assert.deepStrictEqual(out.candidates, [{
      content: { role: "model", parts: [{ text: "I can't help with that." }] },
      finishReason: "STOP",
      index: 0
    }])
  })

  it("maps finish reasons, one candidate per choice", () => {
    // https://ai.google.dev/api/generate-content#FinishReason
    const reasons = ["stop", "length", "tool_calls", "content_filter", "malformed_function_call", "end_turn", null] as const
    const out = Gemini.encodeResponse(response(reasons.map((finish_reason, index) => ({
      index,
      message: { role: "assistant", content: "x" },
      finish_reason
    }))))
    const candidates = out.candidates as Array<any>
    assert.deepStrictEqual(candidates.map((c) => c.finishReason), [
      "STOP",
      "MAX_TOKENS",
      "STOP",
      "SAFETY",
      "MALFORMED_FUNCTION_CALL",
      "OTHER",
      undefined
    ])
    assert.deepStrictEqual(candidates.map((c) => c.index), [0, 1, 2, 3, 4, 5, 6])
    assert.isFalse("finishReason" in candidates[6])
  })

  it("reports cached and thinking tokens as Gemini counts them; an empty answer has an empty text part", () => {
    // https://ai.google.dev/api/generate-content#UsageMetadata
    const out = Gemini.encodeResponse(response(
      [{ index: 0, message: { role: "assistant", content: null, refusal: null }, finish_reason: "content_filter" }],
      {
        prompt_tokens: 1200,
        completion_tokens: 300,
        total_tokens: 1500,
        prompt_tokens_details: { cached_tokens: 1024 },
        completion_tokens_details: { reasoning_tokens: 250 }
      }
    ))
    assert.deepStrictEqual(out.usageMetadata, {
      promptTokenCount: 1200,
      candidatesTokenCount: 50,
      totalTokenCount: 1500,
      cachedContentTokenCount: 1024,
      thoughtsTokenCount: 250
    })
    assert.deepStrictEqual(out.candidates, [{ content: { role: "model", parts: [{ text: "" }] }, finishReason: "SAFETY", index: 0 }])
  })
})

describe("Gemini.streamEncoder", () => {
  it("writes a text stream, one event per delta, the finish and the trailing usage last", () => {
    // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
    const text = ["The sky", " is blue because", " of Rayleigh scattering."]
    const out = encodeStream([
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
      ...text.map((content) => chunk([{ index: 0, delta: { content }, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
      chunk([], { prompt_tokens: 6, completion_tokens: 12, total_tokens: 18 })
    ])
    const meta = { modelVersion: "gemini-2.5-flash", responseId: "resp-1" }
    assert.deepStrictEqual(out, [
      ...text.map((t) => ({ candidates: [{ content: { role: "model", parts: [{ text: t }] }, index: 0 }], ...meta })),
      {
        candidates: [{ content: { role: "model", parts: [{ text: "" }] }, finishReason: "STOP", index: 0 }],
        usageMetadata: { promptTokenCount: 6, candidatesTokenCount: 12, totalTokenCount: 18 },
        ...meta
      }
    ])
    const whole = out.map((e) => e.candidates[0].content.parts.map((p: any) => p.text).join("")).join("")
    assert.strictEqual(whole, text.join(""))
  })

  it("buffers tool call fragments and writes the whole calls in the last event", () => {
    // https://ai.google.dev/gemini-api/docs/function-calling#parallel_function_calling
    const out = encodeStream([
      chunk([{ index: 0, delta: { role: "assistant", reasoning_content: "Two tools." }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: "Let me " }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: "check." }, finish_reason: null }]),
      chunk([{
        index: 0,
        delta: {
          tool_calls: [{
            index: 0,
            id: "call_a",
            type: "function",
            function: { name: "get_current_temperature", arguments: "" },
            extra_content: { google: { thought_signature: "c2ln" } }
          }]
        },
        finish_reason: null
      }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{\"location\":" } }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "{\"tz\"" } }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "\"London\"}" } }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: ":\"CET\"}" } }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, finish_reason: "tool_calls" }], {
        prompt_tokens: 30,
        completion_tokens: 40,
        total_tokens: 70,
        completion_tokens_details: { reasoning_tokens: 15 }
      })
    ])
    const meta = { modelVersion: "gemini-2.5-flash", responseId: "resp-1" }
    assert.deepStrictEqual(out, [
      { candidates: [{ content: { role: "model", parts: [{ text: "Two tools.", thought: true }] }, index: 0 }], ...meta },
      { candidates: [{ content: { role: "model", parts: [{ text: "Let me " }] }, index: 0 }], ...meta },
      { candidates: [{ content: { role: "model", parts: [{ text: "check." }] }, index: 0 }], ...meta },
      {
        candidates: [{
          content: {
            role: "model",
            parts: [
              { functionCall: { id: "call_a", name: "get_current_temperature", args: { location: "London" } }, thoughtSignature: "c2ln" },
              { functionCall: { id: "call_b", name: "get_time", args: { tz: "CET" } } }
            ]
          },
          finishReason: "STOP",
          index: 0
        }],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 25, totalTokenCount: 70, thoughtsTokenCount: 15 },
        ...meta
      }
    ])
  })

  it("writes each choice as its candidate, and nothing for an empty stream", () => {
    const out = encodeStream([
      chunk([{ index: 1, delta: { content: "B" }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: "A" }, finish_reason: "length" }]),
      chunk([{ index: 1, delta: {}, finish_reason: "stop" }])
    ])
    assert.deepStrictEqual(out.map((e) => e.candidates.map((c: any) => [c.index, c.finishReason])), [
      [[1, undefined]],
      [[0, undefined]],
      [[0, "MAX_TOKENS"], [1, "STOP"]]
    ])
    assert.strictEqual(Gemini.streamEncoder().end(), "")
  })

  it("writes an error as Google's envelope in a data event", () => {
    const info: ErrorInfo = { status: 503, type: "server_error", message: "overloaded", param: null, code: null }
    assert.deepStrictEqual(events(Gemini.streamEncoder().error(info)), [{ error: { code: 503, message: "overloaded", status: "UNAVAILABLE" } }])
  })
})

describe("Gemini embeddings", () => {
  it("decodes an EmbedContentRequest, its text parts as one input", () => {
    // https://ai.google.dev/gemini-api/docs/embeddings, https://ai.google.dev/api/embeddings#method:-models.embedcontent
    const req = right(Gemini.decodeEmbedRequest({
      model: "models/gemini-embedding-001",
      content: { parts: [{ text: "What is the meaning of life?" }, { text: "And of everything?" }] },
      taskType: "SEMANTIC_SIMILARITY",
      title: "Life",
      outputDimensionality: 768
    }, "gemini-embedding-001"))
    assert.deepStrictEqual(req, {
      model: "gemini-embedding-001",
      input: "What is the meaning of life?\nAnd of everything?",
      encoding_format: "float",
      dimensions: 768,
      task_type: "SEMANTIC_SIMILARITY",
      title: "Life"
    })
    assert.deepStrictEqual(
      right(Gemini.decodeEmbedRequest({ content: { parts: [{ text: "Hi" }] } }, "gemini-embedding-001")),
      { model: "gemini-embedding-001", input: "Hi", encoding_format: "float" }
    )
  })

  it("decodes a BatchEmbedContentsRequest as one input per request, in order", () => {
    // https://ai.google.dev/api/embeddings#method:-models.batchembedcontents (what `@google/genai` sends for embedContent)
    const item = (text: string) => ({
      model: "models/gemini-embedding-001",
      content: { parts: [{ text }] },
      taskType: "RETRIEVAL_DOCUMENT",
      outputDimensionality: 3
    })
    const req = right(Gemini.decodeBatchEmbedRequest({
      requests: [item("What is the meaning of life?"), item("What is the purpose of existence?"), item("How do I bake a cake?")]
    }, "gemini-embedding-001"))
    assert.deepStrictEqual(req, {
      model: "gemini-embedding-001",
      input: ["What is the meaning of life?", "What is the purpose of existence?", "How do I bake a cake?"],
      encoding_format: "float",
      dimensions: 3,
      task_type: "RETRIEVAL_DOCUMENT"
    })
  })

  it("refuses embedding requests naming another model, mixing hints, or without text", () => {
    const batch = (requests: unknown) => left(Gemini.decodeBatchEmbedRequest({ requests }, "gemini-embedding-001"))
    const ok = { model: "models/gemini-embedding-001", content: { parts: [{ text: "a" }] } }
    const other = batch([ok, { ...ok, model: "models/text-embedding-004" }])
    assert.strictEqual(other.param, "requests[1].model")
    assert.include(other.message, "models/text-embedding-004")
    assert.strictEqual(batch([ok, { ...ok, taskType: "CLUSTERING" }]).param, "requests[1].taskType")
    assert.strictEqual(batch([]).param, "requests")
    assert.strictEqual(batch([{ content: { parts: [{ inlineData: {} }] } }]).param, "requests[0].content.parts[0].text")
    const single = left(Gemini.decodeEmbedRequest({ ...ok, model: "models/other" }, "gemini-embedding-001"))
    assert.strictEqual(single.param, "model")
    assert.strictEqual(left(Gemini.decodeEmbedRequest("text", "m")).message, "The request body must be a JSON object.")
  })

  it("encodes embeddings answers", () => {
    const res: EmbeddingResponse = {
      object: "list",
      data: [
        { object: "embedding", index: 1, embedding: [0.4, 0.5] },
        { object: "embedding", index: 0, embedding: [0.1, 0.2] }
      ],
      model: "gemini-embedding-001",
      usage: { prompt_tokens: 0, total_tokens: 0 }
    }
    assert.deepStrictEqual(Gemini.encodeBatchEmbedResponse(res), { embeddings: [{ values: [0.1, 0.2] }, { values: [0.4, 0.5] }] })
    assert.deepStrictEqual(Gemini.encodeEmbedResponse({ ...res, data: [res.data[1]!] }), { embedding: { values: [0.1, 0.2] } })
    // 0.5 and -2 are exact in float32: little-endian 00 00 00 3f, 00 00 00 c0.
    const base64 = Buffer.from([0, 0, 0, 0x3f, 0, 0, 0, 0xc0]).toString("base64")
    assert.deepStrictEqual(
      Gemini.encodeEmbedResponse({ ...res, data: [{ object: "embedding", index: 0, embedding: base64 }] }),
      { embedding: { values: [0.5, -2] } }
    )
  })
})

describe("Gemini.errorBody", () => {
  const info = (status: number, type = "invalid_request_error"): ErrorInfo => ({ status, type, message: "m", param: null, code: null })

  it("names the google.rpc code of each status", () => {
    // https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes, https://cloud.google.com/apis/design/errors#http_mapping
    const cases: Array<[number, string]> = [
      [400, "INVALID_ARGUMENT"],
      [401, "UNAUTHENTICATED"],
      [403, "PERMISSION_DENIED"],
      [404, "NOT_FOUND"],
      [405, "FAILED_PRECONDITION"],
      [409, "ABORTED"],
      [413, "INVALID_ARGUMENT"],
      [429, "RESOURCE_EXHAUSTED"],
      [499, "CANCELLED"],
      [500, "INTERNAL"],
      [501, "UNIMPLEMENTED"],
      [502, "INTERNAL"],
      [503, "UNAVAILABLE"],
      [504, "DEADLINE_EXCEEDED"]
    ]
    for (const [status, name] of cases) {
      assert.deepStrictEqual(Gemini.errorBody(info(status)), { error: { code: status, message: "m", status: name } })
    }
  })

  it("keeps a Gemini upstream's own code", () => {
    assert.deepStrictEqual(
      Gemini.errorBody({ ...info(400, "FAILED_PRECONDITION"), message: "User location is not supported for the API use." }),
      { error: { code: 400, message: "User location is not supported for the API use.", status: "FAILED_PRECONDITION" } }
    )
    assert.strictEqual(Gemini.errorBody(info(429, "rate_limit_error")).error.status, "RESOURCE_EXHAUSTED")
  })
})
