/**
 * Anthropic's error envelope, read into `UpstreamErrors`' vendor-neutral description.
 *
 * Errors are `{"type":"error","error":{"type":"overloaded_error","message":"..."},"request_id":"req_..."}`
 * with the HTTP status telling the class (https://platform.claude.com/docs/en/api/errors). Inside
 * a 200 event stream the same envelope arrives as an `error` event, and only its `type` tells the
 * class (https://platform.claude.com/docs/en/build-with-claude/streaming#error-events).
 *
 * @internal
 */
import type { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord } from "@switchyard/provider-http/Wire"

/**
 * The HTTP status each documented error type is answered with (https://platform.claude.com/docs/en/api/errors):
 * what an in-stream `error` event stands for.
 *
 * @internal
 */
export const statusOfType: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529
}

/**
 * Reads the value of an envelope's `error` field: `type` and `message`, and `details.error_code`
 * (which tells a spend-limit 429 from a rate-limit one) as the code.
 *
 * @internal
 */
export const fromErrorValue = (error: unknown): UpstreamErrors.UpstreamError => {
  if (typeof error === "string") return { message: error }
  if (!isRecord(error)) return {}
  const out: { message?: string; type?: string; code?: string } = {}
  if (typeof error.message === "string") out.message = error.message
  if (typeof error.type === "string") out.type = error.type
  const details = error.details
  if (isRecord(details) && typeof details.error_code === "string") out.code = details.error_code
  return out
}

/**
 * Reads a non-2xx body: Anthropic's envelope, else nothing (a 413 from the CDN in front of the
 * API may be HTML). The status is the HTTP one.
 *
 * @internal
 */
export const fromErrorBody = (body: string): UpstreamErrors.UpstreamError => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return {}
  }
  return isRecord(value) && value.error !== undefined && value.error !== null ? fromErrorValue(value.error) : {}
}

/**
 * An error reported with a 2xx status (an `error` event): the status its type stands for, else 500.
 *
 * @internal
 */
export const inBandError = (provider: string, error: unknown, raw: string, redact: Redactor): ProviderStatusError => {
  const upstream = fromErrorValue(error)
  const status = (upstream.type !== undefined ? statusOfType[upstream.type] : undefined) ?? 500
  return UpstreamErrors.statusError(provider, status, redact(raw), upstream, undefined, redact)
}
