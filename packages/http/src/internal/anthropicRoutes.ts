/**
 * Anthropic's Messages API: `POST /v1/messages` (JSON or its event stream) and
 * `POST /v1/messages/count_tokens`, with errors in Anthropic's envelope. The key may come as
 * `x-api-key` or `Authorization: Bearer`; `anthropic-version` and `anthropic-beta` are
 * forwarded to an Anthropic upstream with the request, which answers in the dialect they ask for.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { InvalidRequest } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import * as Effect from "effect/Effect"
import * as Anthropic from "../formats/Anthropic.js"
import { event } from "../formats/Codec.js"
import type { ErrorInfo } from "../HttpErrors.js"
import * as RequestBody from "../RequestBody.js"
import * as Ingress from "./ingress.js"
import * as Respond from "./respond.js"

const format = {
  encodeResponse: Anthropic.encodeMessage,
  streamEncoder: Anthropic.streamEncoder,
  errorEvent: (info: ErrorInfo) => event("error", Anthropic.errorBody(info))
}

const vendorHeaders = ["anthropic-version", "anthropic-beta"]

const native = (
  request: HttpServerRequest.HttpServerRequest,
  operation: string,
  text: string,
  body: Readonly<Record<string, unknown>>,
  stream: boolean
): Passthrough.Request => ({
  format: "anthropic",
  operation,
  text,
  body,
  stream,
  headers: Ingress.pickHeaders(request.headers, vendorHeaders)
})

/** @internal */
export const messages = (maxBodyBytes: number) =>
  Respond.handler(
    (request, ctx) =>
      Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) =>
        Effect.flatMap(Anthropic.decodeRequest(json), (canonical) =>
          Ingress.relay(format, {
            canonical,
            native: native(request, "messages", text, json as Record<string, unknown>, canonical.stream === true)
          }, ctx))),
    "anthropic",
    Anthropic.errorBody
  )

/** @internal */
export const countTokens = (maxBodyBytes: number) =>
  Respond.handler(
    (request, ctx) =>
      Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) =>
        Effect.flatMap(Ingress.objectBody(json), (body) =>
          typeof body.model === "string" && body.model !== ""
            ? Ingress.countTokens(body.model, native(request, "messages/count_tokens", text, body, false), ctx)
            : Effect.fail(new InvalidRequest({ message: "model: Field required", param: "model" })))),
    "anthropic",
    Anthropic.errorBody
  )
