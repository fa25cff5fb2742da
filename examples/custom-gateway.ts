/**
 * Example 1: a custom gateway composed in-process from Layers, no config file, no server.
 * Routing, fallback and retries come from core; providers are Layers.
 *
 *   npx tsx examples/custom-gateway.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Gateway from "@switchyard/core/Gateway"
import * as MockProvider from "@switchyard/providers-mock/MockProvider"
import * as OpenAiProvider from "@switchyard/providers-openai/OpenAiProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

// An OpenAI provider that is unreachable here, then a simulated one serving the same models:
// the fallback strategy moves on when the first target fails.
export const GatewayLive = Gateway.layer({
  strategy: { mode: "fallback" },
  targets: [{ virtual_key: "openai", retry: { attempts: 2, initial_backoff_ms: 10 } }, { virtual_key: "backup" }],
  aliases: { smart: "gpt-4o" }
}).pipe(
  Layer.provide([
    OpenAiProvider.layer({ apiKey: Redacted.make("sk-unused"), baseUrl: "http://127.0.0.1:1/v1" }),
    MockProvider.layer({ name: "backup", models: ["gpt-*"], tokens: 8 })
  ]),
  Layer.provide(Gateway.defaults)
)

export const program = Effect.gen(function*() {
  const gateway = yield* Gateway.Gateway
  const { provider, response } = yield* gateway.chat({
    model: "smart",
    messages: [{ role: "user", content: "Which provider answers?" }]
  })
  yield* Effect.log(`${provider} answered: ${response.choices[0]?.message.content}`)
  return { provider, response }
})

if (import.meta.url === `file://${process.argv[1]}`) {
  program.pipe(Effect.provide(GatewayLive), NodeRuntime.runMain)
}
