/**
 * The benchmark's platform floor: the cheapest server on `@effect/platform`'s HTTP server, composed
 * as Switchyard's (`packages/server/src/Server.ts`) minus the gateway, that proxies nothing. It
 * reads the request body and answers with a prebuilt body: a `chat.completion` (JSON), or, when
 * the body says `"stream":true`, the whole SSE answer as one Uint8Array, handed over by a pull
 * through `ResponseBody.stream` as Switchyard's event streams are.
 * Both are the bytes the mock upstream answers to the bench's request (same chunks, same shape,
 * built by the mock's own `Simulation` at start), so a client of this server reads what it reads
 * through the forwarder. What it costs per request is what the platform costs per request: a
 * ceiling for any gateway whose responses go through the platform's server as Effect values.
 *
 *   node floor.mjs [--port N]    (run.ts bundles it: build.ts)
 *
 * Prints `Listening on http://127.0.0.1:PORT` once it listens. SIGINT and SIGTERM close it.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import * as Streaming from "@switchyard/core/Streaming"
import * as RequestBody from "@switchyard/http/RequestBody"
import * as ResponseBody from "@switchyard/http/ResponseBody"
import * as Chunk from "effect/Chunk"
import * as Simulation from "@switchyard/providers-mock/Simulation"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import { launch } from "./platformServer.js"

const { values } = parseArgs({ options: { port: { type: "string" }, chunks: { type: "string" } } })
const port = Number(values.port ?? 0)
/** Content chunks of a streamed answer: the bench's upstream runs with `--chunks 20`. */
const chunks = Number(values.chunks ?? 20)

// ---------------------------------------------------------------------------------------------
// The answers, built once: what the mock upstream (bin.ts: 16 tokens, `--chunks 20`) answers to
// the bench's request (load.ts `chatBody`: no `stream_options`, so no usage chunk in the stream;
// the usage is in the JSON answer).

const request: ChatRequest = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a load benchmark." },
    { role: "user", content: "Say something of average length, please." }
  ]
}
const settings = Simulation.settings({ chunks })
const meta: Simulation.Meta = { id: "chatcmpl-floor-000000", created: Math.floor(Date.now() / 1000) }

const jsonBody = JSON.stringify(Simulation.response(request, settings, meta))
const jsonLength = Buffer.byteLength(jsonBody)

const sse = (() => {
  const events = Simulation.encodeStream(Simulation.streamPlan({ ...request, stream: true }, settings, meta))
  return new TextEncoder().encode(events.first + events.content.join("") + events.last + "data: [DONE]\n\n")
})()
const sseChunk = Chunk.of(sse)

// ---------------------------------------------------------------------------------------------

let requests = 0

const app = Effect.interruptible(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.flatMap(RequestBody.readText(request, 10 * 1024 * 1024), (body) => {
    const requestId = `floor-${(requests++).toString(36)}`
    return body.includes("\"stream\":true")
      ? ResponseBody.stream(Streaming.prepend(sseChunk, Streaming.endPull), {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-request-id": requestId
      })
      : Effect.succeed(HttpServerResponse.raw(jsonBody, {
        headers: { "content-type": "application/json", "content-length": String(jsonLength), "x-request-id": requestId }
      }))
  })))

launch(HttpServer.serve(app), port)
