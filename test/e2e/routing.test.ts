/**
 * Routing and resilience end to end: the official `openai` SDK against the real bundled server
 * (a child process), which forwards over real HTTP on loopback to scripted OpenAI-compatible
 * upstreams (`test/utils/ScriptedUpstream.ts`, whose wire shapes follow
 * https://platform.openai.com/docs/api-reference/chat/object and
 * https://platform.openai.com/docs/api-reference/chat/streaming, errors in the envelope
 * `{error:{message,type,param,code}}`).
 *
 * Starting the server costs about three seconds (tsx compiles it), so instead of one server
 * per test there are two, started together: one plain `fallback` gateway and one with
 * `mid_stream_failover: true`. Each scenario still has a minimal configuration of its own:
 * its own upstreams, providers and targets, reached through its own model family
 * (`fb-model` is served only by the `fb-*` providers, and so on), so retry settings, circuit
 * breakers and scripts never leak between scenarios.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"
import * as Scripted from "../utils/ScriptedUpstream.js"
import { Reply, type ScriptedUpstream } from "../utils/ScriptedUpstream.js"

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk
type Message = OpenAI.Chat.ChatCompletionMessageParam

const upstreams = new Map<string, ScriptedUpstream>()
/** The scripted upstream behind the provider of that name. */
const up = (name: string): ScriptedUpstream => upstreams.get(name)!

/** A provider entry: an `openai` provider on its upstream, serving its scenario's model family. */
const provider = (name: string, extra = "") =>
  `  - { name: ${name}, type: openai, base_url: "${up(name).url}", api_key: test, models: ["${name.split("-")[0]}-*"]${extra} }`

const routingNames = ["fb-a", "fb-b", "ra-a", "ra-b", "cap-a", "bad-a", "bad-b", "sf-a", "sf-b", "cb-a", "nm-a", "nm-b", "to-a", "to-b", "rf-a", "rf-b", "bo-a", "bo-b"]
const failoverNames = ["ms-a", "ms-b", "vl-a", "vl-b", "np-a", "np-b", "idle-a", "idle-b", "mc-a", "mc-b", "mc-c", "bk-a", "bk-b", "bn-a", "bn-b"]

const routingConfig = () => `
providers:
${provider("fb-a")}
${provider("fb-b")}
${provider("ra-a")}
${provider("ra-b")}
${provider("cap-a")}
${provider("bad-a")}
${provider("bad-b")}
${provider("sf-a")}
${provider("sf-b")}
${provider("cb-a")}
${provider("nm-a")}
${provider("nm-b", ", prefill: prefix")}
${provider("to-a")}
${provider("to-b")}
${provider("rf-a")}
${provider("rf-b")}
${provider("bo-a")}
${provider("bo-b", ", prefill: prefix")}
strategy: { mode: fallback }
targets:
  - { virtual_key: fb-a }
  - { virtual_key: fb-b }
  - { virtual_key: ra-a, retry: { attempts: 2 } }
  - { virtual_key: ra-b }
  - { virtual_key: cap-a, retry: { attempts: 2, max_retry_after_ms: 200 } }
  - { virtual_key: bad-a, retry: { attempts: 3, initial_backoff_ms: 10 } }
  - { virtual_key: bad-b }
  - { virtual_key: sf-a }
  - { virtual_key: sf-b }
  - { virtual_key: cb-a, circuit_breaker: { failure_threshold: 2, timeout: "60s" } }
  - { virtual_key: nm-a }
  - { virtual_key: nm-b }
  - { virtual_key: to-a, timeouts: { request: "300ms" } }
  - { virtual_key: to-b }
  - { virtual_key: rf-a, retry: { attempts: 2, initial_backoff_ms: 10 } }
  - { virtual_key: rf-b }
  - { virtual_key: bo-a, circuit_breaker: { failure_threshold: 1, timeout: "60s" } }
  - { virtual_key: bo-b }
timeouts: { request: "5s" }
`

const failoverConfig = () => `
providers:
${provider("ms-a")}
${provider("ms-b", ", prefill: prefix")}
${provider("vl-a")}
${provider("vl-b", ", prefill: continue_final_message")}
${provider("np-a")}
${provider("np-b")}
${provider("idle-a")}
${provider("idle-b", ", prefill: prefix")}
${provider("mc-a")}
${provider("mc-b", ", prefill: prefix")}
${provider("mc-c", ", prefill: prefix")}
${provider("bk-a")}
${provider("bk-b", ", prefill: prefix")}
${provider("bn-a")}
${provider("bn-b")}
strategy: { mode: fallback, mid_stream_failover: true }
targets:
  - { virtual_key: ms-a }
  - { virtual_key: ms-b }
  - { virtual_key: vl-a }
  - { virtual_key: vl-b }
  - { virtual_key: np-a }
  - { virtual_key: np-b }
  - { virtual_key: idle-a, timeouts: { stream_idle: "300ms" } }
  - { virtual_key: idle-b }
  - { virtual_key: mc-a }
  - { virtual_key: mc-b }
  - { virtual_key: mc-c }
  - { virtual_key: bk-a, circuit_breaker: { failure_threshold: 1, timeout: "60s" } }
  - { virtual_key: bk-b }
  - { virtual_key: bn-a, circuit_breaker: { failure_threshold: 1, timeout: "60s" } }
  - { virtual_key: bn-b }
timeouts: { request: "5s" }
`

let routing: RunningGateway
let failover: RunningGateway
let routingClient: OpenAI
let failoverClient: OpenAI

beforeAll(async () => {
  for (const name of [...routingNames, ...failoverNames]) upstreams.set(name, await Scripted.start(name))
  // Both servers start together: each takes seconds to compile and boot.
  const [r, f] = await Promise.allSettled([
    startGateway({ config: routingConfig() }),
    startGateway({ config: failoverConfig() })
  ])
  if (r.status === "fulfilled") routing = r.value
  if (f.status === "fulfilled") failover = f.value
  if (r.status === "rejected") throw r.reason
  if (f.status === "rejected") throw f.reason
  // No SDK retries: every retry seen here is the gateway's.
  routingClient = new OpenAI({ baseURL: `${routing.url}/v1`, apiKey: "client-key", maxRetries: 0 })
  failoverClient = new OpenAI({ baseURL: `${failover.url}/v1`, apiKey: "client-key", maxRetries: 0 })
}, 60_000)

afterAll(async () => {
  await Promise.all([routing?.stop(), failover?.stop()])
  await Promise.all([...upstreams.values()].map((u) => u.close()))
})

beforeEach(() => {
  for (const u of upstreams.values()) u.reset()
})

const user = (content: string): Array<Message> => [
  { role: "system", content: "You are terse." },
  { role: "user", content }
]

/** Reads an SDK stream to its end or its error. */
const collect = async (stream: AsyncIterable<Chunk>) => {
  const chunks: Array<Chunk> = []
  let error: unknown
  try {
    for await (const chunk of stream) chunks.push(chunk)
  } catch (e) {
    error = e
  }
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
  return { chunks, error, text }
}

/** What a well-formed single-choice stream must look like, whatever happened upstream. */
const expectOneWellFormedStream = (chunks: ReadonlyArray<Chunk>) => {
  expect(chunks.length).toBeGreaterThan(2)
  const [first] = chunks
  for (const chunk of chunks) {
    expect(chunk.object).toBe("chat.completion.chunk")
    expect({ id: chunk.id, created: chunk.created, model: chunk.model }).toEqual({
      id: first!.id,
      created: first!.created,
      model: first!.model
    })
  }
  const roles = chunks.filter((c) => c.choices.some((choice) => choice.delta.role !== undefined))
  expect(roles).toHaveLength(1)
  expect(roles[0]).toBe(first)
  const finishes = chunks.flatMap((c) => c.choices.flatMap((choice) => (choice.finish_reason == null ? [] : [choice.finish_reason])))
  expect(finishes).toEqual(["stop"])
  // The usage chunk (asked for with include_usage) comes last, after the finish reason.
  const last = chunks.at(-1)!
  expect(last.choices).toEqual([])
  expect(last.usage?.completion_tokens).toBeGreaterThan(0)
  expect(chunks.slice(0, -1).every((c) => c.usage == null)).toBe(true)
  expect(chunks.at(-2)!.choices[0]?.finish_reason).toBe("stop")
}

describe("fallback and retries (JSON)", () => {
  it("a 500 from the primary falls back to the second target, which serves", async () => {
    up("fb-a").enqueue(Reply.error(500, "The server had an error while processing your request."))
    up("fb-b").enqueue(Reply.json("Served by the fallback."))

    const { data, response } = await routingClient.chat.completions
      .create({ model: "fb-model", messages: user("Hello?") })
      .withResponse()

    expect(data.choices[0]?.message.content).toBe("Served by the fallback.")
    expect(response.headers.get("x-switchyard-provider")).toBe("fb-b")
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    expect(up("fb-a").requests).toHaveLength(1)
    expect(up("fb-b").requests).toHaveLength(1)
    // The fallback was asked the same question.
    expect(up("fb-b").requests[0]!.body).toMatchObject({ model: "fb-model", messages: user("Hello?") })
    expect(up("fb-b").requests[0]!.headers.authorization).toBe("Bearer test")
  })

  it("a 429 with Retry-After: 1 is retried on the same target after one second", async () => {
    up("ra-a").enqueue(
      Reply.error(429, "Rate limit reached for requests", { type: "requests", code: "rate_limit_exceeded", headers: { "retry-after": "1" } }),
      Reply.json("Worth the wait.")
    )

    const { data, response } = await routingClient.chat.completions
      .create({ model: "ra-model", messages: user("Again?") })
      .withResponse()

    expect(data.choices[0]?.message.content).toBe("Worth the wait.")
    expect(response.headers.get("x-switchyard-provider")).toBe("ra-a")
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const [first, second] = up("ra-a").requests
    expect(up("ra-a").requests).toHaveLength(2)
    const waited = second!.at - first!.at
    expect(waited).toBeGreaterThanOrEqual(995)
    expect(waited).toBeLessThan(1500)
    expect(up("ra-b").requests).toHaveLength(0)
  })

  it("OpenAI's retry-after-ms is waited exactly too", async () => {
    up("ra-a").enqueue(
      Reply.error(429, "Rate limit reached", { headers: { "retry-after-ms": "300", "retry-after": "5" } }),
      Reply.json("ok")
    )
    const { response } = await routingClient.chat.completions.create({ model: "ra-model", messages: user("x") }).withResponse()
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const [first, second] = up("ra-a").requests
    const waited = second!.at - first!.at
    // Not the default backoff (~100 ms), not the 5 s of retry-after.
    expect(waited).toBeGreaterThanOrEqual(295)
    expect(waited).toBeLessThan(800)
  })

  it("a Retry-After longer than max_retry_after_ms is cut to it", async () => {
    up("cap-a").enqueue(Reply.error(503, "Back later", { headers: { "retry-after": "30" } }), Reply.json("ok"))
    const { response } = await routingClient.chat.completions.create({ model: "cap-model", messages: user("x") }).withResponse()
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const [first, second] = up("cap-a").requests
    const waited = second!.at - first!.at
    expect(waited).toBeGreaterThanOrEqual(195)
    expect(waited).toBeLessThan(1000)
  })

  it("a 400 from the primary reaches the client unchanged: not retried, not sent to the fallback", async () => {
    const upstreamError = {
      message: "Invalid 'messages[1].content': string too long. Expected a string with maximum length 10, but got a string with length 32 instead.",
      type: "invalid_request_error",
      code: "string_above_max_length"
    }
    up("bad-a").enqueue(Reply.error(400, upstreamError.message, { ...upstreamError, param: "messages[1].content" }))
    up("bad-b").otherwise(Reply.json("the fallback must not be asked"))

    const error = await routingClient.chat.completions
      .create({ model: "bad-model", messages: user("this is a string of 32 characters") })
      .catch((e: unknown) => e)

    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>
    expect(bad.status).toBe(400)
    expect(bad.error).toMatchObject(upstreamError)
    expect(bad.message).toBe(`400 ${upstreamError.message}`)
    expect(bad.type).toBe("invalid_request_error")
    expect(bad.code).toBe("string_above_max_length")
    expect(bad.param).toBe("messages[1].content")
    expect(bad.headers.get("x-switchyard-provider")).toBe("bad-a")
    expect(bad.headers.get("x-switchyard-attempts")).toBe("1")
    expect(up("bad-a").requests).toHaveLength(1)
    expect(up("bad-b").requests).toHaveLength(0)
  })

  it("retries count in x-switchyard-attempts: two 500s on a target with 2 attempts, then the fallback", async () => {
    up("rf-a").enqueue(Reply.error(500, "boom 1"), Reply.error(502, "boom 2"))
    up("rf-b").enqueue(Reply.json("third time lucky"))

    const { data, response } = await routingClient.chat.completions.create({ model: "rf-model", messages: user("x") }).withResponse()

    expect(data.choices[0]?.message.content).toBe("third time lucky")
    expect(response.headers.get("x-switchyard-provider")).toBe("rf-b")
    expect(response.headers.get("x-switchyard-attempts")).toBe("3")
    expect(up("rf-a").requests).toHaveLength(2)
    expect(up("rf-b").requests).toHaveLength(1)
  })

  it("an upstream that does not answer within timeouts.request falls back", async () => {
    up("to-a").enqueue(Reply.silence())
    up("to-b").enqueue(Reply.json("on time"))

    const started = performance.now()
    const { data, response } = await routingClient.chat.completions.create({ model: "to-model", messages: user("x") }).withResponse()

    expect(data.choices[0]?.message.content).toBe("on time")
    expect(response.headers.get("x-switchyard-provider")).toBe("to-b")
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const fellBackAfter = up("to-b").requests[0]!.at - started
    expect(fellBackAfter).toBeGreaterThanOrEqual(290)
    expect(fellBackAfter).toBeLessThan(2000)
  })
})

describe("streams failing before their first chunk fall back", () => {
  it.each([
    ["answers 503", () => Reply.error(503, "The engine is currently overloaded, please try again later.")],
    ["hangs up without answering", () => Reply.hangup()],
    ["sends SSE headers, then the connection breaks", () => Reply.headersThenCut()]
  ])("the primary %s: the fallback serves the whole stream", async (_, failure) => {
    up("sf-a").enqueue(failure())
    up("sf-b").enqueue(Reply.stream(["Served ", "by ", "the ", "fallback."], { id: "chatcmpl-sf-b" }))

    const { data: stream, response } = await routingClient.chat.completions
      .create({ model: "sf-model", messages: user("Stream?"), stream: true, stream_options: { include_usage: true } })
      .withResponse()
    expect(response.headers.get("x-switchyard-provider")).toBe("sf-b")
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const { chunks, error, text } = await collect(stream)

    expect(error).toBeUndefined()
    expect(text).toBe("Served by the fallback.")
    expectOneWellFormedStream(chunks)
    expect(chunks[0]!.id).toBe("chatcmpl-sf-b")
    expect(up("sf-a").requests).toHaveLength(1)
    expect(up("sf-b").requests).toHaveLength(1)
  })

  it("a stream whose first chunk does not come within timeouts.request falls back", async () => {
    up("to-a").enqueue(Reply.silentStream())
    up("to-b").enqueue(Reply.stream(["on ", "time"]))

    const { data: stream, response } = await routingClient.chat.completions
      .create({ model: "to-model", messages: user("x"), stream: true, stream_options: { include_usage: true } })
      .withResponse()
    expect(response.headers.get("x-switchyard-provider")).toBe("to-b")
    expect(response.headers.get("x-switchyard-attempts")).toBe("2")
    const { chunks, error, text } = await collect(stream)
    expect(error).toBeUndefined()
    expect(text).toBe("on time")
    expectOneWellFormedStream(chunks)
  })
})

describe("mid-stream failover", () => {
  const messages = user("Finish the pangram.")
  const prefill = { role: "assistant", content: "The quick brown ", prefix: true }

  /** B's answer when it receives the expected continuation request; a 400 saying what it got otherwise. */
  const continuation = (check: (body: any) => boolean) => (request: Scripted.RecordedRequest) =>
    check(request.body)
      ? Reply.stream(["fox ", "jumps."], { id: "chatcmpl-B", created: 1_600_000_000, model: "model-b-0613" })
      : Reply.error(400, `unexpected continuation request: ${JSON.stringify(request.body)}`)

  const expectContinuedStream = async (chunks: ReadonlyArray<Chunk>, text: string, error: unknown) => {
    expect(error).toBeUndefined()
    expect(text).toBe("The quick brown fox jumps.")
    expectOneWellFormedStream(chunks)
    // The continuation's chunks carry the first stream's identity.
    expect(chunks.every((c) => c.id === "chatcmpl-A" && c.created === 1_700_000_000 && c.model === "model-a-0613")).toBe(true)
  }

  it("upstream A breaks after two pieces; B (prefill: prefix) continues; the client reads one stream", async () => {
    up("ms-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { id: "chatcmpl-A", created: 1_700_000_000, model: "model-a-0613", delayMs: 20 }))
    up("ms-b").enqueue(continuation((body) => JSON.stringify(body.messages.at(-1)) === JSON.stringify(prefill)))

    const { data: stream, response } = await failoverClient.chat.completions
      .create({ model: "ms-model", messages, stream: true, stream_options: { include_usage: true } })
      .withResponse()
    expect(response.headers.get("x-switchyard-provider")).toBe("ms-a")
    expect(response.headers.get("x-switchyard-attempts")).toBe("1")
    const { chunks, error, text } = await collect(stream)

    await expectContinuedStream(chunks, text, error)
    expect(up("ms-a").requests).toHaveLength(1)
    expect(up("ms-b").requests).toHaveLength(1)
    const asked = up("ms-b").requests[0]!.body
    expect(asked.messages).toEqual([...messages, prefill])
    expect(asked).toMatchObject({ model: "ms-model", stream: true })
    expect(asked).not.toHaveProperty("continue_final_message")
  })

  it("on the wire: one SSE stream ending with data: [DONE], no error event", async () => {
    up("ms-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { id: "chatcmpl-A", delayMs: 20 }))
    up("ms-b").enqueue(Reply.stream(["fox ", "jumps."]))

    const response = await fetch(`${failover.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "ms-model", messages, stream: true })
    })
    expect(response.status).toBe(200)
    const body = await response.text()
    const events = body.split("\n\n").filter((e) => e !== "")
    expect(events.every((e) => e.startsWith("data: "))).toBe(true)
    expect(events.at(-1)).toBe("data: [DONE]")
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as Chunk & { error?: unknown })
    expect(chunks.some((c) => c.error !== undefined)).toBe(false)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("The quick brown fox jumps.")
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["chatcmpl-A"]))
    // The client did not ask for usage: none of it leaks from either upstream.
    expect(chunks.some((c) => "usage" in c)).toBe(false)
  })

  it("an in-band error event after two pieces is continued the same way", async () => {
    up("ms-a").enqueue(
      Reply.streamThenError(["The quick ", "brown "], { message: "The server is overloaded", type: "server_error", code: null }, {
        id: "chatcmpl-A",
        created: 1_700_000_000,
        model: "model-a-0613"
      })
    )
    up("ms-b").enqueue(continuation((body) => JSON.stringify(body.messages.at(-1)) === JSON.stringify(prefill)))

    const stream = await failoverClient.chat.completions.create({
      model: "ms-model",
      messages,
      stream: true,
      stream_options: { include_usage: true }
    })
    const { chunks, error, text } = await collect(stream)
    await expectContinuedStream(chunks, text, error)
    expect(up("ms-b").requests).toHaveLength(1)
  })

  it("a stream that stalls past stream_idle is continued on the next target", async () => {
    up("idle-a").enqueue(Reply.streamThenStall(["The quick ", "brown "], { id: "chatcmpl-A", created: 1_700_000_000, model: "model-a-0613" }))
    up("idle-b").enqueue(continuation((body) => JSON.stringify(body.messages.at(-1)) === JSON.stringify(prefill)))

    const started = performance.now()
    const stream = await failoverClient.chat.completions.create({
      model: "idle-model",
      messages,
      stream: true,
      stream_options: { include_usage: true }
    })
    const { chunks, error, text } = await collect(stream)
    await expectContinuedStream(chunks, text, error)
    const continuedAfter = up("idle-b").requests[0]!.at - started
    expect(continuedAfter).toBeGreaterThanOrEqual(290)
    expect(continuedAfter).toBeLessThan(2000)
  })

  it("prefill: continue_final_message: B gets the prefill without `prefix`, and vLLM's body flags", async () => {
    up("vl-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { id: "chatcmpl-A", created: 1_700_000_000, model: "model-a-0613", delayMs: 20 }))
    up("vl-b").enqueue(continuation((body) =>
      JSON.stringify(body.messages.at(-1)) === JSON.stringify({ role: "assistant", content: "The quick brown " }) &&
      body.continue_final_message === true && body.add_generation_prompt === false
    ))

    const stream = await failoverClient.chat.completions.create({
      model: "vl-model",
      messages,
      stream: true,
      stream_options: { include_usage: true }
    })
    const { chunks, error, text } = await collect(stream)
    await expectContinuedStream(chunks, text, error)
    const asked = up("vl-b").requests[0]!.body
    expect(asked.messages).toEqual([...messages, { role: "assistant", content: "The quick brown " }])
    expect(asked).toMatchObject({ continue_final_message: true, add_generation_prompt: false })
  })

  it("two breaks in a row: A breaks, B continues and breaks too, C continues from all that was delivered", async () => {
    up("mc-a").enqueue(Reply.streamThenCut(["The quick "], { id: "chatcmpl-A", created: 1_700_000_000, model: "model-a-0613", delayMs: 20 }))
    up("mc-b").enqueue(Reply.streamThenCut(["brown "], { id: "chatcmpl-B", created: 1_600_000_000, model: "model-b-0613", delayMs: 20 }))
    up("mc-c").enqueue(continuation((body) => JSON.stringify(body.messages.at(-1)) === JSON.stringify(prefill)))

    const stream = await failoverClient.chat.completions.create({
      model: "mc-model",
      messages,
      stream: true,
      stream_options: { include_usage: true }
    })
    const { chunks, error, text } = await collect(stream)
    await expectContinuedStream(chunks, text, error)
    expect(up("mc-b").requests[0]!.body.messages).toEqual([...messages, { role: "assistant", content: "The quick ", prefix: true }])
    expect(up("mc-c").requests[0]!.body.messages).toEqual([...messages, prefill])
  })

  it("a continuation target that fails before its first chunk hands over to the next one", async () => {
    up("mc-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { id: "chatcmpl-A", created: 1_700_000_000, model: "model-a-0613", delayMs: 20 }))
    up("mc-b").enqueue(Reply.error(503, "overloaded"))
    up("mc-c").enqueue(continuation((body) => JSON.stringify(body.messages.at(-1)) === JSON.stringify(prefill)))

    const stream = await failoverClient.chat.completions.create({
      model: "mc-model",
      messages,
      stream: true,
      stream_options: { include_usage: true }
    })
    const { chunks, error, text } = await collect(stream)
    await expectContinuedStream(chunks, text, error)
    expect(up("mc-b").requests).toHaveLength(1)
    expect(up("mc-b").requests[0]!.body.messages).toEqual([...messages, prefill])
    expect(up("mc-c").requests).toHaveLength(1)
  })

  it("without a target that takes a prefill, the stream ends with an error after the first part", async () => {
    up("np-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { delayMs: 20 }))
    up("np-b").otherwise(Reply.stream(["must not be asked"]))

    const { data: stream, response } = await failoverClient.chat.completions
      .create({ model: "np-model", messages, stream: true, stream_options: { include_usage: true } })
      .withResponse()
    expect(response.status).toBe(200)
    const { chunks, error, text } = await collect(stream)

    expect(text).toBe("The quick brown ")
    expect(chunks.every((c) => c.choices.every((choice) => choice.finish_reason == null))).toBe(true)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_unreachable")
    expect((error as Error).message).toContain("np-a")
    expect(up("np-b").requests).toHaveLength(0)
  })

  it("with mid_stream_failover off, a break after the first chunk is an error even with a prefill target", async () => {
    up("nm-a").enqueue(Reply.streamThenCut(["The quick ", "brown "], { delayMs: 20 }))
    up("nm-b").otherwise(Reply.stream(["must not be asked"]))

    const stream = await routingClient.chat.completions.create({ model: "nm-model", messages, stream: true })
    const { error, text } = await collect(stream)

    expect(text).toBe("The quick brown ")
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(up("nm-b").requests).toHaveLength(0)
  })
})

describe("circuit breaker", () => {
  it("after failure_threshold failures the next request is answered 503 circuit_open without reaching the upstream", async () => {
    up("cb-a").otherwise(Reply.error(503, "The engine is currently overloaded, please try again later."))
    const ask = () =>
      routingClient.chat.completions.create({ model: "cb-model", messages: user("x") }).then(
        () => {
          throw new Error("expected the request to fail")
        },
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>
      )

    for (const n of [1, 2]) {
      const error = await ask()
      expect(error).toBeInstanceOf(OpenAI.InternalServerError)
      expect(error.status).toBe(503)
      expect(error.message).toContain("overloaded")
      expect(up("cb-a").requests).toHaveLength(n)
    }

    const open = await ask()
    expect(open).toBeInstanceOf(OpenAI.InternalServerError)
    expect(open.status).toBe(503)
    expect(open.code).toBe("circuit_open")
    expect(open.message).toContain("cb-a")
    const retryAfter = Number(open.headers?.get("retry-after"))
    expect(retryAfter).toBeGreaterThanOrEqual(55)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(up("cb-a").requests).toHaveLength(2)
  })
})

/**
 * A stream that breaks after its first chunk is a failure of its target, counted against its
 * circuit whether or not another target continues the answer.
 */
describe("a stream broken mid-way counts against its target's circuit breaker", () => {
  const ask = async (client: OpenAI, model: string) => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: user("x"), stream: true })
      .withResponse()
    const { error, text } = await collect(data)
    return { provider: response.headers.get("x-switchyard-provider"), error, text }
  }

  it("when the answer was continued elsewhere (failure_threshold 1: the next request skips the broken target)", async () => {
    up("bk-a").enqueue(Reply.streamThenCut(["The quick "], { delayMs: 20 }))
    up("bk-a").otherwise(Reply.stream(["the broken target was asked again"]))
    up("bk-b").enqueue(Reply.stream(["brown fox."]), Reply.stream(["Fresh ", "answer."]))

    expect(await ask(failoverClient, "bk-model")).toMatchObject({ provider: "bk-a", text: "The quick brown fox.", error: undefined })
    expect(await ask(failoverClient, "bk-model")).toMatchObject({ provider: "bk-b", text: "Fresh answer.", error: undefined })
    expect(up("bk-a").requests).toHaveLength(1)
  })

  for (
    const [when, scenario, client] of [
      ["also when no target could continue it (mid_stream_failover on, no prefill target)", "bn", () => failoverClient],
      ["also when mid_stream_failover is off", "bo", () => routingClient]
    ] as const
  ) {
    it(when, async () => {
      up(`${scenario}-a`).enqueue(Reply.streamThenCut(["The quick "], { delayMs: 20 }))
      up(`${scenario}-a`).otherwise(Reply.stream(["the broken target was asked again"]))
      up(`${scenario}-b`).otherwise(Reply.stream(["Fresh ", "answer."]))

      const broken = await ask(client(), `${scenario}-model`)
      expect(broken).toMatchObject({ provider: `${scenario}-a`, text: "The quick " })
      expect(broken.error).toBeInstanceOf(OpenAI.APIError)
      // The break opened the target's circuit, as it does when the answer is continued.
      expect(await ask(client(), `${scenario}-model`)).toMatchObject({ provider: `${scenario}-b`, text: "Fresh answer.", error: undefined })
      expect(up(`${scenario}-a`).requests).toHaveLength(1)
    })
  }
})
