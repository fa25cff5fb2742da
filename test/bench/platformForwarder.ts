/**
 * The benchmark's platform forwarder: the platform floor's server (`floor.ts`, composed as
 * Switchyard's) that forwards instead of answering constants, through Switchyard's own HTTP
 * transport (`@switchyard/provider-http`'s `HttpTransport`: undici's dispatch API, one fiber
 * suspension per JSON exchange) and nothing else: no gateway, routing, plugins, validation or
 * accounting. It reads the body, rewrites a `provider/model` prefix, sends it upstream and
 * answers the upstream's answer: JSON read whole (its usage parsed out of it, as every gateway
 * must), SSE written as it arrives through `ResponseBody.stream`, as Switchyard writes its
 * event streams. What it costs per request is the ceiling of a gateway on `@effect/platform`'s
 * server and this transport; what Switchyard costs above it is the gateway's own.
 *
 *   node platform-forwarder.mjs --upstream http://127.0.0.1:9000/v1 [--port N]    (run.ts bundles it: build.ts)
 *
 * Prints `Listening on http://127.0.0.1:PORT` once it listens. SIGINT and SIGTERM close it.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deadlines from "@switchyard/core/Deadlines"
import * as Streaming from "@switchyard/core/Streaming"
import * as RequestBody from "@switchyard/http/RequestBody"
import * as ResponseBody from "@switchyard/http/ResponseBody"
import * as HttpTransport from "@switchyard/provider-http/HttpTransport"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseArgs } from "node:util"
import { launch } from "./platformServer.js"

const { values } = parseArgs({ options: { upstream: { type: "string" }, port: { type: "string" } } })
if (values.upstream === undefined) {
  process.stderr.write("usage: platform-forwarder.mjs --upstream http://127.0.0.1:PORT/v1 [--port N]\n")
  process.exit(2)
}
const upstream = values.upstream
const port = Number(values.port ?? 0)
const timeoutMillis = 60_000
const maxBodyBytes = 10 * 1024 * 1024

const encoder = new TextEncoder()

const failed = (status: number, message: string) =>
  HttpServerResponse.unsafeJson({ error: { message, type: "proxy_error", code: null } }, { status })

const app = (transport: HttpTransport.Transport) =>
  Effect.interruptible(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) => {
      const body = json as Record<string, unknown>
      const model = typeof body.model === "string" ? body.model : ""
      const slash = model.indexOf("/")
      const forwarded: HttpTransport.Request = {
        method: "POST",
        path: "/chat/completions",
        body: slash === -1 ? text : JSON.stringify({ ...body, model: model.slice(slash + 1) }),
        timeoutMillis
      }
      if (body.stream === true) {
        return Effect.flatMap(transport.open(forwarded), (opened) => {
          opened.disarm()
          // A transport failure mid-stream ends the body (the client sees it cut short).
          const pull = Effect.map(
            Effect.catchAll(opened.pull, () => Streaming.endPull),
            Chunk.map((piece) => encoder.encode(piece))
          )
          return ResponseBody.stream(pull, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        })
      }
      return Effect.map(transport.exchange(forwarded, 64 * 1024), (answer) => {
        const usage = (JSON.parse(answer.body) as { readonly usage?: { readonly total_tokens?: number } }).usage
        return HttpServerResponse.raw(answer.body, {
          status: answer.status,
          headers: {
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(answer.body)),
            "x-total-tokens": String(usage?.total_tokens ?? 0)
          }
        })
      })
    }).pipe(
      Effect.catchAll((error) => Effect.succeed(failed(error._tag === "TransportError" ? 502 : 400, String(error))))
    )))

const served = Layer.unwrapScoped(Effect.gen(function*() {
  const deadlines = yield* Deadlines.make
  const transport = yield* HttpTransport.make(upstream, { "content-type": "application/json", authorization: "Bearer bench" }, deadlines)
  return HttpServer.serve(app(transport))
}))

launch(served, port)
