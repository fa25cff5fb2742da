import { assert, describe, it } from "@effect/vitest"
import * as ChatSchema from "@switchyard/core/ChatSchema"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Simulation from "../src/Simulation.js"

const meta: Simulation.Meta = { id: "chatcmpl-mock-test", created: 1700000000 }

const ask = (content: string, extra: Partial<ChatSchema.ChatRequest> = {}): ChatSchema.ChatRequest => ({
  model: "mock-1",
  messages: [{ role: "user", content }],
  ...extra
})

const weather: ChatSchema.Tool = {
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: {} } }
}
const clock: ChatSchema.Tool = { type: "function", function: { name: "get_time" } }

const contentOf = (chunks: ReadonlyArray<ChatSchema.ChatChunk>): string =>
  chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

const wordCount = (text: string) => text.split(" ").length

describe("Simulation", () => {
  it("answers with exactly `tokens` words, says it is simulated, and counts them as completion tokens", () => {
    for (const tokens of [1, 7, 10, 16, 33]) {
      const res = Simulation.response(ask("hi"), Simulation.settings({ tokens }), meta)
      const text = res.choices[0]!.message.content!
      assert.strictEqual(wordCount(text), tokens)
      assert.strictEqual(res.usage!.completion_tokens, tokens)
      assert.strictEqual(res.usage!.total_tokens, res.usage!.prompt_tokens + tokens)
    }
    const text = Simulation.response(ask("hi"), Simulation.settings(), meta).choices[0]!.message.content!
    assert.isTrue(text.startsWith("This is a simulated answer from the Switchyard mock provider."))
    assert.strictEqual(wordCount(text), 16)
  })

  it("builds a canonical chat.completion that decodes as a ChatResponse", () => {
    const res = Simulation.response(ask("hello", { model: "mock-large" }), Simulation.settings({ tokens: 4 }), meta)
    assert.deepStrictEqual(res, {
      id: "chatcmpl-mock-test",
      object: "chat.completion",
      created: 1700000000,
      model: "mock-large",
      choices: [{
        index: 0,
        message: { role: "assistant", content: "This is a simulated", refusal: null },
        finish_reason: "stop"
      }],
      usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 }
    })
    assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ChatSchema.ChatResponse)(res)))
  })

  it("estimates prompt tokens as ceil(chars / 4) of the messages' text, at least 1", () => {
    assert.strictEqual(Simulation.promptTokens(ask("")), 1)
    assert.strictEqual(Simulation.promptTokens(ask("abcd")), 1)
    assert.strictEqual(Simulation.promptTokens(ask("abcde")), 2)
    assert.strictEqual(
      Simulation.promptTokens({
        model: "m",
        messages: [
          { role: "system", content: "12345678" },
          {
            role: "user",
            content: [{ type: "text", text: "1234" }, { type: "image_url", image_url: { url: "data:xxxxxxxxxxxxxxxx" } }]
          },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{\"a\":1}" } }]
          }
        ]
      }),
      Math.ceil((8 + 4 + 7) / 4)
    )
  })

  it("cuts the answer at max_completion_tokens / max_tokens with finish_reason length", () => {
    const sim = Simulation.settings({ tokens: 16 })
    const cut = Simulation.response(ask("hi", { max_tokens: 3 }), sim, meta)
    assert.strictEqual(cut.choices[0]!.message.content, "This is a")
    assert.strictEqual(cut.choices[0]!.finish_reason, "length")
    assert.strictEqual(cut.usage!.completion_tokens, 3)
    const newer = Simulation.response(ask("hi", { max_tokens: 3, max_completion_tokens: 5 }), sim, meta)
    assert.strictEqual(newer.usage!.completion_tokens, 5)
    const roomy = Simulation.response(ask("hi", { max_tokens: 100 }), sim, meta)
    assert.strictEqual(roomy.choices[0]!.finish_reason, "stop")
    assert.strictEqual(roomy.usage!.completion_tokens, 16)
  })

  it("splits text into pieces at word boundaries that join back to the text", () => {
    const text = Simulation.answerText(10)
    for (const parts of [1, 3, 10, 13]) {
      const pieces = Simulation.split(text, parts)
      assert.strictEqual(pieces.length, parts)
      assert.strictEqual(pieces.join(""), text)
    }
    assert.deepStrictEqual(Simulation.split("a b c d", 2), ["a b", " c d"])
    assert.deepStrictEqual(Simulation.split("", 2), ["", ""])
  })

  describe("streams", () => {
    it("sends a role chunk, `chunks` content chunks and a finish chunk", () => {
      const sim = Simulation.settings({ tokens: 10, chunks: 4 })
      const chunks = Simulation.streamChunks(ask("hi"), sim, meta)
      assert.strictEqual(chunks.length, 1 + 4 + 1)
      assert.deepStrictEqual(chunks[0]!.choices, [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])
      for (const c of chunks.slice(1, 5)) {
        assert.strictEqual(c.choices[0]!.finish_reason, null)
        assert.isString(c.choices[0]!.delta.content)
        assert.isTrue(c.choices[0]!.delta.content!.length > 0)
      }
      assert.deepStrictEqual(chunks[5]!.choices, [{ index: 0, delta: {}, finish_reason: "stop" }])
      assert.strictEqual(contentOf(chunks), sim.text)
      assert.strictEqual(wordCount(contentOf(chunks)), 10)
      for (const c of chunks) {
        assert.strictEqual(c.object, "chat.completion.chunk")
        assert.strictEqual(c.id, meta.id)
        assert.strictEqual(c.model, "mock-1")
        assert.isFalse("usage" in c)
        assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ChatSchema.ChatChunk)(c)))
      }
    })

    it("defaults to one content chunk per token", () => {
      const chunks = Simulation.streamChunks(ask("hi"), Simulation.settings({ tokens: 7 }), meta)
      assert.strictEqual(chunks.length, 1 + 7 + 1)
    })

    it("with include_usage, adds usage: null to every chunk and a last chunk with empty choices and the usage", () => {
      const req = ask("hello world", { stream: true, stream_options: { include_usage: true } })
      const chunks = Simulation.streamChunks(req, Simulation.settings({ tokens: 5, chunks: 2 }), meta)
      assert.strictEqual(chunks.length, 1 + 2 + 1 + 1)
      for (const c of chunks.slice(0, -1)) assert.strictEqual(c.usage, null)
      const last = chunks[chunks.length - 1]!
      assert.deepStrictEqual(last.choices, [])
      assert.deepStrictEqual(last.usage, { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 })
      assert.strictEqual(chunks[chunks.length - 2]!.choices[0]!.finish_reason, "stop")
    })

    it("spreads few tokens over more chunks with some empty pieces", () => {
      const chunks = Simulation.streamChunks(ask("hi"), Simulation.settings({ tokens: 2, chunks: 5 }), meta)
      assert.strictEqual(chunks.length, 1 + 5 + 1)
      assert.strictEqual(contentOf(chunks), "This is")
    })

    it("spreads a cut answer over no more chunks than it has words", () => {
      const chunks = Simulation.streamChunks(ask("hi", { max_tokens: 2 }), Simulation.settings({ tokens: 16 }), meta)
      assert.strictEqual(chunks.length, 1 + 2 + 1)
      assert.strictEqual(contentOf(chunks), "This is")
      assert.strictEqual(chunks[3]!.choices[0]!.finish_reason, "length")
    })

    it("streams zero tokens as one empty content chunk", () => {
      const chunks = Simulation.streamChunks(ask("hi"), Simulation.settings({ tokens: 0 }), meta)
      assert.strictEqual(chunks.length, 3)
      assert.strictEqual(contentOf(chunks), "")
    })
  })

  it("encodes a stream plan as SSE events identical to JSON.stringify of each chunk", () => {
    const toolResult: ChatSchema.ChatRequest = {
      model: "mock-\"quoted\"",
      messages: [{ role: "tool", tool_call_id: "call_1", content: "line\nbreak \u2603" }]
    }
    const requests: Array<ChatSchema.ChatRequest> = [
      ask("hi"),
      ask("hi", { stream_options: { include_usage: true } }),
      ask("hi", { max_tokens: 3 }),
      ask("weather?", { tools: [weather], stream_options: { include_usage: true } }),
      toolResult,
      { ...toolResult, stream_options: { include_usage: true } }
    ]
    for (const options of [{}, { tokens: 3, chunks: 7 }, { tokens: 0 }]) {
      const sim = Simulation.settings(options)
      for (const req of requests) {
        const plan = Simulation.streamPlan(req, sim, meta)
        const encoded = Simulation.encodeStream(plan)
        const event = (c: ChatSchema.ChatChunk) => `data: ${JSON.stringify(c)}\n\n`
        assert.strictEqual(encoded.first, event(plan.first))
        assert.deepStrictEqual(encoded.content, plan.content.map(event))
        assert.strictEqual(encoded.last, plan.last.map(event).join(""))
      }
    }
  })

  describe("prefill", () => {
    const settings = Simulation.settings({ tokens: 12, chunks: 4 })
    const full = Simulation.answerText(12)
    const continued = (prefill: string, extra: Record<string, unknown> = { prefix: true }, body: Record<string, unknown> = {}) =>
      Simulation.streamChunks(
        { ...ask("hi"), ...body, messages: [{ role: "user", content: "hi" }, { role: "assistant", content: prefill, ...extra }] },
        settings,
        meta
      )

    it("continues its own answer after a prefix-marked prefill, so prefill + continuation is the whole answer", () => {
      for (const cut of [1, 9, 30, full.length - 1]) {
        const prefill = full.slice(0, cut)
        assert.strictEqual(prefill + contentOf(continued(prefill)), full, `cut at ${cut}`)
      }
    })

    it("honours vLLM's continue_final_message flag the same way", () => {
      const prefill = full.slice(0, 20)
      assert.strictEqual(prefill + contentOf(continued(prefill, {}, { continue_final_message: true })), full)
    })

    it("answers in full after a prefill it did not write, and ignores an unmarked assistant message", () => {
      assert.strictEqual(contentOf(continued("Something else ")), full)
      assert.strictEqual(contentOf(continued(full.slice(0, 20), {})), full)
    })
  })

  describe("tools round trip", () => {
    it("calls the first tool when the last message is from the user", () => {
      const req = ask("weather in Paris?", { tools: [weather, clock] })
      const res = Simulation.response(req, Simulation.settings(), meta)
      const choice = res.choices[0]!
      assert.strictEqual(choice.finish_reason, "tool_calls")
      assert.strictEqual(choice.message.content, null)
      assert.strictEqual(choice.message.tool_calls!.length, 1)
      const call = choice.message.tool_calls![0]!
      assert.strictEqual(call.type, "function")
      assert.strictEqual(call.function.name, "get_weather")
      assert.strictEqual(call.function.arguments, "{}")
      assert.isTrue(call.id.startsWith("call_"))
      assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ChatSchema.ChatResponse)(res)))
    })

    it("calls the tool tool_choice names, and no tool when tool_choice is none", () => {
      const named = Simulation.response(
        ask("time?", { tools: [weather, clock], tool_choice: { type: "function", function: { name: "get_time" } } }),
        Simulation.settings(),
        meta
      )
      assert.strictEqual(named.choices[0]!.message.tool_calls![0]!.function.name, "get_time")
      const none = Simulation.response(ask("hi", { tools: [weather], tool_choice: "none" }), Simulation.settings(), meta)
      assert.strictEqual(none.choices[0]!.finish_reason, "stop")
      assert.isUndefined(none.choices[0]!.message.tool_calls)
    })

    it("answers a tool result with a text that quotes it", () => {
      const sim = Simulation.settings()
      const call = Simulation.response(ask("weather?", { tools: [weather] }), sim, meta).choices[0]!.message
      const req: ChatSchema.ChatRequest = {
        model: "mock-1",
        tools: [weather],
        messages: [
          { role: "user", content: "weather?" },
          { role: "assistant", content: null, tool_calls: call.tool_calls! },
          { role: "tool", tool_call_id: call.tool_calls![0]!.id, content: "sunny, 21 C" }
        ]
      }
      const res = Simulation.response(req, sim, meta)
      const text = res.choices[0]!.message.content!
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
      assert.include(text, "sunny, 21 C")
      assert.include(text, "simulated")
      assert.strictEqual(res.usage!.completion_tokens, wordCount(text))
      assert.strictEqual(
        contentOf(Simulation.streamChunks({ ...req, stream: true }, Simulation.settings({ chunks: 3 }), meta)),
        text
      )
    })

    it("streams a tool call as one tool_calls delta and finish_reason tool_calls", () => {
      const req = ask("weather?", { tools: [weather], stream_options: { include_usage: true } })
      const chunks = Simulation.streamChunks(req, Simulation.settings({ chunks: 4 }), meta)
      assert.strictEqual(chunks.length, 4)
      assert.deepStrictEqual(chunks[0]!.choices[0]!.delta, { role: "assistant", content: null })
      const delta = chunks[1]!.choices[0]!.delta.tool_calls![0]!
      assert.strictEqual(delta.index, 0)
      assert.strictEqual(delta.function!.name, "get_weather")
      assert.strictEqual(delta.function!.arguments, "{}")
      assert.strictEqual(chunks[2]!.choices[0]!.finish_reason, "tool_calls")
      assert.deepStrictEqual(chunks[3]!.choices, [])
      assert.isAbove(chunks[3]!.usage!.completion_tokens, 0)
    })
  })

  describe("options", () => {
    it("applies defaults", () => {
      const sim = Simulation.settings()
      assert.deepStrictEqual(
        [sim.latencyMillis, sim.tokens, sim.errorRate, sim.errorStatus, sim.chunks, sim.chunkDelayMillis],
        [0, 16, 0, 503, 16, 0]
      )
      assert.strictEqual(Simulation.settings({ latency: "2 seconds", chunkDelay: 15 }).latencyMillis, 2000)
      assert.strictEqual(Simulation.settings({ tokens: 0 }).chunks, 1)
      assert.strictEqual(Simulation.settings({ errorRate: 7 }).errorRate, 1)
    })

    it("decodes snake_case config into Options", () => {
      const decode = Schema.decodeUnknownEither(Simulation.OptionsSchema)
      const decoded = decode({ latency_ms: 250, tokens: 8, error_rate: 0.1, error_status: 429, chunks: 4, chunk_delay_ms: 5 })
      assert.deepStrictEqual(decoded, Either.right({ latency: 250, tokens: 8, errorRate: 0.1, errorStatus: 429, chunks: 4, chunkDelay: 5 }))
      const options: Simulation.Options = Either.getOrThrow(decoded)
      assert.strictEqual(Simulation.settings(options).latencyMillis, 250)
      assert.deepStrictEqual(decode({}), Either.right({}))
      assert.isTrue(Either.isLeft(decode({ error_rate: 1.5 })))
      assert.isTrue(Either.isLeft(decode({ tokens: -1 })))
      assert.isTrue(Either.isLeft(decode({ chunks: 0 })))
    })

    it("builds an OpenAI error envelope for simulated errors", () => {
      const error = Simulation.simulatedError(503)
      assert.strictEqual(error.status, 503)
      assert.deepStrictEqual(JSON.parse(error.body), {
        error: { message: error.message, type: "server_error", param: null, code: "simulated_error" }
      })
      assert.include(error.message, "Simulated")
      assert.strictEqual(Simulation.simulatedError(429).type, "rate_limit_error")
    })
  })
})

describe("Simulation.embeddings", () => {
  const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

  it("one unit-length vector per input, the same for the same text, `dimensions` long (16 by default)", () => {
    const answer = Simulation.embeddings({ model: "mock-embed", input: ["alpha", "beta", "alpha"] })
    const [a1, b, a2] = answer.data.map((d) => d.embedding as ReadonlyArray<number>)
    assert.strictEqual(a1!.length, 16)
    assert.deepStrictEqual(a1, a2)
    assert.notDeepEqual(a1, b)
    for (const v of [a1!, b!]) assert.closeTo(norm(v), 1, 1e-9)
    assert.deepStrictEqual(answer.data.map((d) => d.index), [0, 1, 2])
    assert.strictEqual(Simulation.embeddings({ model: "m", input: "x", dimensions: 5 }).data[0]!.embedding.length, 5)
  })

  it("counts ceil(chars / 4) per text and one token per token id; base64 when asked", () => {
    assert.deepStrictEqual(Simulation.embeddings({ model: "m", input: ["12345678", "1"] }).usage, { prompt_tokens: 3, total_tokens: 3 })
    assert.deepStrictEqual(Simulation.embeddings({ model: "m", input: [[1, 2, 3], [4]] }).usage, { prompt_tokens: 4, total_tokens: 4 })
    const floats = Simulation.embeddings({ model: "m", input: "x" }).data[0]!.embedding as ReadonlyArray<number>
    const encoded = Simulation.embeddings({ model: "m", input: "x", encoding_format: "base64" }).data[0]!.embedding
    assert.isString(encoded)
    const bytes = Buffer.from(encoded as string, "base64")
    assert.deepStrictEqual(
      Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4)),
      floats.map(Math.fround)
    )
  })
})

describe("Simulation.images", () => {
  it("n PNGs in base64, or as data: URLs when response_format is url; the prompt as revised_prompt", () => {
    const b64 = Simulation.images({ model: "mock-image", prompt: "a fox", n: 2 }, 1700000000)
    assert.strictEqual(b64.created, 1700000000)
    assert.strictEqual(b64.data.length, 2)
    assert.strictEqual(Buffer.from(b64.data[0]!.b64_json!, "base64").subarray(1, 4).toString(), "PNG")
    assert.strictEqual(b64.data[0]!.revised_prompt, "a fox")
    const url = Simulation.images({ model: "mock-image", prompt: "a fox", response_format: "url" }, 0)
    assert.match(url.data[0]!.url!, /^data:image\/png;base64,/)
    assert.isUndefined(url.data[0]!.b64_json)
  })
})
