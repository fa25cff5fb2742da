/**
 * Example 2: an application that talks to OpenAI through Switchyard, tested with the real
 * provider swapped for another Layer. No network, no fetch mocks: the test gives a different
 * Layer under the same provider name.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Gateway from "@switchyard/core/Gateway"
import type * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as OpenAiProvider from "@switchyard/providers-openai/OpenAiProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

// --- application code -------------------------------------------------------------------
const summarize = (text: string) =>
  Effect.flatMap(Gateway.Gateway, (gateway) =>
    gateway.chat({ model: "gpt-4o-mini", messages: [{ role: "user", content: `Summarize: ${text}` }] })).pipe(
      Effect.map(({ response }) => response.choices[0]?.message.content ?? "")
    )

const withGateway = (providers: Layer.Layer<never, never, ProviderRegistry.ProviderRegistry>) =>
  Gateway.layer().pipe(Layer.provide(providers), Layer.provide(Gateway.defaults))

// Production wiring: the real adapter.
export const Production = withGateway(
  OpenAiProvider.layer({ apiKey: Redacted.make(process.env.OPENAI_API_KEY ?? "") }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
)

// --- the test: the same application, another Layer named "openai" -----------------------
const FakeOpenAi = TestProvider.make({
  name: "openai",
  models: ["gpt-*"],
  chat: (req) => Effect.succeed(TestProvider.response(req.model, "short"))
})

describe("example: swapping the provider Layer in a test", () => {
  it.effect("the application runs against the fake, unchanged", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* summarize("a long text"), "short")
      assert.deepStrictEqual(FakeOpenAi.received.map((r) => r.messages[0]?.content), ["Summarize: a long text"])
    }).pipe(Effect.provide(withGateway(FakeOpenAi.layer))))
})
