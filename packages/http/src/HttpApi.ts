/**
 * The HTTP API over core's `Gateway`, in the wire formats clients speak: OpenAI's
 * `POST /v1/chat/completions` (JSON or SSE), `/v1/responses`, `/v1/completions`,
 * `/v1/embeddings`, `/v1/images/generations`, `GET /v1/models`, `GET /v1/capabilities`;
 * Anthropic's `POST /v1/messages` and `/v1/messages/count_tokens`; the Gemini API's model
 * methods (and Vertex AI's paths); `GET /health`. A library: the server package serves `make()`.
 *
 * Every answer carries `x-request-id`; answers from a provider carry `x-switchyard-provider`,
 * `x-switchyard-attempts`, under an ab-test `x-switchyard-variant`, and when parameters the
 * provider does not honour were left out, `x-switchyard-dropped-params`. Every error is
 * answered through `HttpErrors` in the envelope of the route's format.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ChatRequest, type ChatResponse } from "@switchyard/core/ChatSchema"
import { EmbeddingRequest } from "@switchyard/core/EmbeddingSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { GatewayError } from "@switchyard/core/GatewayError"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import { ImageRequest } from "@switchyard/core/ImageSchema"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as RequestContext from "@switchyard/core/RequestContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as HttpErrors from "./HttpErrors.js"
import * as RequestId from "./internal/requestId.js"
import * as AnthropicRoutes from "./internal/anthropicRoutes.js"
import * as GeminiRoutes from "./internal/geminiRoutes.js"
import * as Ingress from "./internal/ingress.js"
import * as Respond from "./internal/respond.js"
import * as Anthropic from "./formats/Anthropic.js"
import * as Completions from "./formats/Completions.js"
import * as Gemini from "./formats/Gemini.js"
import * as Responses from "./formats/Responses.js"
import * as Codec from "./formats/Codec.js"
import * as RequestBody from "./RequestBody.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The largest request body accepted, in bytes; larger ones are answered 413. Default 10 MiB. */
  readonly maxBodyBytes?: number | undefined
}

/** @since 0.1.0 @category Constants */
export const defaultMaxBodyBytes: number = 10 * 1024 * 1024

const { json, routingHeaders } = Respond

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
  Respond.handler(body, ingress, HttpErrors.openAi)

const { decoder } = Codec

const decodeChat = decoder(ChatRequest)

const chatErrorEvent = (info: HttpErrors.ErrorInfo) => Codec.event(undefined, HttpErrors.openAi(info))

/** Chat Completions is the canonical format: translated answers go back as they are. */
const chatFormat = {
  encodeResponse: (res: ChatResponse) => res,
  streamEncoder: (): Codec.StreamEncoder => ({ chunk: (chunk) => Codec.event(undefined, chunk), end: Codec.done, error: chatErrorEvent }),
  errorEvent: chatErrorEvent
}

/**
 * Forwarded as it came to a provider that speaks Chat Completions (OpenAI and the compatible
 * APIs), translated for the others. A stream has waited for its first chunk, so a failure
 * before it fails here and gets a real status. The upstream lives in the request's Scope, which
 * closes when the response body ends, or when Node interrupts the fiber because the client
 * went away.
 */
const chatCompletions = (maxBodyBytes: number) =>
  handler((request, ctx) =>
    Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) =>
      Effect.flatMap(decodeChat(json), (canonical) =>
        Ingress.relay(chatFormat, {
          canonical,
          native: {
            format: "openai",
            operation: "chat/completions",
            text,
            body: json as Record<string, unknown>,
            stream: canonical.stream === true,
            headers: {}
          }
        }, ctx)))
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

/**
 * `/v1/responses`: forwarded as it came to a provider that serves the Responses API, translated
 * for the others. What translation cannot carry (built-in tools, `previous_response_id`) still
 * reaches a provider that serves the API; with none, the translation's refusal answers.
 */
const responses = (maxBodyBytes: number) =>
  handler((request, ctx) =>
    Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) =>
      Effect.flatMap(Ingress.objectBody(json), (body) => {
        const stream = body.stream === true
        const format = {
          encodeResponse: (res: ChatResponse) => Responses.encodeResponse(res, body),
          streamEncoder: () => Responses.streamEncoder(body),
          errorEvent: (info: HttpErrors.ErrorInfo) => Responses.streamEncoder(body).error(info)
        }
        const native: Passthrough.Request = { format: "responses", operation: "responses", text, body, stream, headers: {} }
        const decoded = Responses.decodeRequest(body)
        if (Either.isRight(decoded)) return Ingress.relay(format, { canonical: decoded.right, native }, ctx)
        if (typeof body.model !== "string" || body.model === "") return Effect.fail(decoded.left)
        const view: ChatRequest = { model: body.model, messages: [{ role: "user", content: "" }], stream }
        return Ingress.relay(format, { canonical: view, native, untranslatable: decoded.left }, ctx)
      })))

/**
 * `/v1/completions`: a format only translation serves. The canonical request always asks for
 * the usage; the client's own `stream_options` says whether it sees it.
 */
const completions = (maxBodyBytes: number) =>
  handler((request, ctx) =>
    Effect.flatMap(RequestBody.readJson(request, maxBodyBytes), (json) =>
      Effect.flatMap(Completions.decodeRequest(json), (req) => {
        const { stream_options } = json as { readonly stream_options?: { readonly include_usage?: unknown } | null }
        const includeUsage = stream_options?.include_usage === true
        return Ingress.chat(
          { encodeResponse: Completions.encodeResponse, streamEncoder: () => Completions.streamEncoder(includeUsage) },
          req,
          ctx
        )
      })))

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
  /** The path, or a prefix of paths when it ends with `*` (the Gemini API's `models/{model}:{method}`). */
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
    { method: "POST", path: "/v1/completions", handler: completions(maxBodyBytes) },
    { method: "POST", path: "/v1/responses", handler: responses(maxBodyBytes) },
    { method: "POST", path: "/v1/messages", handler: AnthropicRoutes.messages(maxBodyBytes) },
    { method: "POST", path: "/v1/messages/count_tokens", handler: AnthropicRoutes.countTokens(maxBodyBytes) },
    ...GeminiRoutes.prefixes.map((prefix) => ({
      method: "POST" as const,
      path: `${prefix}*`,
      handler: GeminiRoutes.models(maxBodyBytes)
    })),
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

/** 404 for an unknown path, 405 with `allow` for a known path with another method. */
const noRoute = (allowed: ReadonlyMap<string, ReadonlyArray<string>>, request: HttpServerRequest.HttpServerRequest) => {
  const path = Respond.pathOf(request.url)
  const allow = allowed.get(path)
  const error = allow === undefined
    ? new HttpErrors.UnknownRoute({ method: request.method, path })
    : new HttpErrors.MethodNotAllowed({ method: request.method, path, allow })
  return Respond.errorAnswer(envelopeFor(path), HttpErrors.describe(error), { "x-request-id": RequestId.fromHeaders(request.headers) })
}

/** The envelope of the format a path belongs to, for the answers no route gave. */
const envelopeFor = (path: string): Respond.Envelope =>
  path.startsWith("/v1/messages")
    ? Anthropic.errorBody
    : GeminiRoutes.prefixes.some((prefix) => path.startsWith(prefix))
    ? Gemini.errorBody
    : HttpErrors.openAi

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
      return Respond.errorResponse(cause, RequestId.fromHeaders(request.headers), 0, HttpErrors.openAi)
    }))
}

/**
 * The API as an `HttpApp`, requiring core's `Gateway`: serve it with `HttpServer.serve`. Routes
 * are found by one map lookup of method and path, else by the prefixes of the Gemini paths, with the
 * same 404 and 405 answers as `fromRouter`. The app is interruptible, so a client that
 * disconnects interrupts the request fiber and, through the request Scope, the upstream call
 * (the platform runs a handler uninterruptibly unless told otherwise).
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (options?: Options): HttpApp.Default<never, Gateway.Gateway | Scope.Scope> => {
  const all = routes(options)
  const allowed = allowedMethods(all)
  const exact = all.filter((route) => !route.path.endsWith("*"))
  const prefixed = all.filter((route) => route.path.endsWith("*")).map((route) => ({
    ...route,
    prefix: route.path.slice(0, -1)
  }))
  const table = new Map(exact.map((route) => [`${route.method} ${route.path}`, route.handler]))
  for (const route of exact) {
    if (route.method === "GET") table.set(`HEAD ${route.path}`, route.handler)
  }
  const find = (method: string, path: string) => {
    const handler = table.get(`${method} ${path}`)
    if (handler !== undefined) return handler
    for (const route of prefixed) {
      if (route.method === method && path.startsWith(route.prefix)) return route.handler
    }
    return undefined
  }
  return Effect.interruptible(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    find(request.method, Respond.pathOf(request.url)) ?? Effect.succeed(noRoute(allowed, request))))
}
