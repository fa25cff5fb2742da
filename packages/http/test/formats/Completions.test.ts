import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatResponse } from "@switchyard/core/ChatSchema"
import type { InvalidRequest } from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import * as Completions from "../../src/formats/Completions.js"
import type { ErrorInfo } from "../../src/HttpErrors.js"

const decoded = (body: unknown) => {
  const result = Completions.decodeRequest(body)
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}

const refusal = (body: unknown): InvalidRequest => {
  const result = Completions.decodeRequest(body)
  if (Either.isRight(result)) assert.fail(`accepted ${JSON.stringify(body)}`)
  return result.left
}

describe("Completions.decodeRequest", () => {
  it("maps the documented example to one user message", () => {
    // https://platform.openai.com/docs/api-reference/completions/create
    const body = { model: "gpt-3.5-turbo-instruct", prompt: "Say this is a test", max_tokens: 7, temperature: 0 }
    assert.deepStrictEqual(decoded(body), {
      model: "gpt-3.5-turbo-instruct",
      messages: [{ role: "user", content: "Say this is a test" }],
      max_tokens: 7,
      temperature: 0
    })
  })

  it("takes an array of one prompt, defaults max_tokens to 16 and keeps the shared parameters", () => {
    const body = {
      model: "gpt-3.5-turbo-instruct",
      prompt: ["Write a tagline for an ice cream shop."],
      top_p: 0.9,
      n: 2,
      stop: "\n",
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      seed: 42,
      user: "user-1234",
      logit_bias: { "50256": -100 },
      echo: false,
      best_of: 1,
      suffix: null,
      logprobs: null,
      stream_options: { include_usage: false },
      service_tier: "flex"
    }
    assert.deepStrictEqual(decoded(body), {
      model: "gpt-3.5-turbo-instruct",
      messages: [{ role: "user", content: "Write a tagline for an ice cream shop." }],
      max_tokens: 16,
      top_p: 0.9,
      n: 2,
      stop: "\n",
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      seed: 42,
      user: "user-1234",
      logit_bias: { "50256": -100 }
    })
  })

  it("streams with usage asked upstream whatever the client asked", () => {
    const req = decoded({ model: "m", prompt: "hi", stream: true, stream_options: null })
    assert.strictEqual(req.stream, true)
    assert.deepStrictEqual(req.stream_options, { include_usage: true })
    assert.isUndefined(decoded({ model: "m", prompt: "hi", stream: false }).stream)
  })

  it("refuses what a chat model cannot do, naming the field", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ prompt: ["a", "b"] }, "prompt", "one text prompt per request"],
      [{ prompt: [1212, 318] }, "prompt", "one text prompt per request"],
      [{ prompt: [[1212, 318]] }, "prompt", "one text prompt per request"],
      [{ prompt: "x", echo: true }, "echo", "chat models cannot honour"],
      [{ prompt: "x", suffix: "\n}" }, "suffix", "chat models cannot honour"],
      [{ prompt: "x", best_of: 3 }, "best_of", "Values above 1"],
      [{ prompt: "x", logprobs: 0 }, "logprobs", "chat models cannot honour"],
      [{ prompt: "x", temperature: 3 }, "temperature", "between 0 and 2"],
      [{}, "prompt", "Missing required parameter"]
    ]
    for (const [fields, param, message] of cases) {
      const error = refusal({ model: "gpt-3.5-turbo-instruct", ...fields })
      assert.strictEqual(error.param, param, JSON.stringify(fields))
      assert.include(error.message, message)
    }
  })

  it("refuses a body that is not an object", () => {
    assert.strictEqual(refusal(["Say this is a test"]).message, "The request body must be a JSON object.")
  })
})

describe("Completions.encodeResponse", () => {
  it("gives the documented text_completion", () => {
    // https://platform.openai.com/docs/api-reference/completions/object
    const res: ChatResponse = {
      id: "chatcmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
      object: "chat.completion",
      created: 1589478378,
      model: "gpt-3.5-turbo-instruct",
      system_fingerprint: "fp_44709d6fcb",
      choices: [{ index: 0, message: { role: "assistant", content: "\n\nThis is indeed a test" }, finish_reason: "length" }],
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 }
    }
    assert.deepStrictEqual(Completions.encodeResponse(res), {
      id: "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
      object: "text_completion",
      created: 1589478378,
      model: "gpt-3.5-turbo-instruct",
      choices: [{ text: "\n\nThis is indeed a test", index: 0, logprobs: null, finish_reason: "length" }],
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
      system_fingerprint: "fp_44709d6fcb"
    })
  })

  it("gives every choice, empty text for no content, and no usage when there is none", () => {
    const res: ChatResponse = {
      id: "gen-1",
      object: "chat.completion",
      created: 1,
      model: "m",
      choices: [
        { index: 0, message: { role: "assistant", content: "a" }, finish_reason: "stop" },
        { index: 1, message: { role: "assistant", content: null }, finish_reason: "content_filter" }
      ]
    }
    assert.deepStrictEqual(Completions.encodeResponse(res), {
      id: "cmpl-gen-1",
      object: "text_completion",
      created: 1,
      model: "m",
      choices: [
        { text: "a", index: 0, logprobs: null, finish_reason: "stop" },
        { text: "", index: 1, logprobs: null, finish_reason: "content_filter" }
      ]
    })
  })
})

// https://platform.openai.com/docs/api-reference/completions/create (stream: "data-only server-sent events ... terminated by a data: [DONE] message")
const id = "chatcmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe"
const chunk = (delta: ChatChunk["choices"][number]["delta"], finish_reason: string | null = null): ChatChunk => ({
  id,
  object: "chat.completion.chunk",
  created: 1690759702,
  model: "gpt-3.5-turbo-instruct",
  choices: [{ index: 0, delta, finish_reason }]
})
const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }
const stream: ReadonlyArray<ChatChunk> = [
  chunk({ role: "assistant", content: "" }),
  chunk({ content: "This" }),
  chunk({ content: " is" }),
  chunk({}, "stop"),
  { ...chunk({}), choices: [], usage }
]

const write = (includeUsage: boolean) => {
  const encoder = Completions.streamEncoder(includeUsage)
  return stream.map(encoder.chunk).join("") + encoder.end()
}

const data = (sse: string) => {
  const events = sse.split("\n\n")
  assert.strictEqual(events.pop(), "")
  return events.map((e) => {
    assert.isTrue(e.startsWith("data: "), e)
    const payload = e.slice(6)
    return payload === "[DONE]" ? payload : JSON.parse(payload)
  })
}

const textChunk = (text: string, finish_reason: string | null, extra: object = {}) => ({
  id: "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe",
  object: "text_completion",
  created: 1690759702,
  model: "gpt-3.5-turbo-instruct",
  choices: [{ text, index: 0, logprobs: null, finish_reason }],
  ...extra
})

describe("Completions.streamEncoder", () => {
  it("writes a chunk per text or finish, then [DONE]", () => {
    assert.deepStrictEqual(data(write(false)), [
      textChunk("This", null),
      textChunk(" is", null),
      textChunk("", "stop"),
      "[DONE]"
    ])
  })

  it("with include_usage, nulls usage on every chunk and sends it in a last chunk without choices", () => {
    assert.deepStrictEqual(data(write(true)), [
      textChunk("This", null, { usage: null }),
      textChunk(" is", null, { usage: null }),
      textChunk("", "stop", { usage: null }),
      { ...textChunk("", null), choices: [], usage },
      "[DONE]"
    ])
  })

  it("writes a failure as the OpenAI error envelope", () => {
    const info: ErrorInfo = { status: 429, type: "rate_limit_error", message: "Slow down", param: null, code: "rate_limit_exceeded" }
    assert.deepStrictEqual(data(Completions.streamEncoder(true).error(info)), [
      { error: { message: "Slow down", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } }
    ])
  })
})
