/**
 * The server the platform floor and the platform forwarder run on: `@effect/platform`'s Node
 * HTTP server composed as Switchyard's (`packages/server/src/Server.ts`: `layerServer`, tracer
 * off), on 127.0.0.1. Prints `Listening on http://127.0.0.1:PORT` once it listens; SIGINT and
 * SIGTERM close it.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"

const logAddress = Layer.effectDiscard(HttpServer.addressWith((address) =>
  Effect.sync(() => {
    if (address._tag === "TcpAddress") process.stdout.write(`Listening on http://127.0.0.1:${address.port}\n`)
  })
))

/** Runs `served` (an `HttpServer.serve` layer) on `port` (0: any free one) until stopped. */
export const launch = <E>(served: Layer.Layer<never, E, HttpServer.HttpServer>, port: number): void =>
  served.pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.setTracerEnabled(false)),
    (layer) => Layer.provideMerge(logAddress, layer),
    Layer.provide(NodeHttpServer.layerServer(() => createServer(), { port, host: "127.0.0.1" })),
    Layer.launch,
    NodeRuntime.runMain
  )
