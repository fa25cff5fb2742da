/**
 * The Gemini API's model methods, `POST /v1beta/models/{model}:{method}` (and `/v1/...`), and
 * the same on Vertex AI's paths, `/{v1,v1beta1}/projects/{p}/locations/{l}/publishers/{pub}/models/{model}:{method}`
 * (or without the project and location, as in Vertex AI's express mode):
 * `generateContent`, `streamGenerateContent` (answered as `alt=sse` events), `countTokens`,
 * `embedContent` and `batchEmbedContents`, with errors in Google's envelope. `{model}` may
 * itself hold slashes (`openai/gpt-4o-mini`), so a Gemini client reaches any provider; on a
 * Vertex path a publisher other than `google` is the provider prefix. The key may come as
 * `x-goog-api-key` or `?key=`.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { EmbeddingRequest, EmbeddingResponse } from "@switchyard/core/EmbeddingSchema"
import * as Gateway from "@switchyard/core/Gateway"
import type { InvalidRequest } from "@switchyard/core/GatewayError"
import type * as Passthrough from "@switchyard/core/Passthrough"
import type * as RequestContext from "@switchyard/core/RequestContext"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { event } from "../formats/Codec.js"
import * as Gemini from "../formats/Gemini.js"
import { type ErrorInfo, type HttpError, UnknownRoute } from "../HttpErrors.js"
import * as RequestBody from "../RequestBody.js"
import * as Ingress from "./ingress.js"
import * as Respond from "./respond.js"

/** The path prefixes the Gemini methods live under. @internal */
export const prefixes: ReadonlyArray<string> = [
  "/v1beta/models/",
  "/v1/models/",
  "/v1/projects/",
  "/v1beta1/projects/",
  "/v1/publishers/",
  "/v1beta1/publishers/"
]

const format = {
  encodeResponse: Gemini.encodeResponse,
  streamEncoder: Gemini.streamEncoder,
  errorEvent: (info: ErrorInfo) => event(undefined, Gemini.errorBody(info))
}

/** Vertex AI's model paths: with the project and location, or without (express mode, an API key). */
const vertexPath = /^\/v1(?:beta1)?\/(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/([^/]+)\/models\/(.+)$/

/** The model and method a path names (`…/models/{model}:{method}`), the model URL-decoded. */
const parsePath = (path: string): { readonly model: string; readonly method: string } | undefined => {
  const colon = path.lastIndexOf(":")
  if (colon === -1) return undefined
  const method = path.slice(colon + 1)
  const resource = path.slice(0, colon)
  const vertex = vertexPath.exec(resource)
  const raw = vertex !== null
    ? (vertex[1] === "google" ? vertex[2]! : `${vertex[1]}/${vertex[2]}`)
    : resource.slice(resource.indexOf("/models/") + "/models/".length)
  try {
    const model = decodeURIComponent(raw)
    return model === "" ? undefined : { model, method }
  } catch {
    return undefined
  }
}

const native = (
  operation: string,
  text: string,
  body: Readonly<Record<string, unknown>>,
  stream: boolean
): Passthrough.Request => ({ format: "gemini", operation, text, body, stream, headers: {} })

const generate = (model: string, stream: boolean, text: string, json: unknown, ctx: RequestContext.RequestContext) =>
  Effect.flatMap(Gemini.decodeGenerateRequest(json, model, stream), (canonical) =>
    Ingress.relay(format, {
      canonical,
      native: native(stream ? "streamGenerateContent" : "generateContent", text, json as Record<string, unknown>, stream)
    }, ctx))

const embed = <A>(
  decoded: Either.Either<EmbeddingRequest, InvalidRequest>,
  encode: (res: EmbeddingResponse) => A,
  ctx: RequestContext.RequestContext
) =>
  Effect.flatMap(decoded, (req) =>
    Effect.flatMap(Gateway.Gateway, (gateway) =>
      Effect.map(gateway.embed(req, ctx), (result) => Respond.json(encode(result.response), Respond.routingHeaders(ctx, result)))))

/**
 * Streaming is read from the URL, as Gemini's clients signal it: the `streamGenerateContent`
 * method, or `alt=sse` (the body has no stream flag).
 *
 * @internal
 */
export const models = (maxBodyBytes: number) =>
  Respond.handler(
    (request, ctx): Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      HttpError,
      Gateway.Gateway | Scope.Scope | HttpServerRequest.HttpServerRequest
    > => {
      const path = Respond.pathOf(request.url)
      const target = parsePath(path)
      const known = target !== undefined &&
        ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"].includes(target.method)
      if (!known) return Effect.fail(new UnknownRoute({ method: request.method, path }))
      const { method, model } = target
      return Effect.flatMap(RequestBody.readJsonWithText(request, maxBodyBytes), ({ json, text }) => {
        switch (method) {
          case "generateContent":
          case "streamGenerateContent":
            return generate(model, method === "streamGenerateContent" || /[?&]alt=sse(&|$)/.test(request.url), text, json, ctx)
          case "countTokens":
            return Effect.flatMap(Ingress.objectBody(json), (body) =>
              Ingress.countTokens(model, native("countTokens", text, body, false), ctx))
          case "embedContent":
            return embed(Gemini.decodeEmbedRequest(json, model), Gemini.encodeEmbedResponse, ctx)
          default:
            return embed(Gemini.decodeBatchEmbedRequest(json, model), Gemini.encodeBatchEmbedResponse, ctx)
        }
      })
    },
    "gemini",
    Gemini.errorBody
  )
