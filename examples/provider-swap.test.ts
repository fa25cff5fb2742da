/**
 * Example 2: an application that talks to OpenAI through Switchyard, tested with the real
 * provider swapped for another Layer. No network, no fetch mocks: the test gives a different
 * Layer under the same provider name.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Gateway from "@switchyard/core/Gateway"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import { modelMatcher } from "@switchyard/core/Provider"
import * as OpenAiProvider from "@switchyard/providers-openai/OpenAiProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

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
const prompts: Array<string> = []
const FakeOpenAi = ProviderRegistry.register(Effect.succeed({
  name: "openai",
  kind: "openai",
  serves: modelMatcher(["gpt-*"]),
  chat: (req) =>
    Effect.sync(() => {
      prompts.push(String(req.messages[0]?.content))
      return {
        id: "chatcmpl-fake",
        object: "chat.completion" as const,
        created: 0,
        model: req.model,
        choices: [{ index: 0, message: { role: "assistant" as const, content: "short" }, finish_reason: "stop" }]
      }
    }),
  chatStream: () => Stream.empty,
  listModels: Effect.succeed([])
}))

describe("example: swapping the provider Layer in a test", () => {
  it.effect("the application runs against the fake, unchanged", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* summarize("a long text"), "short")
      assert.deepStrictEqual(prompts, ["Summarize: a long text"])
    }).pipe(Effect.provide(withGateway(FakeOpenAi))))
})
