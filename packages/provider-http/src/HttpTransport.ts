/**
 * HTTP to one upstream over an undici `Pool` (keep-alive), through undici's dispatch API with a
 * handler object: no Promise, no Node stream and no AbortController per request, and one fiber
 * suspension per JSON exchange (the request is sent and the whole answer collected before the
 * fiber resumes). Interrupting the Effect aborts the request. Shared by every HTTP adapter.
 *
 * @since 0.1.0
 */
import type * as Deadlines from "@switchyard/core/Deadlines"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { StringDecoder } from "node:string_decoder"
import { type Dispatcher, Pool } from "undici"

/** Response headers as undici gives them (lower-case names). @since 0.1.0 */
export type ResponseHeaders = Readonly<Record<string, string | Array<string> | undefined>>

/** Why a request failed below HTTP: it could not be sent, the connection broke, or it ran out of time. @since 0.1.0 */
export class TransportError {
  readonly _tag = "TransportError"
  constructor(
    readonly cause: Error,
    readonly timedOut: boolean
  ) {}
}

/** A whole answer. `body` holds at most `maxBytes` of it when the status is not 2xx. @since 0.1.0 */
export interface Answer {
  readonly status: number
  readonly headers: ResponseHeaders
  readonly body: string
}

/**
 * An answer whose body is still arriving: as text (`open`), or as the bytes that arrived
 * (`openBytes`, for binary framings that decoding as UTF-8 would corrupt).
 *
 * @since 0.1.0
 */
export interface Opened<Body = string> {
  readonly status: number
  readonly headers: ResponseHeaders
  /**
   * What arrived since the last pull; ends with `None`. Text comes as one string per pull;
   * bytes as the pieces they arrived in (several per pull when the reader fell behind).
   */
  readonly pull: Streaming.Pull<Body, TransportError>
  /** Stops the timeout: the caller has what it was waiting for. */
  readonly disarm: () => void
  /**
   * The caller has read what it needs: the rest of the body is discarded as it arrives, so the
   * connection can be reused, and the request is aborted if the body has not ended within
   * `graceMillis`.
   */
  readonly finish: (graceMillis: number) => void
}

/** @since 0.1.0 @category Models */
export interface Request {
  readonly method: "GET" | "POST"
  /** Appended to the base URL's path (a query string included). */
  readonly path: string
  readonly body?: string | undefined
  readonly timeoutMillis: number
  /** Added to (or replacing) the transport's own headers for this request: a signature, say. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** @since 0.1.0 */
export interface Transport {
  readonly url: (path: string) => string
  /** Sends the request and collects the answer; a non-2xx body is kept up to `maxErrorBytes`. */
  readonly exchange: (request: Request, maxErrorBytes: number) => Effect.Effect<Answer, TransportError>
  /**
   * Sends the request and resolves with the status and headers; the body is read through the
   * pull. The timeout runs until `disarm`; closing the Scope aborts an unfinished request.
   */
  readonly open: (request: Request) => Effect.Effect<Opened, TransportError, Scope.Scope>
  /**
   * `open`, with the body handed over as bytes, undecoded: for binary framings (AWS's
   * `application/vnd.amazon.eventstream`). The pieces are the transport's own buffers: a
   * reader may keep them, but must not write to them.
   */
  readonly openBytes: (request: Request) => Effect.Effect<Opened<Uint8Array>, TransportError, Scope.Scope>
}

const timedOut = new Error("timed out")
const interrupted = new Error("interrupted")
/** Above this much unread body, the upstream is paused until the reader catches up. */
const highWaterMark = 64 * 1024

const toError = (u: unknown): Error => (u instanceof Error ? u : new Error(String(u)))

/** Where an opened body waits for its reader: as text or as bytes. */
interface BodyQueue<Body> {
  /** What is waiting, in the queue's unit (characters or bytes). */
  readonly size: () => number
  readonly push: (chunk: Buffer) => void
  /** The body ended: whatever a decoder still holds is queued. */
  readonly end: () => void
  /** Everything waiting, emptied; `undefined` when nothing is. */
  readonly take: () => Chunk.Chunk<Body> | undefined
  readonly clear: () => void
}

const textQueue = (): BodyQueue<string> => {
  const decoder = new StringDecoder("utf8")
  let queued = ""
  return {
    size: () => queued.length,
    push: (chunk) => {
      queued += decoder.write(chunk)
    },
    end: () => {
      queued += decoder.end()
    },
    take: () => {
      if (queued.length === 0) return undefined
      const text = queued
      queued = ""
      return Chunk.of(text)
    },
    clear: () => {
      queued = ""
    }
  }
}

const bytesQueue = (): BodyQueue<Uint8Array> => {
  let pieces: Array<Uint8Array> = []
  let size = 0
  return {
    size: () => size,
    push: (chunk) => {
      if (chunk.length === 0) return
      pieces.push(chunk)
      size += chunk.length
    },
    end: () => {},
    take: () => {
      if (size === 0) return undefined
      const taken = pieces
      pieces = []
      size = 0
      return Chunk.unsafeFromArray(taken)
    },
    clear: () => {
      pieces = []
      size = 0
    }
  }
}

/** One dispatch's controller, and an abort that also works before the request has started. */
class Abortable {
  controller: Dispatcher.DispatchController | undefined
  reason: Error | undefined
  readonly abort = (reason: Error): void => {
    this.reason ??= reason
    this.controller?.abort(reason)
  }
  readonly onRequestStart = (controller: Dispatcher.DispatchController): void => {
    this.controller = controller
    if (this.reason !== undefined) controller.abort(this.reason)
  }
  /** The failure to report: the abort's reason when there was one, else the error undici gave. */
  readonly failure = (error: unknown): TransportError =>
    new TransportError(this.reason ?? toError(error), this.reason === timedOut)
}

/**
 * A transport to the origin of `baseUrl`, its pool closed with the Scope.
 *
 * @since 0.1.0
 */
export const make = (
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  deadlines: Deadlines.Deadlines
): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Pool(new URL(baseUrl).origin, { headersTimeout: 0, keepAliveTimeout: 30_000 })),
      (pool) => Effect.promise(() => pool.destroy())
    ),
    (pool): Transport => {
      const base = new URL(baseUrl)
      const basePath = base.pathname.replace(/\/+$/, "")
      const url = (path: string) => `${base.origin}${basePath}${path}`
      const dispatchOptions = (request: Request): Dispatcher.DispatchOptions => ({
        method: request.method,
        path: basePath + request.path,
        headers: request.headers === undefined ? headers : { ...headers, ...request.headers },
        body: request.body ?? null
      })

      const exchange = (request: Request, maxErrorBytes: number) =>
        Effect.async<Answer, TransportError>((resume) => {
          const control = new Abortable()
          let status = 0
          let responseHeaders: ResponseHeaders = {}
          const parts: Array<Buffer> = []
          let size = 0
          let capped = false
          let settled = false
          const settle = (exit: Effect.Effect<Answer, TransportError>) => {
            if (settled) return
            settled = true
            cancelDeadline()
            resume(exit)
          }
          const answer = () => Effect.succeed({ status, headers: responseHeaders, body: Buffer.concat(parts, size).toString("utf8") })
          const cancelDeadline = deadlines.after(request.timeoutMillis, () => control.abort(timedOut))
          pool.dispatch(dispatchOptions(request), {
            onRequestStart: control.onRequestStart,
            onResponseStart: (_, statusCode, h) => {
              status = statusCode
              responseHeaders = h as ResponseHeaders
            },
            onResponseData: (c, chunk) => {
              if (capped) return
              const ok = status >= 200 && status < 300
              if (!ok && size + chunk.length >= maxErrorBytes) {
                parts.push(chunk.subarray(0, maxErrorBytes - size))
                size = maxErrorBytes
                capped = true
                // Settled first: abort reports an error to this handler at once.
                settle(answer())
                return c.abort(interrupted)
              }
              parts.push(chunk)
              size += chunk.length
            },
            onResponseEnd: () => settle(answer()),
            onResponseError: (_, error) => settle(Effect.fail(control.failure(error)))
          })
          return Effect.sync(() => {
            settled = true
            cancelDeadline()
            control.abort(interrupted)
          })
        })

      const openWith = <Body>(request: Request, queue: BodyQueue<Body>) =>
        Effect.suspend(() => {
          const control = new Abortable()
          let ended = false
          let finished = false
          let failure: TransportError | undefined
          let waiting: ((effect: Effect.Effect<Chunk.Chunk<Body>, Option.Option<TransportError>>) => void) | undefined
          let cancelGrace: Deadlines.Cancel | undefined
          const take = (): Effect.Effect<Chunk.Chunk<Body>, Option.Option<TransportError>> | undefined => {
            const arrived = queue.take()
            if (arrived !== undefined) {
              if (control.controller?.paused === true) control.controller.resume()
              return Effect.succeed(arrived)
            }
            if (failure !== undefined) return Effect.fail(Option.some(failure))
            if (ended) return Streaming.endPull
            return undefined
          }
          // The reader takes what is queued when its fiber runs, not when it is woken: every
          // piece undici parses out of one socket read (an SSE event per HTTP chunk) reaches it
          // in one pull.
          const wake = () => {
            if (waiting === undefined) return
            const resumePull = waiting
            waiting = undefined
            resumePull(pull)
          }
          const pull: Streaming.Pull<Body, TransportError> = Effect.suspend(() =>
            take() ?? Effect.async((resumePull) => {
              waiting = resumePull
              return Effect.sync(() => {
                waiting = undefined
              })
            })
          )
          const finish = (graceMillis: number) => {
            if (finished || ended) return
            finished = true
            queue.clear()
            // The body's end usually arrives with its last event; only a body still open once
            // the pending I/O is handled needs a deadline.
            setImmediate(() => {
              if (!ended && failure === undefined) cancelGrace = deadlines.after(graceMillis, () => control.abort(interrupted))
            })
          }
          // Whoever closes the Scope before the body ended and before `finish` gave up on it.
          const release = Effect.sync(() => {
            if (!ended && !finished) control.abort(interrupted)
          })
          const send = Effect.async<Opened<Body>, TransportError>((resume) => {
            let started = false
            const cancelDeadline = deadlines.after(request.timeoutMillis, () => control.abort(timedOut))
            pool.dispatch(dispatchOptions(request), {
              onRequestStart: control.onRequestStart,
              onResponseStart: (_, status, headers) => {
                started = true
                resume(Effect.succeed({ status, headers: headers as ResponseHeaders, pull, disarm: cancelDeadline, finish }))
              },
              onResponseData: (c, chunk) => {
                if (finished) return
                queue.push(chunk)
                if (queue.size() > highWaterMark) c.pause()
                wake()
              },
              onResponseEnd: () => {
                ended = true
                cancelDeadline()
                cancelGrace?.()
                if (!finished) queue.end()
                wake()
              },
              onResponseError: (_, error) => {
                cancelDeadline()
                cancelGrace?.()
                failure = control.failure(error)
                if (started) wake()
                else resume(Effect.fail(failure))
              }
            })
            return Effect.sync(() => {
              cancelDeadline()
              control.abort(interrupted)
            })
          })
          return Effect.zipRight(Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, release)), send)
        })

      return {
        url,
        exchange,
        open: (request) => openWith(request, textQueue()),
        openBytes: (request) => openWith(request, bytesQueue())
      }
    }
  )
