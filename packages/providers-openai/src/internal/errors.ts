/**
 * Classification of upstream failures into core's typed errors. Pure functions: the caller
 * reads the body, the clock and the headers, these only decide.
 *
 * @internal
 */
import {
  ProviderOutputError,
  ProviderStatusError,
  ProviderTimeout,
  ProviderUnreachable
} from "@switchyard/core/GatewayError"
import type { Redactor } from "./redact.js"

/** How much of a non-2xx body is kept (and read: the rest is discarded). @internal */
export const maxErrorBodyBytes = 64 * 1024

/** What an error envelope says. @internal */
export interface UpstreamError {
  readonly message?: string
  readonly type?: string
  readonly code?: string
  readonly param?: string
  /** An HTTP error status found inside the error (`status`, or a numeric `code`, in 400..599; "429" counts). */
  readonly status?: number
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const asErrorStatus = (u: unknown): number | undefined => {
  const n = typeof u === "string" && /^\d{3}$/.test(u) ? Number(u) : u
  return typeof n === "number" && Number.isInteger(n) && n >= 400 && n <= 599 ? n : undefined
}

const str = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" || typeof u === "boolean" ? String(u) : undefined

/**
 * Reads the value of an `error` field: OpenAI's `{message,type,code,param}`, or a bare string
 * as some OpenAI-compatible servers send.
 *
 * @internal
 */
export const fromErrorValue = (error: unknown): UpstreamError => {
  if (typeof error === "string") return { message: error }
  if (!isRecord(error)) return {}
  const out: { message?: string; type?: string; code?: string; param?: string; status?: number } = {}
  const message = str(error.message)
  const type = str(error.type)
  const code = str(error.code)
  const param = str(error.param)
  if (message !== undefined) out.message = message
  if (type !== undefined) out.type = type
  if (code !== undefined) out.code = code
  if (param !== undefined) out.param = param
  const status = asErrorStatus(error.status) ?? asErrorStatus(error.code)
  if (status !== undefined) out.status = status
  return out
}

/**
 * Reads an error body: `{error:{...}}` (OpenAI), else a top-level `message` or `detail` string
 * (other OpenAI-compatible servers). Anything else says nothing.
 *
 * @internal
 */
export const fromErrorBody = (body: string): UpstreamError => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return {}
  }
  if (!isRecord(value)) return {}
  if (value.error !== undefined && value.error !== null) return fromErrorValue(value.error)
  const message = str(value.message) ?? str(value.detail)
  return message === undefined ? {} : { message }
}

/** Response headers, lower-case names; repeated ones as arrays. @internal */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : value?.[0]
}

/**
 * How long the upstream asks to wait: `retry-after-ms` (OpenAI's), else `retry-after` in
 * seconds or as an HTTP date (relative to `now`).
 *
 * @internal
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

const statusErrorOf = (
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
 * A non-2xx answer. `body` is the (capped) body text; credentials are removed from it and from
 * what is taken out of it.
 *
 * @internal
 */
export const statusError = (
  provider: string,
  status: number,
  body: string,
  headers: Headers,
  now: number,
  redact: Redactor
): ProviderStatusError => {
  const clean = redact(body)
  return statusErrorOf(provider, status, clean, fromErrorBody(clean), retryAfterMillis(headers, now), redact)
}

/**
 * An error reported inside a 2xx answer (a `{"error": ...}` stream event, or a JSON body with an
 * error and no choices): the status inside the error if there is one, else 500.
 *
 * @internal
 */
export const inBandError = (provider: string, error: unknown, raw: string, redact: Redactor): ProviderStatusError => {
  const upstream = fromErrorValue(error)
  return statusErrorOf(provider, upstream.status ?? 500, redact(raw), upstream, undefined, redact)
}

/** @internal */
export const outputError = (provider: string, detail: string, redact: Redactor): ProviderOutputError =>
  new ProviderOutputError({ provider, detail: redact(detail) })

/** @internal */
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
 * @internal
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
