import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { GatewayLive, program } from "./custom-gateway.js"

describe("example: custom gateway from Layers", () => {
  it.live("falls back from the unreachable OpenAI target to the simulated backup", () =>
    Effect.gen(function*() {
      const { provider, response } = yield* program
      assert.strictEqual(provider, "backup")
      assert.strictEqual(response.model, "gpt-4o")
      assert.strictEqual(response.usage?.completion_tokens, 8)
    }).pipe(Effect.provide(GatewayLive)))
})
