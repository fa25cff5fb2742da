import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { ChatRequest } from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import { ProviderStatusError, RequestRejected } from "@switchyard/core/GatewayError"
import * as Hooks from "@switchyard/core/Hooks"
import * as Plugins from "@switchyard/core/Plugins"
import * as Routing from "@switchyard/core/Routing"
import { chunk, response } from "@switchyard/core/TestProvider"
import * as TestProvider from "@switchyard/core/TestProvider"

const statusError = (provider: string, status: number) =>
  new ProviderStatusError({ provider, status, body: "{}", upstreamMessage: `status ${status}` })

/** fakeProvider(name, models, chat?, chatStream?, openStream?): a recording test provider. */
const fakeProvider = (
  name: string,
  models: ReadonlyArray<string>,
  chat?: TestProvider.Options["chat"],
  chatStream?: TestProvider.Options["chatStream"],
  openStream = false
) => TestProvider.make({ name, models, openStream, ...(chat ? { chat } : {}), ...(chatStream ? { chatStream } : {}) })

const request = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  ...extra
})

const gatewayWith = (
  config: Routing.RoutingConfig,
  providers: ReadonlyArray<Layer.Layer<never, never, any>>,
  extra: Layer.Layer<never> = Layer.empty
) =>
  Gateway.layer(config).pipe(
    Layer.provide(providers as [Layer.Layer<never, never, any>]),
    Layer.provide(extra),
    Layer.provide(Gateway.defaults)
  ) as Layer.Layer<Gateway.Gateway>

/** Hooks that keep every request event in `events`. */
const recording = (events: Array<Hooks.RequestEvent>) =>
  Layer.succeed(Hooks.Hooks, {
    publish: (e) => Effect.sync(() => void events.push(e)),
    publishToolCall: () => Effect.void,
    dropped: Effect.succeed(0)
  })

describe("Gateway.chat", () => {
  it.effect("forwards unknown fields and answers from the provider serving the model", () => {
    const openai = fakeProvider("openai", ["gpt-*"])
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const result = yield* gw.chat(request("gpt-4o", { metadata: { team: "a" } }))
      assert.strictEqual(result.provider, "openai")
      assert.strictEqual(result.response.choices[0]!.message.content, "from openai")
      assert.deepStrictEqual(openai.received[0]!["metadata"], { team: "a" })
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer])))
  })

  it.effect("resolves aliases and provider prefixes before calling the provider", () => {
    const openai = fakeProvider("openai", ["gpt-*"])
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* gw.chat(request("fast"))
      yield* gw.chat(request("openai/gpt-4.1"))
      assert.deepStrictEqual(openai.received.map((r) => r.model), ["gpt-4o-mini", "gpt-4.1"])
    }).pipe(Effect.provide(gatewayWith({ aliases: { fast: "gpt-4o-mini" } }, [openai.layer])))
  })

  // Jitter draws from `Random`: fixed at 0.5 it is exactly 1.0x, so the backoff is the nominal one.
  it.effect("retries a retryable status on the Schedule's backoff, then succeeds", () => {
    const flaky = fakeProvider("flaky", ["gpt-*"], (req, call) =>
      call < 2 ? Effect.fail(statusError("flaky", 503)) : Effect.succeed(response(req.model, "third time")))
    const config = { targets: [{ virtual_key: "flaky", retry: { attempts: 3, initial_backoff_ms: 1000 } }] }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const fiber = yield* Effect.fork(gw.chat(request("gpt-4o")).pipe(Effect.withRandom(Random.fixed([0.5]))))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(flaky.received.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(flaky.received.length, 2)
      // The second backoff doubles.
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.response.choices[0]!.message.content, "third time")
    }).pipe(Effect.provide(gatewayWith(config, [flaky.layer])))
  })

  it.effect("does not retry terminal errors, and on_status_codes narrows what is retried", () => {
    const bad = fakeProvider("bad", ["gpt-*"], () => Effect.fail(statusError("bad", 400)))
    const limited = fakeProvider("limited", ["claude-*"], () => Effect.fail(statusError("limited", 503)))
    const config = {
      targets: [
        { virtual_key: "bad", retry: { attempts: 5 } },
        { virtual_key: "limited", retry: { attempts: 5, on_status_codes: [429] } }
      ]
    }
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const error = yield* Effect.flip(gw.chat(request("gpt-4o")))
      assert.strictEqual(error._tag, "ProviderStatusError")
      assert.strictEqual(bad.received.length, 1)
      yield* Effect.flip(gw.chat(request("claude-3-5-haiku")))
      assert.strictEqual(limited.received.length, 1)
    }).pipe(Effect.provide(gatewayWith(config, [bad.layer, limited.layer])))
  })

  it.effect("falls back to the next target and reports the last error when all fail", () => {
    const down = fakeProvider("down", ["gpt-*"], () => Effect.fail(statusError("down", 500)))
    const up = fakeProvider("up", ["gpt-*"])
    const alsoDown = fakeProvider("also-down", ["gpt-*"], () => Effect.fail(statusError("also-down", 429)))
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      assert.strictEqual((yield* gw.chat(request("gpt-4o"))).provider, "up")
      const error = yield* Effect.flip(gw.chat(request("down/gpt-4o")))
      assert.strictEqual(error._tag === "ProviderStatusError" && error.status, 500)
    }).pipe(Effect.provide(gatewayWith({ strategy: { mode: "fallback" } }, [down.layer, up.layer, alsoDown.layer])))
  })

  it.effect("runs plugins in order and lets them refuse a request", () => {
    const openai = fakeProvider("openai", ["gpt-*"])
    const trail: Array<string> = []
    const plugins = Plugins.layer([
      {
        name: "tag",
        beforeRequest: (req) => Effect.succeed({ ...req, user: "tagged" }),
        afterResponse: (res) => Effect.sync(() => (trail.push("after"), res))
      },
      {
        name: "guard",
        beforeRequest: (req) =>
          req.model === "gpt-forbidden"
            ? Effect.fail(new RequestRejected({ plugin: "guard", status: 403, message: "no" }))
            : Effect.succeed(req),
        onError: (error) => Effect.sync(() => void trail.push(`error:${error._tag}`))
      }
    ])
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* gw.chat(request("gpt-4o"))
      assert.strictEqual(openai.received[0]!.user, "tagged")
      const error = yield* Effect.flip(gw.chat(request("gpt-forbidden")))
      assert.strictEqual(error._tag, "RequestRejected")
      assert.deepStrictEqual(trail, ["after", "error:RequestRejected"])
      assert.strictEqual(openai.received.length, 1)
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer], plugins)))
  })

  it.effect("prices the model the provider served: a provider prefix or an alias costs what its upstream model costs", () => {
    const openai = fakeProvider("openai", ["gpt-*"])
    const events: Array<Hooks.RequestEvent> = []
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* gw.chat(request("openai/gpt-4o"))
      yield* gw.chat(request("smart"))
      yield* Effect.scoped(Effect.flatMap(gw.chatStream(request("openai/gpt-4o", { stream: true })), (r) => Stream.runDrain(r.stream)))
      assert.deepStrictEqual(events.map((e) => e.model), ["openai/gpt-4o", "smart", "openai/gpt-4o"])
      // 3 prompt tokens at 2.50 and 2 completion tokens at 10 per million (gpt-4o's price)
      for (const event of events) assert.closeTo(event.costUsd!, (3 * 2.5 + 2 * 10) / 1e6, 1e-15)
    }).pipe(Effect.provide(gatewayWith({ aliases: { smart: "gpt-4o" } }, [openai.layer], recording(events))))
  })

  it.effect("publishes one accounting event per request with usage and cost", () => {
    const openai = fakeProvider("openai", ["gpt-*"])
    const events: Array<Hooks.RequestEvent> = []
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* gw.chat(request("gpt-4o"))
      yield* Effect.flip(gw.chat(request("nothing-serves-this")))
      assert.strictEqual(events.length, 2)
      assert.strictEqual(events[0]!.outcome, "success")
      assert.strictEqual(events[0]!.provider, "openai")
      // 3 prompt tokens at 2.50 and 2 completion tokens at 10 per million
      assert.closeTo(events[0]!.costUsd!, (3 * 2.5 + 2 * 10) / 1e6, 1e-15)
      assert.strictEqual(events[1]!.status, 404)
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer], recording(events))))
  })
})

// Each case twice: providers that only have chatStream, and providers with openStream (a pull),
// the path the gateway takes for real adapters.
for (const pulls of [false, true]) describe(`Gateway.chatStream (${pulls ? "openStream" : "chatStream"} providers)`, () => {
  const fake = (name: string, models: ReadonlyArray<string>, chat?: TestProvider.Options["chat"], chatStream?: TestProvider.Options["chatStream"]) =>
    fakeProvider(name, models, chat, chatStream, pulls)
  const collect = (req: ChatRequest) =>
    Effect.scoped(Effect.flatMap(Gateway.Gateway, (gw) =>
      Effect.flatMap(gw.chatStream(req), (r) => Effect.map(Stream.runCollect(r.stream), (c) => ({ provider: r.provider, chunks: Chunk.toArray(c) })))))

  it.effect("always asks upstream for usage but shows it only to clients that asked", () => {
    const openai = fake("openai", ["gpt-*"])
    return Effect.gen(function*() {
      const plain = yield* collect(request("gpt-4o", { stream: true }))
      assert.deepStrictEqual(plain.chunks.map((c) => c.choices[0]?.delta.content), ["a", "b"])
      assert.deepStrictEqual(openai.received[0]!.stream_options, { include_usage: true })
      const withUsage = yield* collect(request("gpt-4o", { stream: true, stream_options: { include_usage: true } }))
      assert.strictEqual(withUsage.chunks.length, 3)
      assert.strictEqual(withUsage.chunks[2]!.usage!.total_tokens, 5)
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer])))
  })

  it.effect("falls back when a provider fails before its first chunk", () => {
    const down = fake("down", ["gpt-*"], undefined, () => Stream.fail(statusError("down", 503)))
    const up = fake("up", ["gpt-*"])
    return Effect.gen(function*() {
      const result = yield* collect(request("gpt-4o", { stream: true }))
      assert.strictEqual(result.provider, "up")
      assert.strictEqual(down.received.length, 1)
    }).pipe(Effect.provide(gatewayWith({}, [down.layer, up.layer])))
  })

  it.effect("never retries or falls back after the first chunk: the error reaches the stream", () => {
    const broken = fake("broken", ["gpt-*"], undefined, (req) =>
      Stream.concat(Stream.make(chunk(req.model, "a")), Stream.fail(statusError("broken", 500))))
    const up = fake("up", ["gpt-*"])
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(collect(request("gpt-4o", { stream: true })))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(up.received.length, 0)
    }).pipe(Effect.provide(gatewayWith({}, [broken.layer, up.layer])))
  })

  it.effect("a pre-stream failure of every candidate fails the Effect itself", () => {
    const down = fake("down", ["gpt-*"], undefined, () => Stream.fail(statusError("down", 429)))
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const error = yield* Effect.flip(Effect.scoped(gw.chatStream(request("gpt-4o", { stream: true }))))
      assert.strictEqual(error._tag === "ProviderStatusError" && error.status, 429)
    }).pipe(Effect.provide(gatewayWith({}, [down.layer])))
  })

  it.effect("interrupting the consumer interrupts the provider stream", () => {
    let released = false
    const endless = fake("endless", ["gpt-*"], undefined, (req) =>
      Stream.concat(Stream.make(chunk(req.model, "a")), Stream.never).pipe(Stream.ensuring(Effect.sync(() => {
        released = true
      }))))
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(gw.chatStream(request("gpt-4o", { stream: true })), (r) => Stream.runDrain(r.stream))))
      yield* TestClock.adjust("1 millis")
      assert.isFalse(released)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(released)
    }).pipe(Effect.provide(gatewayWith({}, [endless.layer])))
  })

  it.effect("publishes one accounting event per stream: usage on success, 499 when the consumer goes away", () => {
    const openai = fake("openai", ["gpt-*"])
    const endless = fake("endless", ["endless-*"], undefined, (req) => Stream.concat(Stream.make(chunk(req.model, "a")), Stream.never))
    const events: Array<Hooks.RequestEvent> = []
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      yield* collect(request("gpt-4o", { stream: true }))
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]!.outcome, "success")
      assert.strictEqual(events[0]!.stream, true)
      assert.strictEqual(events[0]!.usage!.total_tokens, 5)
      assert.closeTo(events[0]!.costUsd!, (3 * 2.5 + 2 * 10) / 1e6, 1e-15)
      const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(gw.chatStream(request("endless-1", { stream: true })), (r) => Stream.runDrain(r.stream))))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(events.length, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(events.length, 2)
      assert.strictEqual(events[1]!.outcome, "interrupted")
      assert.strictEqual(events[1]!.status, 499)
      assert.strictEqual(events[1]!.provider, "endless")
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer, endless.layer], recording(events))))
  })

  it.effect("the pull and the stream are one source: a consumer may read either", () => {
    const openai = fake("openai", ["gpt-*"])
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const contents = yield* Effect.scoped(Effect.flatMap(gw.chatStream(request("gpt-4o", { stream: true })), (r) => {
        const read: Effect.Effect<Array<string>> = Effect.matchEffect(r.pull, {
          onFailure: () => Effect.succeed([]),
          onSuccess: (c) => Effect.map(read, (rest) => [...Chunk.toArray(c).map((x) => x.choices[0]?.delta.content ?? ""), ...rest])
        })
        return read
      }))
      assert.deepStrictEqual(contents, ["a", "b"])
    }).pipe(Effect.provide(gatewayWith({}, [openai.layer])))
  })
})

describe("Gateway.models", () => {
  it.effect("lists the discovered models with their owners, refreshed on the interval, plus the aliases", () => {
    let extra: ReadonlyArray<string> = []
    const openai = TestProvider.make({
      name: "openai",
      models: ["gpt-*"],
      listModels: Effect.sync(() =>
        ["gpt-4o", ...extra].map((id) => ({ id, object: "model", created: 0, owned_by: "openai" }))
      )
    })
    const azure = TestProvider.make({ name: "azure", models: ["gpt-4o"] })
    return Effect.gen(function*() {
      const gw = yield* Gateway.Gateway
      const ids = Effect.map(gw.models, (models) => models.map((m) => `${m.owned_by}/${m.id}`))
      assert.deepStrictEqual(yield* ids, ["openai/gpt-4o", "azure/gpt-4o", "switchyard-alias/fast"])
      extra = ["gpt-5"]
      assert.deepStrictEqual(yield* ids, ["openai/gpt-4o", "azure/gpt-4o", "switchyard-alias/fast"], "not listed per request")
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(yield* ids, ["openai/gpt-4o", "openai/gpt-5", "azure/gpt-4o", "switchyard-alias/fast"])
    }).pipe(Effect.provide(gatewayWith({ aliases: { fast: "gpt-4o" } }, [openai.layer, azure.layer])))
  })
})
