import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable } from "@switchyard/core/GatewayError"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as VertexProvider from "../src/VertexProvider.js"
import { errorBody, helloResponse, publisherModels, textStream, tokenError, tokenResponse } from "./fixtures/geminiWire.js"
import * as FakeUpstream from "./GeminiUpstream.js"
import {
  apiRequests,
  buildVertex,
  formOf,
  privateKeyLine,
  privateKeyPem,
  serviceAccountKey,
  sleepReal,
  tokenRequests,
  verifyJwt
} from "./GeminiUpstream.js"

const request: ChatRequest = { model: "gemini-2.0-flash-001", messages: [{ role: "user", content: "Hello" }] }

const clientEmail = "switchyard@my-project.iam.gserviceaccount.com"

/** A token endpoint handing out `ya29.token-1`, `ya29.token-2`, ... valid `expiresIn` seconds. */
const issuing = (expiresIn = 3600) => {
  let issued = 0
  return () => FakeUpstream.json(tokenResponse(`ya29.token-${++issued}`, expiresIn))
}

const bearerOf = (exchange: FakeUpstream.Exchange) => exchange.headers["authorization"]

const start = Date.parse("2025-03-10T12:00:00Z")

describe("VertexProvider requests", () => {
  it.scoped("chat: POST .../publishers/google/models/{model}:generateContent with a bearer token from a signed JWT", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const { provider, requests, upstream } = yield* buildVertex(() => FakeUpstream.json(helloResponse), issuing())
      const response = yield* provider.chat(request)
      assert.strictEqual(response.choices[0]!.message.content, "AI learns patterns from data to make predictions or decisions.")
      assert.strictEqual(provider.name, "vertex")
      assert.strictEqual(provider.kind, "gemini")

      // https://developers.google.com/identity/protocols/oauth2/service-account#httprest
      const [token] = tokenRequests(requests)
      assert.strictEqual(token!.method, "POST")
      assert.strictEqual(token!.headers["content-type"], "application/x-www-form-urlencoded")
      const form = formOf(token!)
      assert.strictEqual(form.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer")
      const jwt = verifyJwt(form.assertion!)
      assert.isTrue(jwt.valid, "signed with the service account's private key (RS256)")
      assert.deepStrictEqual(jwt.header, { alg: "RS256", typ: "JWT" })
      assert.deepStrictEqual(jwt.claims, {
        iss: clientEmail,
        scope: "https://www.googleapis.com/auth/cloud-platform",
        aud: `${upstream.origin}/token`,
        iat: start / 1000,
        exp: start / 1000 + 3600
      })

      // https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
      const [sent] = apiRequests(requests)
      assert.strictEqual(sent!.method, "POST")
      assert.strictEqual(
        sent!.url,
        `${upstream.origin}/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:generateContent`
      )
      assert.strictEqual(bearerOf(sent!), "Bearer ya29.token-1")
      assert.strictEqual(sent!.headers["content-type"], "application/json")
      assert.isUndefined(sent!.headers["x-goog-api-key"])
      assert.deepStrictEqual(sent!.body, { contents: [{ role: "user", parts: [{ text: "Hello" }] }] })
    }))

  it.scoped("stream: :streamGenerateContent?alt=sse with the same token; the same chunks as the Gemini API", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* buildVertex(() => FakeUpstream.sse(textStream), issuing())
      const chunks = yield* Effect.map(Stream.runCollect(provider.chatStream(request)), Chunk.toArray)
      assert.strictEqual(chunks.map((c: ChatChunk) => c.choices[0]?.delta.content ?? "").join(""), "The capital of France is Paris.\n")
      assert.strictEqual(chunks[chunks.length - 2]!.choices[0]!.finish_reason, "stop")
      const [sent] = apiRequests(requests)
      assert.strictEqual(
        sent!.url,
        `${upstream.origin}/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent?alt=sse`
      )
      assert.strictEqual(bearerOf(sent!), "Bearer ya29.token-1")
    }))

  it.scoped("options: API version, other publishers' models and full resource names, extra headers; the default endpoints", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* buildVertex(() => FakeUpstream.json(helloResponse), issuing(), {
        name: "vertex-eu",
        project: "proj-42",
        location: "europe-west4",
        apiVersion: "v1beta1",
        headers: { "x-goog-user-project": "billing-42" }
      })
      yield* provider.chat(request)
      yield* provider.chat({ ...request, model: "publishers/meta/models/llama-3.3-70b-instruct-maas" })
      yield* provider.chat({ ...request, model: "projects/proj-42/locations/europe-west4/endpoints/1234567890" })
      assert.deepStrictEqual(apiRequests(requests).map((r) => r.path), [
        "/v1beta1/projects/proj-42/locations/europe-west4/publishers/google/models/gemini-2.0-flash-001:generateContent",
        "/v1beta1/projects/proj-42/locations/europe-west4/publishers/meta/models/llama-3.3-70b-instruct-maas:generateContent",
        "/v1beta1/projects/proj-42/locations/europe-west4/endpoints/1234567890:generateContent"
      ])
      assert.strictEqual(apiRequests(requests)[0]!.headers["x-goog-user-project"], "billing-42")

      // https://cloud.google.com/vertex-ai/docs/reference/rest#service-endpoint
      assert.strictEqual(VertexProvider.defaultBaseUrl("us-central1"), "https://us-central1-aiplatform.googleapis.com")
      assert.strictEqual(VertexProvider.defaultBaseUrl("global"), "https://aiplatform.googleapis.com")
    }))

  it.scoped("listModels asks the publisher model list (v1beta1) with the token; configured models need no request", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* buildVertex(() => FakeUpstream.json(publisherModels), issuing())
      assert.deepStrictEqual(yield* provider.listModels, [
        { id: "gemini-2.0-flash-001", object: "model", created: 0, owned_by: "vertex" },
        { id: "gemini-2.5-pro", object: "model", created: 0, owned_by: "vertex" }
      ])
      const [sent] = apiRequests(requests)
      assert.strictEqual(sent!.method, "GET")
      assert.strictEqual(sent!.path, "/v1beta1/publishers/google/models?pageSize=1000")
      assert.strictEqual(bearerOf(sent!), "Bearer ya29.token-1")

      const configured = yield* buildVertex(() => FakeUpstream.json({}), issuing(), { models: ["gemini-2.5-pro", "gemini-2.0-*"] })
      assert.deepStrictEqual(yield* configured.provider.listModels, [{ id: "gemini-2.5-pro", object: "model", created: 0, owned_by: "vertex" }])
      assert.strictEqual(configured.requests.length, 0)
    }))

  it.scoped("layer registers the provider; a key given as redacted JSON text works", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start((exchange) =>
        exchange.path === "/token" ? FakeUpstream.json(tokenResponse("ya29.layer")) : FakeUpstream.json(helloResponse)
      )
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        const vertex = Option.getOrThrow(registry.get("vertex"))
        yield* vertex.chat(request)
        assert.strictEqual(bearerOf(apiRequests(upstream.requests)[0]!), "Bearer ya29.layer")
      }).pipe(
        Effect.provide(Layer.provideMerge(
          VertexProvider.layer({
            project: "my-project",
            location: "us-central1",
            serviceAccount: Redacted.make(JSON.stringify(serviceAccountKey(`${upstream.origin}/token`))),
            baseUrl: upstream.origin
          }),
          ProviderRegistry.layer
        ))
      )
    }))
})

describe("VertexProvider tokens", () => {
  it.scoped("one token serves every request while it is valid: fetched once, reused by chat, streams and the model list", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* buildVertex(
        (exchange) => exchange.path.includes("streamGenerateContent") ? FakeUpstream.sse(textStream) : FakeUpstream.json(helloResponse),
        issuing()
      )
      yield* provider.chat(request)
      yield* TestClock.adjust("30 minutes")
      yield* provider.chat(request)
      yield* Stream.runDrain(provider.chatStream(request))
      yield* TestClock.adjust("24 minutes")
      yield* provider.chat(request)
      assert.strictEqual(tokenRequests(requests).length, 1)
      assert.deepStrictEqual(apiRequests(requests).map(bearerOf), Array(4).fill("Bearer ya29.token-1"))
    }))

  it.scoped("concurrent requests share one token request", () =>
    Effect.gen(function*() {
      let held: FakeUpstream.Exchange | undefined
      const { provider, requests, upstream } = yield* buildVertex(() => FakeUpstream.json(helloResponse), (exchange) => {
        held = exchange
        return undefined // answered below, once every request waits for it
      })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(provider.chat(request)))
      yield* FakeUpstream.received(upstream, 1)
      yield* sleepReal(50)
      assert.strictEqual(requests.length, 1, "one token request, no API request yet")
      held!.head(200, { "content-type": "application/json" })
      yield* Effect.promise(() => held!.end(JSON.stringify(tokenResponse("ya29.shared"))))
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(tokenRequests(requests).length, 1)
      assert.deepStrictEqual(apiRequests(requests).map(bearerOf), Array(3).fill("Bearer ya29.shared"))
    }))

  it.scoped("refreshed in the background 5 minutes before expiry (TestClock): the old token serves until the new one is there", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const { provider, requests } = yield* buildVertex(() => FakeUpstream.json(helloResponse), issuing())
      yield* provider.chat(request)
      yield* TestClock.adjust("54 minutes")
      yield* provider.chat(request)
      assert.strictEqual(tokenRequests(requests).length, 1, "not yet")

      yield* TestClock.adjust("1 minute")
      yield* provider.chat(request)
      // served at once with the old token, while the new one is fetched
      assert.strictEqual(bearerOf(apiRequests(requests)[2]!), "Bearer ya29.token-1")
      yield* FakeUpstream.eventually("a second token request", () => tokenRequests(requests).length === 2)
      const jwt = verifyJwt(formOf(tokenRequests(requests)[1]!).assertion!)
      assert.strictEqual(jwt.claims.iat, start / 1000 + 55 * 60)

      // once it arrived, the new token is used
      let bearer = ""
      for (let i = 0; i < 100 && bearer !== "Bearer ya29.token-2"; i++) {
        yield* provider.chat(request)
        bearer = bearerOf(apiRequests(requests).at(-1)!) ?? ""
        if (bearer !== "Bearer ya29.token-2") yield* sleepReal(5)
      }
      assert.strictEqual(bearer, "Bearer ya29.token-2")
      assert.strictEqual(tokenRequests(requests).length, 2)
    }))

  it.scoped("a failed background refresh keeps the valid token; an expired token is never sent: the request waits for a new one", () =>
    Effect.gen(function*() {
      let calls = 0
      const { provider, requests } = yield* buildVertex(() => FakeUpstream.json(helloResponse), () => {
        calls++
        return calls === 2
          ? FakeUpstream.json(tokenError("temporarily_unavailable", "try later"), { status: 503 })
          : FakeUpstream.json(tokenResponse(`ya29.token-${calls}`))
      })
      yield* provider.chat(request)
      yield* TestClock.adjust("56 minutes")
      yield* provider.chat(request)
      yield* FakeUpstream.eventually("the refresh", () => tokenRequests(requests).length === 2 && tokenRequests(requests)[1]!.finished)
      yield* sleepReal(20)
      // within 10 s of the failure: no new attempt, the old token still serves
      yield* provider.chat(request)
      assert.strictEqual(tokenRequests(requests).length, 2)
      assert.deepStrictEqual(apiRequests(requests).map(bearerOf), Array(3).fill("Bearer ya29.token-1"))

      // past the expiry: the request waits for a token
      yield* TestClock.adjust("5 minutes")
      yield* provider.chat(request)
      assert.strictEqual(tokenRequests(requests).length, 3)
      assert.strictEqual(bearerOf(apiRequests(requests).at(-1)!), "Bearer ya29.token-3")
    }))

  it.scoped("waiting for a token counts against CallOptions.timeoutMillis", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* buildVertex(() => FakeUpstream.json(helloResponse), FakeUpstream.never, {
        timeout: "1 minute"
      })
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 2000 })))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 2000)
      assert.strictEqual(apiRequests(requests).length, 0)

      // the token request itself gives up after 30 s
      yield* TestClock.adjust("28 seconds")
      yield* FakeUpstream.abortedBy(upstream)
    }))
})

describe("VertexProvider token failures", () => {
  it.scoped("a refused assertion is a terminal ProviderStatusError naming the account; the API is not called", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* buildVertex(
        () => FakeUpstream.json(helloResponse),
        () => FakeUpstream.json(tokenError("invalid_grant", "Invalid JWT Signature."), { status: 400 })
      )
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderStatusError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.upstreamType, "invalid_grant")
      assert.strictEqual(
        error.message,
        `Could not get an access token for service account ${clientEmail} from its token endpoint (invalid_grant: Invalid JWT Signature.)`
      )
      assert.isFalse(isRetryable(error))
      assert.strictEqual(apiRequests(requests).length, 0)

      // the next request tries again
      yield* Effect.flip(provider.chat(request))
      assert.strictEqual(tokenRequests(requests).length, 2)
    }))

  it.scoped("a token endpoint that fails (503, a page that is not JSON) or answers without a token; an unreachable one", () =>
    Effect.gen(function*() {
      const down = yield* buildVertex(() => FakeUpstream.json(helloResponse), () => ({ status: 503, body: "<html>Service Unavailable</html>" }))
      const e1 = yield* Effect.flip(down.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.status, 503)
      assert.include(e1.message, "Could not get an access token")
      assert.isTrue(isRetryable(e1))

      const empty = yield* buildVertex(() => FakeUpstream.json(helloResponse), () => FakeUpstream.json({ token_type: "Bearer" }))
      const e2 = yield* Effect.flip(empty.provider.chat(request))
      assert(e2._tag === "ProviderOutputError")
      assert.include(e2.detail, "no access_token")

      const port = yield* FakeUpstream.closedPort
      const api = yield* FakeUpstream.start(() => FakeUpstream.json(helloResponse))
      const unreachable = yield* VertexProvider.make({
        project: "my-project",
        location: "us-central1",
        serviceAccount: serviceAccountKey(`http://127.0.0.1:${port}/token`),
        baseUrl: api.origin
      })
      const e3 = yield* Effect.flip(unreachable.chat(request))
      assert(e3._tag === "ProviderUnreachable")
      assert.include(e3.detail, `http://127.0.0.1:${port}/token`)
      assert.isTrue(isRetryable(e3))
      assert.strictEqual(api.requests.length, 0)
    }))

  it.scoped("the private key, the JWT and the tokens never appear in errors", () =>
    Effect.gen(function*() {
      // A token endpoint echoing the assertion and part of the key
      const echo = yield* buildVertex(
        () => FakeUpstream.json(helloResponse),
        (exchange) =>
          FakeUpstream.json(tokenError("invalid_grant", `bad assertion ${formOf(exchange).assertion} for key ${privateKeyLine}`), { status: 400 })
      )
      const e1 = yield* Effect.flip(echo.provider.chat(request))
      const assertion = formOf(tokenRequests(echo.requests)[0]!).assertion!
      assert(e1._tag === "ProviderStatusError")
      assert.include(e1.message, "bad assertion [REDACTED] for key [REDACTED]")
      for (const text of [JSON.stringify(e1), String(e1), e1.message, e1.body]) {
        assert.notInclude(text, assertion)
        assert.notInclude(text, privateKeyLine)
      }

      // Vertex AI echoing the bearer token
      const leaky = yield* buildVertex(
        (exchange) => FakeUpstream.json(errorBody(401, "UNAUTHENTICATED", `bad credentials: ${exchange.headers["authorization"]}`), { status: 401 }),
        issuing()
      )
      const e2 = yield* Effect.flip(leaky.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 401)
      assert.strictEqual(e2.upstreamMessage, "bad credentials: Bearer [REDACTED]")
      for (const text of [JSON.stringify(e2), String(e2), e2.body]) assert.notInclude(text, "ya29.token-1")

      // a stream's error event echoing it
      const leakyStream = yield* buildVertex(
        (exchange) => FakeUpstream.sse(`data: ${JSON.stringify(errorBody(500, "INTERNAL", `oops ${exchange.headers["authorization"]}`))}\n\n`),
        issuing()
      )
      const e3 = yield* Effect.flip(Stream.runDrain(leakyStream.provider.chatStream(request)))
      assert(e3._tag === "ProviderStatusError")
      assert.notInclude(JSON.stringify(e3), "ya29.token-1")
    }))

  it.scoped("a key that cannot be used fails the build with a ServiceAccountError that does not hold the key", () =>
    Effect.gen(function*() {
      const base = { project: "p", location: "us-central1" }
      const broken = privateKeyPem.replace(privateKeyLine, privateKeyLine.split("").reverse().join(""))
      const cases = [
        [Redacted.make("not json"), "the service account key is not JSON"],
        [{ ...serviceAccountKey("https://oauth2.googleapis.com/token"), client_email: undefined }, "no client_email"],
        [{ ...serviceAccountKey("https://oauth2.googleapis.com/token"), private_key: broken }, "is not a PEM private key"],
        [{ ...serviceAccountKey("ftp://example.com/token") }, "token_uri is not an http(s) URL"]
      ] as const
      for (const [serviceAccount, reason] of cases) {
        const error = yield* Effect.flip(
          VertexProvider.make({ ...base, serviceAccount: serviceAccount as VertexProvider.Options["serviceAccount"] })
        )
        assert.strictEqual(error._tag, "ServiceAccountError")
        assert.include(error.message, reason)
        for (const text of [error.message, JSON.stringify(error), String(error)]) {
          assert.notInclude(text, privateKeyLine)
          assert.notInclude(text, broken.split("\n")[1]!)
        }
      }
      const typed = yield* Effect.flip(VertexProvider.make({ ...base, serviceAccount: Redacted.make("{}") }))
      assert.strictEqual(typed._tag, "ServiceAccountError")
      assert.strictEqual(typed.message, "Provider 'vertex': the service account key has no client_email")
    }))
})
