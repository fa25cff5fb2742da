import { assert, describe, it } from "@effect/vitest"
import * as Deadlines from "@switchyard/core/Deadlines"
import { ProviderStatusError, ProviderTimeout } from "@switchyard/core/GatewayError"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as HttpTransport from "../src/HttpTransport.js"
import * as Redact from "../src/Redact.js"
import * as TestUpstream from "../src/TestUpstream.js"
import * as Upstream from "../src/Upstream.js"
import type * as UpstreamErrors from "../src/UpstreamErrors.js"

/** Bytes that are not UTF-8 (a lone continuation byte, 0xff, 0xfe), then "é" (0xc3 0xa9) and "€" (3 bytes). */
const binary = Uint8Array.from([0x00, 0x00, 0x00, 0x10, 0x80, 0xff, 0xfe, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0x0a, 0x00, 0x01, 0x02])

/** The body in pieces of `size` bytes. */
const split = (bytes: Uint8Array, size: number): ReadonlyArray<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.slice(offset, offset + size))
  return pieces
}

const concat = (pieces: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const piece of pieces) {
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}

/** Reads a pull to its end. */
const drain = <A, E>(pull: Streaming.Pull<A, E>): Effect.Effect<Array<A>, E> => {
  const items: Array<A> = []
  const loop: Effect.Effect<Array<A>, E> = Effect.matchEffect(pull, {
    onFailure: Option.match({ onNone: () => Effect.succeed(items), onSome: Effect.fail }),
    onSuccess: (chunk) => {
      items.push(...Chunk.toReadonlyArray(chunk))
      return loop
    }
  })
  return loop
}

/** A vendor whose error type is in a header, like AWS's `x-amzn-errortype`. */
const errorBody = (body: string, headers: UpstreamErrors.Headers): UpstreamErrors.UpstreamError => {
  const type = headers["x-amzn-errortype"]
  const parsed = JSON.parse(body) as { message?: string }
  return {
    ...(typeof type === "string" ? { type: type.split(":")[0]! } : {}),
    ...(parsed.message === undefined ? {} : { message: parsed.message })
  }
}

const makeUpstream = (baseUrl: string, redact: Redact.Redactor = Redact.make([])) =>
  Effect.flatMap(Deadlines.make, (deadlines) =>
    Upstream.make({ provider: "vendor", baseUrl, headers: {}, redact, errorBody, timeoutMillis: 30_000 }, deadlines))

const post = { method: "POST", path: "/stream", body: "{}", timeoutMillis: 30_000 } as const

describe("HttpTransport.open", () => {
  it.scoped("a reader waiting for the body gets every piece that arrived in one socket read in one pull", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(TestUpstream.never)
      const transport = yield* HttpTransport.make(upstream.origin, {}, yield* Deadlines.make)
      const opening = yield* Effect.fork(transport.open(post))
      yield* TestUpstream.received(upstream)
      const exchange = upstream.requests[0]!
      exchange.head(200, { "content-type": "text/event-stream" })
      yield* Effect.promise(() => exchange.write("first;"))
      const opened = yield* Fiber.join(opening)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* opened.pull), ["first;"])

      const waiting = yield* Effect.fork(opened.pull)
      yield* TestUpstream.eventually("the reader waits", () => waiting.unsafePoll() === null)
      // Three HTTP chunks sent in one TCP segment: undici hands them over one by one, in one read.
      exchange.socket.cork()
      const written = [exchange.write("a;"), exchange.write("b;"), exchange.write("c;")]
      exchange.socket.uncork()
      yield* Effect.promise(() => Promise.all(written))
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(waiting)), ["a;b;c;"])

      yield* Effect.promise(() => exchange.end())
      assert.deepStrictEqual(yield* drain(opened.pull), [])
    }))
})

describe("HttpTransport.openBytes", () => {
  it.scoped("hands over the body's bytes exactly as sent, where open would have decoded them as text", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({ body: split(binary, 3) }))
      const transport = yield* HttpTransport.make(upstream.origin, {}, yield* Deadlines.make)

      const bytes = yield* transport.openBytes(post)
      assert.strictEqual(bytes.status, 200)
      const pieces = yield* drain(bytes.pull)
      assert.isTrue(pieces.every((piece) => piece instanceof Uint8Array))
      assert.deepStrictEqual(Array.from(concat(pieces)), Array.from(binary))

      // The same body as text: invalid sequences replaced, so a binary frame is corrupted.
      const text = yield* transport.open(post)
      const decoded = (yield* drain(text.pull)).join("")
      assert.strictEqual(decoded, new TextDecoder().decode(binary))
      assert.notDeepEqual(Array.from(new TextEncoder().encode(decoded)), Array.from(binary))
    }))

  it.scoped("sends the per-request headers with the transport's own", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({ body: [binary] }))
      const transport = yield* HttpTransport.make(upstream.origin, { "x-base": "1", "x-both": "base" }, yield* Deadlines.make)
      const opened = yield* transport.openBytes({ ...post, headers: { "x-both": "request", authorization: "AWS4-HMAC-SHA256 x" } })
      yield* drain(opened.pull)
      const sent = upstream.requests[0]!
      assert.strictEqual(sent.headers["x-base"], "1")
      assert.strictEqual(sent.headers["x-both"], "request")
      assert.strictEqual(sent.headers["authorization"], "AWS4-HMAC-SHA256 x")
      assert.strictEqual(sent.bodyText, "{}")
    }))
})

describe("Upstream.streamBytes", () => {
  it.scoped("gives the decoder the bytes and the answer's headers; what the decoder made is the stream", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({
        headers: { "content-type": "application/vnd.amazon.eventstream", "x-request-id": "req-1" },
        body: split(binary, 5)
      }))
      const vendor = yield* makeUpstream(upstream.origin)
      const seen: Array<Uint8Array> = []
      const ids: Array<unknown> = []
      const pull = yield* vendor.streamBytes(post, (bytes, headers) => {
        seen.push(bytes)
        ids.push(headers["x-request-id"])
        return { items: [bytes.length], done: false }
      })
      const lengths = yield* drain(pull)
      assert.deepStrictEqual(Array.from(concat(seen)), Array.from(binary))
      assert.strictEqual(lengths.reduce((a, b) => a + b, 0), binary.length)
      assert.isTrue(ids.length > 0 && ids.every((id) => id === "req-1"))
    }))

  it.scoped("stops decoding at the decoder's end, and fails with its in-band failure", () =>
    Effect.gen(function*() {
      const pieces = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]
      const upstream = yield* TestUpstream.start(() => ({ body: [...pieces, ...pieces] }))
      const vendor = yield* makeUpstream(upstream.origin)

      let ended = false
      let calledAfterEnd = false
      const ending = yield* vendor.streamBytes(post, (bytes) => {
        if (ended) calledAfterEnd = true
        ended = bytes.includes(2)
        return { items: Array.from(bytes), done: ended }
      })
      const items = yield* drain(ending)
      assert.deepStrictEqual(items.slice(-1), [2])
      assert.notInclude(items, 3)
      assert.isFalse(calledAfterEnd)

      const failure = new ProviderStatusError({ provider: "vendor", status: 500, body: "" })
      const failing = yield* vendor.streamBytes(post, (bytes) =>
        bytes.includes(2) ? { items: ["before"], done: true, failure } : { items: [], done: false })
      const seen: Array<string> = []
      const error = yield* Effect.flip(drain(Effect.tap(failing, (chunk) => Effect.sync(() => seen.push(...chunk)))))
      assert.strictEqual(error, failure)
      assert.deepStrictEqual(seen, ["before"])
    }))

  it.scoped("a non-2xx body is read as text for the error envelope, with the headers", () =>
    Effect.gen(function*() {
      const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
      const upstream = yield* TestUpstream.start(() =>
        TestUpstream.json({ message: `Rate exceeded for ${secret}` }, {
          status: 429,
          headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" }
        })
      )
      const vendor = yield* makeUpstream(upstream.origin, Redact.make([secret]))
      const error = yield* Effect.flip(vendor.streamBytes(post, () => ({ items: [], done: false })))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.upstreamType, "ThrottlingException")
      assert.strictEqual(error.upstreamMessage, "Rate exceeded for [REDACTED]")
      assert.notInclude(error.body, secret)
    }))

  it.scoped("endEventRequired: a body that ends before the decoder's end fails as ProviderUnreachable", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() => ({ body: [binary] }))
      const vendor = yield* makeUpstream(upstream.origin)
      const pull = yield* vendor.streamBytes(post, () => ({ items: ["x"], done: false }), { endEventRequired: true })
      const error = yield* Effect.flip(drain(pull))
      assert.strictEqual(error._tag, "ProviderUnreachable")
    }))

  it.scoped("the timeout runs until the first decoded item", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(TestUpstream.never)
      const deadlines = yield* Deadlines.make
      const vendor = yield* Upstream.make({
        provider: "vendor",
        baseUrl: upstream.origin,
        headers: {},
        redact: Redact.make([]),
        errorBody,
        timeoutMillis: 30_000
      }, deadlines)
      const fiber = yield* Effect.fork(Effect.flip(vendor.streamBytes({ ...post, timeoutMillis: 5000 }, () => ({ items: [], done: false }))))
      yield* TestUpstream.received(upstream)
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 5000)
      yield* TestUpstream.abortedBy(upstream)
    }))
})

describe("Upstream: the answer's headers reach the vendor's readers", () => {
  it.scoped("exchange's parser and stream's decoder are given them", () =>
    Effect.gen(function*() {
      const upstream = yield* TestUpstream.start(() =>
        TestUpstream.json({ ok: true }, { headers: { "x-amzn-requestid": "7f1c-request" } })
      )
      const vendor = yield* makeUpstream(upstream.origin)
      const id = yield* vendor.exchange(post, (text, headers) => Either.right(`${text} ${String(headers["x-amzn-requestid"])}`))
      assert.strictEqual(id, "{\"ok\":true} 7f1c-request")

      const pull = yield* vendor.stream(post, (text, headers) => ({
        items: [`${headers["content-type"]}: ${text}`],
        done: false
      }))
      assert.deepStrictEqual(yield* drain(pull), ["application/json: {\"ok\":true}"])
    }))
})

describe("Upstream.allPages", () => {
  /** Pages "p0", "p1", ... each of two items, the next cursor the page's number, `last` the last page (none: endless). */
  const pages = (last?: number) => {
    const asked: Array<string | undefined> = []
    const page = (cursor: string | undefined) =>
      Effect.sync(() => {
        asked.push(cursor)
        const n = cursor === undefined ? 0 : Number(cursor)
        return { items: [`p${n}a`, `p${n}b`], next: last !== undefined && n >= last ? undefined : String(n + 1) }
      })
    return { asked, page }
  }

  it.effect("follows the cursors until the last page, items in order", () =>
    Effect.gen(function*() {
      const { asked, page } = pages(2)
      assert.deepStrictEqual(yield* Upstream.allPages(page), ["p0a", "p0b", "p1a", "p1b", "p2a", "p2b"])
      assert.deepStrictEqual(asked, [undefined, "1", "2"])
    }))

  it.effect("reads at most maxPages of an upstream that always says there is more; each run starts afresh", () =>
    Effect.gen(function*() {
      const { asked, page } = pages()
      const all = Upstream.allPages(page, 3)
      assert.strictEqual((yield* all).length, 6)
      assert.deepStrictEqual(yield* all, ["p0a", "p0b", "p1a", "p1b", "p2a", "p2b"])
      assert.strictEqual(asked.length, 6)
    }))
})

describe("Upstream.fanOut", () => {
  it.effect("at most `concurrency` calls at once, answers in order, each given the time left", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const given: Array<number> = []
      const fiber = yield* Effect.fork(Upstream.fanOut("p", [1, 2, 3, 4, 5], 1000, (item, left) =>
        Effect.gen(function*() {
          given.push(left)
          running++
          peak = Math.max(peak, running)
          yield* Effect.sleep(`${(6 - item) * 100} millis`)
          running--
          return item * 10
        }), 2))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [10, 20, 30, 40, 50])
      assert.strictEqual(peak, 2)
      // 1 and 2 start at once; 2 ends at 400 ms and 3 starts with 600 left; 1 ends at 500, 4 starts with 500 left...
      assert.deepStrictEqual(given, [1000, 1000, 600, 500, 300])
    }))

  it.effect("a call timing out, or one starting past the budget, is the request's timeout", () =>
    Effect.gen(function*() {
      const slow = Upstream.fanOut("p", [1, 2, 3], 1000, (_, left) =>
        Effect.as(Effect.sleep("700 millis"), left), 1)
      const fiber = yield* Effect.fork(Effect.flip(slow))
      yield* TestClock.adjust("2 seconds")
      const late = yield* Fiber.join(fiber)
      assert.strictEqual(late._tag, "ProviderTimeout")
      assert.strictEqual(late._tag === "ProviderTimeout" && late.afterMillis, 1000)
      const timedOut = yield* Effect.flip(Upstream.fanOut("p", [1], 1000, (_, left) =>
        Effect.fail(new ProviderTimeout({ provider: "p", afterMillis: left }))))
      assert.strictEqual(timedOut.afterMillis, 1000)
    }))
})
