/**
 * What every route answers with: its request's context, JSON bodies, event streams, the
 * routing headers, and errors in the route's own envelope.
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as RequestContext from "@switchyard/core/RequestContext"
import type * as Streaming from "@switchyard/core/Streaming"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HttpErrors from "../HttpErrors.js"
import * as ResponseBody from "../ResponseBody.js"
import * as RequestId from "./requestId.js"
import * as Sse from "./sse.js"

/** A request URL's path: the URL without its query. @internal */
export const pathOf = (url: string): string => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/** An error envelope: the body of an error answer in one wire format. @internal */
export type Envelope = (info: HttpErrors.ErrorInfo) => unknown

/** An error answer in `envelope`, with `info`'s status and headers plus `headers`. @internal */
export const errorAnswer = (
  envelope: Envelope,
  info: HttpErrors.ErrorInfo,
  headers: Readonly<Record<string, string>>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(envelope(info), {
    status: info.status,
    headers: info.headers === undefined ? headers : { ...headers, ...info.headers }
  })

/** @internal */
export const errorResponse = (cause: Cause.Cause<unknown>, requestId: string, attempts: number, envelope: Envelope) =>
  Cause.isInterruptedOnly(cause)
    // The client is gone (or the server is stopping): there is no one to answer.
    ? Effect.failCause(cause as Cause.Cause<never>)
    : Effect.map(
      HttpErrors.describeCauseLogged(cause, requestId),
      (info) =>
        errorAnswer(
          envelope,
          info,
          attempts > 0 ? { "x-request-id": requestId, "x-switchyard-attempts": String(attempts) } : { "x-request-id": requestId }
        )
    )

/**
 * Wraps a route body: builds the request's `RequestContext` (its id from a sane incoming
 * `x-request-id`, else fresh) and answers any failure in `envelope` with that id. The body
 * must put `x-request-id` on its own successful responses.
 *
 * @internal
 */
export const handler = <E, R>(
  body: (
    request: HttpServerRequest.HttpServerRequest,
    ctx: RequestContext.RequestContext
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  ingress: string,
  envelope: Envelope
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
    return Effect.catchAllCause(body(request, ctx), (cause) => errorResponse(cause, ctx.requestId, trace.attempts, envelope))
  })

/**
 * The body as a string, which Node encodes while writing it, with its length in bytes. Type and
 * length go in the headers rather than in the body's options, for which the platform would copy
 * the headers once more (about 3 µs per answer).
 *
 * @internal
 */
export const text = (body: string, contentType: string, headers: Record<string, string>) =>
  HttpServerResponse.raw(body, {
    headers: { ...headers, "content-type": contentType, "content-length": String(Buffer.byteLength(body)) }
  })

/** @internal */
export const json = (body: unknown, headers: Record<string, string>) => text(JSON.stringify(body), "application/json", headers)

/**
 * Which provider answered, after how many upstream calls, the ab-test variant, and what was
 * left out because that provider does not honour it.
 *
 * @internal
 */
export const routingHeaders = (
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

/**
 * An event stream: `pull` written by `writer`, whose in-band error is given the failure's
 * `ErrorInfo` (logged when unexpected).
 *
 * @internal
 */
export const eventStream = <A, E>(
  pull: Streaming.Pull<A, E>,
  writer: Omit<Sse.Writer<A, E>, "onError"> & { readonly error: (info: HttpErrors.ErrorInfo) => string },
  ctx: RequestContext.RequestContext,
  headers: Record<string, string>
) =>
  ResponseBody.stream(
    Sse.encode(pull, {
      frame: writer.frame,
      end: writer.end,
      onError: (cause) => Effect.map(HttpErrors.describeCauseLogged(cause, ctx.requestId), writer.error)
    }),
    { "cache-control": "no-cache", ...headers, "content-type": "text/event-stream" }
  )
