/**
 * Routing and resilience through the whole Gateway, providers swapped by Layers: strategies,
 * Retry-After, circuit breakers, timeouts, mid-stream failover, attempt spans. Time is TestClock's.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatChunk, ChatRequest } from "@switchyard/core/ChatSchema"
import * as Catalog from "@switchyard/core/Catalog"
import * as Gateway from "@switchyard/core/Gateway"
import { ProviderStatusError, ProviderUnreachable } from "@switchyard/core/GatewayError"
import type * as Provider from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type * as Routing from "@switchyard/core/Routing"
import * as TestProvider from "@switchyard/core/TestProvider"
import { chunk, response, usageChunk } from "@switchyard/core/TestProvider"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { gatewayWith, recordingHooks } from "./utils/gateways.js"

const request = (content = "hi", extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "gpt-4o",
  messages: [{ role: "user", content }],
  ...extra
})

const failing = (name: string, status: number, retryAfterMillis?: number) =>
  new ProviderStatusError({
    provider: name,
    status,
    body: "{}",
    upstreamMessage: `status ${status}`,
    ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {})
  })

const textOf = (chunks: ReadonlyArray<ChatChunk>) =>
  chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")

describe("Gateway routing: strategies through the facade", () => {
  it.effect("ab-test answers with the variant's label and counts attempts", () => {
    const a = TestProvider.make({ name: "a", models: ["gpt-*"] })
    const b = TestProvider.make({ name: "b", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "ab-test", ab_variants: [{ target_key: "b", weight: 1, label: "challenger" }] },
      targets: [{ virtual_key: "a" }, { virtual_key: "b" }]
    }
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chat(request())
      assert.strictEqual(result.provider, "b")
      assert.strictEqual(result.variant, "challenger")
      assert.strictEqual(result.attempts, 1)
      assert.strictEqual(a.received.length, 0)
    }).pipe(Effect.provide(gatewayWith(config, [a, b])))
  })

  it.effect("single answers from its one target and does not fall back", () => {
    const only = TestProvider.make({ name: "only", models: ["gpt-*"], chat: () => Effect.fail(failing("only", 503)) })
    const other = TestProvider.make({ name: "other", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = { strategy: { mode: "single" }, targets: [{ virtual_key: "only" }] }
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Gateway.Gateway).chat(request()))
      assert.strictEqual(error._tag === "ProviderStatusError" && error.provider, "only")
      assert.strictEqual(other.received.length, 0)
    }).pipe(Effect.provide(gatewayWith(config, [only, other])))
  })

  it.effect("loadbalance spreads requests by weight, and a failed pick falls over to another target", () => {
    const heavy = TestProvider.make({ name: "heavy", models: ["gpt-*"] })
    const light = TestProvider.make({ name: "light", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "loadbalance" },
      targets: [{ virtual_key: "heavy", weight: 3 }, { virtual_key: "light", weight: 1 }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      for (let i = 0; i < 400; i++) yield* gw.chat(request())
      assert.approximately(heavy.received.length / 400, 0.75, 0.08)
      assert.strictEqual(heavy.received.length + light.received.length, 400)
    }).pipe(Effect.withRandom(Random.make("loadbalance-gateway")), Effect.provide(gatewayWith(config, [heavy, light])))
  })

  it.effect("loadbalance moves on when its pick fails", () => {
    const down = TestProvider.make({ name: "down", models: ["gpt-*"], chat: () => Effect.fail(failing("down", 502)) })
    const up = TestProvider.make({ name: "up", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "loadbalance" },
      targets: [{ virtual_key: "down", weight: 1 }, { virtual_key: "up", weight: 1 }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      for (let i = 0; i < 20; i++) assert.strictEqual((yield* gw.chat(request())).provider, "up")
      assert.isAbove(down.received.length, 0)
    }).pipe(Effect.withRandom(Random.make("loadbalance-failover")), Effect.provide(gatewayWith(config, [down, up])))
  })

  it.effect("cost-optimized asks the cheaper target first, by the catalog's prices", () => {
    const pricey = TestProvider.make({ name: "pricey", models: ["gpt-*"] })
    const cheap = TestProvider.make({ name: "cheap", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "cost-optimized" },
      targets: [{ virtual_key: "pricey" }, { virtual_key: "cheap" }]
    }
    const prices = Catalog.layerWith({
      "pricey/gpt-4o": { provider: "pricey", input: 5, output: 15 },
      "cheap/gpt-4o": { provider: "cheap", input: 0.5, output: 1.5 }
    })
    return Effect.gen(function*() {
      assert.strictEqual((yield* (yield* Gateway.Gateway).chat(request())).provider, "cheap")
      assert.strictEqual(pricey.received.length, 0)
    }).pipe(Effect.provide(
      Gateway.layer(config).pipe(
        Layer.orDie,
        Layer.provide(Layer.mergeAll(pricey.layer, cheap.layer)),
        Layer.provide(Layer.merge(Gateway.defaults, prices))
      )
    ))
  })

  it.effect("content-based sends code questions to the code target, the rest to the first", () => {
    const general = TestProvider.make({ name: "general", models: ["gpt-*"] })
    const coder = TestProvider.make({ name: "coder", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "content-based", content_conditions: [{ type: "prompt_regex", value: "(?i)\\bfunction\\b", target_key: "coder" }] },
      targets: [{ virtual_key: "general" }, { virtual_key: "coder" }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      assert.strictEqual((yield* gw.chat(request("Write a FUNCTION that adds"))).provider, "coder")
      assert.strictEqual((yield* gw.chat(request("Tell me a story"))).provider, "general")
    }).pipe(Effect.provide(gatewayWith(config, [general, coder])))
  })

  it.effect("a named mode does not fall back: the chosen target's failure is the answer", () => {
    const eu = TestProvider.make({ name: "eu", models: ["gpt-*"], chat: () => Effect.fail(failing("eu", 503)) })
    const us = TestProvider.make({ name: "us", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "conditional", conditions: [{ key: "header.x-region", value: "eu", target_key: "eu" }] },
      targets: [{ virtual_key: "us" }, { virtual_key: "eu" }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const error = yield* Effect.flip(gw.chat(request(), { requestId: "r", ingress: "test", startedAt: 0, headers: { "x-region": "eu" } }))
      assert.strictEqual(error._tag === "ProviderStatusError" && error.status, 503)
      assert.strictEqual(us.received.length, 0)
    }).pipe(Effect.provide(gatewayWith(config, [eu, us])))
  })

  it.effect("least-latency explores the untried target, then keeps to the faster one", () => {
    const slow = TestProvider.make({ name: "slow", models: ["gpt-*"], chat: (req) => Effect.as(Effect.sleep("300 millis"), response(req.model, "slow")) })
    const fast = TestProvider.make({ name: "fast", models: ["gpt-*"], chat: (req) => Effect.as(Effect.sleep("100 millis"), response(req.model, "fast")) })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "least-latency" },
      targets: [{ virtual_key: "slow" }, { virtual_key: "fast" }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const served: Array<string> = []
      for (let i = 0; i < 4; i++) {
        const fiber = yield* Effect.fork(gw.chat(request()))
        yield* TestClock.adjust("300 millis")
        served.push((yield* Fiber.join(fiber)).provider)
      }
      assert.deepStrictEqual(served, ["slow", "fast", "fast", "fast"])
    }).pipe(Effect.provide(gatewayWith(config, [slow, fast])))
  })
})

describe("Gateway routing: configuration", () => {
  it.effect("Gateway.layer refuses a bad routing configuration at build, naming each bad field", () => {
    const a = TestProvider.make({ name: "a", models: ["gpt-*"] })
    const config = {
      strategy: { mode: "loadbalance" },
      targets: [{ virtual_key: "a", weight: -1 }, { virtual_key: "ghost" }]
    } as unknown as Routing.RoutingConfig
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(
        Gateway.layer(config).pipe(Layer.provide(a.layer), Layer.provide(Gateway.defaults))
      ).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "InvalidRoutingConfig")
      assert.deepStrictEqual(error.problems, ["targets[0].weight: weight must not be negative"])
      const unknown = yield* Effect.flip(Layer.build(
        Gateway.layer({ targets: [{ virtual_key: "ghost" }] }).pipe(Layer.provide(a.layer), Layer.provide(Gateway.defaults))
      ).pipe(Effect.scoped))
      assert.deepStrictEqual(unknown.problems, ["targets[0].virtual_key: no provider is named 'ghost' (known: a)"])
    })
  })
})

describe("Gateway routing: retries", () => {
  it.effect("waits exactly the Retry-After the upstream asked for, not the backoff", () => {
    const limited = TestProvider.make({
      name: "limited",
      models: ["gpt-*"],
      chat: (req, call) => call === 0 ? Effect.fail(failing("limited", 429, 5000)) : Effect.succeed(response(req.model, "ok"))
    })
    const config: Routing.RoutingConfig = { targets: [{ virtual_key: "limited", retry: { attempts: 2, initial_backoff_ms: 10 } }] }
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork((yield* Gateway.Gateway).chat(request()))
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(limited.received.length, 1)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.attempts, 2)
    }).pipe(Effect.provide(gatewayWith(config, [limited])))
  })

  it.effect("a Retry-After longer than max_retry_after_ms is cut to it", () => {
    const limited = TestProvider.make({
      name: "limited",
      models: ["gpt-*"],
      chat: (req, call) => call === 0 ? Effect.fail(failing("limited", 429, 600_000)) : Effect.succeed(response(req.model, "ok"))
    })
    const config: Routing.RoutingConfig = {
      targets: [{ virtual_key: "limited", retry: { attempts: 2, max_retry_after_ms: 2000 } }]
    }
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork((yield* Gateway.Gateway).chat(request()))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(limited.received.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 2)
    }).pipe(Effect.provide(gatewayWith(config, [limited])))
  })
})

describe("Gateway routing: circuit breakers", () => {
  const breaker = { failure_threshold: 2, success_threshold: 1, timeout: 30_000 }

  it.effect("an open target is skipped without a call, and probed again after its timeout", () => {
    let healthy = false
    const flaky = TestProvider.make({
      name: "flaky",
      models: ["gpt-*"],
      chat: (req) => healthy ? Effect.succeed(response(req.model, "flaky")) : Effect.fail(failing("flaky", 500))
    })
    const backup = TestProvider.make({ name: "backup", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "fallback" },
      targets: [{ virtual_key: "flaky", circuit_breaker: breaker }, { virtual_key: "backup" }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      assert.strictEqual((yield* gw.chat(request())).attempts, 2)
      assert.strictEqual((yield* gw.chat(request())).attempts, 2)
      assert.strictEqual(flaky.received.length, 2)
      // Open: straight to the backup.
      const skipped = yield* gw.chat(request())
      assert.strictEqual(skipped.provider, "backup")
      assert.strictEqual(skipped.attempts, 1)
      assert.strictEqual(flaky.received.length, 2)
      healthy = true
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual((yield* gw.chat(request())).provider, "backup")
      yield* TestClock.adjust("1 millis")
      // Half-open: the probe succeeds and closes the circuit.
      assert.strictEqual((yield* gw.chat(request())).provider, "flaky")
      assert.strictEqual((yield* gw.chat(request())).provider, "flaky")
    }).pipe(Effect.provide(gatewayWith(config, [flaky, backup])))
  })

  it.effect("when every target's circuit is open the request fails fast with CircuitOpen", () => {
    const a = TestProvider.make({ name: "a", models: ["gpt-*"], chat: () => Effect.fail(failing("a", 502)) })
    const b = TestProvider.make({ name: "b", models: ["gpt-*"], chat: () => Effect.fail(new ProviderUnreachable({ provider: "b", detail: "refused" })) })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "fallback" },
      targets: [{ virtual_key: "a", circuit_breaker: breaker }, { virtual_key: "b", circuit_breaker: { ...breaker, timeout: 10_000 } }]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* Effect.flip(gw.chat(request()))
      yield* Effect.flip(gw.chat(request()))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(gw.chat(request()))
      assert.strictEqual(error._tag, "CircuitOpen")
      if (error._tag === "CircuitOpen") {
        assert.deepStrictEqual(error.targets, ["a", "b"])
        assert.strictEqual(error.retryAfterMillis, 9000)
      }
      assert.strictEqual(a.received.length + b.received.length, 4)
    }).pipe(Effect.provide(gatewayWith(config, [a, b])))
  })

  it.effect("a terminal 4xx does not count against the circuit", () => {
    const strict = TestProvider.make({ name: "strict", models: ["gpt-*"], chat: () => Effect.fail(failing("strict", 400)) })
    const config: Routing.RoutingConfig = { targets: [{ virtual_key: "strict", circuit_breaker: breaker }] }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      for (let i = 0; i < 4; i++) {
        const error = yield* Effect.flip(gw.chat(request()))
        assert.strictEqual(error._tag, "ProviderStatusError")
      }
      assert.strictEqual(strict.received.length, 4)
    }).pipe(Effect.provide(gatewayWith(config, [strict])))
  })
})

describe("Gateway routing: timeouts", () => {
  it.effect("a target's request timeout fails the attempt and the fallback serves", () => {
    const stuck = TestProvider.make({ name: "stuck", models: ["gpt-*"], chat: () => Effect.never })
    const backup = TestProvider.make({ name: "backup", models: ["gpt-*"] })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "fallback" },
      timeouts: { request: 60_000 },
      targets: [{ virtual_key: "stuck", timeouts: { request: 1000 } }, { virtual_key: "backup" }]
    }
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork((yield* Gateway.Gateway).chat(request()))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "backup")
      assert.strictEqual(result.attempts, 2)
    }).pipe(Effect.provide(gatewayWith(config, [stuck, backup])))
  })

  it.effect("a provider that enforces timeouts itself is handed the target's and not bounded again", () => {
    const seen: Array<number | undefined> = []
    const base = TestProvider.make({ name: "wire", models: ["gpt-*"] }).provider
    const wire: Provider.Provider = {
      ...base,
      enforcesTimeouts: true,
      // Answers after 2 s although asked for 1 s: only the gateway could cut it, and must not.
      chat: (req, options) => Effect.as(Effect.sync(() => void seen.push(options?.timeoutMillis)).pipe(Effect.zipRight(Effect.sleep("2 seconds"))), response(req.model, "late"))
    }
    const config: Routing.RoutingConfig = { targets: [{ virtual_key: "wire", timeouts: { request: 1000 } }] }
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork((yield* Gateway.Gateway).chat(request()))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).response.choices[0]!.message.content, "late")
      assert.deepStrictEqual(seen, [1000])
    }).pipe(Effect.provide(Gateway.layer(config).pipe(
      Layer.orDie,
      Layer.provide(ProviderRegistry.register(Effect.succeed(wire))),
      Layer.provide(Gateway.defaults)
    )))
  })

  it.scoped("a stream that goes quiet past its idle timeout fails with an idle ProviderTimeout", () => {
    const quiet = TestProvider.make({
      name: "quiet",
      models: ["gpt-*"],
      openStream: true,
      chatStream: (req) => Stream.concat(Stream.make(chunk(req.model, "Hel")), Stream.never)
    })
    const config: Routing.RoutingConfig = { timeouts: { stream_idle: 2000 }, targets: [{ virtual_key: "quiet" }] }
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chatStream(request())
      const fiber = yield* Effect.fork(Effect.flip(Stream.runCollect(result.stream)))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag === "ProviderTimeout" && error.idle, true)
    }).pipe(Effect.provide(gatewayWith(config, [quiet])))
  })
})

describe("Gateway routing: mid-stream failover", () => {
  const broken = (name: string, pieces: ReadonlyArray<string>) => (req: ChatRequest) =>
    Stream.concat(
      Stream.fromIterable(pieces.map((p) => ({ ...chunk(req.model, p), id: `${name}-id` }))),
      Stream.fail(new ProviderUnreachable({ provider: name, detail: "connection reset" }))
    )

  /** The continuation: a role-only chunk first, as real upstreams send, then the rest and usage. */
  const continuation = (name: string, pieces: ReadonlyArray<string>) => (req: ChatRequest) =>
    Stream.fromIterable<ChatChunk>([
      { ...chunk(req.model, ""), id: `${name}-id`, created: 99, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
      ...pieces.map((p) => ({ ...chunk(req.model, p), id: `${name}-id`, created: 99 })),
      { ...chunk(req.model, ""), id: `${name}-id`, created: 99, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
      { ...usageChunk(req.model), id: `${name}-id`, created: 99 }
    ])

  const failoverConfig: Routing.RoutingConfig = {
    strategy: { mode: "fallback", mid_stream_failover: true },
    targets: [{ virtual_key: "first" }, { virtual_key: "second" }]
  }

  for (const openStream of [false, true]) {
    it.scoped(`continues a broken stream on the next target as one answer (openStream: ${openStream})`, () => {
      const first = TestProvider.make({ name: "first", models: ["gpt-*"], openStream, chatStream: broken("first", ["Hello ", "wor"]) })
      const second = TestProvider.make({
        name: "second",
        models: ["gpt-*"],
        openStream,
        supportsPrefill: true,
        chatStream: continuation("second", ["ld", "!"])
      })
      const hooks = recordingHooks()
      return Effect.gen(function*() {
        const result = yield* (yield* Gateway.Gateway).chatStream(request("greet", { stream_options: { include_usage: true } }))
        const chunks = Chunk.toArray(yield* Stream.runCollect(result.stream))
        assert.strictEqual(textOf(chunks), "Hello world!")
        assert.deepStrictEqual([...new Set(chunks.map((c) => c.id))], ["first-id"])
        assert.isTrue(chunks.every((c) => c.created === 0), "the continuation keeps the first stream's created")
        assert.strictEqual(chunks.filter((c) => c.choices[0]?.delta.role !== undefined).length, 0)
        assert.strictEqual(chunks.filter((c) => c.choices[0]?.finish_reason === "stop").length, 1)
        assert.isDefined(chunks.at(-1)!.usage)
        const asked = second.received[0]!
        assert.deepStrictEqual(asked.messages.at(-1), { role: "assistant", content: "Hello wor", prefix: true })
        assert.deepStrictEqual(asked.messages.slice(0, -1), [{ role: "user", content: "greet" }])
        assert.strictEqual(result.provider, "first")
      }).pipe(
        // The request's scope closes first (that accounts the stream), then the gateway's.
        Effect.scoped,
        Effect.provide(gatewayWith(failoverConfig, [first, second], hooks.layer)),
        Effect.tap(() => Effect.sync(() => {
          const event = hooks.events[0]!
          assert.strictEqual(event.failovers, 1)
          assert.strictEqual(event.attempts, 2)
          assert.strictEqual(event.outcome, "success")
        }))
      )
    })
  }

  it.scoped("after only a role delta, any next target answers the original request afresh", () => {
    const first = TestProvider.make({
      name: "first",
      models: ["gpt-*"],
      chatStream: (req) =>
        Stream.concat(
          Stream.make<[ChatChunk]>({ ...chunk(req.model, ""), id: "first-id", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }),
          Stream.fail(new ProviderUnreachable({ provider: "first", detail: "reset" }))
        )
    })
    const second = TestProvider.make({ name: "second", models: ["gpt-*"], chatStream: continuation("second", ["Hi there"]) })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chatStream(request("greet"))
      const chunks = Chunk.toArray(yield* Stream.runCollect(result.stream))
      assert.strictEqual(textOf(chunks), "Hi there")
      assert.strictEqual(chunks.filter((c) => c.choices[0]?.delta.role !== undefined).length, 1)
      assert.deepStrictEqual(second.received[0]!.messages, [{ role: "user", content: "greet" }])
    }).pipe(Effect.provide(gatewayWith(failoverConfig, [first, second])))
  })

  it.scoped("a stall past the idle timeout is continued too", () => {
    const stalls = TestProvider.make({
      name: "first",
      models: ["gpt-*"],
      openStream: true,
      chatStream: (req) => Stream.concat(Stream.make({ ...chunk(req.model, "Hello "), id: "first-id" }), Stream.never)
    })
    const second = TestProvider.make({ name: "second", models: ["gpt-*"], supportsPrefill: true, chatStream: continuation("second", ["world"]) })
    const config: Routing.RoutingConfig = { ...failoverConfig, timeouts: { stream_idle: 5000 } }
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chatStream(request())
      const fiber = yield* Effect.fork(Stream.runCollect(result.stream))
      yield* TestClock.adjust("5 seconds")
      const chunks = Chunk.toArray(yield* Fiber.join(fiber))
      assert.strictEqual(textOf(chunks), "Hello world")
      assert.strictEqual(second.received[0]!.messages.at(-1)!.content, "Hello ")
    }).pipe(Effect.provide(gatewayWith(config, [stalls, second])))
  })

  it.scoped("cannot continue a half-sent tool call: the stream fails after what was delivered", () => {
    const first = TestProvider.make({
      name: "first",
      models: ["gpt-*"],
      chatStream: (req) =>
        Stream.concat(
          Stream.make<[ChatChunk]>({
            ...chunk(req.model, ""),
            choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "add", arguments: "{\"a\"" } }] }, finish_reason: null }]
          }),
          Stream.fail(new ProviderUnreachable({ provider: "first", detail: "reset" }))
        )
    })
    const second = TestProvider.make({ name: "second", models: ["gpt-*"], supportsPrefill: true })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chatStream(request())
      const error = yield* Effect.flip(Stream.runCollect(result.stream))
      assert.strictEqual(error._tag, "ProviderUnreachable")
      assert.strictEqual(second.received.length, 0)
    }).pipe(Effect.provide(gatewayWith(failoverConfig, [first, second])))
  })

  it.scoped("never continues on a target that does not take a prefill, nor when failover is off", () => {
    const first = TestProvider.make({ name: "first", models: ["gpt-*"], chatStream: broken("first", ["Hello "]) })
    const second = TestProvider.make({ name: "second", models: ["gpt-*"] })
    return Effect.gen(function*() {
      const result = yield* (yield* Gateway.Gateway).chatStream(request())
      const error = yield* Effect.flip(Stream.runCollect(result.stream))
      assert.strictEqual(error._tag, "ProviderUnreachable")
      assert.strictEqual(second.received.length, 0)
    }).pipe(Effect.provide(gatewayWith(failoverConfig, [first, second])))
  })
})

describe("Gateway routing: observability", () => {
  it.effect("every attempt is a span named Gateway.attempt with its target and number", () => {
    const seen: Array<{ name: string; target: unknown; attempt: unknown }> = []
    const record = (req: ChatRequest, ok: boolean) =>
      Effect.flatMap(Effect.orDie(Effect.currentSpan), (span) => {
        seen.push({ name: span.name, target: span.attributes.get("switchyard.target"), attempt: span.attributes.get("switchyard.attempt") })
        return ok ? Effect.succeed(response(req.model, "ok")) : Effect.fail(failing("x", 503))
      })
    const a = TestProvider.make({ name: "a", models: ["gpt-*"], chat: (req, call) => record(req, call > 0) })
    const b = TestProvider.make({ name: "b", models: ["gpt-*"], chat: (req) => record(req, true) })
    const config: Routing.RoutingConfig = {
      strategy: { mode: "fallback" },
      targets: [{ virtual_key: "a", retry: { attempts: 2, initial_backoff_ms: 1 } }, { virtual_key: "b" }]
    }
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork((yield* Gateway.Gateway).chat(request()))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "a")
      assert.strictEqual(result.attempts, 2)
      assert.deepStrictEqual(seen, [
        { name: "Gateway.attempt", target: "a", attempt: 1 },
        { name: "Gateway.attempt", target: "a", attempt: 2 }
      ])
    }).pipe(Effect.provide(gatewayWith(config, [a, b])))
  })
})
