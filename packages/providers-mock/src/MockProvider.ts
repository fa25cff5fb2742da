/**
 * The simulator as an in-process `Provider`: no network. The gateway's embedded default
 * provider, and the provider to swap in for tests.
 *
 * Waits use `Effect.sleep` (tests drive them with `TestClock`), the error draw uses the
 * `Random` service (seed it with `Effect.withRandom(Random.make(seed))` for a reproducible
 * sequence of failures), and `created` comes from the `Clock`.
 *
 * @since 0.1.0
 */
import { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Provider } from "@switchyard/core/Provider"
import { modelMatcher } from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import { nextId } from "./internal/ids.js"
import * as Simulation from "./Simulation.js"

/**
 * @since 0.1.0 @category Models
 */
export interface Options extends Simulation.Options {
  /** The registry name. Default `"mock"`. */
  readonly name?: string
  /** Glob patterns of the models served. Default `["mock-*"]`. */
  readonly models?: ReadonlyArray<string>
}

const defaultModels: ReadonlyArray<string> = ["mock-*"]

const sleepOrVoid = (millis: number): Effect.Effect<void> =>
  millis > 0 ? Effect.sleep(Duration.millis(millis)) : Effect.void

/**
 * Builds the provider (kind `"mock"`).
 *
 * A request first draws whether it fails, then waits the latency, then fails with a
 * `ProviderStatusError` (status `errorStatus`, body an OpenAI error envelope) or answers. A
 * stream does all of this on its first pull, then emits its chunks paced by `chunkDelay`.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (options: Options = {}): Effect.Effect<Provider> =>
  Effect.sync(() => {
    const name = options.name ?? "mock"
    const models = options.models ?? defaultModels
    const sim = Simulation.settings(options)
    const simulated = Simulation.simulatedError(sim.errorStatus)

    const listed = models.filter((m) => !m.includes("*"))
    const modelList = (options.models === undefined ? [Simulation.defaultModel, ...listed] : listed)
      .map(Simulation.modelInfo)

    // Drawn before the wait, so which requests fail under a seeded Random does not depend on timing.
    const draw: Effect.Effect<boolean> = sim.errorRate <= 0
      ? Effect.succeed(false)
      : sim.errorRate >= 1
      ? Effect.succeed(true)
      : Effect.map(Random.next, (n) => Simulation.fails(sim, n))

    const failure = Effect.suspend(() =>
      Effect.fail(
        new ProviderStatusError({
          provider: name,
          status: simulated.status,
          body: simulated.body,
          upstreamMessage: simulated.message,
          upstreamType: simulated.type,
          upstreamCode: simulated.code
        })
      )
    )

    const meta: Effect.Effect<Simulation.Meta> = Effect.map(
      Clock.currentTimeMillis,
      (now) => ({ id: nextId(), created: Math.floor(now / 1000) })
    )

    const latency = sleepOrVoid(sim.latencyMillis)
    const begin: Effect.Effect<Simulation.Meta, ProviderStatusError> = Effect.flatMap(
      draw,
      (failed) => Effect.zipRight(latency, failed ? failure : meta)
    )

    const chunkDelay = sleepOrVoid(sim.chunkDelayMillis)
    const emit = (plan: Simulation.StreamPlan) =>
      sim.chunkDelayMillis > 0
        ? Stream.succeed(plan.first).pipe(
          Stream.concat(Stream.mapEffect(Stream.fromIterable(plan.content), (c) => Effect.as(chunkDelay, c))),
          Stream.concat(Stream.fromIterable(plan.last))
        )
        : Stream.fromIterable([plan.first, ...plan.content, ...plan.last])

    return {
      name,
      kind: "mock",
      serves: modelMatcher(models),
      chat: (req) => Effect.map(begin, (m) => Simulation.response(req, sim, m)),
      chatStream: (req) => Stream.unwrap(Effect.map(begin, (m) => emit(Simulation.streamPlan(req, sim, m)))),
      embed: (req) => Effect.map(begin, () => Simulation.embeddings(req)),
      image: (req) => Effect.map(begin, (m) => Simulation.images(req, m.created)),
      listModels: Effect.succeed(modelList),
      supportsPrefill: true
    }
  })

/**
 * Builds the provider and registers it in the `ProviderRegistry`.
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (options: Options = {}): Layer.Layer<never, never, ProviderRegistry.ProviderRegistry> =>
  ProviderRegistry.register(make(options))
