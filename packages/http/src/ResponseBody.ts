/**
 * Streamed response bodies read from a pull. Any route of a custom gateway can use them.
 *
 * Served by `@effect/platform-node`'s server, the bytes go out as a Node `Readable` that reads
 * the pull, which the platform pipes into the response. The platform's own `Stream` body costs a
 * channel executor, a forked fiber and a scope per response (about 400 Effect operations
 * whatever the stream holds, most of them after its last chunk and before the response ends);
 * read this way, a response costs one fiber, and the client's backpressure still reaches the
 * pull. Served by any other server (a web handler, say), the pull becomes the platform's `Stream`
 * body.
 *
 * @since 0.1.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Streaming from "@switchyard/core/Streaming"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Node from "./internal/node.js"

/**
 * A 200 response whose body is `pull`'s bytes, with `headers` (which name its content type).
 * The pull runs with the request's services and fiber refs (its logger, its log level); it is
 * interrupted when the client goes away.
 *
 * @since 0.1.0 @category Constructors
 */
export const stream = (
  pull: Streaming.Pull<Uint8Array, never>,
  headers: Readonly<Record<string, string>>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.map(Effect.runtime<HttpServerRequest.HttpServerRequest>(), (runtime) =>
    Node.isNodeSource(Context.get(runtime.context, HttpServerRequest.HttpServerRequest).source)
      ? HttpServerResponse.raw(Node.readable(pull, runtime), { headers })
      : HttpServerResponse.stream(Streaming.toStream(pull), { headers }))
