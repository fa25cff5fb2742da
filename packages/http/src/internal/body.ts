/** @internal */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { invalidJson, RequestTooLarge } from "../HttpErrors.js"

const unreadable = () => new InvalidRequest({ message: "The request body could not be read." })

const decoder = new TextDecoder()

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * A body without `content-length` (chunked): read with a running byte count. The pull lives in
 * the request's Scope, so when the limit is crossed the platform's finalizer (which destroys an
 * unfinished Node request, and with it the socket) runs only after the 413 has been written.
 */
const readCounted = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<string, RequestTooLarge | InvalidRequest, Scope.Scope> =>
  Effect.flatMap(Stream.toPull(request.stream), (pull) => {
    const parts: Array<Uint8Array> = []
    let total = 0
    const loop: Effect.Effect<string, RequestTooLarge | InvalidRequest> = Effect.matchEffect(pull, {
      onFailure: Option.match({
        onNone: () => Effect.sync(() => decoder.decode(concat(parts, total))),
        onSome: () => Effect.fail(unreadable())
      }),
      onSuccess: (chunk: Chunk.Chunk<Uint8Array>) => {
        for (const part of chunk) {
          total += part.length
          if (total > maxBytes) return Effect.fail(new RequestTooLarge({ limit: maxBytes }))
          parts.push(part)
        }
        return loop
      }
    })
    return loop
  })

/**
 * Reads the body as text, at most `maxBytes` of it. A declared `content-length` over the limit
 * fails at once, before any byte is read. Otherwise the declared length bounds what Node will
 * deliver, so the platform's reader runs without its own limit: its `MaxBodySize` destroys the
 * socket when crossed, and the client would never see the 413.
 *
 * @internal
 */
export const readText = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<string, RequestTooLarge | InvalidRequest, Scope.Scope> => {
  const declared = request.headers["content-length"]
  if (declared === undefined) return readCounted(request, maxBytes)
  const length = Number(declared)
  if (!(length <= maxBytes)) return Effect.fail(new RequestTooLarge({ limit: maxBytes }))
  return request.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.none()),
    Effect.mapError(unreadable)
  )
}

/**
 * Reads and parses a JSON body.
 *
 * @internal
 */
export const readJson = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<unknown, RequestTooLarge | InvalidRequest, Scope.Scope> =>
  Effect.flatMap(readText(request, maxBytes), (text) => {
    if (text.length === 0) return Effect.fail(invalidJson("the body is empty"))
    try {
      return Effect.succeed(JSON.parse(text) as unknown)
    } catch (e) {
      return Effect.fail(invalidJson(e instanceof Error ? e.message : undefined))
    }
  })
