/**
 * The OpenAI-compatible HTTP API over core's `Gateway`: `POST /v1/chat/completions` (JSON or
 * SSE), `POST /v1/embeddings`, `POST /v1/images/generations`, `GET /v1/models`,
 * `GET /v1/capabilities`, `GET /health`. A library: the server package serves `make()`.
 *
 * Every answer carries `x-request-id`; answers from a provider carry `x-switchyard-provider`,
 * `x-switchyard-attempts`, under an ab-test `x-switchyard-variant`, and when parameters the
 * provider does not honour were left out, `x-switchyard-dropped-params`. Every error is
 * answered through `HttpErrors` in the OpenAI envelope.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ChatRequest } from "@switchyard/core/ChatSchema"
import { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { GatewayError } from "@switchyard/core/GatewayError"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import { ImageRequest } from "@switchyard/core/ImageSchema"
import * as RequestContext from "@switchyard/core/RequestContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as HttpErrors from "./HttpErrors.js"
import * as RequestId from "./internal/requestId.js"
import * as Sse from "./internal/sse.js"
import * as RequestBody from "./RequestBody.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The largest request body accepted, in bytes; larger ones are answered 413. Default 10 MiB. */
  readonly maxBodyBytes?: number | undefined
}

/** @since 0.1.0 @category Constants */
export const defaultMaxBodyBytes: number = 10 * 1024 * 1024

const errorResponse = (cause: Cause.Cause<unknown>, requestId: string, attempts = 0) =>
  Cause.isInterruptedOnly(cause)
    // The client is gone (or the server is stopping): there is no one to answer.
    ? Effect.failCause(cause as Cause.Cause<never>)
    : Effect.map(
      HttpErrors.describeCauseLogged(cause, requestId),
      (info) =>
        HttpErrors.openAiResponse(
          info,
          attempts > 0 ? { "x-request-id": requestId, "x-switchyard-attempts": String(attempts) } : { "x-request-id": requestId }
        )
    )

/**
 * Wraps a route body: builds the request's `RequestContext` (its id from a sane incoming
 * `x-request-id`, else fresh) and answers any failure in the OpenAI envelope with that id.
 * The body must put `x-request-id` on its own successful responses.
 *
 * @since 0.1.0 @category Constructors
 */
export const handler = <E, R>(
  body: (
    request: HttpServerRequest.HttpServerRequest,
    ctx: RequestContext.RequestContext
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  ingress = "openai"
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const trace: RequestContext.RoutingTrace = { attempts: 0 }
    const ctx = RequestContext.make({
      requestId: RequestId.fromHeaders(request.headers),
      ingress,
      startedAt: Date.now(),
      headers: request.headers,
      trace
    })
    return Effect.catchAllCause(body(request, ctx), (cause) => errorResponse(cause, ctx.requestId, trace.attempts))
  })

/** A decoder of a JSON body into a request schema, failing with the bad field's path. */
const decoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (json: unknown): Effect.Effect<A, InvalidRequest> => {
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return Effect.fail(new InvalidRequest({ message: "The request body must be a JSON object." }))
    }
    const decoded = decode(json)
    return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(HttpErrors.fromParseError(decoded.left))
  }
}

const decodeChat = decoder(ChatRequest)

/** The body as a string, which Node encodes while writing it, with its length in bytes. */
const json = (body: unknown, headers: Record<string, string>) => {
  const text = JSON.stringify(body)
  return HttpServerResponse.raw(text, { contentType: "application/json", contentLength: Buffer.byteLength(text), headers })
}

/**
 * Which provider answered, after how many upstream calls, the ab-test variant, and what was
 * left out because that provider does not honour it.
 */
const routingHeaders = (
  ctx: RequestContext.RequestContext,
  result: { readonly provider: string; readonly attempts: number; readonly variant?: string | undefined }
): Record<string, string> => {
  const headers: Record<string, string> = {
    "x-request-id": ctx.requestId,
    "x-switchyard-provider": result.provider,
    "x-switchyard-attempts": String(result.attempts)
  }
  if (result.variant !== undefined) headers["x-switchyard-variant"] = result.variant
  const dropped = ctx.trace?.dropped
  if (dropped !== undefined) headers["x-switchyard-dropped-params"] = dropped.join(", ")
  return headers
}

const chatJson = (gateway: Gateway.Service, req: ChatRequest, ctx: RequestContext.RequestContext) =>
  Effect.map(gateway.chat(req, ctx), (result) => json(result.response, routingHeaders(ctx, result)))

/**
 * `chatStream` has waited for the first chunk, so a failure before it fails here and gets a
 * real status. The upstream lives in the request's Scope, which closes when the response body
 * ends, or when Node interrupts the fiber because the client went away.
 */
const chatSse = (gateway: Gateway.Service, req: ChatRequest, ctx: RequestContext.RequestContext) =>
  Effect.map(gateway.chatStream(req, ctx), (result) =>
    HttpServerResponse.stream(
      Sse.encode(result.pull, (cause) => Effect.map(HttpErrors.describeCauseLogged(cause, ctx.requestId), HttpErrors.openAi)),
      {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", ...routingHeaders(ctx, result) }
      }
    ))

const chatCompletions = (maxBodyBytes: number) =>
  handler((request, ctx) =>
    RequestBody.readJson(request, maxBodyBytes).pipe(
      Effect.flatMap(decodeChat),
      Effect.flatMap((req) =>
        Effect.flatMap(Gateway.Gateway, (gateway) =>
          req.stream === true ? chatSse(gateway, req, ctx) : chatJson(gateway, req, ctx))
      )
    )
  )

/** A non-streaming operation: a JSON body decoded by `decode`, answered by `call` as JSON. */
const unary = <A>(
  maxBodyBytes: number,
  decode: (json: unknown) => Effect.Effect<A, InvalidRequest>,
  call: (
    gateway: Gateway.Service,
    req: A,
    ctx: RequestContext.RequestContext
  ) => Effect.Effect<Gateway.Result<unknown>, GatewayError>
) =>
  handler((request, ctx) =>
    RequestBody.readJson(request, maxBodyBytes).pipe(
      Effect.flatMap(decode),
      Effect.flatMap((req) =>
        Effect.flatMap(Gateway.Gateway, (gateway) =>
          Effect.map(call(gateway, req, ctx), (result) => json(result.response, routingHeaders(ctx, result))))
      )
    )
  )

const embeddings = (maxBodyBytes: number) =>
  unary(maxBodyBytes, decoder(EmbeddingRequest), (gateway, req, ctx) => gateway.embed(req, ctx))

const imageGenerations = (maxBodyBytes: number) =>
  unary(maxBodyBytes, decoder(ImageRequest), (gateway, req, ctx) => gateway.image(req, ctx))

const capabilities = handler((_, ctx) =>
  Effect.map(Gateway.Gateway, (gateway) =>
    json({ object: "list", data: gateway.capabilities }, { "x-request-id": ctx.requestId }))
)

const models = handler((_, ctx) =>
  Effect.flatMap(Gateway.Gateway, (gateway) =>
    Effect.map(gateway.models, (data) =>
      json({ object: "list", data }, { "x-request-id": ctx.requestId })))
)

const health = handler((_, ctx) =>
  Effect.succeed(json({ status: "ok" }, { "x-request-id": ctx.requestId }))
)

/** One route of the API. @since 0.1.0 @category Models */
export interface Route {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly handler: Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    never,
    Gateway.Gateway | HttpServerRequest.HttpServerRequest | Scope.Scope
  >
}

/**
 * The API's routes, each answering its own errors.
 *
 * @since 0.1.0 @category Constructors
 */
export const routes = (options?: Options): ReadonlyArray<Route> => {
  const maxBodyBytes = options?.maxBodyBytes ?? defaultMaxBodyBytes
  return [
    { method: "POST", path: "/v1/chat/completions", handler: chatCompletions(maxBodyBytes) },
    { method: "POST", path: "/v1/embeddings", handler: embeddings(maxBodyBytes) },
    { method: "POST", path: "/v1/images/generations", handler: imageGenerations(maxBodyBytes) },
    { method: "GET", path: "/v1/models", handler: models },
    { method: "GET", path: "/v1/capabilities", handler: capabilities },
    { method: "GET", path: "/health", handler: health }
  ]
}

/**
 * The routes as an `HttpRouter`: compose more routes onto it, then serve it through
 * `fromRouter`.
 *
 * @since 0.1.0 @category Constructors
 */
export const router = (options?: Options): HttpRouter.HttpRouter<never, Gateway.Gateway> =>
  routes(options).reduce(
    (router, route) => HttpRouter.route(route.method)(route.path as HttpRouter.PathInput, route.handler)(router),
    HttpRouter.empty as HttpRouter.HttpRouter<never, Gateway.Gateway>
  )

/** `allow` of a path: its methods, and HEAD where GET is. */
const allowedMethods = (entries: Iterable<{ readonly method: string; readonly path: string }>) => {
  const allowed = new Map<string, Array<string>>()
  for (const route of entries) {
    if (route.method === "*" || route.path.includes(":") || route.path.includes("*")) continue
    const methods = allowed.get(route.path) ?? []
    methods.push(route.method)
    if (route.method === "GET") methods.push("HEAD")
    allowed.set(route.path, methods)
  }
  return allowed
}

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/** 404 for an unknown path, 405 with `allow` for a known path with another method. */
const noRoute = (allowed: ReadonlyMap<string, ReadonlyArray<string>>, request: HttpServerRequest.HttpServerRequest) => {
  const path = pathOf(request.url)
  const allow = allowed.get(path)
  const error = allow === undefined
    ? new HttpErrors.UnknownRoute({ method: request.method, path })
    : new HttpErrors.MethodNotAllowed({ method: request.method, path, allow })
  return HttpErrors.openAiResponse(HttpErrors.describe(error), { "x-request-id": RequestId.fromHeaders(request.headers) })
}

/**
 * Serves a router with the API's fallbacks: an unknown path is a 404 and a known path with the
 * wrong method a 405 (with `allow`), both in the OpenAI envelope with `x-request-id`; anything
 * a route left unanswered is a generic 500.
 *
 * Routes stay interruptible (HttpRouter's default), so a client that disconnects interrupts
 * the request fiber and, through the request Scope, the upstream call.
 *
 * @since 0.1.0 @category Constructors
 */
export const fromRouter = <E, R>(
  self: HttpRouter.HttpRouter<E, R>
): HttpApp.Default<never, Exclude<R, HttpRouter.RouteContext>> => {
  const allowed = allowedMethods(self.routes)
  return Effect.catchAllCause(self, (cause) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && failure.value instanceof HttpServerError.RouteNotFound) {
        return Effect.succeed(noRoute(allowed, request))
      }
      return errorResponse(cause, RequestId.fromHeaders(request.headers))
    }))
}

/**
 * The API as an `HttpApp`, requiring core's `Gateway`: serve it with `HttpServer.serve`. Routes
 * are found by one map lookup of method and path (the API has no path parameters), with the
 * same 404 and 405 answers as `fromRouter`. The app is interruptible, so a client that
 * disconnects interrupts the request fiber and, through the request Scope, the upstream call
 * (the platform runs a handler uninterruptibly unless told otherwise).
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (options?: Options): HttpApp.Default<never, Gateway.Gateway | Scope.Scope> => {
  const all = routes(options)
  const allowed = allowedMethods(all)
  const table = new Map(all.map((route) => [`${route.method} ${route.path}`, route.handler]))
  for (const route of all) {
    if (route.method === "GET") table.set(`HEAD ${route.path}`, route.handler)
  }
  return Effect.interruptible(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    table.get(`${request.method} ${pathOf(request.url)}`) ?? Effect.succeed(noRoute(allowed, request))))
}
