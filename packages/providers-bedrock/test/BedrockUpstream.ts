/**
 * The shared fake upstream (`@switchyard/provider-http/TestUpstream`) speaking Bedrock Runtime:
 * ConverseStream bodies framed with the same `EventStreamCodec` the adapter decodes with, AWS
 * errors with `x-amzn-errortype`, and an upstream-side check of a request's Signature Version 4.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec"
import { Hash } from "@smithy/hash-node"
import { HttpRequest } from "@smithy/protocol-http"
import { SignatureV4 } from "@smithy/signature-v4"
import { fromUtf8, toUtf8 } from "@smithy/util-utf8"
import { type Answer, type Exchange, type Reply, start } from "@switchyard/provider-http/TestUpstream"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createHash, createHmac } from "node:crypto"
import * as BedrockProvider from "../src/BedrockProvider.js"

export * from "@switchyard/provider-http/TestUpstream"

/** The example credentials of AWS's documentation; they must never show up in an error. */
export const accessKeyId = "AKIAIOSFODNN7EXAMPLE"
export const secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
export const sessionToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENabcdefghijklmnopqrstuvwxyz0123456789"
export const region = "us-east-1"

export const credentials: BedrockProvider.Credentials = {
  accessKeyId,
  secretAccessKey: Redacted.make(secretAccessKey)
}

/** A request id, as Bedrock answers with on every response. */
export const requestId = "7f1c2a3b-0d4e-4f5a-8b6c-9d0e1f2a3b4c"

/** A model id with the `:` that the path must encode. */
export const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"

/**
 * A Bedrock provider over a fresh upstream answering with `answer` (its base URL is the
 * upstream's origin: the provider appends `/model/...`), both living in the Scope; `requests`
 * records what the upstream was sent. No environment is read unless the options give one.
 */
export const build = (answer: Answer, options: Partial<BedrockProvider.Options> = {}) =>
  Effect.gen(function*() {
    const upstream = yield* start(answer)
    const provider = yield* BedrockProvider.make({ region, credentials, env: {}, baseUrl: upstream.origin, ...options })
    return { provider, requests: upstream.requests, upstream }
  })

/** A 200 Converse answer, with its request id. */
export const converse = (body: unknown, init: Omit<Reply, "body"> = {}): Reply => ({
  ...init,
  headers: { "content-type": "application/json", "x-amzn-requestid": requestId, ...init.headers },
  body: JSON.stringify(body)
})

/**
 * A 200 InvokeModel answer: the model's JSON body, with its request id and, when given, the input
 * token count Bedrock reports in `x-amzn-bedrock-input-token-count`.
 */
export const invoked = (body: unknown, inputTokens?: number): Reply =>
  converse(body, inputTokens === undefined ? {} : { headers: { "x-amzn-bedrock-input-token-count": String(inputTokens) } })

/**
 * An AWS error answer (https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html):
 * the status, `{"message": ...}`, and the type in `x-amzn-errortype` (with the namespace suffix
 * AWS adds).
 */
export const awsError = (type: string, status: number, message: string): Reply => ({
  status,
  headers: {
    "content-type": "application/json",
    "x-amzn-requestid": requestId,
    "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`
  },
  body: JSON.stringify({ message })
})

const codec = new EventStreamCodec(toUtf8, fromUtf8)

const str = (value: string) => ({ type: "string" as const, value })

/** An event message: `:message-type` event, `:event-type`, `:content-type` application/json, the JSON payload. */
export const eventMessage = (type: string, payload: unknown): Uint8Array =>
  codec.encode({
    headers: { ":message-type": str("event"), ":event-type": str(type), ":content-type": str("application/json") },
    body: fromUtf8(JSON.stringify(payload))
  })

/** An exception message: `:message-type` exception, `:exception-type`, payload `{"message": ...}`. */
export const exceptionMessage = (type: string, message: string): Uint8Array =>
  codec.encode({
    headers: { ":message-type": str("exception"), ":exception-type": str(type), ":content-type": str("application/json") },
    body: fromUtf8(JSON.stringify({ message }))
  })

/** An unmodeled error message: `:message-type` error with `:error-code` and `:error-message`. */
export const errorMessage = (code: string, message: string): Uint8Array =>
  codec.encode({
    headers: { ":message-type": str("error"), ":error-code": str(code), ":error-message": str(message) },
    body: new Uint8Array(0)
  })

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The events as one binary body. */
export const frames = (events: ReadonlyArray<readonly [string, unknown]>): Uint8Array =>
  concat(events.map(([type, payload]) => eventMessage(type, payload)))

/** A body in pieces of `size` bytes (a piece may end inside a message's prelude, headers or payload). */
export const split = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.slice(offset, offset + size))
  return pieces
}

/** A 200 ConverseStream answer: `application/vnd.amazon.eventstream`, written in the given pieces. */
export const eventStream = (pieces: ReadonlyArray<Uint8Array>, init: Omit<Reply, "body"> = {}): Reply => ({
  ...init,
  headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": requestId, ...init.headers },
  body: pieces
})

/** The events of a ConverseStream answer, one message per write. */
export const streamOf = (events: ReadonlyArray<readonly [string, unknown]>, init: Omit<Reply, "body"> = {}): Reply =>
  eventStream(events.map(([type, payload]) => eventMessage(type, payload)), init)

/** What the upstream makes of a request's `Authorization`. */
export interface SignatureCheck {
  /** `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ...` parsed. */
  readonly accessKeyId: string
  readonly scope: string
  readonly signedHeaders: ReadonlyArray<string>
  /** The signature recomputed from the request received, by the AWS specification (node:crypto). */
  readonly validBySpec: boolean
  /** The `Authorization` that `SignatureV4` computes for the request received, with the same credentials and time. */
  readonly resigned: string
  /** The canonical request the upstream computed (for failure messages). */
  readonly canonicalRequest: string
}

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex")
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest()

/**
 * Checks a request's Signature Version 4 as AWS would
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
 * the canonical request from what was received (the method, the path as sent with each
 * segment URI-encoded once more, as for every service but S3, the signed headers' received
 * values, the SHA-256 of the body received), the string to sign with the request's
 * `x-amz-date` and scope, the signing key derived from the secret. Also re-signs the request
 * with `SignatureV4` at the same time.
 */
export const checkSignature = (
  exchange: Exchange,
  secret: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string },
  service = "bedrock"
): Effect.Effect<SignatureCheck> =>
  Effect.promise(async () => {
    const authorization = exchange.headers["authorization"] ?? ""
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
      .exec(authorization)
    if (match === null) throw new Error(`not a SigV4 Authorization: ${authorization}`)
    const [, keyId, date, scopeRegion, scopeService, signedList, signature] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string
    ]
    const signedHeaders = signedList.split(";")
    const amzDate = exchange.headers["x-amz-date"] ?? ""
    const [rawPath, rawQuery = ""] = exchange.path.split("?") as [string, string?]
    const canonicalUri = rawPath.split("/").map(rfc3986).join("/")
    const canonicalHeaders = signedHeaders
      .map((name) => `${name}:${(exchange.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`)
      .join("")
    const canonicalRequest = [
      exchange.method,
      canonicalUri,
      rawQuery,
      canonicalHeaders,
      signedList,
      sha256Hex(exchange.bodyText)
    ].join("\n")
    const scope = `${date}/${scopeRegion}/${scopeService}/aws4_request`
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n")
    const key = hmac(hmac(hmac(hmac(`AWS4${secret.secretAccessKey}`, date), scopeRegion), scopeService), "aws4_request")
    const expected = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex")

    const signer = new SignatureV4({
      service,
      region: scopeRegion,
      credentials: secret,
      sha256: Hash.bind(null, "sha256")
    })
    const headers: Record<string, string> = {}
    for (const name of signedHeaders) headers[name] = exchange.headers[name] ?? ""
    const at = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
    const signingDate = at === null ? new Date(NaN) : new Date(Date.UTC(+at[1]!, +at[2]! - 1, +at[3]!, +at[4]!, +at[5]!, +at[6]!))
    const resigned = await signer.sign(
      new HttpRequest({ method: exchange.method, path: rawPath, headers, body: exchange.bodyText }),
      { signingDate }
    )
    return {
      accessKeyId: keyId,
      scope: `${keyId}/${scope}`,
      signedHeaders,
      validBySpec: signature === expected && scopeService === service,
      resigned: resigned.headers["authorization"] ?? "",
      canonicalRequest
    }
  })
