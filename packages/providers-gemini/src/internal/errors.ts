/**
 * Gemini's error envelope, read into `UpstreamErrors`' vendor-neutral description.
 *
 * Errors are Google's API error model, `{"error": {"code": 429, "message": "...", "status":
 * "RESOURCE_EXHAUSTED", "details": [...]}}`, with the HTTP status in `code` as well
 * (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes,
 * https://cloud.google.com/apis/design/errors#http_mapping). `streamGenerateContent` without
 * `alt=sse` wraps it in an array; inside a 200 event stream the same envelope may arrive as an
 * event, where only its `code` and `status` tell the class.
 *
 * @internal
 */
import { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord } from "@switchyard/provider-http/Wire"

/**
 * The HTTP status of each canonical error code (`google.rpc.Code`), as Google's API design guide
 * maps them (https://cloud.google.com/apis/design/errors#handling_errors): what an error whose
 * `code` is missing stands for.
 *
 * @internal
 */
export const statusOfName: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  UNKNOWN: 500,
  INTERNAL: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504
}

const isErrorStatus = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 400 && n <= 599

const detailsOf = (error: Record<string, unknown>, type: string): Array<Record<string, unknown>> =>
  Array.isArray(error.details)
    ? error.details.filter((d): d is Record<string, unknown> => isRecord(d) && d["@type"] === `type.googleapis.com/google.rpc.${type}`)
    : []

/**
 * Reads the value of an envelope's `error` field: `message`; `status` (the canonical code's
 * name) as the type; the `reason` of an `ErrorInfo` detail (`API_KEY_INVALID`, ...) as the
 * code; the first field a `BadRequest` detail blames as the param; `code` as the status.
 *
 * @internal
 */
export const fromErrorValue = (error: unknown): UpstreamErrors.UpstreamError => {
  if (typeof error === "string") return { message: error }
  if (!isRecord(error)) return {}
  const out: { message?: string; type?: string; code?: string; param?: string; status?: number } = {}
  if (typeof error.message === "string") out.message = error.message
  if (typeof error.status === "string") out.type = error.status
  const reason = detailsOf(error, "ErrorInfo").map((d) => d.reason).find((r) => typeof r === "string")
  if (typeof reason === "string") out.code = reason
  const violations = detailsOf(error, "BadRequest").flatMap((d) => Array.isArray(d.fieldViolations) ? d.fieldViolations : [])
  const field = violations.map((v) => isRecord(v) ? v.field : undefined).find((f) => typeof f === "string")
  if (typeof field === "string") out.param = field
  const status = isErrorStatus(error.code) ? error.code : out.type !== undefined ? statusOfName[out.type] : undefined
  if (status !== undefined) out.status = status
  return out
}

/** The `error` value of a body: the envelope, or the first element of an array of them. */
const errorValueOf = (body: unknown): unknown => {
  const envelope = Array.isArray(body) ? body[0] : body
  return isRecord(envelope) ? envelope.error : undefined
}

/**
 * Reads a non-2xx body: Google's envelope, else nothing (a proxy's HTML page). The status is
 * the HTTP one.
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
  const error = errorValueOf(value)
  return error === undefined || error === null ? {} : fromErrorValue(error)
}

/**
 * An error reported with a 2xx status (an envelope as the answer, or as a stream event): its
 * `code`, else the status its `status` name stands for, else 500.
 *
 * @internal
 */
export const inBandError = (provider: string, error: unknown, raw: string, redact: Redactor): ProviderStatusError => {
  const upstream = fromErrorValue(error)
  return UpstreamErrors.statusError(provider, upstream.status ?? 500, redact(raw), upstream, retryDelayMillis(raw), redact)
}

/** `"17s"`, `"0.5s"` (a protobuf Duration in JSON) as milliseconds. */
const durationMillis = (u: unknown): number | undefined => {
  if (typeof u !== "string" || !u.endsWith("s")) return undefined
  const seconds = Number(u.slice(0, -1))
  return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : undefined
}

/**
 * The delay a 429 asks for in its body: Google sends it as a `google.rpc.RetryInfo` detail
 * (`{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}`,
 * https://cloud.google.com/apis/design/errors#error_details) rather than a `Retry-After` header.
 *
 * @internal
 */
export const retryDelayMillis = (body: string): number | undefined => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return undefined
  }
  const error = errorValueOf(value)
  if (!isRecord(error)) return undefined
  for (const info of detailsOf(error, "RetryInfo")) {
    const millis = durationMillis(info.retryDelay)
    if (millis !== undefined) return millis
  }
  return undefined
}

/**
 * A status error given the delay its body asks for, when no header gave one.
 *
 * @internal
 */
export const withRetryInfo = (error: ProviderError): ProviderError => {
  if (error._tag !== "ProviderStatusError" || error.retryAfterMillis !== undefined) return error
  const millis = retryDelayMillis(error.body)
  if (millis === undefined) return error
  const fields: {
    provider: string
    status: number
    body: string
    retryAfterMillis: number
    upstreamMessage?: string
    upstreamType?: string
    upstreamCode?: string
    upstreamParam?: string
  } = {
    provider: error.provider,
    status: error.status,
    body: error.body,
    retryAfterMillis: millis
  }
  if (error.upstreamMessage !== undefined) fields.upstreamMessage = error.upstreamMessage
  if (error.upstreamType !== undefined) fields.upstreamType = error.upstreamType
  if (error.upstreamCode !== undefined) fields.upstreamCode = error.upstreamCode
  if (error.upstreamParam !== undefined) fields.upstreamParam = error.upstreamParam
  return new ProviderStatusError(fields)
}
