/**
 * Request bodies with a size limit, answered 413 in the route's envelope rather than by a cut
 * connection. Any route of a custom gateway can use them.
 *
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { invalidJson, RequestTooLarge } from "./HttpErrors.js"
import { isNodeSource, type NodeSource } from "./internal/node.js"

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
 * Any other request (a web `Request`, a test double): read through the platform's Stream with a
 * running byte count. The pull lives in the request's Scope, so when the limit is crossed the
 * platform's finalizer (which may destroy an unfinished request) runs only after the 413 has
 * been written.
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
 * Reads a Node request body in one fiber suspension (the platform's reader runs a fiber of its
 * own and a Stream per body). The handler runs when the headers are parsed; a small body has
 * usually arrived in the same packet, and by the next microtask Node has buffered all of it
 * (`declared` bytes): then it is taken with one `read()`, without the stream's flowing mode.
 * Otherwise the bytes are counted as they arrive.
 */
const readNode = (source: NodeSource, declared: number | undefined, maxBytes: number) =>
  Effect.async<string, RequestTooLarge | InvalidRequest>((resume) => {
    const parts: Array<Buffer> = []
    let total = 0
    let listening = false
    const cleanup = () => {
      if (!listening) return
      listening = false
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.length
      if (total > maxBytes) {
        cleanup()
        return resume(Effect.fail(new RequestTooLarge({ limit: maxBytes })))
      }
      parts.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(parts, total).toString("utf8")))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(unreadable()))
    }
    let cancelled = false
    queueMicrotask(() => {
      if (cancelled) return
      if (declared !== undefined && source.readableLength === declared && source.readableFlowing === null) {
        return resume(Effect.succeed(declared === 0 ? "" : source.read()!.toString("utf8")))
      }
      listening = true
      source.on("data", onData)
      source.on("end", onEnd)
      source.on("error", onError)
    })
    return Effect.sync(() => {
      cancelled = true
      cleanup()
    })
  })

/**
 * Reads the body as text, at most `maxBytes` of it. A declared `content-length` over the limit
 * fails at once, before any byte is read. A body that crosses the limit fails as soon as it does;
 * the 413 is written before the rest of the body is dealt with (Node discards it).
 *
 * @since 0.1.0 @category Reading
 */
export const readText = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<string, RequestTooLarge | InvalidRequest, Scope.Scope> => {
  const header = request.headers["content-length"]
  const declared = header === undefined ? undefined : Number(header)
  if (declared !== undefined && !(declared <= maxBytes)) return Effect.fail(new RequestTooLarge({ limit: maxBytes }))
  const source: unknown = request.source
  if (!isNodeSource(source) || source.readableEnded) return readCounted(request, maxBytes)
  return readNode(source, declared, maxBytes)
}

const parseJson = (text: string): Effect.Effect<unknown, InvalidRequest> => {
  if (text.length === 0) return Effect.fail(invalidJson("the body is empty"))
  try {
    return Effect.succeed(JSON.parse(text) as unknown)
  } catch (e) {
    return Effect.fail(invalidJson(e instanceof Error ? e.message : undefined))
  }
}

/**
 * Reads and parses a JSON body.
 *
 * @since 0.1.0 @category Reading
 */
export const readJson = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<unknown, RequestTooLarge | InvalidRequest, Scope.Scope> => Effect.flatMap(readText(request, maxBytes), parseJson)

/**
 * Reads and parses a JSON body, keeping its text (what a request forwarded as it came sends).
 *
 * @since 0.1.0 @category Reading
 */
export const readJsonWithText = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<{ readonly text: string; readonly json: unknown }, RequestTooLarge | InvalidRequest, Scope.Scope> =>
  Effect.flatMap(readText(request, maxBytes), (text) => Effect.map(parseJson(text), (json) => ({ text, json })))
