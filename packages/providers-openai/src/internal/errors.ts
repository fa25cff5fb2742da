/**
 * OpenAI's error envelope (`{"error": {message, type, code, param}}`) and the shapes compatible
 * servers send, read into `UpstreamErrors`' vendor-neutral description.
 *
 * @internal
 */
import type { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord } from "@switchyard/provider-http/Wire"

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
export const fromErrorValue = (error: unknown): UpstreamErrors.UpstreamError => {
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
export const fromErrorBody = (body: string): UpstreamErrors.UpstreamError => {
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

/**
 * An error reported inside a 2xx answer (a `{"error": ...}` stream event, or a JSON body with an
 * error and no choices): the status inside the error if there is one, else 500.
 *
 * @internal
 */
export const inBandError = (provider: string, error: unknown, raw: string, redact: Redactor): ProviderStatusError => {
  const upstream = fromErrorValue(error)
  return UpstreamErrors.statusError(provider, upstream.status ?? 500, redact(raw), upstream, undefined, redact)
}

