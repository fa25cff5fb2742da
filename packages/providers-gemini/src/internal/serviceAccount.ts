/**
 * OAuth 2.0 access tokens for a Google service account, for Vertex AI: a JWT signed with the
 * account's private key (RS256) is exchanged at its token endpoint
 * (https://developers.google.com/identity/protocols/oauth2/service-account#httprest). Tokens are
 * cached and refreshed before they expire, on the Effect Clock; concurrent requests share one
 * refresh. The private key, the JWTs and the tokens are redacted from every error.
 *
 * @internal
 */
import * as Deadlines from "@switchyard/core/Deadlines"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Redact from "@switchyard/provider-http/Redact"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import { isRecord } from "@switchyard/provider-http/Wire"

/** The scope Vertex AI needs (https://cloud.google.com/vertex-ai/docs/authentication). @internal */
export const scope = "https://www.googleapis.com/auth/cloud-platform"

/** Where a key without `token_uri` gets its tokens. @internal */
export const defaultTokenUri = "https://oauth2.googleapis.com/token"

/** "The maximum value is 1 hour after the issued time" (the `exp` claim). @internal */
export const assertionLifetimeSeconds = 3600

/** A token is refreshed this long before it expires (at most half its lifetime before). @internal */
export const refreshMarginMillis = 5 * 60 * 1000

/** After a failed refresh while the old token is still valid, the next try waits this long. @internal */
export const retryRefreshAfterMillis = 10 * 1000

/** The longest a token request may take. @internal */
export const maxTokenTimeoutMillis = 30 * 1000

/** What the key holds, checked. @internal */
export interface Key {
  readonly clientEmail: string
  readonly privateKey: Crypto.KeyObject
  /** The PEM text, to redact. */
  readonly privateKeyPem: string
  readonly tokenUri: string
}

/**
 * Reads a service account key (the JSON file's object): `client_email`, `private_key` (a PEM
 * RSA key) and `token_uri` (default Google's). The message of a failure never holds the key.
 *
 * @internal
 */
export const parseKey = (value: unknown): Either.Either<Key, string> => {
  if (!isRecord(value)) return Either.left("the service account key is not a JSON object")
  const { client_email: clientEmail, private_key: pem, token_uri: tokenUri } = value
  if (typeof clientEmail !== "string" || clientEmail === "") return Either.left("the service account key has no client_email")
  if (typeof pem !== "string" || pem === "") return Either.left("the service account key has no private_key")
  if (tokenUri !== undefined && (typeof tokenUri !== "string" || !/^https?:\/\//.test(tokenUri))) {
    return Either.left("the service account key's token_uri is not an http(s) URL")
  }
  let privateKey: Crypto.KeyObject
  try {
    privateKey = Crypto.createPrivateKey(pem)
  } catch {
    return Either.left(`the private_key of service account ${clientEmail} is not a PEM private key`)
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    return Either.left(`the private_key of service account ${clientEmail} is not an RSA key`)
  }
  return Either.right({ clientEmail, privateKey, privateKeyPem: pem, tokenUri: tokenUri ?? defaultTokenUri })
}

/** The secrets of a PEM key: the whole text and each of its base64 lines (a body may echo one). */
const pemSecrets = (pem: string): Array<string> => [
  pem,
  ...pem.split(/\r?\n|\\n/).map((line) => line.trim()).filter((line) => line.length >= 16 && !line.startsWith("-----"))
]

const base64url = (text: string): string => Buffer.from(text, "utf8").toString("base64url")

/**
 * The JWT a service account asserts itself with: header `{"alg":"RS256","typ":"JWT"}`, claims
 * `iss` (the account's email), `scope`, `aud` (the token endpoint), `iat` and `exp` (an hour
 * later), signed with RSA SHA-256.
 *
 * @internal
 */
export const assertion = (key: Key, nowSeconds: number): string => {
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))
  const claims = base64url(JSON.stringify({
    iss: key.clientEmail,
    scope,
    aud: key.tokenUri,
    iat: nowSeconds,
    exp: nowSeconds + assertionLifetimeSeconds
  }))
  const unsigned = `${header}.${claims}`
  return `${unsigned}.${Crypto.sign("sha256", Buffer.from(unsigned, "utf8"), key.privateKey).toString("base64url")}`
}

interface Token {
  readonly value: string
  readonly expiresAt: number
  readonly refreshAt: number
}

/** `{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}` (RFC 6749 §5.2). */
const tokenErrorBody = (clientEmail: string) => (body: string): UpstreamErrors.UpstreamError => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    value = undefined
  }
  const error = isRecord(value) && typeof value.error === "string" ? value.error : undefined
  const description = isRecord(value) && typeof value.error_description === "string" ? value.error_description : undefined
  const detail = [error, description].filter((s) => s !== undefined).join(": ")
  const out: { message: string; type?: string; code?: string } = {
    message: `Could not get an access token for service account ${clientEmail} from its token endpoint${detail === "" ? "" : ` (${detail})`}`
  }
  if (error !== undefined) {
    out.type = error
    out.code = error
  }
  return out
}

/** @internal */
export interface TokenSource {
  /**
   * A valid access token, waiting at most `timeoutMillis` for one (`ProviderTimeout`), and how
   * long it waited.
   */
  readonly token: (timeoutMillis: number) => Effect.Effect<{ readonly token: string; readonly waitedMillis: number }, ProviderError>
  /** Removes the private key, the assertions and the tokens from a text. */
  readonly redact: Redactor
}

/**
 * A token source for a key, with its own connection to the token endpoint, living as long as the
 * Scope. `timeoutMillis` bounds a token request (at most `maxTokenTimeoutMillis`).
 *
 * @internal
 */
export const make = (
  provider: string,
  key: Key,
  timeoutMillis: number,
  deadlines: Deadlines.Deadlines
): Effect.Effect<TokenSource, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scopeOfSource = yield* Effect.scope
    const clock = yield* Effect.clock
    const fixedSecrets = pemSecrets(key.privateKeyPem)
    /** The tokens and assertions to redact: the last few (older ones are expired). */
    let recent: Array<string> = []
    let redactSecrets = Redact.make(fixedSecrets)
    const remember = (secret: string) => {
      recent = [...recent.slice(-3), secret]
      redactSecrets = Redact.make([...fixedSecrets, ...recent])
    }
    const redact: Redactor = (text) => redactSecrets(text)

    const requestTimeout = Math.min(timeoutMillis, maxTokenTimeoutMillis)
    const endpoint = yield* Upstream.make({
      provider,
      baseUrl: key.tokenUri,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      redact,
      errorBody: tokenErrorBody(key.clientEmail),
      timeoutMillis: requestTimeout
    }, deadlines)

    const parseToken = (now: number) => (text: string): Either.Either<Token, ProviderError> => {
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        value = undefined
      }
      // Never a preview of the body: it may hold a token.
      if (!isRecord(value) || typeof value.access_token !== "string" || value.access_token === "") {
        return Either.left(UpstreamErrors.outputError(provider, "the token endpoint's answer has no access_token", redact))
      }
      remember(value.access_token)
      const lifetime = typeof value.expires_in === "number" && value.expires_in > 0 ? value.expires_in * 1000 : assertionLifetimeSeconds * 1000
      const expiresAt = now + lifetime
      return Either.right({ value: value.access_token, expiresAt, refreshAt: expiresAt - Math.min(refreshMarginMillis, lifetime / 2) })
    }

    const fetchToken: Effect.Effect<Token, ProviderError> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const jwt = assertion(key, Math.floor(now / 1000))
      remember(jwt)
      const body = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt }).toString()
      return endpoint.exchange({ method: "POST", path: "", body, timeoutMillis: requestTimeout }, parseToken(now))
    })

    let cached: Token | undefined
    let refreshing: Deferred.Deferred<Token, ProviderError> | undefined
    let noBackgroundRefreshBefore = 0

    /** The refresh under way, or a new one, forked in the source's Scope (a caller's interruption does not stop it). */
    const refresh: Effect.Effect<Deferred.Deferred<Token, ProviderError>> = Effect.suspend(() => {
      if (refreshing !== undefined) return Effect.succeed(refreshing)
      const deferred = Deferred.unsafeMake<Token, ProviderError>(FiberId.none)
      refreshing = deferred
      const run = Effect.flatMap(Effect.exit(fetchToken), (exit) => {
        refreshing = undefined
        if (Exit.isSuccess(exit)) cached = exit.value
        else noBackgroundRefreshBefore = clock.unsafeCurrentTimeMillis() + retryRefreshAfterMillis
        return Deferred.done(deferred, exit)
      }).pipe(Effect.onInterrupt(() => Deferred.interrupt(deferred)))
      return Effect.as(Effect.forkIn(run, scopeOfSource), deferred)
    })

    const token: TokenSource["token"] = (waitMillis) =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const current = cached
        if (current !== undefined && now < current.expiresAt) {
          const ready = Effect.succeed({ token: current.value, waitedMillis: 0 })
          // Still valid: used now, and replaced in the background once it is close to expiry.
          return now >= current.refreshAt && refreshing === undefined && now >= noBackgroundRefreshBefore
            ? Effect.zipRight(refresh, ready)
            : ready
        }
        return Effect.flatMap(refresh, (deferred) =>
          Deadlines.within(deadlines, waitMillis, () => UpstreamErrors.timeout(provider, waitMillis), Deferred.await(deferred)).pipe(
            Effect.map((fresh) => ({ token: fresh.value, waitedMillis: clock.unsafeCurrentTimeMillis() - now }))
          ))
      })

    return { token, redact }
  })
