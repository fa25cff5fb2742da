/**
 * The shared fake upstream (`@switchyard/provider-http/TestUpstream`) and Gemini API and Vertex
 * AI providers built on it.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Answer, type Exchange, start } from "@switchyard/provider-http/TestUpstream"
import * as Crypto from "node:crypto"
import * as GeminiProvider from "../src/GeminiProvider.js"
import * as VertexProvider from "../src/VertexProvider.js"

export * from "@switchyard/provider-http/TestUpstream"

/** The credential the tests' Gemini provider is built with; it must never show up in an error. */
export const secret = "AIzaSyTEST-abcdefghijklmnopqrstuvwxyz0123"
export const apiKey = Redacted.make(secret)

/**
 * A Gemini API provider over a fresh upstream answering with `answer` (its base URL is the
 * upstream's origin: the provider appends `/v1beta/models/...`), both living in the Scope;
 * `requests` records what the upstream was sent.
 */
export const build = (answer: Answer, options: Partial<GeminiProvider.Options> = {}) =>
  Effect.gen(function*() {
    const upstream = yield* start(answer)
    const provider = yield* GeminiProvider.make({ apiKey, baseUrl: upstream.origin, ...options })
    return { provider, requests: upstream.requests, upstream }
  })

/** An RSA key pair made for the tests: the private key signs, the public key checks the JWTs. */
export const keyPair = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
export const privateKeyPem = keyPair.privateKey.export({ type: "pkcs8", format: "pem" }).toString()

/** A service account key shaped like the JSON file Google Cloud gives (https://cloud.google.com/iam/docs/keys-create-delete). */
export const serviceAccountKey = (tokenUri: string): VertexProvider.ServiceAccountKey => ({
  type: "service_account",
  project_id: "my-project",
  private_key_id: "0123456789abcdef0123456789abcdef01234567",
  private_key: privateKeyPem,
  client_email: "switchyard@my-project.iam.gserviceaccount.com",
  client_id: "123456789012345678901",
  auth_uri: "https://accounts.google.com/o/oauth2/auth",
  token_uri: tokenUri,
  auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
  client_x509_cert_url: "https://www.googleapis.com/robot/v1/metadata/x509/switchyard%40my-project.iam.gserviceaccount.com",
  universe_domain: "googleapis.com"
})

/** A line of the private key's base64 body (what an error body echoing part of the key would hold). */
export const privateKeyLine = privateKeyPem.split("\n")[1]!

/** The requests to the token endpoint (`/token`), and the others. */
export const tokenRequests = (requests: ReadonlyArray<Exchange>) => requests.filter((r) => r.path === "/token")
export const apiRequests = (requests: ReadonlyArray<Exchange>) => requests.filter((r) => r.path !== "/token")

/**
 * A Vertex AI provider over a fresh upstream that is both the Vertex AI endpoint (answering with
 * `answer`) and the token endpoint at `/token` (answering with `token`).
 */
export const buildVertex = (
  answer: Answer,
  token: Answer,
  options: Partial<VertexProvider.Options> = {}
) =>
  Effect.gen(function*() {
    const upstream = yield* start((exchange) => exchange.path === "/token" ? token(exchange) : answer(exchange))
    const provider = yield* VertexProvider.make({
      project: "my-project",
      location: "us-central1",
      serviceAccount: serviceAccountKey(`${upstream.origin}/token`),
      baseUrl: upstream.origin,
      ...options
    })
    return { provider, requests: upstream.requests, upstream }
  })

/** A JWT's header and claims, after checking its RS256 signature with the tests' public key. */
export const verifyJwt = (jwt: string) => {
  const [header, claims, signature] = jwt.split(".")
  const valid = Crypto.verify(
    "sha256",
    Buffer.from(`${header}.${claims}`, "utf8"),
    keyPair.publicKey,
    Buffer.from(signature ?? "", "base64url")
  )
  return {
    valid,
    header: JSON.parse(Buffer.from(header ?? "", "base64url").toString("utf8")) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims ?? "", "base64url").toString("utf8")) as Record<string, unknown>
  }
}

/** The form fields of a token request. */
export const formOf = (exchange: Exchange): Record<string, string> =>
  Object.fromEntries(new URLSearchParams(String(exchange.body)))

/** Waits in real time. */
export const sleepReal = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))
