/**
 * The one place that turns errors into HTTP answers. `describe` classifies any error the edge
 * can meet (core's `GatewayError`s and the HTTP layer's own) into a wire-neutral `ErrorInfo`:
 * status, type, message, param, code and extra headers. Each wire format then renders that
 * info in its own envelope: `openAi` here, Anthropic's and Google's in `formats/`.
 *
 * @since 0.1.0
 */
import type { ProviderOutputError, ProviderTimeout, ProviderUnreachable } from "@switchyard/core/GatewayError"
import { GatewayError, httpStatus, InvalidRequest } from "@switchyard/core/GatewayError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * The request body is larger than the configured limit. Answered with `connection: close`:
 * the rest of the body is not read.
 *
 * @since 0.1.0 @category Errors
 */
export class RequestTooLarge extends Schema.TaggedError<RequestTooLarge>("@switchyard/http/RequestTooLarge")(
  "RequestTooLarge",
  { limit: Schema.Number }
) {
  override get message() {
    return `The request body exceeds the limit of ${this.limit} bytes`
  }
}

/**
 * No route matches the request's path.
 *
 * @since 0.1.0 @category Errors
 */
export class UnknownRoute extends Schema.TaggedError<UnknownRoute>("@switchyard/http/UnknownRoute")(
  "UnknownRoute",
  { method: Schema.String, path: Schema.String }
) {
  override get message() {
    return `Unknown request URL: ${this.method} ${truncate(this.path, 200)}`
  }
}

/**
 * A route matches the path, but not the method.
 *
 * @since 0.1.0 @category Errors
 */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>("@switchyard/http/MethodNotAllowed")(
  "MethodNotAllowed",
  { method: Schema.String, path: Schema.String, allow: Schema.Array(Schema.String) }
) {
  override get message() {
    return `Method ${this.method} is not allowed for ${truncate(this.path, 200)}; use ${this.allow.join(", ")}`
  }
}

/**
 * Every error the HTTP edge answers with a specific status.
 *
 * @since 0.1.0 @category Errors
 */
export type HttpError = GatewayError | RequestTooLarge | UnknownRoute | MethodNotAllowed

/** @since 0.1.0 @category Predicates */
export const isHttpError: (u: unknown) => u is HttpError = Schema.is(
  Schema.Union(GatewayError, RequestTooLarge, UnknownRoute, MethodNotAllowed)
)

/**
 * A wire-neutral description of an error answer. `type` and `code` use OpenAI's vocabulary,
 * which is the canonical one; other envelopes translate from `status` and `type`.
 *
 * @since 0.1.0 @category Models
 */
export interface ErrorInfo {
  readonly status: number
  readonly type: string
  readonly message: string
  readonly param: string | null
  readonly code: string | null
  /** Extra response headers: `retry-after`, `allow`, `connection`, `x-switchyard-provider`. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const INTERNAL_MESSAGE = "The server had an error while processing your request."

/**
 * What an unexpected failure (a defect, an unknown error) is answered with: nothing of its
 * cause leaks to the client.
 *
 * @since 0.1.0 @category Models
 */
export const internalError: ErrorInfo = {
  status: 500,
  type: "server_error",
  message: INTERNAL_MESSAGE,
  param: null,
  code: "internal_error"
}

const typeForStatus = (status: number): string => {
  switch (status) {
    case 401:
      return "authentication_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 429:
      return "rate_limit_error"
    default:
      return status >= 500 ? "server_error" : "invalid_request_error"
  }
}


/**
 * Classifies an error: status, OpenAI type and code, the message the client may read.
 *
 * @since 0.1.0 @category Mapping
 */
export const describe = (error: HttpError): ErrorInfo => {
  switch (error._tag) {
    case "InvalidRequest":
      return { status: 400, type: "invalid_request_error", message: error.message, param: error.param ?? null, code: error.code ?? null }
    case "ModelNotFound":
      return { status: 404, type: "invalid_request_error", message: error.message, param: "model", code: "model_not_found" }
    case "RequestRejected": {
      const status = httpStatus(error)
      return { status, type: typeForStatus(status), message: error.message, param: null, code: "request_rejected" }
    }
    case "ProviderStatusError": {
      const retryAfter = error.retryAfterMillis !== undefined && error.retryAfterMillis >= 0
        ? { "retry-after": String(Math.ceil(error.retryAfterMillis / 1000)) }
        : undefined
      return {
        status: httpStatus(error),
        type: error.upstreamType ?? "upstream_error",
        message: error.message,
        param: error.upstreamParam ?? null,
        code: error.upstreamCode ?? null,
        headers: { "x-switchyard-provider": error.provider, ...retryAfter }
      }
    }
    case "CircuitOpen":
      return {
        status: 503,
        type: "server_error",
        message: error.message,
        param: null,
        code: "circuit_open",
        headers: { "retry-after": String(Math.max(1, Math.ceil(error.retryAfterMillis / 1000))) }
      }
    case "ProviderUnreachable":
      return upstream(error, "provider_unreachable")
    case "ProviderOutputError":
      return upstream(error, "provider_output_error")
    case "ProviderTimeout":
      return upstream(error, "provider_timeout")
    case "RequestTooLarge":
      return {
        status: 413,
        type: "invalid_request_error",
        message: error.message,
        param: null,
        code: "request_too_large",
        headers: { connection: "close" }
      }
    case "UnknownRoute":
      return { status: 404, type: "invalid_request_error", message: error.message, param: null, code: "unknown_url" }
    case "MethodNotAllowed":
      return {
        status: 405,
        type: "invalid_request_error",
        message: error.message,
        param: null,
        code: "method_not_allowed",
        headers: { allow: error.allow.join(", ") }
      }
  }
}

const upstream = (error: ProviderUnreachable | ProviderOutputError | ProviderTimeout, code: string): ErrorInfo => ({
  status: httpStatus(error),
  type: "upstream_error",
  message: error.message,
  param: null,
  code,
  headers: { "x-switchyard-provider": error.provider }
})

/**
 * Classifies a failure Cause: its first typed failure if it is an `HttpError`, otherwise
 * (defects, interruptions, unknown errors) `internalError`.
 *
 * @since 0.1.0 @category Mapping
 */
export const describeCause = (cause: Cause.Cause<unknown>): ErrorInfo => {
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) && isHttpError(failure.value) ? describe(failure.value) : internalError
}

/**
 * Like `describeCause`, and logs the cause when it is unexpected (anything but a known
 * `HttpError`), so that what the client does not see is still recorded.
 *
 * @since 0.1.0 @category Mapping
 */
export const describeCauseLogged = (cause: Cause.Cause<unknown>, requestId: string): Effect.Effect<ErrorInfo> => {
  const info = describeCause(cause)
  return info === internalError || Cause.isDie(cause)
    ? Effect.as(
      Effect.annotateLogs(Effect.logError("unexpected failure while handling a request", cause), "requestId", requestId),
      info
    )
    : Effect.succeed(info)
}

// ---------------------------------------------------------------------------------------------
// Envelopes

/**
 * The OpenAI error envelope: `{ error: { message, type, param, code } }`.
 *
 * @since 0.1.0 @category Envelopes
 */
export const openAi = (info: ErrorInfo) => ({
  error: { message: info.message, type: info.type, param: info.param, code: info.code }
})

// ---------------------------------------------------------------------------------------------
// Request decoding errors

/**
 * The body is not JSON.
 *
 * @since 0.1.0 @category Constructors
 */
export const invalidJson = (detail?: string): InvalidRequest =>
  new InvalidRequest({
    message: detail === undefined
      ? "The request body is not valid JSON."
      : `The request body is not valid JSON: ${truncate(detail, 200)}`
  })

/**
 * Turns a Schema decoding failure into an `InvalidRequest` whose message names the path of the
 * bad field (`messages[0].role: Expected ...`) and whose `param` is that path.
 *
 * @since 0.1.0 @category Constructors
 */
export const fromParseError = (error: ParseResult.ParseError): InvalidRequest => {
  const issue = pickIssue(ParseResult.ArrayFormatter.formatErrorSync(error))
  if (issue === undefined) return new InvalidRequest({ message: "The request body is invalid." })
  const param = formatPath(issue.path)
  if (param === "") return new InvalidRequest({ message: truncate(issue.message, 500) })
  const message = issue._tag === "Missing"
    ? `Missing required parameter: '${param}'.`
    : `${param}: ${issue.message}`
  return new InvalidRequest({ message: truncate(message, 500), param })
}

type Issue = ParseResult.ArrayFormatterIssue

/** Unions report one issue per member: keep the ones that say the most about the input. */
const pickIssue = (issues: ReadonlyArray<Issue>): Issue | undefined => {
  // `optional(NullOr(X))` adds "Expected null" and "Expected undefined" beside X's own issue.
  const informative = issues.filter((i) => !/^Expected (null|undefined), actual /.test(i.message))
  const candidates = informative.length > 0 ? informative : issues
  // The deepest path is where the input went wrong; shallower ones are other union members.
  let depth = -1
  for (const i of candidates) depth = Math.max(depth, i.path.length)
  const deepest = candidates.filter((i) => i.path.length === depth)
  const first = deepest[0]
  if (first === undefined || first._tag === "Missing") return first
  // Several members failed at the same place: "Expected A, actual x" + "Expected B, actual x".
  const key = formatPath(first.path)
  const expected: Array<string> = []
  let actual: string | undefined
  for (const i of deepest) {
    if (formatPath(i.path) !== key) continue
    const match = /^Expected ([\s\S]*), actual ([\s\S]*)$/.exec(i.message)
    if (match === null || (actual !== undefined && match[2] !== actual)) return first
    actual = match[2]
    const type = abbreviate(match[1]!)
    if (!expected.includes(type)) expected.push(type)
  }
  return { ...first, message: `Expected ${expected.join(" | ")}, actual ${actual}` }
}

/** Schema's type descriptions of structs and arrays run to pages: name their kind instead. */
const abbreviate = (type: string): string => {
  if (type.length <= 60) return type
  if (type.startsWith("{")) return "object"
  if (type.startsWith("ReadonlyArray<") || type.startsWith("Array<")) return "array"
  return `${type.slice(0, 57)}...`
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (typeof key === "string" && identifier.test(key)) out += out === "" ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out
}

const truncate = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 3)}...`)
