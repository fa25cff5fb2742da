import { assert, describe, it } from "@effect/vitest"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import { isRetryable, ProviderStatusError } from "@switchyard/core/GatewayError"
import * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as AzureOpenAiProvider from "../src/AzureOpenAiProvider.js"
import * as FakeUpstream from "./AzureUpstream.js"
import { apiKey, build, chatPath, entraSecret, secret } from "./AzureUpstream.js"
import {
  annotatedCompletion,
  contentFilterError,
  errors,
  filteredCompletion,
  referenceCompletion,
  textStream
} from "./fixtures/azureWire.js"

// The REST reference's chat completions example request.
const request: ChatRequest = {
  model: "gpt-4o",
  messages: [
    { role: "system", content: "you are a helpful assistant that talks like a pirate" },
    { role: "user", content: "can you tell me how to care for a parrot?" }
  ]
}

describe("AzureOpenAiProvider.chat (https://learn.microsoft.com/azure/ai-services/openai/reference#chat-completions)", () => {
  it.scoped("POSTs the body as it is to the deployment's URL with api-version 2024-10-21 and the api-key header", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(() => FakeUpstream.json(annotatedCompletion))
      const response = yield* provider.chat(request)

      const sent = requests[0]!
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, `${upstream.origin}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`)
      assert.strictEqual(sent.headers["api-key"], secret)
      assert.isUndefined(sent.headers["authorization"])
      assert.strictEqual(sent.headers["content-type"], "application/json")
      assert.deepStrictEqual(sent.body, request)

      // parsed, not re-encoded: the annotations and usage details pass through
      assert.deepStrictEqual(response, annotatedCompletion as unknown)
      assert.deepStrictEqual((response as Record<string, unknown>).prompt_filter_results, annotatedCompletion.prompt_filter_results)
      assert.deepStrictEqual(response.usage, annotatedCompletion.usage)
    }))

  it.scoped("maps each model to its deployment (URL-encoded); a model without one goes to the deployment named like it", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(annotatedCompletion))
      const provider = yield* AzureOpenAiProvider.make({
        endpoint: `${upstream.origin}/aoai-gateway/`,
        apiKey,
        apiVersion: "2025-04-01-preview",
        deployments: { "gpt-4o": "prod-gpt4o-eastus", "gpt-4o-mini": "mini east/1" }
      })
      yield* provider.chat(request)
      yield* provider.chat({ ...request, model: "gpt-4o-mini" })
      yield* provider.chat({ ...request, model: "o3-mini" })
      yield* provider.chat({ ...request, model: "constructor" })
      assert.deepStrictEqual(upstream.requests.map((r) => r.path), [
        `/aoai-gateway${chatPath("prod-gpt4o-eastus", "2025-04-01-preview")}`,
        `/aoai-gateway${chatPath("mini%20east%2F1", "2025-04-01-preview")}`,
        `/aoai-gateway${chatPath("o3-mini", "2025-04-01-preview")}`,
        `/aoai-gateway${chatPath("constructor", "2025-04-01-preview")}`
      ])
      // the model id in the body is the request's, whatever the deployment
      assert.strictEqual((upstream.requests[1]!.body as ChatRequest).model, "gpt-4o-mini")
    }))

  it.scoped("the reference's example answer, which has no object and no model, is completed with them", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(referenceCompletion))
      const response = yield* provider.chat(request)
      assert.deepStrictEqual(response, { ...referenceCompletion, object: "chat.completion", model: "gpt-4o" } as unknown)
    }))

  it.scoped("a 200 whose choice the filter cut: finish_reason content_filter, content null, the verdict passes through", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(filteredCompletion))
      const response = yield* provider.chat(request)
      const choice = response.choices[0]!
      assert.strictEqual(choice.finish_reason, "content_filter")
      assert.deepStrictEqual(choice.message, { role: "assistant", content: null })
      assert.deepStrictEqual(
        (choice as Record<string, unknown>).content_filter_results,
        filteredCompletion.choices[0]!.content_filter_results
      )
      assert.deepStrictEqual((response as Record<string, unknown>).prompt_filter_results, filteredCompletion.prompt_filter_results)
      assert.deepStrictEqual(response.usage, filteredCompletion.usage)
    }))

  it.scoped("extra headers are sent along with the key", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(
        () => FakeUpstream.json(annotatedCompletion),
        { headers: { "X-Ms-Client-Request-Id": "req-42", "Ocp-Apim-Subscription-Key": "apim-secret-77" } }
      )
      yield* provider.chat(request)
      assert.strictEqual(requests[0]!.headers["x-ms-client-request-id"], "req-42")
      assert.strictEqual(requests[0]!.headers["ocp-apim-subscription-key"], "apim-secret-77")
      assert.strictEqual(requests[0]!.headers["api-key"], secret)
    }))
})

describe("AzureOpenAiProvider authentication (https://learn.microsoft.com/azure/ai-services/openai/reference#authentication)", () => {
  it.scoped("a static Microsoft Entra ID token is sent as Authorization: Bearer, without api-key", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(
        (exchange) =>
          (exchange.body as ChatRequest).stream === true ? FakeUpstream.sse(textStream) : FakeUpstream.json(annotatedCompletion),
        { entraToken: Redacted.make(entraSecret) }
      )
      yield* provider.chat(request)
      yield* Stream.runDrain(provider.chatStream(request))
      assert.strictEqual(requests.length, 2)
      for (const sent of requests) {
        assert.strictEqual(sent.headers["authorization"], `Bearer ${entraSecret}`)
        assert.isUndefined(sent.headers["api-key"])
      }
    }))

  it.scoped("a token from an Effect is asked for on every request, chat and stream, and never reused", () =>
    Effect.gen(function*() {
      let issued = 0
      const entraToken = Effect.sync(() => Redacted.make(`entra-token-${++issued}`))
      const { provider, requests } = yield* build(
        (exchange) =>
          (exchange.body as ChatRequest).stream === true ? FakeUpstream.sse(textStream) : FakeUpstream.json(annotatedCompletion),
        { entraToken }
      )
      assert.strictEqual(issued, 0)
      yield* provider.chat(request)
      yield* provider.chat(request)
      yield* Stream.runDrain(provider.chatStream(request))
      yield* Effect.scoped(Effect.flatMap(provider.openStream!(request), (pull) => pull))
      assert.strictEqual(issued, 4)
      assert.deepStrictEqual(requests.map((r) => r.headers["authorization"]), [
        "Bearer entra-token-1",
        "Bearer entra-token-2",
        "Bearer entra-token-3",
        "Bearer entra-token-4"
      ])
      assert.isTrue(requests.every((r) => r.headers["api-key"] === undefined))
    }))

  it.scoped("a token Effect that fails: a retryable ProviderUnreachable (or the ProviderError it failed with), nothing sent", () =>
    Effect.gen(function*() {
      const { provider, requests } = yield* build(() => FakeUpstream.json(annotatedCompletion), {
        entraToken: Effect.fail(new Error("ManagedIdentityCredential: no managed identity endpoint found"))
      })
      const error = yield* Effect.flip(provider.chat(request))
      assert(error._tag === "ProviderUnreachable")
      assert.strictEqual(
        error.detail,
        "could not get a Microsoft Entra ID token: ManagedIdentityCredential: no managed identity endpoint found"
      )
      assert.isTrue(isRetryable(error))
      const streamError = yield* Effect.flip(Stream.runDrain(provider.chatStream(request)))
      assert.strictEqual(streamError._tag, "ProviderUnreachable")
      assert.strictEqual(requests.length, 0)

      const refused = new ProviderStatusError({ provider: "entra", status: 401, body: "", upstreamCode: "invalid_client" })
      const { provider: typed } = yield* build(() => FakeUpstream.json(annotatedCompletion), { entraToken: Effect.fail(refused) })
      assert.strictEqual(yield* Effect.flip(typed.chat(request)), refused)
    }))

  it.scoped("the token's time counts towards the call's timeout", () =>
    Effect.gen(function*() {
      // the token takes 1.5 s of the call's 2 s: the request gets the other 0.5 s
      const { provider, requests, upstream } = yield* build(FakeUpstream.never, {
        entraToken: Effect.as(Effect.sleep("1500 millis"), Redacted.make(entraSecret))
      })
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 2000 })))
      yield* TestClock.adjust("1500 millis")
      yield* FakeUpstream.received(upstream)
      assert.strictEqual(requests[0]!.headers["authorization"], `Bearer ${entraSecret}`)
      yield* TestClock.adjust("499 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 2000)
      yield* FakeUpstream.abortedBy(upstream)

      // a token that never comes is the call's timeout too, and nothing is sent
      const stuck = yield* build(FakeUpstream.never, { entraToken: Effect.never })
      const waiting = yield* Effect.fork(Effect.flip(stuck.provider.chat(request, { timeoutMillis: 2000 })))
      yield* TestClock.adjust("2 seconds")
      const timedOut = yield* Fiber.join(waiting)
      assert(timedOut._tag === "ProviderTimeout")
      assert.strictEqual(timedOut.afterMillis, 2000)
      assert.strictEqual(stuck.requests.length, 0)
    }))

  it.scoped("apiKey and entraToken together is a configuration error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        AzureOpenAiProvider.make({ endpoint: "http://127.0.0.1:9", apiKey, entraToken: Redacted.make(entraSecret) })
      )
      assert.isTrue(Exit.isFailure(exit) && !Exit.isInterrupted(exit))
      assert.match(String(exit), /give apiKey or entraToken, not both/)
    }))
})

describe("AzureOpenAiProvider errors (the OpenAI error envelope)", () => {
  it.scoped("a prompt the content filter refused: a terminal 400 with code content_filter; the verdict stays in the body", () =>
    Effect.gen(function*() {
      const { provider } = yield* build(() => FakeUpstream.json(contentFilterError, { status: 400 }))
      for (const failing of [provider.chat(request), Stream.runDrain(provider.chatStream(request))]) {
        const error = yield* Effect.flip(failing)
        assert(error._tag === "ProviderStatusError")
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.upstreamCode, "content_filter")
        assert.strictEqual(error.upstreamParam, "prompt")
        assert.isUndefined(error.upstreamType)
        assert.strictEqual(error.message, contentFilterError.error.message)
        assert.isFalse(isRetryable(error))
        const body = JSON.parse(error.body)
        assert.strictEqual(body.error.innererror.code, "ResponsibleAIPolicyViolation")
        assert.deepStrictEqual(body.error.innererror.content_filter_result, contentFilterError.error.innererror.content_filter_result)
      }
    }))

  it.scoped("each class: the HTTP status, code and message, retryable for 429 and 5xx", () =>
    Effect.gen(function*() {
      const classes = [
        [400, errors.invalidRequest, undefined, false],
        [401, errors.unauthorized, "401", false],
        [403, errors.permissionDenied, "PermissionDenied", false],
        [404, errors.deploymentNotFound, "DeploymentNotFound", false],
        [429, errors.rateLimited, "429", true],
        [500, errors.serverError, undefined, true],
        [503, errors.unavailable, "ServiceUnavailable", true]
      ] as const
      for (const [status, body, code, retryable] of classes) {
        const { provider } = yield* build(() => FakeUpstream.json(body, { status }))
        const error = yield* Effect.flip(provider.chat(request))
        assert(error._tag === "ProviderStatusError", String(status))
        assert.strictEqual(error.status, status)
        assert.strictEqual(error.upstreamCode, code, String(status))
        assert.strictEqual(error.message, body.error.message)
        assert.strictEqual(isRetryable(error), retryable, String(status))
        assert.deepStrictEqual(JSON.parse(error.body), body)
      }
    }))

  it.scoped("429 carries the delay: retry-after-ms first, else retry-after in seconds", () =>
    Effect.gen(function*() {
      const both = yield* build(() =>
        FakeUpstream.json(errors.rateLimited, { status: 429, headers: { "retry-after": "6", "retry-after-ms": "5400" } })
      )
      const e1 = yield* Effect.flip(both.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.retryAfterMillis, 5400)
      assert.isTrue(isRetryable(e1))

      const seconds = yield* build(() => FakeUpstream.json(errors.rateLimited, { status: 429, headers: { "retry-after": "6" } }))
      const e2 = yield* Effect.flip(seconds.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.retryAfterMillis, 6000)

      const stream = yield* Effect.flip(Stream.runDrain(both.provider.chatStream(request)))
      assert(stream._tag === "ProviderStatusError")
      assert.strictEqual(stream.status, 429)
      assert.strictEqual(stream.retryAfterMillis, 5400)
    }))

  it.scoped("the key and tokens never appear in an error: answers echoing them, credential-like headers, an unreachable endpoint", () =>
    Effect.gen(function*() {
      const headers = { "ocp-apim-subscription-key": "apim-secret-77" }
      const echo = (exchange: FakeUpstream.Exchange) =>
        FakeUpstream.json({
          error: {
            code: "401",
            message: `bad credentials: ${exchange.headers["api-key"]} ${exchange.headers["authorization"]} ${
              exchange.headers["ocp-apim-subscription-key"]
            }`
          }
        }, { status: 401 })
      const secrets = [secret, entraSecret, "entra-from-effect-1", "apim-secret-77"]
      const assertClean = (error: object) => {
        for (const text of [JSON.stringify(error), String(error), (error as { message: string }).message]) {
          for (const s of secrets) assert.notInclude(text, s)
        }
      }

      const withKey = yield* build(echo, { headers })
      const e1 = yield* Effect.flip(withKey.provider.chat(request))
      assert(e1._tag === "ProviderStatusError")
      assert.strictEqual(e1.upstreamMessage, "bad credentials: [REDACTED] undefined [REDACTED]")
      assertClean(e1)

      const withToken = yield* build(echo, { entraToken: Redacted.make(entraSecret) })
      const e2 = yield* Effect.flip(withToken.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.upstreamMessage, "bad credentials: undefined Bearer [REDACTED] undefined")
      assertClean(e2)

      const fromEffect = yield* build(echo, { entraToken: Effect.succeed(Redacted.make("entra-from-effect-1")) })
      assert.strictEqual(withToken.requests[0]!.headers["authorization"], `Bearer ${entraSecret}`)
      const e3 = yield* Effect.flip(fromEffect.provider.chat(request))
      assert.strictEqual(fromEffect.requests[0]!.headers["authorization"], "Bearer entra-from-effect-1")
      assert(e3._tag === "ProviderStatusError")
      assert.strictEqual(e3.upstreamMessage, "bad credentials: undefined Bearer [REDACTED] undefined")
      assertClean(e3)
      const e4 = yield* Effect.flip(Stream.runDrain(fromEffect.provider.chatStream(request)))
      assert(e4._tag === "ProviderStatusError")
      assert.include(e4.body, "Bearer [REDACTED]")
      assertClean(e4)

      const port = yield* FakeUpstream.closedPort
      const unreachable = yield* AzureOpenAiProvider.make({ endpoint: `http://127.0.0.1:${port}`, apiKey, headers })
      const broken = yield* Effect.flip(unreachable.chat(request))
      assert(broken._tag === "ProviderUnreachable")
      assert.isTrue(isRetryable(broken))
      assert.include(broken.detail, `http://127.0.0.1:${port}${chatPath("gpt-4o")}`)
      assertClean(broken)
    }))

  it.scoped("a 200 that is not a chat completion is a ProviderOutputError; a 200 error envelope is that error", () =>
    Effect.gen(function*() {
      const html = yield* build(() => ({ status: 200, body: "<html>Bad gateway</html>" }))
      const e1 = yield* Effect.flip(html.provider.chat(request))
      assert.strictEqual(e1._tag, "ProviderOutputError")

      const envelope = yield* build(() => FakeUpstream.json({ error: { ...contentFilterError.error } }))
      const e2 = yield* Effect.flip(envelope.provider.chat(request))
      assert(e2._tag === "ProviderStatusError")
      assert.strictEqual(e2.status, 400)
      assert.strictEqual(e2.upstreamCode, "content_filter")
    }))
})

describe("AzureOpenAiProvider timeouts", () => {
  it.scoped("CallOptions.timeoutMillis shortens the provider's timeout on the wire, and never extends it", () =>
    Effect.gen(function*() {
      const { provider, requests, upstream } = yield* build(FakeUpstream.never, { timeout: "30 seconds" })
      assert.isTrue(provider.enforcesTimeouts)
      const short = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 2000 })))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(short)))
      assert.isFalse(requests[0]!.aborted)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(short)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 2000)
      assert.isTrue(isRetryable(error))
      yield* FakeUpstream.abortedBy(upstream)

      const long = yield* Effect.fork(Effect.flip(provider.chat(request, { timeoutMillis: 60_000 })))
      yield* FakeUpstream.received(upstream, 2)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(long)))
      yield* TestClock.adjust("1 millis")
      const capped = yield* Fiber.join(long)
      assert(capped._tag === "ProviderTimeout")
      assert.strictEqual(capped.afterMillis, 30_000)
      yield* FakeUpstream.abortedBy(upstream, 1)
    }))

  it.scoped("the default timeout is 10 minutes", () =>
    Effect.gen(function*() {
      const { provider, upstream } = yield* build(FakeUpstream.never)
      const fiber = yield* Effect.fork(Effect.flip(provider.chat(request)))
      yield* FakeUpstream.received(upstream)
      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert(error._tag === "ProviderTimeout")
      assert.strictEqual(error.afterMillis, 600_000)
    }))
})

describe("AzureOpenAiProvider models and layer", () => {
  it.scoped("serves its models, else its deployments' models, else OpenAI's families; lists those without wildcards", () =>
    Effect.gen(function*() {
      const { provider: plain, requests } = yield* build(() => FakeUpstream.json({}))
      assert.strictEqual(plain.name, "azure-openai")
      assert.strictEqual(plain.kind, "azure-openai")
      assert.isFalse(plain.supportsPrefill)
      assert.isTrue(plain.serves("gpt-4o"))
      assert.isTrue(plain.serves("o3-mini"))
      assert.isFalse(plain.serves("claude-sonnet-4-5"))
      for (const family of Provider.modelFamilies("openai")) assert.isTrue(plain.serves(family.replace("*", "x")))
      assert.deepStrictEqual(yield* plain.listModels, [])

      const { provider: deployed } = yield* build(() => FakeUpstream.json({}), {
        name: "azure-east",
        deployments: { "gpt-4o": "prod-gpt4o", "my-finetune": "ft-2025-01" }
      })
      assert.isTrue(deployed.serves("gpt-4o"))
      assert.isTrue(deployed.serves("my-finetune"))
      assert.isFalse(deployed.serves("gpt-4o-mini"))
      assert.deepStrictEqual(yield* deployed.listModels, [
        { id: "gpt-4o", object: "model", created: 0, owned_by: "azure-east" },
        { id: "my-finetune", object: "model", created: 0, owned_by: "azure-east" }
      ])

      const { provider: globbed } = yield* build(() => FakeUpstream.json({}), {
        models: ["gpt-4.1*", "gpt-4o"],
        deployments: { "gpt-4o": "prod-gpt4o", "gpt-4.1-mini": "mini" }
      })
      assert.isTrue(globbed.serves("gpt-4.1-nano"))
      assert.isFalse(globbed.serves("o3-mini"))
      assert.deepStrictEqual((yield* globbed.listModels).map((m) => m.id), ["gpt-4o"])
      assert.strictEqual(requests.length, 0)
    }))

  it.scoped("layer registers the provider under its name", () =>
    Effect.gen(function*() {
      const upstream = yield* FakeUpstream.start(() => FakeUpstream.json(annotatedCompletion))
      // The providers' connection pools live as long as the Layer: use them inside it.
      yield* Effect.gen(function*() {
        const registry = yield* ProviderRegistry.ProviderRegistry
        assert.deepStrictEqual(registry.all().map((p) => p.name), ["azure-east", "azure-openai"])
        const east = Option.getOrThrow(registry.get("azure-east"))
        const response = yield* east.chat(request)
        assert.strictEqual(response.id, annotatedCompletion.id)
        assert.strictEqual(upstream.requests[0]!.path, chatPath("east-gpt4o"))
        assert.strictEqual(upstream.requests[0]!.headers["api-key"], secret)
      }).pipe(
        Effect.provide(
          Layer.provideMerge(
            Layer.mergeAll(
              AzureOpenAiProvider.layer({
                name: "azure-east",
                endpoint: upstream.origin,
                apiKey,
                deployments: { "gpt-4o": "east-gpt4o" }
              }),
              AzureOpenAiProvider.layer({ endpoint: "http://127.0.0.1:9", apiKey })
            ),
            ProviderRegistry.layer
          )
        )
      )
    }))
})
