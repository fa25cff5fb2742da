import { assert, describe, it } from "@effect/vitest"
import type { ModelInfo } from "@switchyard/core/ChatSchema"
import { ProviderUnreachable } from "@switchyard/core/GatewayError"
import * as ModelDiscovery from "@switchyard/core/ModelDiscovery"
import * as TestProvider from "@switchyard/core/TestProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const model = (id: string, owned_by: string): ModelInfo => ({ id, object: "model", created: 0, owned_by })

const provider = (name: string, listModels: TestProvider.Options["listModels"]) =>
  TestProvider.make({ name, models: [], ...(listModels ? { listModels } : {}) }).provider

const listed = (discovery: ModelDiscovery.ModelDiscovery) =>
  Effect.map(discovery.models, (models) => models.map((m) => `${m.owned_by}/${m.id}`))

describe("ModelDiscovery", () => {
  it.scoped("lists at start in the background; the first caller waits for that listing", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const discovery = yield* ModelDiscovery.make([
        provider("a", Effect.succeed([model("a-1", "a")])),
        provider("b", Effect.as(Deferred.await(gate), [model("b-1", "b-org")]))
      ])
      // `make` returned although "b" has not answered: nothing waits for upstreams at start.
      const first = yield* Effect.fork(listed(discovery))
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first), ["a/a-1", "b-org/b-1"])
    }))

  it.scoped("refreshes on the interval and picks up new models", () =>
    Effect.gen(function*() {
      let models = [model("m-1", "p")]
      let calls = 0
      const discovery = yield* ModelDiscovery.make(
        [provider("p", Effect.sync(() => (calls++, models)))],
        { interval: "1 minute" }
      )
      assert.deepStrictEqual(yield* listed(discovery), ["p/m-1"])
      models = [model("m-1", "p"), model("m-2", "p")]
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(yield* listed(discovery), ["p/m-1"])
      assert.strictEqual(calls, 1)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* listed(discovery), ["p/m-1", "p/m-2"])
      assert.strictEqual(calls, 2)
    }))

  it.scoped("a failing provider keeps its last good list and does not fail the others", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = provider(
        "flaky",
        Effect.suspend(() =>
          calls++ === 0
            ? Effect.succeed([model("f-1", "flaky")])
            : Effect.fail(new ProviderUnreachable({ provider: "flaky", detail: "connection refused" }))
        )
      )
      const down = provider("down", Effect.fail(new ProviderUnreachable({ provider: "down", detail: "no route" })))
      const dying = provider("dying", Effect.dieMessage("boom"))
      const ok = provider("ok", Effect.succeed([model("o-1", "ok")]))
      const discovery = yield* ModelDiscovery.make([flaky, down, dying, ok], { interval: "1 minute" })
      assert.deepStrictEqual(yield* listed(discovery), ["flaky/f-1", "ok/o-1"])
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(calls, 2)
      assert.deepStrictEqual(yield* listed(discovery), ["flaky/f-1", "ok/o-1"])
    }))

  it.scoped("a provider slower than 5 s times out; the others are listed", () =>
    Effect.gen(function*() {
      const discovery = yield* ModelDiscovery.make([
        provider("slow", Effect.as(Effect.sleep("6 seconds"), [model("s-1", "slow")])),
        provider("steady", Effect.as(Effect.sleep("4 seconds"), [model("t-1", "steady")]))
      ])
      const first = yield* Effect.fork(listed(discovery))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(first)), "the first caller waits for the first listing")
      yield* TestClock.adjust("1 milli")
      assert.deepStrictEqual(yield* Fiber.join(first), ["steady/t-1"])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* listed(discovery), ["steady/t-1"], "the timed-out listing was interrupted")
    }))

  it.effect("keeps duplicate ids from different providers, each with its owner", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const discovery = yield* Scope.extend(
        ModelDiscovery.make([
          provider("openai", Effect.succeed([model("gpt-4o", "openai")])),
          provider("azure", Effect.succeed([model("gpt-4o", "azure")]))
        ]),
        scope
      )
      assert.deepStrictEqual(yield* listed(discovery), ["openai/gpt-4o", "azure/gpt-4o"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("stops refreshing when its Scope closes", () =>
    Effect.gen(function*() {
      let calls = 0
      const scope = yield* Scope.make()
      const discovery = yield* Scope.extend(
        ModelDiscovery.make([provider("p", Effect.sync(() => (calls++, [model("m", "p")])))], { interval: "1 minute" }),
        scope
      )
      yield* discovery.models
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(calls, 1)
    }))
})
