/**
 * One vendor API over HTTP, with failures already in core's typed errors: what every HTTP
 * adapter needs besides its wire format. An adapter gives its base URL, headers, credentials
 * (for redaction) and a reader of its vendor's error envelope; it gets JSON exchanges and
 * streamed bodies decoded by its own decoder: as text (`stream`, for SSE and JSON lines), or as
 * bytes (`streamBytes`, for binary framings such as AWS's event stream).
 *
 * @since 0.1.0
 */
import type * as Deadlines from "@switchyard/core/Deadlines"
import type { ProviderError } from "@switchyard/core/GatewayError"
import { ProviderTimeout } from "@switchyard/core/GatewayError"
import type { CallOptions } from "@switchyard/core/Provider"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as HttpTransport from "./HttpTransport.js"
import * as Redact from "./Redact.js"
import type { Redactor } from "./Redact.js"
import * as UpstreamErrors from "./UpstreamErrors.js"

/** @since 0.1.0 @category Models */
export interface Options {
  /** The provider's name, for errors. */
  readonly provider: string
  readonly baseUrl: string
  /** Sent with every request (credentials included). */
  readonly headers: Readonly<Record<string, string>>
  /** Removes the credentials from everything an error carries. */
  readonly redact: Redactor
  /**
   * Reads the vendor's error envelope out of a (redacted) non-2xx body, and its headers for
   * vendors that put the error's type there (AWS's `x-amzn-errortype`).
   */
  readonly errorBody: (body: string, headers: UpstreamErrors.Headers) => UpstreamErrors.UpstreamError
  /** The provider's own bound on a call; a call's `CallOptions.timeoutMillis` may only shorten it. */
  readonly timeoutMillis: number
}

/** What a decoder made of one piece of body text. @since 0.1.0 @category Models */
export interface Decoded<A> {
  readonly items: ReadonlyArray<A>
  /** The stream's end was seen (`[DONE]`, `message_stop`, ...): what follows is not decoded. */
  readonly done: boolean
  /** The stream failed (an in-band error) after `items`. */
  readonly failure?: ProviderError | undefined
}

/** @since 0.1.0 @category Models */
export interface Upstream {
  readonly url: (path: string) => string
  /** The bound of a call: the provider's timeout, shortened by the call's. */
  readonly timeoutFor: (call: CallOptions | undefined) => number
  /**
   * Sends a request and parses its 2xx body (and, for what a vendor only says there, such as a
   * request id, its headers); the whole exchange is bounded by its timeout.
   */
  readonly exchange: <A>(
    request: HttpTransport.Request,
    parse: (text: string, headers: HttpTransport.ResponseHeaders) => Either.Either<A, ProviderError>
  ) => Effect.Effect<A, ProviderError>
  /**
   * Sends a request whose answer streams, and reads it through `decoder` (one per request),
   * given the body's text as it arrives and the answer's headers (the same on every call). The
   * timeout runs until the first decoded item; after the end (or an in-band failure) the rest of
   * the body is discarded as it arrives, so the connection can be reused. Everything lives in
   * the caller's Scope.
   */
  readonly stream: <A>(
    request: HttpTransport.Request,
    decoder: (text: string, headers: HttpTransport.ResponseHeaders) => Decoded<A>,
    options?: StreamOptions
  ) => Effect.Effect<Streaming.Pull<A, ProviderError>, ProviderError, Scope.Scope>
  /**
   * `stream` for a binary body (AWS's `application/vnd.amazon.eventstream`): the decoder is
   * given the body's bytes, undecoded, in the pieces they arrived in (it frames them itself; a
   * piece may end in the middle of a frame). A non-2xx body is still read as UTF-8 text for
   * the error envelope. The pieces are the transport's buffers: keep them, never write to them.
   */
  readonly streamBytes: <A>(
    request: HttpTransport.Request,
    decoder: (bytes: Uint8Array, headers: HttpTransport.ResponseHeaders) => Decoded<A>,
    options?: StreamOptions
  ) => Effect.Effect<Streaming.Pull<A, ProviderError>, ProviderError, Scope.Scope>
}

/** @since 0.1.0 @category Models */
export interface StreamOptions {
  /**
   * The vendor always ends a stream with an end event (Anthropic's `message_stop`): a body that
   * ends before the decoder saw it was cut short, and fails as `ProviderUnreachable` (so that
   * mid-stream failover can continue it) instead of passing for a whole answer.
   */
  readonly endEventRequired?: boolean
}

const isOk = (status: number) => status >= 200 && status < 300

const cutShort = new Error("the body ended before the stream's end event")

/**
 * How long the rest of a body is still read after its end was decoded, before the request is
 * aborted. Upstreams end the body right after their last event, but its last bytes (the
 * chunked-encoding terminator) often arrive a moment later: aborting before them makes undici
 * destroy the connection instead of returning it to the keep-alive pool.
 *
 * @since 0.1.0 @category Constants
 */
export const drainAfterEndMillis = 1000

/**
 * The calls one request needs when the vendor takes its inputs a few at a time (embeddings of
 * many texts): at most `concurrency` at once, answers in the items' order, bounded together by
 * the request's timeout. Each call is given the time left when it starts, so no extra fiber
 * watches the whole; a call timing out is the request's timeout, and one failure fails the
 * request.
 *
 * @since 0.1.0 @category Calls
 */
export const fanOut = <A, B, E>(
  provider: string,
  items: ReadonlyArray<A>,
  timeoutMillis: number,
  call: (item: A, timeLeftMillis: number) => Effect.Effect<B, E>,
  concurrency = 4
): Effect.Effect<Array<B>, E | ProviderTimeout> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.forEach(
      items,
      (item) =>
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<B, E | ProviderTimeout> => {
          const left = timeoutMillis - (now - start)
          return left <= 0
            ? Effect.fail(UpstreamErrors.timeout(provider, timeoutMillis))
            : Effect.mapError(call(item, left), (e) => e instanceof ProviderTimeout ? UpstreamErrors.timeout(provider, timeoutMillis) : e)
        }),
      { concurrency }
    ))

/**
 * One page of a paged list (a vendor's models), and the cursor of the next page: none on the last.
 *
 * @since 0.1.0 @category Calls
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: string | undefined
}

/**
 * Every item of a paged list, page after page from the first (cursor `undefined`), reading at
 * most `maxPages` pages so that an upstream that always says there is more cannot loop us.
 *
 * @since 0.1.0 @category Calls
 */
export const allPages = <A, E>(
  page: (cursor: string | undefined) => Effect.Effect<Page<A>, E>,
  maxPages = 10
): Effect.Effect<ReadonlyArray<A>, E> =>
  Effect.suspend(() => {
    const items: Array<A> = []
    const from = (cursor: string | undefined, read: number): Effect.Effect<ReadonlyArray<A>, E> =>
      Effect.flatMap(page(cursor), (result) => {
        items.push(...result.items)
        return result.next !== undefined && read < maxPages ? from(result.next, read + 1) : Effect.succeed(items)
      })
    return from(undefined, 1)
  })

/**
 * Reads a body's text up to `maxChars` (then stops). A body that fails half way gives what was
 * read; none gives "".
 *
 * @since 0.1.0 @category Reading
 */
export const readCapped = <E>(pull: Streaming.Pull<string, E>, maxChars: number): Effect.Effect<string> => {
  let text = ""
  const loop: Effect.Effect<string> = Effect.matchEffect(pull, {
    onFailure: () => Effect.sync(() => text.slice(0, maxChars)),
    onSuccess: (chunk) => {
      for (const piece of chunk) text += piece
      return text.length >= maxChars ? Effect.succeed(text.slice(0, maxChars)) : loop
    }
  })
  return Effect.suspend(() => loop)
}

/**
 * Reads a binary body up to `maxBytes` (then stops) as UTF-8 text (invalid sequences replaced).
 * A body that fails half way gives what was read; none gives "".
 *
 * @since 0.1.0 @category Reading
 */
export const readCappedBytes = <E>(pull: Streaming.Pull<Uint8Array, E>, maxBytes: number): Effect.Effect<string> => {
  const pieces: Array<Uint8Array> = []
  let size = 0
  const text = () => Buffer.concat(pieces, Math.min(size, maxBytes)).toString("utf8")
  const loop: Effect.Effect<string> = Effect.matchEffect(pull, {
    onFailure: () => Effect.sync(text),
    onSuccess: (chunk) => {
      for (const piece of chunk) {
        pieces.push(piece)
        size += piece.length
      }
      return size >= maxBytes ? Effect.sync(text) : loop
    }
  })
  return Effect.suspend(() => loop)
}

/**
 * The headers of every request and the redactor of an adapter's errors: `base`, then the key in
 * the vendor's header(s), then the user's extra headers (names lower-cased, set last so they may
 * replace any). The key, and the value of every extra header named like a credential, are
 * redacted from everything an error carries.
 *
 * @since 0.1.0 @category Constructors
 */
export const credentials = (options: {
  readonly base: Readonly<Record<string, string>>
  readonly apiKey: Redacted.Redacted | undefined
  /** The vendor's key header(s) for a key: `{ authorization: "Bearer <key>" }`, `{ "x-api-key": key }`. */
  readonly keyHeaders: (key: string) => Record<string, string>
  readonly extra: Readonly<Record<string, string>> | undefined
}): { readonly headers: Record<string, string>; readonly redact: Redactor } => {
  const extra = options.extra ?? {}
  const key = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)
  const headers: Record<string, string> = { ...options.base, ...(key === undefined ? {} : options.keyHeaders(key)) }
  for (const name of Object.keys(extra)) headers[name.toLowerCase()] = extra[name]!
  const secrets = Object.keys(extra).filter((name) => Redact.secretHeaderName.test(name)).map((name) => extra[name]!)
  return { headers, redact: Redact.make(key === undefined ? secrets : [key, ...secrets]) }
}

/**
 * The upstream, with its own keep-alive pool to the base URL's origin, closed with the Scope.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (options: Options, deadlines: Deadlines.Deadlines): Effect.Effect<Upstream, never, Scope.Scope> =>
  Effect.map(HttpTransport.make(options.baseUrl, options.headers, deadlines), (transport): Upstream => {
    const { provider, redact } = options

    const transportFailure = (request: HttpTransport.Request, sending: boolean) => (error: HttpTransport.TransportError) =>
      error.timedOut
        ? UpstreamErrors.timeout(provider, request.timeoutMillis)
        : UpstreamErrors.unreachable(provider, { method: request.method, url: transport.url(request.path) }, error.cause, sending, redact)

    /** A non-2xx answer, classified from its (capped) body and headers. */
    const statusFailure = (status: number, body: string, headers: UpstreamErrors.Headers) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const clean = redact(body)
        return Effect.fail(UpstreamErrors.statusError(
          provider,
          status,
          clean,
          options.errorBody(clean, headers),
          UpstreamErrors.retryAfterMillis(headers, now),
          redact
        ))
      })

    const exchange: Upstream["exchange"] = (request, parse) =>
      transport.exchange(request, UpstreamErrors.maxErrorBodyBytes).pipe(
        Effect.mapError(transportFailure(request, true)),
        Effect.flatMap((answer) =>
          isOk(answer.status)
            ? parse(answer.body, answer.headers)
            : statusFailure(answer.status, answer.body, answer.headers)
        )
      )

    /** A body read through a decoder: text or bytes, as `open` gives it and `readError` reads it. */
    const streamWith = <Body, A>(
      open: (request: HttpTransport.Request) => Effect.Effect<HttpTransport.Opened<Body>, HttpTransport.TransportError, Scope.Scope>,
      readError: (pull: Streaming.Pull<Body, HttpTransport.TransportError>) => Effect.Effect<string>,
      request: HttpTransport.Request,
      decoder: (body: Body, headers: HttpTransport.ResponseHeaders) => Decoded<A>,
      streamOptions?: StreamOptions
    ): Effect.Effect<Streaming.Pull<A, ProviderError>, ProviderError, Scope.Scope> =>
      Effect.flatMap(
        Effect.mapError(open(request), transportFailure(request, true)),
        (opened): Effect.Effect<Streaming.Pull<A, ProviderError>, ProviderError> => {
          if (!isOk(opened.status)) {
            return Effect.flatMap(readError(opened.pull), (body) => statusFailure(opened.status, body, opened.headers))
          }
          const brokenConnection = transportFailure(request, false)
          let done = false
          let failure: ProviderError | undefined
          const pull: Streaming.Pull<A, ProviderError> = Effect.suspend(() => {
            if (failure !== undefined) return Effect.fail(Option.some(failure))
            if (done) return Streaming.endPull
            return Effect.matchEffect(opened.pull, {
              onFailure: Option.match({
                onNone: () =>
                  streamOptions?.endEventRequired === true
                    ? Effect.fail(Option.some(brokenConnection(new HttpTransport.TransportError(cutShort, false))))
                    : Streaming.endPull,
                onSome: (error) => Effect.fail(Option.some(brokenConnection(error)))
              }),
              onSuccess: (bodies) => {
                const items: Array<A> = []
                for (const body of bodies) {
                  const decoded = decoder(body, opened.headers)
                  for (const item of decoded.items) items.push(item)
                  if (decoded.done) {
                    done = true
                    failure = decoded.failure
                    opened.finish(drainAfterEndMillis)
                    break
                  }
                }
                if (items.length === 0) return pull
                opened.disarm()
                return Effect.succeed(Chunk.unsafeFromArray(items))
              }
            })
          })
          return Effect.succeed(pull)
        }
      )

    const readErrorText = (pull: Streaming.Pull<string, HttpTransport.TransportError>) =>
      readCapped(pull, UpstreamErrors.maxErrorBodyBytes)
    const readErrorBytes = (pull: Streaming.Pull<Uint8Array, HttpTransport.TransportError>) =>
      readCappedBytes(pull, UpstreamErrors.maxErrorBodyBytes)

    return {
      url: transport.url,
      timeoutFor: (call) =>
        call?.timeoutMillis === undefined ? options.timeoutMillis : Math.min(call.timeoutMillis, options.timeoutMillis),
      exchange,
      stream: (request, decoder, streamOptions) =>
        streamWith(transport.open, readErrorText, request, decoder, streamOptions),
      streamBytes: (request, decoder, streamOptions) =>
        streamWith(transport.openBytes, readErrorBytes, request, decoder, streamOptions)
    }
  })
