/**
 * The eight strategies, interpreted: given a request, which targets to try and in which order.
 * A strategy decides only the order; `Router` runs it (retries, circuit breakers, timeouts).
 *
 * Two families, as in Ferro. Pool modes (`fallback`, `loadbalance`, `least-latency`,
 * `cost-optimized`, `ab-test`) choose for a reason about the pool, so a failed request moves
 * on to the next candidate. Named modes (`single`, `conditional`, `content-based`) choose one
 * specific target, and its failure is the answer: serving from elsewhere would make the rule a
 * suggestion. Only targets whose provider serves the model take part.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Catalog from "./Catalog.js"
import type { ChatRequest, Message } from "./ChatSchema.js"
import { ModelNotFound } from "./GatewayError.js"
import * as LatencyStats from "./LatencyStats.js"
import type { Provider } from "./Provider.js"
import type * as ProviderRegistry from "./ProviderRegistry.js"
import type { RequestContext } from "./RequestContext.js"
import type { Mode, RoutingConfig, Target } from "./Routing.js"
import { compileRegex } from "./Routing.js"

/** One target to try. @since 0.1.0 @category Models */
export interface Candidate {
  /** The target's `virtual_key` (the provider's name). */
  readonly key: string
  readonly provider: Provider
  /** Its configuration (retry, circuit breaker, timeouts), when it is a configured target. */
  readonly target: Target | undefined
  /** The `ab-test` variant's label. */
  readonly label?: string | undefined
}

/** @since 0.1.0 @category Models */
export interface Plan {
  /** The upstream model id: alias resolved, provider prefix stripped. */
  readonly model: string
  readonly mode: Mode
  /** In order of preference. */
  readonly candidates: ReadonlyArray<Candidate>
  /** Whether a failed candidate hands over to the next (pool modes). */
  readonly failover: boolean
}

/** @since 0.1.0 @category Models */
export type Planner = (req: ChatRequest, ctx: RequestContext) => Effect.Effect<Plan, ModelNotFound>

const poolModes: ReadonlySet<Mode> = new Set(["fallback", "loadbalance", "least-latency", "cost-optimized", "ab-test"])

const weightOf = (weight: number | undefined) => (weight === undefined || weight === 0 ? 1 : weight)

/**
 * A weighted random order: each item's key is an exponential draw divided by its weight, and
 * the smallest key goes first, so the first place goes to an item with probability
 * weight / total (and so on for the rest, among those left).
 */
const weightedOrder = <A>(items: ReadonlyArray<A>, weight: (a: A) => number): Effect.Effect<Array<A>> =>
  items.length <= 1
    ? Effect.succeed([...items])
    : Effect.map(
      Effect.forEach(items, (item) => Effect.map(Random.next, (u) => ({ item, key: -Math.log(1 - u) / weight(item) }))),
      (keyed) => keyed.sort((a, b) => a.key - b.key).map((k) => k.item)
    )

/** The text of a message's content: a string, or its text parts joined. */
const textOf = (message: Message): string => {
  const content = message.content
  if (typeof content === "string") return content
  if (content === null || content === undefined) return ""
  let text = ""
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") text += (text === "" ? "" : "\n") + part.text
  }
  return text
}

const userTexts = (req: ChatRequest): Array<string> => req.messages.filter((m) => m.role === "user").map(textOf)

const scalarText = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined

/** Cheapest first; what the catalog has no price for goes last, in configured order. */
const estimatedCost = (catalog: Catalog.Service, candidate: Candidate, model: string, req: ChatRequest): number => {
  const entry = Catalog.lookupServed(catalog, candidate, model)
  if (Option.isNone(entry)) return Infinity
  // About four characters a token; without a max_tokens the answer is taken to be as long as the prompt.
  let chars = 0
  for (const m of req.messages) chars += textOf(m).length
  const prompt = Math.ceil(chars / 4) + 1
  const output = req.max_completion_tokens ?? req.max_tokens ?? prompt
  return prompt * entry.value.input + output * entry.value.output
}

/**
 * Builds the planner for a validated configuration.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (
  config: RoutingConfig,
  services: {
    readonly registry: ProviderRegistry.Service
    readonly catalog: Catalog.Service
    readonly latency: LatencyStats.Service
  }
): Planner => {
  const { catalog, latency, registry } = services
  const strategy = config.strategy
  const mode: Mode = strategy?.mode ?? "fallback"
  const targets = config.targets ?? []
  const targetByKey = new Map(targets.map((t) => [t.virtual_key, t]))
  const failover = poolModes.has(mode)
  const latencyWindow = strategy?.latency_window ?? LatencyStats.defaults.windowMillis

  const candidateOf = (key: string, model: string, label?: string): Candidate | undefined => {
    const provider = registry.get(key)
    if (Option.isNone(provider) || !provider.value.serves(model)) return undefined
    return { key, provider: provider.value, target: targetByKey.get(key), label }
  }

  /** Configured targets serving the model in order, or with none configured every provider that does. */
  const eligible = (model: string): Array<Candidate> => {
    const found: Array<Candidate> = []
    if (targets.length > 0) {
      for (const t of targets) {
        const c = candidateOf(t.virtual_key, model)
        if (c !== undefined) found.push(c)
      }
    } else {
      for (const provider of registry.all()) {
        if (provider.serves(model)) found.push({ key: provider.name, provider, target: undefined })
      }
    }
    return found
  }

  const rules = {
    conditions: (strategy?.conditions ?? []).map((c) => {
      const value = c.value
      const dot = c.key.indexOf(".")
      const field = dot === -1 ? "" : c.key.slice(dot + 1)
      const test: (req: ChatRequest, ctx: RequestContext) => boolean = c.key === "model"
        ? (req) => req.model === value
        : c.key === "model_prefix"
        ? (req) => req.model.startsWith(value)
        : c.key === "user"
        ? (req) => req.user === value
        : c.key === "stream"
        ? (req) => String(req.stream === true) === value
        : c.key === "has_tools"
        ? (req) => String((req.tools?.length ?? 0) > 0) === value
        : c.key.startsWith("metadata.")
        ? (req) => scalarText((req["metadata"] as Record<string, unknown> | undefined)?.[field]) === value
        : (_, ctx) => ctx.headers?.[field.toLowerCase()] === value
      return { test, target: c.target_key }
    }),
    content: (strategy?.content_conditions ?? []).map((c) => {
      const target = c.target_key
      switch (c.type) {
        case "prompt_contains": {
          const needle = c.value.toLowerCase()
          return { target, test: (texts: Array<string>) => texts.some((t) => t.toLowerCase().includes(needle)) }
        }
        case "prompt_not_contains": {
          const needle = c.value.toLowerCase()
          return { target, test: (texts: Array<string>) => !texts.some((t) => t.toLowerCase().includes(needle)) }
        }
        case "prompt_regex": {
          const regex = compileRegex(c.value)
          return { target, test: (texts: Array<string>) => texts.some((t) => regex.test(t)) }
        }
      }
    })
  }

  /** A named mode's one target; it must serve the model, or the request has no route. */
  const named = (model: string, key: string, why: string): Effect.Effect<Array<Candidate>, ModelNotFound> => {
    const c = candidateOf(key, model)
    return c === undefined
      ? Effect.fail(new ModelNotFound({ model, reason: `The ${why} routes to target '${key}', which does not serve the model '${model}'` }))
      : Effect.succeed([c])
  }

  const order = (req: ChatRequest, ctx: RequestContext, model: string): Effect.Effect<Array<Candidate>, ModelNotFound> => {
    switch (mode) {
      case "single":
      case "fallback":
        return Effect.succeed(mode === "single" ? eligible(model).slice(0, 1) : eligible(model))
      case "loadbalance":
        return weightedOrder(eligible(model), (c) => weightOf(c.target?.weight))
      case "ab-test": {
        const variants = (strategy?.ab_variants ?? []).flatMap((v) => {
          const c = candidateOf(v.target_key, model, v.label)
          return c === undefined ? [] : [{ c, weight: weightOf(v.weight) }]
        })
        return Effect.map(weightedOrder(variants, (v) => v.weight), (vs) => vs.map((v) => v.c))
      }
      case "least-latency": {
        const pool = eligible(model)
        return Effect.map(Effect.forEach(pool, (c) => latency.median(c.key, latencyWindow)), (medians) => {
          // Untried targets first, so each gets measured; then the fastest.
          const ranked = pool.map((c, i) => ({ c, i, median: Option.getOrElse(medians[i]!, () => -1) }))
          return ranked.sort((a, b) => a.median - b.median || a.i - b.i).map((r) => r.c)
        })
      }
      case "cost-optimized": {
        const ranked = eligible(model).map((c, i) => ({ c, i, cost: estimatedCost(catalog, c, model, req) }))
        return Effect.succeed(ranked.sort((a, b) => a.cost - b.cost || a.i - b.i).map((r) => r.c))
      }
      case "conditional": {
        const rule = rules.conditions.find((r) => r.test(req, ctx))
        return rule === undefined
          ? named(model, targets[0]!.virtual_key, "conditional strategy's default (no condition matched)")
          : named(model, rule.target, "matching condition")
      }
      case "content-based": {
        const texts = userTexts(req)
        const rule = rules.content.find((r) => r.test(texts))
        return rule === undefined
          ? named(model, targets[0]!.virtual_key, "content-based strategy's default (no rule matched)")
          : named(model, rule.target, "matching content rule")
      }
    }
  }

  return (req, ctx) => {
    const model = req.model
    const slash = model.indexOf("/")
    if (slash > 0) {
      // `provider/model` pins that provider (the prefix is stripped), whatever the mode.
      const pinned = registry.get(model.slice(0, slash))
      if (Option.isSome(pinned)) {
        const key = pinned.value.name
        return Effect.succeed({
          model: model.slice(slash + 1),
          mode,
          candidates: [{ key, provider: pinned.value, target: targetByKey.get(key) }],
          failover: false
        })
      }
    }
    return Effect.flatMap(order(req, ctx, model), (candidates): Effect.Effect<Plan, ModelNotFound> =>
      candidates.length === 0
        ? Effect.fail(new ModelNotFound({ model }))
        : Effect.succeed({ model, mode, candidates, failover })
    )
  }
}
