/**
 * The routing configuration: Ferro's `strategy`, `targets` and `aliases` with the same field
 * names, plus timeouts. It is data: `RoutingStrategy` interprets it into an order of targets,
 * `Router` runs that order with retries, circuit breakers and timeouts.
 *
 * Durations (`circuit_breaker.timeout`, `timeouts.*`, `strategy.latency_window`) are a number of
 * milliseconds or a Go-style duration string such as `30s`, `1m30s` or `250ms`, so a Ferro
 * file loads unchanged.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const durationPart = /(\d*\.?\d+|\d+\.)(ns|us|µs|ms|s|m|h)/y

/**
 * `"1m30s"` -> 90000; `undefined` when the text is not a duration.
 *
 * @since 0.1.0 @category Parsing
 */
export const parseDuration = (text: string): number | undefined => {
  if (text === "0") return 0
  let total = 0
  durationPart.lastIndex = 0
  while (durationPart.lastIndex < text.length) {
    const start = durationPart.lastIndex
    const match = durationPart.exec(text)
    if (match === null || match.index !== start) return undefined
    total += Number(match[1]) * units[match[2]!]!
  }
  return text.length === 0 ? undefined : total
}

/**
 * Milliseconds, written as a number of milliseconds or a duration string (`30s`).
 *
 * @since 0.1.0 @category Schemas
 */
export const Millis = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.Number.pipe(Schema.nonNegative({ message: () => "must not be negative" })),
  {
    strict: true,
    decode: (value, _, ast) => {
      if (typeof value === "number") return ParseResult.succeed(value)
      const millis = parseDuration(value.trim())
      return millis === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, value, `'${value}' is not a duration (use e.g. 500ms, 30s, 1m30s)`))
        : ParseResult.succeed(millis)
    },
    encode: ParseResult.succeed
  }
)

const NonNegative = (what: string) => Schema.Number.pipe(Schema.nonNegative({ message: () => `${what} must not be negative` }))

/** @since 0.1.0 @category Schemas */
export const RetryConfig = Schema.Struct({
  /** Attempts per target, the first included: 1 means no retry. */
  attempts: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  /**
   * When set, only these upstream statuses are retried (transport errors and timeouts always
   * are), and a listed status also moves a fallback on to the next target.
   */
  on_status_codes: Schema.optional(Schema.Array(Schema.Int)),
  /** Base of the exponential backoff: about initial * 2^(attempt-1), jittered. Default 100 ms. */
  initial_backoff_ms: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** The longest backoff between two attempts. Default 10 s. */
  max_backoff_ms: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** The longest an upstream's `Retry-After` is waited for; longer ones are cut to this. Default 30 s. */
  max_retry_after_ms: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type RetryConfig = typeof RetryConfig.Type

/** @since 0.1.0 @category Schemas */
export const CircuitBreakerConfig = Schema.Struct({
  /** Consecutive failures that open the circuit. Default 5. */
  failure_threshold: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** Consecutive successful probes, while half-open, that close it again. Default 1. */
  success_threshold: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** How long the circuit stays open before a probe is let through. Default 30 s. */
  timeout: Schema.optional(Millis)
})
export type CircuitBreakerConfig = typeof CircuitBreakerConfig.Type

/** @since 0.1.0 @category Schemas */
export const Timeouts = Schema.Struct({
  /** One attempt: the whole answer, or for a stream the time to its first chunk. */
  request: Schema.optional(Millis),
  /** A stream that sends no chunk for this long is treated as broken. */
  stream_idle: Schema.optional(Millis)
})
export type Timeouts = typeof Timeouts.Type

/** @since 0.1.0 @category Schemas */
export const Target = Schema.Struct({
  /** The provider's name. */
  virtual_key: Schema.String,
  /** Load-balancing share; 0 counts as 1. */
  weight: Schema.optional(NonNegative("weight")),
  retry: Schema.optional(RetryConfig),
  circuit_breaker: Schema.optional(CircuitBreakerConfig),
  /** Override the global `timeouts` for this target. */
  timeouts: Schema.optional(Timeouts)
})
export type Target = typeof Target.Type

const conditionKeys = ["model", "model_prefix", "user", "stream", "has_tools"]

/**
 * `key` is `model`, `model_prefix`, `user`, `stream`, `has_tools`, `metadata.<field>` (the
 * request body's `metadata`) or `header.<name>` (a request header).
 *
 * @since 0.1.0 @category Schemas
 */
export const Condition = Schema.Struct({
  key: Schema.String.pipe(Schema.filter((key) =>
    conditionKeys.includes(key) || /^(metadata|header)\.\S+$/.test(key) ||
    `unknown condition key '${key}' (use ${conditionKeys.join(", ")}, metadata.<field> or header.<name>)`
  )),
  value: Schema.String,
  target_key: Schema.String
})
export type Condition = typeof Condition.Type

/**
 * Go's `(?i)`-style leading flags, which Ferro's regexes use and JavaScript spells as flags.
 *
 * @since 0.1.0 @category Parsing
 */
export const compileRegex = (pattern: string): RegExp => {
  const inline = /^\(\?([imsU]+)\)/.exec(pattern)
  if (inline === null) return new RegExp(pattern)
  const flags = [...new Set(inline[1]!.replace("U", ""))].join("")
  return new RegExp(pattern.slice(inline[0].length), flags)
}

const validRegex = (pattern: string): true | string => {
  try {
    compileRegex(pattern)
    return true
  } catch (error) {
    return `not a valid regular expression: ${(error as Error).message}`
  }
}

/** @since 0.1.0 @category Schemas */
export const ContentCondition = Schema.Struct({
  type: Schema.Literal("prompt_contains", "prompt_not_contains", "prompt_regex"),
  value: Schema.String,
  target_key: Schema.String
}).pipe(Schema.filter((c) => {
  if (c.type !== "prompt_regex") return true
  const valid = validRegex(c.value)
  return valid === true || { path: ["value"], message: valid }
}))
export type ContentCondition = typeof ContentCondition.Type

/** @since 0.1.0 @category Schemas */
export const AbVariant = Schema.Struct({
  target_key: Schema.String,
  /** Relative share; 0 counts as 1. */
  weight: Schema.optional(NonNegative("weight")),
  /** Logged with the request and answered in `x-switchyard-variant`. */
  label: Schema.String.pipe(Schema.minLength(1, { message: () => "label must not be empty" }))
})
export type AbVariant = typeof AbVariant.Type

/** @since 0.1.0 @category Schemas */
export const modes = [
  "single",
  "fallback",
  "loadbalance",
  "conditional",
  "least-latency",
  "cost-optimized",
  "content-based",
  "ab-test"
] as const

/** @since 0.1.0 @category Models */
export type Mode = typeof modes[number]

/** @since 0.1.0 @category Schemas */
export const Strategy = Schema.Struct({
  mode: Schema.Literal(...modes).annotations({ message: () => ({ message: `must be one of ${modes.join(", ")}`, override: true }) }),
  /** `conditional`: first match wins; no match goes to the first target. */
  conditions: Schema.optional(Schema.Array(Condition)),
  /** `content-based`: matched on the user messages' text; first match wins, else the first target. */
  content_conditions: Schema.optional(Schema.Array(ContentCondition)),
  /** `ab-test`: weighted, labelled variants. */
  ab_variants: Schema.optional(Schema.Array(AbVariant)),
  /** `least-latency`: how far back latency samples count. Default 5 minutes. */
  latency_window: Schema.optional(Millis),
  /**
   * When a stream breaks after its first chunk reached the client, continue the same answer on
   * the next target (which must accept an assistant prefill). Default off.
   */
  mid_stream_failover: Schema.optional(Schema.Boolean)
})
export type Strategy = typeof Strategy.Type

/** @since 0.1.0 @category Schemas */
export const RoutingConfig = Schema.Struct({
  strategy: Schema.optional(Strategy),
  targets: Schema.optional(Schema.Array(Target)),
  aliases: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Defaults for every target. */
  timeouts: Schema.optional(Timeouts)
})
export type RoutingConfig = typeof RoutingConfig.Type

/** @since 0.1.0 @category Routing */
export const resolveAlias = (config: RoutingConfig, model: string): string => config.aliases?.[model] ?? model

/**
 * Which fields each mode reads; any other strategy field is a mistake worth reporting.
 */
const modeFields: Record<Mode, ReadonlyArray<keyof Strategy>> = {
  single: [],
  fallback: [],
  loadbalance: [],
  conditional: ["conditions"],
  "least-latency": ["latency_window"],
  "cost-optimized": [],
  "content-based": ["content_conditions"],
  "ab-test": ["ab_variants"]
}

const ruleFields = ["conditions", "content_conditions", "ab_variants", "latency_window"] as const

/**
 * What is wrong with a decoded configuration beyond its schema, given the names of the
 * registered providers: each problem is `path: message`.
 *
 * @since 0.1.0 @category Validation
 */
export const check = (config: RoutingConfig, providers: ReadonlyArray<string>): Array<string> => {
  const problems: Array<string> = []
  const known = new Set(providers)
  const targets = config.targets ?? []
  const keys = new Set<string>()
  targets.forEach((t, i) => {
    if (!known.has(t.virtual_key)) {
      problems.push(`targets[${i}].virtual_key: no provider is named '${t.virtual_key}' (known: ${providers.join(", ")})`)
    }
    if (keys.has(t.virtual_key)) problems.push(`targets[${i}].virtual_key: '${t.virtual_key}' is listed twice`)
    keys.add(t.virtual_key)
  })
  if (config.targets !== undefined && targets.length === 0) problems.push("targets: must list at least one target")
  for (const [alias, model] of Object.entries(config.aliases ?? {})) {
    if (config.aliases?.[model] !== undefined) {
      problems.push(`aliases.${alias}: '${model}' is itself an alias; aliases must name models`)
    }
  }
  const strategy = config.strategy
  if (strategy === undefined) return problems
  const mode = strategy.mode
  for (const field of ruleFields) {
    if (strategy[field] !== undefined && !modeFields[mode].includes(field)) {
      problems.push(`strategy.${field}: not used by mode ${mode}`)
    }
  }
  if (strategy.mid_stream_failover === true && (mode === "single" || mode === "conditional" || mode === "content-based")) {
    problems.push(`strategy.mid_stream_failover: mode ${mode} routes each request to one target, so there is none to continue on`)
  }
  const targetKey = (path: string, key: string) => {
    if (!keys.has(key)) {
      problems.push(`${path}: no target has virtual_key '${key}' (targets: ${[...keys].join(", ") || "none"})`)
    }
  }
  const needsTargets = () => {
    if (config.targets === undefined) problems.push(`targets: mode ${mode} routes among targets, but none are listed`)
  }
  switch (mode) {
    case "single":
      if (targets.length > 1) problems.push("strategy.mode: single routes to one target, but several are listed (use fallback)")
      break
    case "loadbalance":
      needsTargets()
      break
    case "conditional":
      needsTargets()
      if ((strategy.conditions?.length ?? 0) === 0) problems.push("strategy.conditions: mode conditional needs at least one condition")
      strategy.conditions?.forEach((c, i) => targetKey(`strategy.conditions[${i}].target_key`, c.target_key))
      break
    case "content-based":
      needsTargets()
      if ((strategy.content_conditions?.length ?? 0) === 0) {
        problems.push("strategy.content_conditions: mode content-based needs at least one condition")
      }
      strategy.content_conditions?.forEach((c, i) => targetKey(`strategy.content_conditions[${i}].target_key`, c.target_key))
      break
    case "ab-test":
      needsTargets()
      if ((strategy.ab_variants?.length ?? 0) === 0) problems.push("strategy.ab_variants: mode ab-test needs at least one variant")
      strategy.ab_variants?.forEach((v, i) => targetKey(`strategy.ab_variants[${i}].target_key`, v.target_key))
      break
    default:
      break
  }
  return problems
}

/**
 * The configuration could not be used: every problem names the path of the bad field.
 *
 * @since 0.1.0 @category Errors
 */
export class InvalidRoutingConfig extends Schema.TaggedError<InvalidRoutingConfig>("@switchyard/core/InvalidRoutingConfig")(
  "InvalidRoutingConfig",
  { problems: Schema.Array(Schema.String) }
) {
  override get message() {
    return `Invalid routing configuration:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

const formatPath = (path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>((acc, key) => typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`, "")

/**
 * A decoding failure as `path: message` lines, one per bad field.
 *
 * @since 0.1.0 @category Validation
 */
export const problemsOf = (error: ParseResult.ParseError): Array<string> =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    // An optional field that is present but wrong also fails the union's "absent" member.
    .filter((issue, _, all) => !(/^Expected undefined, actual /.test(issue.message) && all.length > 1))
    .map((issue) => `${formatPath(issue.path) || "(root)"}: ${issue.message}`)

const decode = Schema.decodeUnknownEither(RoutingConfig, { errors: "all", onExcessProperty: "error" })

/**
 * Decodes a configuration written in code (so in-process gateways get the same checks as the
 * bundled server's file) and checks it against the registered providers.
 *
 * @since 0.1.0 @category Validation
 */
export const validate = (
  config: unknown,
  providers: ReadonlyArray<string>
): Effect.Effect<RoutingConfig, InvalidRoutingConfig> => {
  const decoded = decode(config)
  if (Either.isLeft(decoded)) {
    return Effect.fail(new InvalidRoutingConfig({ problems: problemsOf(decoded.left) }))
  }
  const problems = check(decoded.right, providers)
  return problems.length > 0 ? Effect.fail(new InvalidRoutingConfig({ problems })) : Effect.succeed(decoded.right)
}
