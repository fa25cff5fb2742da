/**
 * Classification of upstream failures into core's typed errors, for every HTTP adapter. Pure
 * functions: the caller reads the body, the clock and the headers (and parses its vendor's error
 * envelope into an `UpstreamError`); these only decide.
 *
 * @since 0.1.0
 */
import {
  ProviderOutputError,
  ProviderStatusError,
  ProviderTimeout,
  ProviderUnreachable
} from "@switchyard/core/GatewayError"
import * as Either from "effect/Either"
import type { Redactor } from "./Redact.js"
import { preview } from "./Wire.js"

/** How much of a non-2xx body is kept (and read: the rest is discarded). @since 0.1.0 @category Constants */
export const maxErrorBodyBytes = 64 * 1024

/** What a vendor's error envelope says. @since 0.1.0 @category Models */
export interface UpstreamError {
  readonly message?: string
  readonly type?: string
  readonly code?: string
  readonly param?: string
  /** An HTTP error status found inside the error (`status`, or a numeric `code`, in 400..599; "429" counts). */
  readonly status?: number
}

/** Response headers, lower-case names; repeated ones as arrays. @since 0.1.0 */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : value?.[0]
}

/**
 * How long the upstream asks to wait: `retry-after-ms` (OpenAI's), else `retry-after` in
 * seconds or as an HTTP date (relative to `now`).
 *
 * @since 0.1.0
 */
export const retryAfterMillis = (headers: Headers, now: number): number | undefined => {
  const ms = header(headers, "retry-after-ms")
  if (ms !== undefined && ms.trim() !== "") {
    const n = Number(ms)
    if (Number.isFinite(n) && n >= 0) return n
  }
  const after = header(headers, "retry-after")
  if (after === undefined || after.trim() === "") return undefined
  const seconds = Number(after)
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * A `ProviderStatusError` from what the envelope said. `body` must already be redacted; what
 * is taken out of it is redacted again.
 *
 * @since 0.1.0 @category Constructors
 */
export const statusError = (
  provider: string,
  status: number,
  body: string,
  upstream: UpstreamError,
  retryAfter: number | undefined,
  redact: Redactor
): ProviderStatusError => {
  // exactOptionalPropertyTypes: absent fields must be left out, not set to undefined.
  const fields: {
    provider: string
    status: number
    body: string
    upstreamMessage?: string
    upstreamType?: string
    upstreamCode?: string
    upstreamParam?: string
    retryAfterMillis?: number
  } = { provider, status, body }
  if (upstream.message !== undefined) fields.upstreamMessage = redact(upstream.message)
  if (upstream.type !== undefined) fields.upstreamType = redact(upstream.type)
  if (upstream.code !== undefined) fields.upstreamCode = redact(upstream.code)
  if (upstream.param !== undefined) fields.upstreamParam = redact(upstream.param)
  if (retryAfter !== undefined) fields.retryAfterMillis = retryAfter
  return new ProviderStatusError(fields)
}

/**
 * A request the vendor's API cannot express (an image by URL where only bytes are taken, token
 * ids where only text is): a 400, answered before anything is sent, naming the field.
 *
 * @since 0.1.0 @category Constructors
 */
export const unmappable = (provider: string, reason: string, param: string): ProviderStatusError =>
  new ProviderStatusError({ provider, status: 400, body: "", upstreamMessage: reason, upstreamParam: param })

/** @since 0.1.0 */
export const outputError = (provider: string, detail: string, redact: Redactor): ProviderOutputError =>
  new ProviderOutputError({ provider, detail: redact(detail) })

/** @since 0.1.0 */
export const timeout = (provider: string, afterMillis: number): ProviderTimeout =>
  new ProviderTimeout({ provider, afterMillis })

const causeText = (cause: Error): string => {
  const inner: unknown = (cause as { cause?: unknown }).cause
  const innerText = inner instanceof Error ? inner.message : undefined
  return innerText === undefined || innerText === cause.message ? cause.message : `${cause.message}: ${innerText}`
}

/**
 * A transport failure: the request could not be sent (`sending`), or the connection broke while
 * the answer was read. Only the underlying socket error is kept, never the request (it holds
 * the headers).
 *
 * @since 0.1.0
 */
export const unreachable = (
  provider: string,
  request: { readonly method: string; readonly url: string },
  cause: Error,
  sending: boolean,
  redact: Redactor
): ProviderUnreachable => {
  const what = sending ? "the request failed" : "the connection broke while reading the answer"
  const detail = redact(`${what} (${request.method} ${request.url}): ${causeText(cause)}`)
  return new ProviderUnreachable({ provider, detail, cause })
}

/**
 * `JSON.parse` of an upstream's body, or a `ProviderOutputError` saying that `what` (`the
 * body`, `the model list`) is not JSON, with the start of it.
 *
 * @since 0.1.0 @category Constructors
 */
export const parseJson = (
  provider: string,
  text: string,
  what: string,
  redact: Redactor
): Either.Either<unknown, ProviderOutputError> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch {
    return Either.left(outputError(provider, `${what} is not JSON: ${preview(text)}`, redact))
  }
}
