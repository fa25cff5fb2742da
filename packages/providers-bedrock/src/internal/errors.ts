/**
 * Bedrock Runtime's errors, read into `UpstreamErrors`' vendor-neutral description.
 *
 * Converse and ConverseStream (a REST-JSON AWS service) answer a failure with its HTTP status,
 * a JSON body `{"message": "..."}` and the error's type in the `x-amzn-errortype` header
 * (`ValidationException`, sometimes followed by `:` and a namespace URL). The documented
 * errors and their statuses, the same for both operations
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors,
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_Errors,
 * and each shape's `httpStatusCode` in the service model, botocore's
 * `botocore/data/bedrock-runtime/2023-09-30/service-2.json`): AccessDeniedException 403,
 * InternalServerException 500, ModelErrorException 424, ModelNotReadyException 429,
 * ModelTimeoutException 408, ResourceNotFoundException 404, ServiceUnavailableException 503,
 * ThrottlingException 429, ValidationException 400. InvokeModel (embeddings) answers its
 * failures the same way, with ServiceQuotaExceededException 400 besides
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html#API_runtime_InvokeModel_Errors).
 * Errors from AWS's front end (a bad signature: `InvalidSignatureException` 403,
 * `UnrecognizedClientException` 403, `ExpiredTokenException` 403) have the same shape, and pass
 * with their own status.
 *
 * Inside a 200 ConverseStream body a failure arrives as an exception message of the event
 * stream (`:message-type` `exception`, `:exception-type` naming the `ConverseStreamOutput`
 * member, payload `{"message": ...}`), whose status the API reference gives
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html):
 * `internalServerException` 500, `modelStreamErrorException` 424, `serviceUnavailableException`
 * 503, `throttlingException` 429, `validationException` 400.
 *
 * @internal
 */
import type { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord } from "@switchyard/provider-http/Wire"

/**
 * The status of each exception a ConverseStream body may carry, by its `:exception-type`.
 *
 * @internal
 */
export const statusOfStreamException: Readonly<Record<string, number>> = {
  internalServerException: 500,
  modelStreamErrorException: 424,
  serviceUnavailableException: 503,
  throttlingException: 429,
  validationException: 400
}

const header = (headers: UpstreamErrors.Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : value?.[0]
}

/** `ValidationException:http://internal.amazon.com/coral/...` and `com.amazon.coral#X` -> the name. */
const errorType = (raw: string): string | undefined => {
  const name = raw.split(":")[0]!.split("#").pop()!.trim()
  return name === "" ? undefined : name
}

/**
 * Reads a non-2xx answer: the type from `x-amzn-errortype` (else a body's `__type` or `code`),
 * the message from the body's `message` (or `Message`). A body that is not JSON gives only the
 * header's type.
 *
 * @internal
 */
export const fromErrorBody = (body: string, headers: UpstreamErrors.Headers): UpstreamErrors.UpstreamError => {
  const out: { message?: string; type?: string } = {}
  const typeHeader = header(headers, "x-amzn-errortype")
  if (typeHeader !== undefined) {
    const type = errorType(typeHeader)
    if (type !== undefined) out.type = type
  }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return out
  }
  if (!isRecord(value)) return out
  const message = typeof value.message === "string" ? value.message : value.Message
  if (typeof message === "string") out.message = message
  if (out.type === undefined) {
    const type = typeof value.__type === "string" ? value.__type : value.code
    if (typeof type === "string") {
      const name = errorType(type)
      if (name !== undefined) out.type = name
    }
  }
  return out
}

/**
 * An exception message inside a 200 stream: the status its type stands for (500 for one the
 * reference does not list). `payload` is the message's (JSON) text.
 *
 * @internal
 */
export const streamException = (
  provider: string,
  exceptionType: string,
  payload: string,
  redact: Redactor
): ProviderStatusError => {
  let message: string | undefined
  try {
    const value: unknown = JSON.parse(payload)
    if (isRecord(value) && typeof value.message === "string") message = value.message
  } catch {
    if (payload.trim() !== "") message = payload
  }
  const status = statusOfStreamException[exceptionType] ?? 500
  const upstream = message === undefined ? { type: exceptionType } : { type: exceptionType, message }
  return UpstreamErrors.statusError(provider, status, redact(payload), upstream, undefined, redact)
}

/**
 * An error message inside a 200 stream (`:message-type` `error`: an unmodeled error, its code and
 * message in the `:error-code` and `:error-message` headers): a 500.
 *
 * @internal
 */
export const streamError = (
  provider: string,
  code: string | undefined,
  message: string | undefined,
  redact: Redactor
): ProviderStatusError => {
  const upstream: { type?: string; message?: string } = {}
  if (code !== undefined) upstream.type = code
  if (message !== undefined) upstream.message = message
  return UpstreamErrors.statusError(provider, 500, redact(`${code ?? "error"}: ${message ?? ""}`), upstream, undefined, redact)
}
