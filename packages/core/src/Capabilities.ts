/**
 * What a provider honours, and what the gateway does with the rest.
 *
 * Each adapter declares, per operation, whether its vendor honours each canonical parameter
 * (`true`), has no such thing (`false`), or honours some values only (`partially`). The
 * provider's policy decides what happens to a request that sets an unsupported one: `warn` (the
 * default) sends the request without it and says so (a log line, and the
 * `x-switchyard-dropped-params` header), `drop` does the same silently, `reject` refuses the
 * request with a 400 naming the parameter. A parameter is set when it is present, not null and
 * not its neutral value (`n: 1`, `parallel_tool_calls: true`, ...).
 *
 * @since 0.1.0
 */
import { InvalidRequest } from "./GatewayError.js"
import type { Provider } from "./Provider.js"

/** @since 0.1.0 @category Models */
export type Policy = "warn" | "drop" | "reject"

/** @since 0.1.0 @category Models */
export const policies: ReadonlyArray<Policy> = ["warn", "drop", "reject"]

/** @since 0.1.0 @category Models */
export type Operation = "chat" | "embeddings" | "images"

/**
 * The canonical parameters of each operation that an adapter states its support for: the
 * OpenAI request fields besides the model, the input and what the gateway itself handles
 * (`stream`, `stream_options`).
 *
 * @since 0.1.0 @category Models
 */
export const parameters = {
  chat: [
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "metadata",
    "store",
    "service_tier",
    "reasoning_effort",
    "modalities",
    "audio",
    "prediction",
    "web_search_options"
  ],
  embeddings: ["dimensions", "user"],
  images: ["n", "size", "quality", "response_format", "style", "background", "output_format", "output_compression", "moderation", "user"]
} as const

/** @since 0.1.0 @category Models */
export type Parameter<O extends Operation> = (typeof parameters)[O][number]

/** Values that mean the same as leaving the parameter out. */
const neutral: Readonly<Record<string, unknown>> = {
  n: 1,
  parallel_tool_calls: true,
  logprobs: false,
  store: false
}

/** Fields of each operation that are not parameters: never checked. */
const structural: Readonly<Record<Operation, ReadonlySet<string>>> = {
  chat: new Set(["model", "messages", "stream", "stream_options"]),
  embeddings: new Set(["model", "input", "encoding_format"]),
  images: new Set(["model", "prompt", "stream"])
}

/** Honoured for some values only. @since 0.1.0 @category Models */
export interface Partially {
  /** What is honoured, for the support table: "json_schema only". */
  readonly note: string
  readonly honours: (value: unknown) => boolean
}

/** @since 0.1.0 @category Models */
export type Support = boolean | Partially

/** @since 0.1.0 @category Constructors */
export const partially = (note: string, honours: (value: unknown) => boolean): Partially => ({ note, honours })

/** One operation's support. @since 0.1.0 @category Models */
export interface OperationSupport<O extends Operation> {
  readonly parameters: { readonly [P in Parameter<O>]: Support }
  /**
   * Top-level fields of the vendor's own API that the adapter takes through the open canonical
   * request (Anthropic's `top_k`, Gemini's `safetySettings`, ...).
   */
  readonly vendorFields?: ReadonlyArray<string> | undefined
  /**
   * Whether fields the adapter does not know are forwarded as they are (OpenAI-compatible
   * APIs), rather than dropped as unsupported.
   */
  readonly forwardsUnknown: boolean
}

/**
 * What a provider honours, per operation it implements. A provider without `capabilities` is
 * taken to honour everything it is sent.
 *
 * @since 0.1.0 @category Models
 */
export interface Capabilities {
  readonly chat: OperationSupport<"chat">
  readonly embeddings?: OperationSupport<"embeddings"> | undefined
  readonly images?: OperationSupport<"images"> | undefined
}

/**
 * Every parameter of an operation honoured, unknown fields forwarded: an OpenAI-compatible API.
 *
 * @since 0.1.0 @category Constructors
 */
export const everything = <O extends Operation>(operation: O): OperationSupport<O> => ({
  parameters: Object.fromEntries(parameters[operation].map((p) => [p, true])) as OperationSupport<O>["parameters"],
  forwardsUnknown: true
})

/**
 * The same support with some parameters not honoured: an OpenAI-compatible vendor that
 * documents what it ignores or refuses.
 *
 * @since 0.1.0 @category Constructors
 */
export const without = <O extends Operation>(
  support: OperationSupport<O>,
  unsupported: ReadonlyArray<Parameter<O>>
): OperationSupport<O> => ({
  ...support,
  parameters: { ...support.parameters, ...Object.fromEntries(unsupported.map((p) => [p, false])) }
})

/**
 * A support table that states what is honoured: every parameter it does not name is not.
 *
 * @since 0.1.0 @category Constructors
 */
export const honouring = <O extends Operation>(
  operation: O,
  stated: { readonly [P in Parameter<O>]?: Support }
): OperationSupport<O>["parameters"] =>
  Object.fromEntries(
    parameters[operation].map((p) => [p, (stated as Readonly<Record<string, Support | undefined>>)[p] ?? false])
  ) as OperationSupport<O>["parameters"]

const isSet = (name: string, value: unknown) => value !== undefined && value !== null && neutral[name] !== value

/**
 * The fields of a request its provider does not honour, in the request's order, or `undefined`
 * when there are none (the common case allocates nothing).
 *
 * @since 0.1.0 @category Checking
 */
export type Check = (request: Readonly<Record<string, unknown>>) => Array<string> | undefined

/** @since 0.1.0 @category Checking */
export const check = <O extends Operation>(operation: O, support: OperationSupport<O>): Check => {
  const known = support.parameters as Readonly<Record<string, Support | undefined>>
  const vendor = new Set(support.vendorFields ?? [])
  const skip = structural[operation]
  return (request) => {
    let found: Array<string> | undefined
    for (const name in request) {
      if (skip.has(name)) continue
      const value = request[name]
      if (!isSet(name, value)) continue
      const stated = known[name]
      const honoured = stated === undefined
        ? support.forwardsUnknown || vendor.has(name)
        : stated === true || (stated !== false && stated.honours(value))
      if (!honoured) (found ??= []).push(name)
    }
    return found
  }
}

/**
 * A request with the unsupported parameters its policy lets through left out (`warn`, `drop`),
 * or the refusal (`reject`).
 *
 * @since 0.1.0 @category Models
 */
export type Enforced<A> =
  | { readonly _tag: "Unchanged"; readonly request: A }
  | { readonly _tag: "Dropped"; readonly request: A; readonly dropped: ReadonlyArray<string> }
  | { readonly _tag: "Rejected"; readonly error: InvalidRequest }

const honoursEverything = (support: { readonly parameters: object; readonly forwardsUnknown: boolean }) =>
  support.forwardsUnknown && Object.values(support.parameters).every((s) => s === true)

/**
 * Applies a provider's policy to one request. `undefined` when there is nothing to check: the
 * provider states no support for the operation (it is taken to honour everything), or honours
 * every parameter and forwards unknown fields.
 *
 * @since 0.1.0 @category Checking
 */
export const enforcer = <O extends Operation>(
  provider: string,
  operation: O,
  support: OperationSupport<O> | undefined,
  policy: Policy
): (<A extends Readonly<Record<string, unknown>>>(request: A) => Enforced<A>) | undefined => {
  if (support === undefined || honoursEverything(support)) return undefined
  const unsupported = check(operation, support)
  return <A extends Readonly<Record<string, unknown>>>(request: A): Enforced<A> => {
    const found = unsupported(request)
    if (found === undefined) return { _tag: "Unchanged", request }
    if (policy === "reject") {
      const list = found.map((name) => `'${name}'`).join(", ")
      return {
        _tag: "Rejected",
        error: new InvalidRequest({
          message: `Provider '${provider}' does not support ${found.length === 1 ? "the parameter" : "the parameters"} ${list}` +
            ` (its unsupported_params policy is 'reject': remove ${found.length === 1 ? "it" : "them"}, or set the policy to 'drop' or 'warn')`,
          param: found[0],
          code: "unsupported_parameter"
        })
      }
    }
    const kept: Record<string, unknown> = { ...request }
    for (const name of found) delete kept[name]
    return { _tag: "Dropped", request: kept as A, dropped: found }
  }
}

/**
 * How a support reads in the support table: `supported`, `unsupported`, or the note of a
 * partial one.
 *
 * @since 0.1.0 @category Rendering
 */
export const describeSupport = (support: Support): string =>
  support === true ? "supported" : support === false ? "unsupported" : `partial: ${support.note}`

/** One operation in the support table. @since 0.1.0 @category Rendering */
export interface OperationRow {
  /** Each canonical parameter: `supported`, `unsupported` or `partial: <note>`. */
  readonly parameters: Readonly<Record<string, string>>
  readonly vendor_fields: ReadonlyArray<string>
  readonly forwards_unknown_fields: boolean
}

/**
 * One provider in the support table (`GET /v1/capabilities`). An operation the provider does
 * not implement is `null`.
 *
 * @since 0.1.0 @category Rendering
 */
export interface ProviderRow {
  readonly provider: string
  readonly kind: string
  readonly unsupported_params: Policy
  readonly operations: {
    readonly chat: OperationRow
    readonly embeddings: OperationRow | null
    readonly images: OperationRow | null
  }
  readonly continues_prefill: boolean
}

const rowOf = <O extends Operation>(operation: O, support: OperationSupport<O> | undefined): OperationRow => {
  const stated = support ?? everything(operation)
  const table = stated.parameters as Readonly<Record<string, Support>>
  return {
    parameters: Object.fromEntries(parameters[operation].map((p) => [p, describeSupport(table[p] ?? false)])),
    vendor_fields: stated.vendorFields ?? [],
    forwards_unknown_fields: stated.forwardsUnknown
  }
}

/**
 * A provider's row of the support table. What it states no support for is taken to be
 * honoured, as the gateway takes it.
 *
 * @since 0.1.0 @category Rendering
 */
export const rowFor = (provider: Provider): ProviderRow => ({
  provider: provider.name,
  kind: provider.kind,
  unsupported_params: provider.unsupportedParams ?? "warn",
  operations: {
    chat: rowOf("chat", provider.capabilities?.chat),
    embeddings: provider.embed === undefined ? null : rowOf("embeddings", provider.capabilities?.embeddings),
    images: provider.image === undefined ? null : rowOf("images", provider.capabilities?.images)
  },
  continues_prefill: provider.supportsPrefill === true
})
