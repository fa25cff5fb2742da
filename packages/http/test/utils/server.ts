import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Capabilities from "@switchyard/core/Capabilities"
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import * as EmbeddingSchema from "@switchyard/core/EmbeddingSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { ProviderError } from "@switchyard/core/GatewayError"
import { ProviderStatusError, ProviderUnreachable } from "@switchyard/core/GatewayError"
import * as Plugins from "@switchyard/core/Plugins"
import type { RequestContext } from "@switchyard/core/RequestContext"
import * as TestProvider from "@switchyard/core/TestProvider"
import { chunk, response, usageChunk } from "@switchyard/core/TestProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as HttpApi from "../../src/HttpApi.js"

const rateLimited = new ProviderStatusError({
  provider: "fake",
  status: 429,
  body: "{\"error\":{}}",
  upstreamMessage: "Rate limit reached for fake-429",
  upstreamType: "rate_limit_error",
  upstreamCode: "rate_limit_exceeded",
  retryAfterMillis: 1500
})

const badRequest = new ProviderStatusError({
  provider: "fake",
  status: 400,
  body: "{\"error\":{}}",
  upstreamMessage: "Invalid value for 'temperature'",
  upstreamType: "invalid_request_error",
  upstreamParam: "temperature"
})

/**
 * A provider whose behaviour is chosen by the model name:
 * `fake-429` and `fake-400` fail with that upstream status (before any chunk when streaming),
 * `fake-midfail` fails after its first chunk, `fake-hang` never finishes (and records when it is
 * released), `fake-endless` streams 8 KiB chunks for ever (counting them in `endless.pulled`, and
 * recording when it is released),
 * `fake-defect` dies with a secret in the defect; any other `fake-*` answers.
 * It embeds (each input's vector is `[its index, its length]`) and makes images (`fake-400`
 * refused), and does not honour `seed` (dropped under the default `warn` policy).
 */
export const makeFake = Effect.gen(function*() {
  const contexts: Array<RequestContext> = []
  const streamReleased = yield* Deferred.make<void>()
  const chatReleased = yield* Deferred.make<void>()
  const endless = { pulled: 0, released: yield* Deferred.make<void>() }
  const bulk = "x".repeat(8192)
  const fake = TestProvider.make({
    name: "fake",
    models: ["fake-*"],
    chat: (req) => {
      switch (req.model) {
        case "fake-429":
          return Effect.fail(rateLimited)
        case "fake-400":
          return Effect.fail(badRequest)
        case "fake-defect":
          return Effect.die(new Error("boom with sk-secret-123"))
        case "fake-hang":
          return Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(chatReleased, undefined)))
        default:
          return Effect.succeed(response(req.model, "Hello"))
      }
    },
    chatStream: (req): Stream.Stream<ChatChunk, ProviderError> => {
      switch (req.model) {
        case "fake-429":
          return Stream.fail(rateLimited)
        case "fake-400":
          return Stream.fail(badRequest)
        case "fake-midfail":
          return Stream.concat(
            Stream.make(chunk(req.model, "Hel")),
            Stream.fail(new ProviderUnreachable({ provider: "fake", detail: "connection reset" }))
          )
        case "fake-hang":
          return Stream.concat(Stream.make(chunk(req.model, "Hel")), Stream.never).pipe(
            Stream.ensuring(Deferred.succeed(streamReleased, undefined))
          )
        case "fake-endless":
          return Stream.repeatEffect(Effect.sync(() => (endless.pulled++, chunk(req.model, bulk)))).pipe(
            Stream.ensuring(Deferred.succeed(endless.released, undefined))
          )
        default:
          return Stream.make(chunk(req.model, "Hel"), chunk(req.model, "lo"), usageChunk(req.model))
      }
    },
    listModels: Effect.succeed([{ id: "fake-1", object: "model" as const, created: 0, owned_by: "fake" }]),
    embed: (req) =>
      Effect.succeed(EmbeddingSchema.response(
        req,
        EmbeddingSchema.inputs(req.input).map((input, i) => [i, input.length]),
        { prompt_tokens: 4, total_tokens: 4 }
      )),
    image: (req) =>
      req.model === "fake-400"
        ? Effect.fail(badRequest)
        : Effect.succeed({ created: 7, data: [{ b64_json: "aW1n", revised_prompt: req.prompt }] }),
    capabilities: { chat: Capabilities.without(Capabilities.everything("chat"), ["seed"]) }
  })
  const spy = Plugins.layer([{
    name: "spy",
    beforeRequest: (req, ctx) => Effect.sync(() => (contexts.push(ctx), req))
  }])
  const gateway = Gateway.layer({ aliases: { "fake-alias": "fake-1" } }).pipe(
    Layer.provide(fake.layer),
    Layer.provide(spy),
    Layer.provide(Gateway.defaults)
  )
  return { received: fake.received, contexts, streamReleased, chatReleased, endless, gateway }
})

export type Fake = Effect.Effect.Success<typeof makeFake>

/** The API served on a random loopback port; provides an `HttpClient` pointed at it. */
export const serve = (fake: Fake, options?: HttpApi.Options) =>
  HttpServer.serve(HttpApi.make(options)).pipe(
    Layer.provide(fake.gateway),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly text: string
  readonly json: any
}

const collect = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(client.execute(request), (res) =>
      Effect.map(res.text, (text): Answer => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        return { status: res.status, headers: res.headers, text, json }
      })))

export const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  collect(HttpClientRequest.post(path).pipe(
    HttpClientRequest.setHeaders(headers),
    typeof body === "string"
      ? HttpClientRequest.bodyText(body, "application/json")
      : HttpClientRequest.bodyUnsafeJson(body)
  ))

export const get = (path: string, headers: Record<string, string> = {}) =>
  collect(HttpClientRequest.get(path).pipe(HttpClientRequest.setHeaders(headers)))

export const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  ...extra
})

export const port = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? server.address.port : 0)

/**
 * A raw node:http `POST /v1/chat/completions` of `body` on its own connection, not yet sent:
 * the caller ends it with `end(callback?)`.
 */
export const chatRequest = (port: number, body: unknown, onResponse: (response: Http.IncomingMessage) => void) => {
  const payload = JSON.stringify(body)
  const request = Http.request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/v1/chat/completions",
    agent: false,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
  }, onResponse)
  return { request, end: (sent?: () => void) => request.end(payload, sent) }
}

export interface RawAnswer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
}

/**
 * A raw node:http request whose body is written by `write` (no content-length: chunked).
 * Resolves with the response even when the server closes the connection before the client has
 * finished sending.
 */
export const rawRequest = (
  port: number,
  options: { readonly method: string; readonly path: string; readonly headers?: Http.OutgoingHttpHeaders },
  write: (req: Http.ClientRequest) => void
) =>
  Effect.async<RawAnswer, Error>((resume) => {
    let settled = false
    let answered = false
    const req = Http.request({ host: "127.0.0.1", port, agent: false, ...options }, (res) => {
      answered = true
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (text += d))
      const finish = () => {
        if (settled) return
        settled = true
        resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, text }))
      }
      res.on("end", finish)
      res.on("close", finish)
      res.on("error", finish)
    })
    req.on("error", (error) => {
      // Writing the rest of the body may fail once the server has answered and closed.
      if (!settled && !answered) {
        settled = true
        resume(Effect.fail(error))
      }
    })
    write(req)
    return Effect.sync(() => req.destroy())
  })
