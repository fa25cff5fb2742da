import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Http from "node:http"
import * as HttpApi from "../src/HttpApi.js"
import * as ResponseBody from "../src/ResponseBody.js"
import { chatBody, chatRequest, makeFake, port, serve } from "./utils/server.js"

const fake = Effect.runSync(makeFake)

/** The `data:` payloads of an SSE body. */
const dataOf = (text: string) =>
  text.split("\n\n").filter((event) => event !== "").map((event) => event.slice("data: ".length))

/** A streaming request whose response is paused at its first bytes (the client stops reading). */
const openPaused = (p: number) =>
  Effect.async<{ readonly response: Http.IncomingMessage; readonly request: Http.ClientRequest }, Error>((resume) => {
    const { end, request } = chatRequest(p, chatBody("fake-endless", { stream: true }), (response) => {
      response.once("data", () => {
        response.pause()
        resume(Effect.succeed({ response, request }))
      })
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    end()
  })

/**
 * Waits (real time: this is the network's backpressure, not a timer of the gateway's) until the
 * provider's pull count has not moved for 200 ms; fails once it passes `limit`.
 */
const settledCount = (limit: number) =>
  Effect.gen(function*() {
    let last = -1
    let still = 0
    while (still < 10) {
      yield* Effect.sleep("20 millis")
      const now = fake.endless.pulled
      if (now > limit) return yield* Effect.fail(new Error(`the gateway kept pulling: ${now} chunks`))
      still = now === last ? still + 1 : 0
      last = now
    }
    return last
  })

layer(serve(fake), { excludeTestServices: true })("event streams on Node's server", (it) => {
  it.effect("a client that stops reading stops the provider's pulls, reading again resumes them, leaving releases them", () =>
    Effect.gen(function*() {
      const { request, response } = yield* Effect.acquireRelease(
        openPaused(yield* port),
        ({ request }) => Effect.sync(() => request.destroy())
      )
      // 8 KiB chunks: 4,096 of them would be 32 MiB, far above what the sockets' buffers hold.
      const held = yield* settledCount(4096)
      assert.isAbove(held, 0)
      let received = 0
      response.on("data", (data: Buffer) => (received += data.length))
      response.resume()
      yield* Effect.repeat(Effect.sleep("10 millis"), { until: () => fake.endless.pulled > held + 200 })
      assert.isAbove(received, 200 * 8192)
      // Gone while held back: no fiber is pulling, and the provider's stream is still released.
      response.pause()
      yield* settledCount(Infinity)
      request.destroy()
      yield* Deferred.await(fake.endless.released)
    }).pipe(Effect.scoped, Effect.timeout("4 seconds")))
})

/** What a client of a streamed response saw: the body it read, and whether the body completed. */
const readAll = (p: number, path: string, onData: () => void = () => {}) =>
  Effect.async<{ readonly text: string; readonly complete: boolean }, Error>((resume) => {
    Http.get({ host: "127.0.0.1", port: p, path, agent: false }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (data: string) => {
        text += data
        onData()
      })
      response.on("close", () => resume(Effect.succeed({ text, complete: response.complete })))
    }).on("error", (error) => resume(Effect.fail(error)))
  })

const encoder = new TextEncoder()
/** Opened by the client once it has read the first chunk: then the `/die` pull dies. */
const firstRead = Effect.runSync(Deferred.make<void>())
/** A pull that hands over "one", then (on `/die`, once the client has it) dies, or ends. */
const pullThen = (die: boolean) => {
  let pulls = 0
  return Effect.suspend(() =>
    pulls++ === 0
      ? Effect.succeed(Chunk.of(encoder.encode("one\n")))
      : die
      ? Effect.zipRight(Deferred.await(firstRead), Effect.die("a bug in the pull"))
      : Effect.fail(Option.none())
  )
}
const streamingApp = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  ResponseBody.stream(pullThen(request.url === "/die"), { "content-type": "text/plain" }))

layer(HttpServer.serve(Effect.interruptible(streamingApp)).pipe(Layer.provideMerge(NodeHttpServer.layerTest)), {
  excludeTestServices: true
})("ResponseBody.stream on Node's server", (it) => {
  it.effect("a pull that dies cuts the response short, and the server goes on serving", () =>
    Effect.gen(function*() {
      const p = yield* port
      const cut = yield* readAll(p, "/die", () => Deferred.unsafeDone(firstRead, Exit.void))
      assert.deepStrictEqual(cut, { text: "one\n", complete: false })
      const whole = yield* readAll(p, "/end")
      assert.deepStrictEqual(whole, { text: "one\n", complete: true })
    }))
})

describe("event streams on a server that is not Node's", () => {
  it("are written through the platform's Stream body (a web handler)", async () => {
    const { dispose, handler } = HttpApp.toWebHandlerLayer(HttpApi.make(), fake.gateway)
    try {
      const response = await handler(
        new Request("http://localhost/v1/chat/completions", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(chatBody("fake-stream", { stream: true }))
        })
      )
      assert.strictEqual(response.status, 200)
      assert.include(response.headers.get("content-type"), "text/event-stream")
      assert.strictEqual(response.headers.get("x-switchyard-provider"), "fake")
      const data = dataOf(await response.text())
      assert.strictEqual(data.at(-1), "[DONE]")
      assert.deepStrictEqual(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content).filter(Boolean), ["Hel", "lo"])
    } finally {
      await dispose()
    }
  })
})
