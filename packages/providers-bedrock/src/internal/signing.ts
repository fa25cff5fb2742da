/**
 * AWS Signature Version 4 for Bedrock Runtime requests, through `SignatureV4` from
 * `@smithy/signature-v4` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
 * the signing name is `bedrock` (the service model's `signingName`; the endpoint prefix is
 * `bedrock-runtime`), the scope the region. Plain code, no Effect: the provider gives the time.
 *
 * What is signed is what is sent: the method, the `Host` header (the base URL's host, port
 * included when it is not the scheme's default), the path exactly as the transport writes it
 * (the base URL's path, then `/model/{modelId}/converse[-stream]` with the model id
 * URL-encoded), the body's bytes, and every header given here. The signer adds `x-amz-date`,
 * `x-amz-content-sha256` (the body's SHA-256), `x-amz-security-token` (temporary credentials
 * only) and `authorization`; the result is all of those headers, which the request sends as
 * its own. The transport adds `content-length` (not signed: SigV4 needs only `host` and the
 * `x-amz-*` headers it signs).
 *
 * @internal
 */
import { Hash } from "@smithy/hash-node"
import { HttpRequest } from "@smithy/protocol-http"
import { SignatureV4 } from "@smithy/signature-v4"

/** @internal */
export interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
}

/** Signs one request; `now` is the signing time (epoch millis). @internal */
export type Sign = (
  request: { readonly path: string; readonly body: string; readonly headers: Readonly<Record<string, string>> },
  now: number
) => Promise<Record<string, string>>

/** @internal */
export const service = "bedrock"

/** `Sha256` as the AWS SDK for JavaScript builds it for Node: `Hash` bound to `sha256`. */
const Sha256 = Hash.bind(null, "sha256")

/**
 * The model id as a path segment, encoded as the AWS SDKs encode URI labels (RFC 3986:
 * `encodeURIComponent`, and `!'()*` too): `anthropic.claude-3-5-sonnet-20240620-v1:0` ->
 * `anthropic.claude-3-5-sonnet-20240620-v1%3A0`, an ARN's `/` -> `%2F`.
 *
 * @internal
 */
export const encodeLabel = (label: string): string =>
  encodeURIComponent(label).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * A signer for requests to `baseUrl` in `region`. The header names given must be lower-case.
 *
 * @internal
 */
export const make = (options: {
  readonly baseUrl: string
  readonly region: string
  readonly credentials: Credentials
}): Sign => {
  const url = new URL(options.baseUrl)
  const basePath = url.pathname.replace(/\/+$/, "")
  const { accessKeyId, secretAccessKey, sessionToken } = options.credentials
  const credentials = sessionToken === undefined
    ? { accessKeyId, secretAccessKey }
    : { accessKeyId, secretAccessKey, sessionToken }
  const signer = new SignatureV4({ service, region: options.region, credentials, sha256: Sha256 })
  return async (request, now) => {
    const signed = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === "" ? {} : { port: Number(url.port) }),
        path: basePath + request.path,
        headers: { ...request.headers, host: url.host },
        body: request.body
      }),
      { signingDate: new Date(now) }
    )
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value
    return headers
  }
}
