import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as Catalog from "@switchyard/core/Catalog"
import type { ChatRequest, Message } from "@switchyard/core/ChatSchema"
import { ModelNotFound } from "@switchyard/core/GatewayError"
import * as LatencyStats from "@switchyard/core/LatencyStats"
import type { Provider } from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as RequestContext from "@switchyard/core/RequestContext"
import type * as Routing from "@switchyard/core/Routing"
import * as RoutingStrategy from "@switchyard/core/RoutingStrategy"
import * as TestProvider from "@switchyard/core/TestProvider"

const provider = (name: string, models: ReadonlyArray<string>, kind?: string): Provider =>
  TestProvider.make({ name, models, ...(kind === undefined ? {} : { kind }) }).provider

// Registered in this order unless a test says otherwise.
const openai = provider("openai", ["gpt-*"], "openai")
const azure = provider("azure", ["gpt-*"])
const backup = provider("backup", ["gpt-*"])
const claude = provider("claude", ["claude-*"], "anthropic")
const everyone = [openai, azure, backup, claude]

/** A planner over a fresh registry, the shipped catalog (plus `prices`) and fresh latency windows. */
const plannerFor = (
  config: Routing.RoutingConfig,
  options: {
    readonly providers?: ReadonlyArray<Provider>
    readonly prices?: Readonly<Record<string, Catalog.ModelEntry>>
    readonly latency?: LatencyStats.Service
  } = {}
) =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry.make
    for (const p of options.providers ?? everyone) yield* registry.register(p)
    const catalog = yield* Effect.provide(Catalog.Catalog, Catalog.layerWith(options.prices ?? {}))
    const latency = options.latency ?? (yield* LatencyStats.make())
    return RoutingStrategy.make(config, { registry, catalog, latency })
  })

const user = (content: Extract<Message, { role: "user" }>["content"]): Message => ({ role: "user", content })

const request = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [user("hello")],
  ...extra
})

const noHeaders = RequestContext.make()

const keys = (plan: RoutingStrategy.Plan) => plan.candidates.map((c) => c.key)

const targets = (...names: ReadonlyArray<string>): Array<Routing.Target> => names.map((virtual_key) => ({ virtual_key }))

/**
 * Plans `n` requests under a seeded Random and returns each target's share of first places,
 * and how often each order of candidates came up.
 */
const simulate = (planner: RoutingStrategy.Planner, n: number, seed: string) =>
  Effect.gen(function*() {
    const first = new Map<string, number>()
    const orders = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const plan = yield* planner(request("gpt-4o"), noHeaders)
      const key = plan.candidates[0]!.key
      first.set(key, (first.get(key) ?? 0) + 1)
      const order = keys(plan).join(",")
      orders.set(order, (orders.get(order) ?? 0) + 1)
    }
    return {
      share: (key: string) => (first.get(key) ?? 0) / n,
      firstKeys: [...first.keys()].sort(),
      orders
    }
  }).pipe(Effect.withRandom(Random.make(seed)))

/** Each first-choice share within 2 percentage points of weight / total, and nobody else first. */
const assertSplit = (result: Effect.Effect.Success<ReturnType<typeof simulate>>, weights: Record<string, number>) => {
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  assert.deepStrictEqual(result.firstKeys, Object.keys(weights).sort())
  for (const [key, weight] of Object.entries(weights)) {
    const expected = weight / total
    assert.approximately(result.share(key), expected, 0.02, `${key}: ${result.share(key)} vs ${expected}`)
  }
}

describe("RoutingStrategy", () => {
  describe("fallback", () => {
    it.effect("tries the configured targets in order, leaving out those that do not serve the model", () =>
      Effect.gen(function*() {
        const config = { strategy: { mode: "fallback" as const }, targets: targets("backup", "claude", "openai") }
        const plan = yield* (yield* plannerFor(config))(request("gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["backup", "openai"])
        assert.strictEqual(plan.model, "gpt-4o")
        assert.strictEqual(plan.mode, "fallback")
        assert.isTrue(plan.failover)
      }))

    it.effect("is the default mode; without targets, every provider serving the model, in registration order", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor({})
        const gpt = yield* planner(request("gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(gpt), ["openai", "azure", "backup"])
        assert.strictEqual(gpt.mode, "fallback")
        assert.isTrue(gpt.failover)
        assert.deepStrictEqual(gpt.candidates.map((c) => c.provider), [openai, azure, backup])
        assert.deepStrictEqual(gpt.candidates.map((c) => c.target), [undefined, undefined, undefined])
        assert.deepStrictEqual(keys(yield* planner(request("claude-sonnet-4-5"), noHeaders)), ["claude"])
      }))

    it.effect("each candidate carries its target's configuration", () =>
      Effect.gen(function*() {
        const config: Routing.RoutingConfig = {
          targets: [
            { virtual_key: "azure", retry: { attempts: 3 }, circuit_breaker: { failure_threshold: 2 } },
            { virtual_key: "openai", timeouts: { request: 5000 } }
          ]
        }
        const plan = yield* (yield* plannerFor(config))(request("gpt-4o"), noHeaders)
        assert.strictEqual(plan.candidates[0]!.target, config.targets![0])
        assert.strictEqual(plan.candidates[1]!.target, config.targets![1])
        assert.strictEqual(plan.candidates[0]!.provider, azure)
      }))

    it.effect("a model nobody serves fails with ModelNotFound", () =>
      Effect.gen(function*() {
        const none = yield* Effect.flip((yield* plannerFor({}))(request("llama-3"), noHeaders))
        assert.deepStrictEqual(none, new ModelNotFound({ model: "llama-3" }))
        const noTarget = yield* plannerFor({ targets: targets("openai", "azure") })
        assert.deepStrictEqual(
          yield* Effect.flip(noTarget(request("claude-sonnet-4-5"), noHeaders)),
          new ModelNotFound({ model: "claude-sonnet-4-5" })
        )
      }))

    it.effect("a target naming no registered provider is left out", () =>
      Effect.gen(function*() {
        const plan = yield* (yield* plannerFor({ targets: targets("ghost", "azure") }))(request("gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["azure"])
      }))
  })

  describe("single", () => {
    it.effect("routes to the one target, with no failover", () =>
      Effect.gen(function*() {
        const plan = yield* (yield* plannerFor({ strategy: { mode: "single" }, targets: targets("azure") }))(
          request("gpt-4o"),
          noHeaders
        )
        assert.deepStrictEqual(keys(plan), ["azure"])
        assert.strictEqual(plan.mode, "single")
        assert.isFalse(plan.failover)
      }))

    it.effect("without targets, the first provider serving the model", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor({ strategy: { mode: "single" } })
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["openai"])
        assert.deepStrictEqual(keys(yield* planner(request("claude-haiku-4-5"), noHeaders)), ["claude"])
      }))

    it.effect("a target that does not serve the model is no route", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor({ strategy: { mode: "single" }, targets: targets("claude") })
        assert.deepStrictEqual(yield* Effect.flip(planner(request("gpt-4o"), noHeaders)), new ModelNotFound({ model: "gpt-4o" }))
      }))
  })

  describe("loadbalance", () => {
    const weighted = (weights: Record<string, number | undefined>): Routing.RoutingConfig => ({
      strategy: { mode: "loadbalance" },
      targets: Object.entries(weights).map(([virtual_key, weight]) => weight === undefined ? { virtual_key } : { virtual_key, weight })
    })

    it.effect("over 10,000 requests, first choices are within 2 points of the weights 70/20/10", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(weighted({ openai: 70, azure: 20, backup: 10 }))
        assertSplit(yield* simulate(planner, 10_000, "loadbalance-70-20-10"), { openai: 70, azure: 20, backup: 10 })
      }))

    it.effect("a weight of 0 counts as 1, as does no weight", () =>
      Effect.gen(function*() {
        const zero = yield* plannerFor(weighted({ openai: 0, azure: 1, backup: 2 }))
        assertSplit(yield* simulate(zero, 10_000, "loadbalance-zero"), { openai: 1, azure: 1, backup: 2 })
        const unset = yield* plannerFor(weighted({ openai: undefined, azure: 3 }))
        assertSplit(yield* simulate(unset, 10_000, "loadbalance-unset"), { openai: 1, azure: 3 })
      }))

    it.effect("every plan lists every target; the places after the first are weighted among those left", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(weighted({ openai: 70, azure: 20, backup: 10 }))
        const { orders } = yield* simulate(planner, 10_000, "loadbalance-rest")
        for (const order of orders.keys()) assert.deepStrictEqual(order.split(",").sort(), ["azure", "backup", "openai"])
        // openai first (about 7,000 times): then azure with probability 20 / 30.
        const openaiFirst = (orders.get("openai,azure,backup") ?? 0) + (orders.get("openai,backup,azure") ?? 0)
        assert.approximately((orders.get("openai,azure,backup") ?? 0) / openaiFirst, 20 / 30, 0.02)
        // backup first (about 1,000 times): then openai with probability 70 / 90.
        const backupFirst = (orders.get("backup,openai,azure") ?? 0) + (orders.get("backup,azure,openai") ?? 0)
        assert.approximately((orders.get("backup,openai,azure") ?? 0) / backupFirst, 70 / 90, 0.04)
      }))

    it.effect("with the same draw for all, the heavier target goes first", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(weighted({ backup: 1, openai: 5, azure: 3 }))
        const plan = yield* planner(request("gpt-4o"), noHeaders).pipe(Effect.withRandom(Random.fixed([0.5])))
        assert.deepStrictEqual(keys(plan), ["openai", "azure", "backup"])
        assert.strictEqual(plan.mode, "loadbalance")
        assert.isTrue(plan.failover)
      }))

    it.effect("targets that do not serve the model take no share", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(weighted({ claude: 1000, openai: 1, azure: 1 }))
        const result = yield* simulate(planner, 10_000, "loadbalance-unserved")
        assertSplit(result, { openai: 1, azure: 1 })
        for (const order of result.orders.keys()) assert.notInclude(order, "claude")
      }))
  })

  describe("ab-test", () => {
    const variants = (...vs: ReadonlyArray<Routing.AbVariant>): Routing.RoutingConfig => ({
      strategy: { mode: "ab-test", ab_variants: vs },
      targets: targets("openai", "azure", "backup", "claude")
    })

    it.effect("labels each candidate with its variant, the others following as failover", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(variants(
          { target_key: "openai", label: "control", weight: 9 },
          { target_key: "azure", label: "treatment", weight: 1 }
        ))
        const plan = yield* planner(request("gpt-4o"), noHeaders).pipe(Effect.withRandom(Random.fixed([0.5])))
        assert.deepStrictEqual(plan.candidates.map((c) => [c.key, c.label]), [["openai", "control"], ["azure", "treatment"]])
        assert.strictEqual(plan.candidates[0]!.provider, openai)
        assert.deepStrictEqual(plan.candidates[0]!.target, { virtual_key: "openai" })
        assert.strictEqual(plan.mode, "ab-test")
        assert.isTrue(plan.failover)
      }))

    it.effect("over 10,000 requests, variants are within 2 points of the weights 70/20/10", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(variants(
          { target_key: "openai", label: "a", weight: 70 },
          { target_key: "azure", label: "b", weight: 20 },
          { target_key: "backup", label: "c", weight: 10 }
        ))
        assertSplit(yield* simulate(planner, 10_000, "ab-70-20-10"), { openai: 70, azure: 20, backup: 10 })
      }))

    it.effect("a weight of 0 counts as 1, as does no weight", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(variants(
          { target_key: "openai", label: "a", weight: 0 },
          { target_key: "azure", label: "b" },
          { target_key: "backup", label: "c", weight: 2 }
        ))
        assertSplit(yield* simulate(planner, 10_000, "ab-zero"), { openai: 1, azure: 1, backup: 2 })
      }))

    it.effect("only the variants' targets take part, and only those serving the model", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(variants(
          { target_key: "claude", label: "a", weight: 50 },
          { target_key: "azure", label: "b", weight: 1 }
        ))
        const result = yield* simulate(planner, 200, "ab-unserved")
        assert.deepStrictEqual([...result.orders.keys()], ["azure"])
        const claudePlan = yield* planner(request("claude-sonnet-4-5"), noHeaders)
        assert.deepStrictEqual(claudePlan.candidates.map((c) => [c.key, c.label]), [["claude", "a"]])
      }))
  })

  describe("least-latency", () => {
    const config: Routing.RoutingConfig = {
      strategy: { mode: "least-latency", latency_window: 60_000 },
      targets: targets("openai", "azure", "backup", "claude")
    }

    it.effect("untried targets first, in configured order, then the fastest median", () =>
      Effect.gen(function*() {
        const latency = yield* LatencyStats.make()
        const planner = yield* plannerFor(config, { latency })
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["openai", "azure", "backup"])
        yield* latency.record("openai", 300)
        yield* latency.record("backup", 100)
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["azure", "backup", "openai"])
        yield* latency.record("azure", 900)
        yield* latency.record("azure", 120)
        yield* latency.record("azure", 150)
        const plan = yield* planner(request("gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["backup", "azure", "openai"])
        assert.strictEqual(plan.mode, "least-latency")
        assert.isTrue(plan.failover)
      }))

    it.effect("equal medians keep the configured order", () =>
      Effect.gen(function*() {
        const latency = yield* LatencyStats.make()
        const planner = yield* plannerFor(config, { latency })
        for (const key of ["backup", "azure", "openai"]) yield* latency.record(key, 200)
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["openai", "azure", "backup"])
      }))

    it.effect("only samples inside latency_window count: a target whose samples aged out is untried again", () =>
      Effect.gen(function*() {
        const latency = yield* LatencyStats.make()
        const planner = yield* plannerFor(config, { latency })
        yield* latency.record("openai", 900)
        yield* TestClock.adjust("50 seconds")
        yield* latency.record("azure", 200)
        yield* latency.record("backup", 300)
        yield* TestClock.adjust("9999 millis")
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["azure", "backup", "openai"])
        yield* TestClock.adjust("2 millis")
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["openai", "azure", "backup"])
      }))

    it.effect("the window defaults to 5 minutes", () =>
      Effect.gen(function*() {
        const latency = yield* LatencyStats.make()
        const planner = yield* plannerFor({ ...config, strategy: { mode: "least-latency" } }, { latency })
        yield* latency.record("openai", 900)
        yield* latency.record("azure", 100)
        yield* latency.record("backup", 200)
        yield* TestClock.adjust("4 minutes")
        yield* latency.record("azure", 100)
        yield* latency.record("backup", 200)
        yield* TestClock.adjust("59 seconds")
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["azure", "backup", "openai"])
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o"), noHeaders)), ["openai", "azure", "backup"])
      }))
  })

  describe("cost-optimized", () => {
    const price = (input: number, output: number, provider = "test"): Catalog.ModelEntry => ({ provider, input, output })
    const cheapest = (names: ReadonlyArray<string>) => ({ strategy: { mode: "cost-optimized" as const }, targets: targets(...names) })

    it.effect("cheapest first, by the catalog's price for each target, else for its kind, else for the model", () =>
      Effect.gen(function*() {
        // azure has its own price, openai its kind's, backup the shipped gpt-4o price (2.5 / 10).
        const planner = yield* plannerFor(cheapest(["openai", "backup", "azure"]), {
          prices: { "azure/gpt-4o": price(2, 8), "openai/gpt-4o": price(5, 15) }
        })
        const plan = yield* planner(request("gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["azure", "backup", "openai"])
        assert.strictEqual(plan.mode, "cost-optimized")
        assert.isTrue(plan.failover)
      }))

    it.effect("a discounted reseller of a shipped model goes before the vendor, dated snapshots included", () =>
      Effect.gen(function*() {
        const bedrock = provider("bedrock", ["claude-*"])
        const planner = yield* plannerFor(cheapest(["claude", "bedrock"]), {
          providers: [claude, bedrock],
          prices: { "bedrock/claude-sonnet-4-5": price(2.5, 12) }
        })
        assert.deepStrictEqual(keys(yield* planner(request("claude-sonnet-4-5"), noHeaders)), ["bedrock", "claude"])
        assert.deepStrictEqual(keys(yield* planner(request("claude-sonnet-4-5-20250929"), noHeaders)), ["bedrock", "claude"])
        // Without the reseller's price both cost the shipped price: configured order.
        const plain = yield* plannerFor(cheapest(["claude", "bedrock"]), { providers: [claude, bedrock] })
        assert.deepStrictEqual(keys(yield* plain(request("claude-sonnet-4-5"), noHeaders)), ["claude", "bedrock"])
      }))

    it.effect("a price for a provider kind applies to every provider of that kind", () =>
      Effect.gen(function*() {
        const eu = provider("eu", ["llama-*"], "groq")
        const us = provider("us", ["llama-*"], "together")
        const planner = yield* plannerFor(cheapest(["us", "eu"]), {
          providers: [eu, us],
          prices: { "groq/llama-3.3-70b": price(0.59, 0.79), "together/llama-3.3-70b": price(0.88, 0.88) }
        })
        assert.deepStrictEqual(keys(yield* planner(request("llama-3.3-70b"), noHeaders)), ["eu", "us"])
      }))

    it.effect("what the catalog has no price for goes last, in configured order", () =>
      Effect.gen(function*() {
        const a = provider("a", ["mystery-*"])
        const b = provider("b", ["mystery-*"])
        const c = provider("c", ["mystery-*"])
        const planner = yield* plannerFor(cheapest(["a", "b", "c"]), {
          providers: [a, b, c],
          prices: { "c/mystery-1": price(100, 100) }
        })
        assert.deepStrictEqual(keys(yield* planner(request("mystery-1"), noHeaders)), ["c", "a", "b"])
      }))

    it.effect("weighs the prompt against max tokens: output-heavy requests favour cheap output", () =>
      Effect.gen(function*() {
        // cheapIn: 1 in / 10 out; cheapOut: 5 in / 2 out (per million tokens).
        const cheapIn = provider("cheapIn", ["m-*"])
        const cheapOut = provider("cheapOut", ["m-*"])
        const planner = yield* plannerFor(cheapest(["cheapIn", "cheapOut"]), {
          providers: [cheapIn, cheapOut],
          prices: { "cheapIn/m-1": price(1, 10), "cheapOut/m-1": price(5, 2) }
        })
        const plan = (req: Partial<ChatRequest>) => Effect.map(planner(request("m-1", req), noHeaders), keys)
        const longPrompt = [user("x".repeat(4000))]
        assert.deepStrictEqual(yield* plan({ max_tokens: 1000 }), ["cheapOut", "cheapIn"])
        assert.deepStrictEqual(yield* plan({ messages: longPrompt, max_tokens: 1 }), ["cheapIn", "cheapOut"])
        // max_completion_tokens wins over max_tokens.
        assert.deepStrictEqual(yield* plan({ max_tokens: 1, max_completion_tokens: 1000 }), ["cheapOut", "cheapIn"])
        assert.deepStrictEqual(yield* plan({ messages: longPrompt, max_tokens: 1000, max_completion_tokens: 1 }), ["cheapIn", "cheapOut"])
        // Without either, the answer is taken to be as long as the prompt: 11 vs 7 per token.
        assert.deepStrictEqual(yield* plan({ messages: longPrompt }), ["cheapOut", "cheapIn"])
      }))

    it.effect("without targets, ranks every provider serving the model", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor({ strategy: { mode: "cost-optimized" } }, {
          prices: { "backup/gpt-4o-mini": price(0.1, 0.4) }
        })
        assert.deepStrictEqual(keys(yield* planner(request("gpt-4o-mini"), noHeaders)), ["backup", "openai", "azure"])
      }))
  })

  describe("conditional", () => {
    const rules = (...conditions: ReadonlyArray<Routing.Condition>): Routing.RoutingConfig => ({
      strategy: { mode: "conditional", conditions },
      targets: targets("openai", "azure", "backup", "claude")
    })
    const when = (key: string, value: string, target_key = "azure"): Routing.Condition => ({ key, value, target_key })

    /** The one candidate conditional routing picks for `req` under `ctx`. */
    const routed = (config: Routing.RoutingConfig, req: ChatRequest, ctx = noHeaders) =>
      Effect.gen(function*() {
        const plan = yield* (yield* plannerFor(config))(req, ctx)
        assert.strictEqual(plan.mode, "conditional")
        assert.isFalse(plan.failover)
        assert.strictEqual(plan.candidates.length, 1)
        return plan.candidates[0]!.key
      })

    it.effect("model matches the exact id; model_prefix its start", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* routed(rules(when("model", "gpt-4o")), request("gpt-4o")), "azure")
        assert.strictEqual(yield* routed(rules(when("model", "gpt-4o")), request("gpt-4o-mini")), "openai")
        assert.strictEqual(yield* routed(rules(when("model_prefix", "gpt-4o")), request("gpt-4o-mini")), "azure")
        assert.strictEqual(yield* routed(rules(when("model_prefix", "gpt-5")), request("gpt-4o-mini")), "openai")
      }))

    it.effect("user matches the request's user", () =>
      Effect.gen(function*() {
        const config = rules(when("user", "vip-42"))
        assert.strictEqual(yield* routed(config, request("gpt-4o", { user: "vip-42" })), "azure")
        assert.strictEqual(yield* routed(config, request("gpt-4o", { user: "vip-4" })), "openai")
        assert.strictEqual(yield* routed(config, request("gpt-4o")), "openai")
      }))

    it.effect("stream matches 'true' or 'false'; an absent stream is false", () =>
      Effect.gen(function*() {
        const streaming = rules(when("stream", "true"))
        assert.strictEqual(yield* routed(streaming, request("gpt-4o", { stream: true })), "azure")
        assert.strictEqual(yield* routed(streaming, request("gpt-4o", { stream: false })), "openai")
        const blocking = rules(when("stream", "false"))
        assert.strictEqual(yield* routed(blocking, request("gpt-4o")), "azure")
        assert.strictEqual(yield* routed(blocking, request("gpt-4o", { stream: null })), "azure")
        assert.strictEqual(yield* routed(blocking, request("gpt-4o", { stream: true })), "openai")
      }))

    it.effect("has_tools matches whether the request lists tools", () =>
      Effect.gen(function*() {
        const tools = [{ type: "function" as const, function: { name: "lookup" } }]
        const config = rules(when("has_tools", "true"))
        assert.strictEqual(yield* routed(config, request("gpt-4o", { tools })), "azure")
        assert.strictEqual(yield* routed(config, request("gpt-4o", { tools: [] })), "openai")
        assert.strictEqual(yield* routed(config, request("gpt-4o")), "openai")
        assert.strictEqual(yield* routed(rules(when("has_tools", "false")), request("gpt-4o", { tools: [] })), "azure")
      }))

    it.effect("metadata.<field> matches a scalar of the request body's metadata, as text", () =>
      Effect.gen(function*() {
        const tier = rules(when("metadata.tier", "gold"))
        assert.strictEqual(yield* routed(tier, request("gpt-4o", { metadata: { tier: "gold" } })), "azure")
        assert.strictEqual(yield* routed(tier, request("gpt-4o", { metadata: { tier: "silver" } })), "openai")
        assert.strictEqual(yield* routed(tier, request("gpt-4o", { metadata: { tier: { name: "gold" } } })), "openai")
        assert.strictEqual(yield* routed(tier, request("gpt-4o", { tier: "gold" })), "openai")
        assert.strictEqual(yield* routed(tier, request("gpt-4o")), "openai")
        const priority = rules(when("metadata.priority", "2"))
        assert.strictEqual(yield* routed(priority, request("gpt-4o", { metadata: { priority: 2 } })), "azure")
        const beta = rules(when("metadata.beta", "true"))
        assert.strictEqual(yield* routed(beta, request("gpt-4o", { metadata: { beta: true } })), "azure")
      }))

    it.effect("header.<name> matches a request header, the name in any case", () =>
      Effect.gen(function*() {
        const acme = RequestContext.make({ headers: { "x-tenant": "acme" } })
        assert.strictEqual(yield* routed(rules(when("header.x-tenant", "acme")), request("gpt-4o"), acme), "azure")
        assert.strictEqual(yield* routed(rules(when("header.X-Tenant", "acme")), request("gpt-4o"), acme), "azure")
        assert.strictEqual(yield* routed(rules(when("header.x-tenant", "ACME")), request("gpt-4o"), acme), "openai")
        assert.strictEqual(yield* routed(rules(when("header.x-tenant", "acme")), request("gpt-4o")), "openai")
        assert.strictEqual(
          yield* routed(rules(when("header.x-tenant", "acme")), request("gpt-4o", { metadata: { "x-tenant": "acme" } })),
          "openai"
        )
      }))

    it.effect("the first matching condition wins", () =>
      Effect.gen(function*() {
        const config = rules(
          when("user", "nobody", "claude"),
          when("model_prefix", "gpt", "backup"),
          when("model", "gpt-4o", "azure")
        )
        assert.strictEqual(yield* routed(config, request("gpt-4o")), "backup")
      }))

    it.effect("no match goes to the first target", () =>
      Effect.gen(function*() {
        const config: Routing.RoutingConfig = {
          strategy: { mode: "conditional", conditions: [when("user", "vip", "openai")] },
          targets: targets("backup", "openai")
        }
        assert.strictEqual(yield* routed(config, request("gpt-4o")), "backup")
      }))

    it.effect("a named target that does not serve the model is no route, not a fallback", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(rules(when("user", "vip", "claude")))
        const error = yield* Effect.flip(planner(request("gpt-4o", { user: "vip" }), noHeaders))
        assert.deepStrictEqual(
          error,
          new ModelNotFound({
            model: "gpt-4o",
            reason: "The matching condition routes to target 'claude', which does not serve the model 'gpt-4o'"
          })
        )
        const byDefault = yield* plannerFor({
          strategy: { mode: "conditional", conditions: [when("user", "vip")] },
          targets: targets("claude", "azure")
        })
        const defaultError = yield* Effect.flip(byDefault(request("gpt-4o"), noHeaders))
        assert.strictEqual(defaultError.model, "gpt-4o")
        assert.include(defaultError.message, "routes to target 'claude', which does not serve the model 'gpt-4o'")
        assert.include(defaultError.message, "no condition matched")
      }))
  })

  describe("content-based", () => {
    const rules = (...content_conditions: ReadonlyArray<Routing.ContentCondition>): Routing.RoutingConfig => ({
      strategy: { mode: "content-based", content_conditions },
      targets: targets("openai", "azure", "backup", "claude")
    })
    const contains = (value: string, target_key = "azure"): Routing.ContentCondition => ({ type: "prompt_contains", value, target_key })
    const lacks = (value: string, target_key = "azure"): Routing.ContentCondition => ({ type: "prompt_not_contains", value, target_key })
    const matches = (value: string, target_key = "azure"): Routing.ContentCondition => ({ type: "prompt_regex", value, target_key })

    const routed = (config: Routing.RoutingConfig, messages: ReadonlyArray<Message>) =>
      Effect.gen(function*() {
        const plan = yield* (yield* plannerFor(config))(request("gpt-4o", { messages }), noHeaders)
        assert.strictEqual(plan.mode, "content-based")
        assert.isFalse(plan.failover)
        assert.strictEqual(plan.candidates.length, 1)
        return plan.candidates[0]!.key
      })

    it.effect("prompt_contains ignores case", () =>
      Effect.gen(function*() {
        const config = rules(contains("Refund"))
        assert.strictEqual(yield* routed(config, [user("I want a REFUND now")]), "azure")
        assert.strictEqual(yield* routed(config, [user("refunds?")]), "azure")
        assert.strictEqual(yield* routed(config, [user("I want a return")]), "openai")
      }))

    it.effect("looks at user messages only, every one of them, text parts included", () =>
      Effect.gen(function*() {
        const config = rules(contains("refund"))
        assert.strictEqual(
          yield* routed(config, [
            { role: "system", content: "Explain the refund policy when asked." },
            { role: "assistant", content: "Refund? Sure." },
            user("hello")
          ]),
          "openai"
        )
        assert.strictEqual(yield* routed(config, [user("about my refund"), { role: "assistant", content: "ok" }, user("thanks")]), "azure")
        assert.strictEqual(
          yield* routed(config, [user([
            { type: "image_url", image_url: { url: "https://example.com/refund.png" } },
            { type: "text", text: "Is this a refund receipt?" }
          ])]),
          "azure"
        )
      }))

    it.effect("prompt_not_contains matches when no user message contains the text", () =>
      Effect.gen(function*() {
        const config = rules(lacks("code", "backup"))
        assert.strictEqual(yield* routed(config, [user("tell me a story")]), "backup")
        assert.strictEqual(yield* routed(config, [user("tell me a story"), user("in CODE please")]), "openai")
        assert.strictEqual(yield* routed(config, [{ role: "system", content: "you write code" }, user("hi")]), "backup")
      }))

    it.effect("prompt_regex is case-sensitive unless it starts with (?i)", () =>
      Effect.gen(function*() {
        const sensitive = rules(matches("^Translate\\b", "backup"))
        assert.strictEqual(yield* routed(sensitive, [user("Translate this")]), "backup")
        assert.strictEqual(yield* routed(sensitive, [user("translate this")]), "openai")
        const insensitive = rules(matches("(?i)^translate\\b", "backup"))
        assert.strictEqual(yield* routed(insensitive, [user("TRANSLATE this")]), "backup")
        assert.strictEqual(yield* routed(insensitive, [user("please translate this")]), "openai")
        const digits = rules(matches("\\b\\d{16}\\b", "backup"))
        assert.strictEqual(yield* routed(digits, [user("card 4111111111111111 declined")]), "backup")
      }))

    it.effect("the first matching rule wins; no match goes to the first target", () =>
      Effect.gen(function*() {
        const config = rules(contains("zzz", "claude"), matches("(?i)invoice", "backup"), contains("invoice", "azure"))
        assert.strictEqual(yield* routed(config, [user("Where is my Invoice?")]), "backup")
        assert.strictEqual(yield* routed(config, [user("hello")]), "openai")
      }))

    it.effect("a matched target that does not serve the model is no route", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor(rules(contains("poem", "claude")))
        const error = yield* Effect.flip(planner(request("gpt-4o", { messages: [user("write a poem")] }), noHeaders))
        assert.deepStrictEqual(
          error,
          new ModelNotFound({
            model: "gpt-4o",
            reason: "The matching content rule routes to target 'claude', which does not serve the model 'gpt-4o'"
          })
        )
      }))
  })

  describe("provider/model prefix", () => {
    it.effect("pins that provider with its target's configuration, strips the prefix, and does not fail over", () =>
      Effect.gen(function*() {
        const config: Routing.RoutingConfig = { targets: [{ virtual_key: "openai" }, { virtual_key: "azure", retry: { attempts: 2 } }] }
        const plan = yield* (yield* plannerFor(config))(request("azure/gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["azure"])
        assert.strictEqual(plan.model, "gpt-4o")
        assert.strictEqual(plan.candidates[0]!.provider, azure)
        assert.strictEqual(plan.candidates[0]!.target, config.targets![1])
        assert.strictEqual(plan.mode, "fallback")
        assert.isFalse(plan.failover)
      }))

    it.effect("wins over every mode's choice", () =>
      Effect.gen(function*() {
        const configs: ReadonlyArray<Routing.RoutingConfig> = [
          { strategy: { mode: "loadbalance" }, targets: [{ virtual_key: "openai", weight: 1000 }, { virtual_key: "backup" }] },
          {
            strategy: { mode: "conditional", conditions: [{ key: "model_prefix", value: "backup", target_key: "openai" }] },
            targets: targets("openai", "backup")
          },
          {
            strategy: {
              mode: "content-based",
              content_conditions: [{ type: "prompt_contains", value: "hello", target_key: "openai" }]
            },
            targets: targets("openai", "backup")
          },
          {
            strategy: { mode: "ab-test", ab_variants: [{ target_key: "openai", label: "a" }] },
            targets: targets("openai", "backup")
          },
          { strategy: { mode: "single" }, targets: targets("openai") }
        ]
        for (const config of configs) {
          const plan = yield* (yield* plannerFor(config))(request("backup/gpt-4o"), noHeaders)
          assert.deepStrictEqual(keys(plan), ["backup"], config.strategy?.mode)
          assert.strictEqual(plan.mode, config.strategy?.mode)
          assert.isFalse(plan.failover)
        }
      }))

    it.effect("pins a registered provider that is not a configured target, and whatever model it is asked for", () =>
      Effect.gen(function*() {
        const planner = yield* plannerFor({ targets: targets("openai") })
        const plan = yield* planner(request("backup/gpt-4o"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["backup"])
        assert.isUndefined(plan.candidates[0]!.target)
        const custom = yield* planner(request("openai/ft:gpt-4o:acme"), noHeaders)
        assert.deepStrictEqual(keys(custom), ["openai"])
        assert.strictEqual(custom.model, "ft:gpt-4o:acme")
      }))

    it.effect("a slash that names no provider is part of the model id", () =>
      Effect.gen(function*() {
        const router = provider("router", ["meta-llama/*"])
        const planner = yield* plannerFor({}, { providers: [openai, router] })
        const plan = yield* planner(request("meta-llama/llama-3"), noHeaders)
        assert.deepStrictEqual(keys(plan), ["router"])
        assert.strictEqual(plan.model, "meta-llama/llama-3")
        assert.isTrue(plan.failover)
        assert.deepStrictEqual(
          yield* Effect.flip(planner(request("mistral/large"), noHeaders)),
          new ModelNotFound({ model: "mistral/large" })
        )
      }))
  })
})
