/**
 * The typed error taxonomy. Every error carries what the edge needs to answer the client:
 * the HTTP layer maps each tag to a status and to the envelope of the route's wire format.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The client sent something the gateway cannot accept (bad JSON, a field of the wrong type).
 *
 * @since 0.1.0 @category Errors
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("@switchyard/core/InvalidRequest")(
  "InvalidRequest",
  {
    message: Schema.String,
    param: Schema.optional(Schema.String),
    /** A machine-readable reason, OpenAI's `code` (`unsupported_parameter`, ...). */
    code: Schema.optional(Schema.String)
  }
) {}

/**
 * No provider serves the requested model, or a `provider/model` prefix names no provider.
 *
 * @since 0.1.0 @category Errors
 */
export class ModelNotFound extends Schema.TaggedError<ModelNotFound>("@switchyard/core/ModelNotFound")(
  "ModelNotFound",
  { model: Schema.String, reason: Schema.optional(Schema.String) }
) {
  override get message() {
    return this.reason ?? `The model '${this.model}' is not served by any configured provider`
  }
}

/**
 * The upstream could not be reached, or the connection broke before an answer: retryable.
 *
 * @since 0.1.0 @category Errors
 */
export class ProviderUnreachable extends Schema.TaggedError<ProviderUnreachable>(
  "@switchyard/core/ProviderUnreachable"
)("ProviderUnreachable", { provider: Schema.String, detail: Schema.String, cause: Schema.optional(Schema.Defect) }) {
  override get message() {
    return `Provider '${this.provider}' is unreachable: ${this.detail}`
  }
}

/**
 * The upstream took longer than allowed: retryable.
 *
 * @since 0.1.0 @category Errors
 */
export class ProviderTimeout extends Schema.TaggedError<ProviderTimeout>("@switchyard/core/ProviderTimeout")(
  "ProviderTimeout",
  {
    provider: Schema.String,
    afterMillis: Schema.Number,
    /** A stream that went quiet after its first chunk, rather than an answer that never came. */
    idle: Schema.optional(Schema.Boolean)
  }
) {
  override get message() {
    return this.idle === true
      ? `Provider '${this.provider}' sent nothing for ${this.afterMillis} ms in the middle of a stream`
      : `Provider '${this.provider}' did not answer within ${this.afterMillis} ms`
  }
}

/**
 * The upstream answered with a non-2xx status. `body` is the upstream's error body with the
 * provider's credentials removed; `upstreamMessage` is the human text found in it, if any.
 *
 * @since 0.1.0 @category Errors
 */
export class ProviderStatusError extends Schema.TaggedError<ProviderStatusError>(
  "@switchyard/core/ProviderStatusError"
)("ProviderStatusError", {
  provider: Schema.String,
  status: Schema.Number,
  body: Schema.String,
  upstreamMessage: Schema.optional(Schema.String),
  upstreamType: Schema.optional(Schema.String),
  upstreamCode: Schema.optional(Schema.String),
  /** The request field the upstream blamed (OpenAI's `param`). */
  upstreamParam: Schema.optional(Schema.String),
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  override get message() {
    return this.upstreamMessage ?? `Provider '${this.provider}' answered with status ${this.status}`
  }
}

/**
 * The upstream answered 2xx but with something that is not the expected wire format.
 *
 * @since 0.1.0 @category Errors
 */
export class ProviderOutputError extends Schema.TaggedError<ProviderOutputError>(
  "@switchyard/core/ProviderOutputError"
)("ProviderOutputError", { provider: Schema.String, detail: Schema.String, cause: Schema.optional(Schema.Defect) }) {
  override get message() {
    return `Provider '${this.provider}' sent a malformed answer: ${this.detail}`
  }
}

/** @since 0.1.0 @category Errors */
export type ProviderError = ProviderUnreachable | ProviderTimeout | ProviderStatusError | ProviderOutputError

/** @since 0.1.0 @category Errors */
export const ProviderError = Schema.Union(ProviderUnreachable, ProviderTimeout, ProviderStatusError, ProviderOutputError)

/**
 * A plugin refused the request (a guardrail, a policy). `status` is what the client sees.
 *
 * @since 0.1.0 @category Errors
 */
export class RequestRejected extends Schema.TaggedError<RequestRejected>("@switchyard/core/RequestRejected")(
  "RequestRejected",
  { plugin: Schema.String, status: Schema.Number, message: Schema.String }
) {}

/**
 * Every target that could serve the request has its circuit breaker open: the gateway did not
 * call any of them. `retryAfterMillis` is when the first of them lets a probe through.
 *
 * @since 0.1.0 @category Errors
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>("@switchyard/core/CircuitOpen")("CircuitOpen", {
  targets: Schema.Array(Schema.String),
  retryAfterMillis: Schema.Number
}) {
  override get message() {
    const seconds = Math.max(1, Math.ceil(this.retryAfterMillis / 1000))
    const which = this.targets.map((t) => `'${t}'`).join(", ")
    return `No target is available: the circuit breaker of ${which} is open after repeated failures; retry in ${seconds} s`
  }
}

/** @since 0.1.0 @category Errors */
export type GatewayError = InvalidRequest | ModelNotFound | RequestRejected | CircuitOpen | ProviderError

/** @since 0.1.0 @category Errors */
export const GatewayError = Schema.Union(InvalidRequest, ModelNotFound, RequestRejected, CircuitOpen, ProviderError)

const retryableStatuses: ReadonlySet<number> = new Set([408, 409, 429])

/**
 * Whether an HTTP status from an upstream is worth another attempt: 408, 409, 429 and 5xx.
 *
 * @since 0.1.0 @category Predicates
 */
export const isRetryableStatus = (status: number): boolean => status >= 500 || retryableStatuses.has(status)

/**
 * Network failures, timeouts and retryable statuses are retryable; other 4xx and malformed
 * output are terminal.
 *
 * @since 0.1.0 @category Predicates
 */
export const isRetryable = (error: GatewayError): boolean => {
  switch (error._tag) {
    case "ProviderUnreachable":
    case "ProviderTimeout":
      return true
    case "ProviderStatusError":
      return isRetryableStatus(error.status)
    default:
      return false
  }
}

/** @since 0.1.0 @category Predicates */
export const isGatewayError: (u: unknown) => u is GatewayError = Schema.is(GatewayError)

const isErrorStatus = (status: number) => Number.isInteger(status) && status >= 400 && status <= 599

/**
 * The HTTP status a client is answered with for an error, whatever its wire format: an
 * upstream's own error status passes through; anything that is not an error status becomes 502.
 *
 * @since 0.1.0 @category Mapping
 */
export const httpStatus = (error: GatewayError): number => {
  switch (error._tag) {
    case "InvalidRequest":
      return 400
    case "ModelNotFound":
      return 404
    case "RequestRejected":
      return isErrorStatus(error.status) ? error.status : 400
    case "ProviderStatusError":
      return isErrorStatus(error.status) ? error.status : 502
    case "ProviderTimeout":
      return 504
    case "CircuitOpen":
      return 503
    case "ProviderUnreachable":
    case "ProviderOutputError":
      return 502
  }
}
