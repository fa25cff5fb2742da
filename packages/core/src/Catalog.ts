/**
 * Model metadata and prices, and the cost of a usage.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Usage } from "./ChatSchema.js"
import data from "./data/catalog.json" with { type: "json" }

/** Prices are USD per million tokens. @since 0.1.0 @category Schemas */
export const ModelEntry = Schema.Struct({
  provider: Schema.String,
  input: Schema.Number,
  output: Schema.Number,
  cache_read: Schema.optional(Schema.Number),
  cache_write: Schema.optional(Schema.Number),
  context_window: Schema.optional(Schema.Number)
})
export type ModelEntry = typeof ModelEntry.Type

/** @since 0.1.0 @category Models */
export interface Service {
  /** Exact id first, then the longest catalog id the model starts with (dated snapshots). */
  readonly lookup: (model: string) => Option.Option<ModelEntry>
  /** USD; none when the model has no price. */
  readonly cost: (model: string, usage: Usage) => Option.Option<number>
}

/** @since 0.1.0 @category Context */
export class Catalog extends Context.Tag("@switchyard/core/Catalog")<Catalog, Service>() {}

/**
 * Cost of a usage in USD. Cached input tokens are priced at `cache_read` (falling back to
 * `input`), cache-creation tokens at `cache_write`, the rest of the prompt at `input`. Reasoning
 * tokens are part of `completion_tokens` in the canonical usage, so they are priced as output.
 *
 * @since 0.1.0 @category Pricing
 */
export const costOf = (entry: ModelEntry, usage: Usage): number => {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0
  const written = usage.prompt_tokens_details?.cache_creation_tokens ?? 0
  const plainInput = Math.max(0, usage.prompt_tokens - cached - written)
  const micro = plainInput * entry.input +
    cached * (entry.cache_read ?? entry.input) +
    written * (entry.cache_write ?? entry.input) +
    usage.completion_tokens * entry.output
  return micro / 1_000_000
}

/** How many looked-up ids `make` remembers; past it, it starts afresh. */
const rememberedIds = 1024

/** @since 0.1.0 @category Constructors */
export const make = (entries: Readonly<Record<string, ModelEntry>>): Service => {
  const ids = Object.keys(entries).sort((a, b) => b.length - a.length)
  const search = (model: string): Option.Option<ModelEntry> => {
    const exact = entries[model]
    if (exact !== undefined) return Option.some(exact)
    const prefix = ids.find((id) => model.startsWith(id + "-"))
    return prefix === undefined ? Option.none() : Option.some(entries[prefix]!)
  }
  // Every answer is priced, mostly as one of a few models; an id the catalog lacks would
  // otherwise be compared with every entry each time.
  const remembered = new Map<string, Option.Option<ModelEntry>>()
  const lookup = (model: string): Option.Option<ModelEntry> => {
    let found = remembered.get(model)
    if (found === undefined) {
      found = search(model)
      if (remembered.size >= rememberedIds) remembered.clear()
      remembered.set(model, found)
    }
    return found
  }
  return Catalog.of({ lookup, cost: (model, usage) => Option.map(lookup(model), (e) => costOf(e, usage)) })
}

/**
 * The entry of `model` as a provider serves it: the provider's own (`<name>/<model>`, its
 * target's `virtual_key`), else its type's (`<type>/<model>`, e.g. `azure-openai/gpt-4o`),
 * else the model's.
 *
 * @since 0.1.0 @category Lookup
 */
export const lookupServed = (
  catalog: Service,
  served: { readonly key: string; readonly provider: { readonly kind: string } },
  model: string
): Option.Option<ModelEntry> =>
  Option.orElse(
    catalog.lookup(`${served.key}/${model}`),
    () => Option.orElse(catalog.lookup(`${served.provider.kind}/${model}`), () => catalog.lookup(model))
  )

const decodeEntries = Schema.decodeUnknownSync(Schema.Record({ key: Schema.String, value: ModelEntry }))

/**
 * The catalog shipped with Switchyard (`data/catalog.json`), with entries added or overridden.
 *
 * @since 0.1.0 @category Layers
 */
export const layerWith = (entries: Readonly<Record<string, ModelEntry>>): Layer.Layer<Catalog> =>
  Layer.sync(Catalog, () => make({ ...decodeEntries(data.models), ...entries }))

/** @since 0.1.0 @category Layers */
export const layer: Layer.Layer<Catalog> = layerWith({})
