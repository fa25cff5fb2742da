/**
 * The tools offered at one moment, from those of the connected servers: pure, rebuilt whenever a
 * server connects, is lost or changes its tools.
 *
 * @internal
 */
import type { Tool } from "@switchyard/core/ChatSchema"
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js"

/** One connected server's tools, in the order of the configuration. @internal */
export interface Offer<C> {
  readonly server: string
  /** Absent: all its tools are offered. */
  readonly allowed: ReadonlySet<string> | undefined
  readonly tools: ReadonlyArray<McpTool>
  readonly connection: C
}

/** Where an offered name leads: the server, its own name for the tool, its connection. @internal */
export interface Target<C> {
  readonly server: string
  readonly tool: McpTool
  readonly connection: C
}

/** @internal */
export interface Catalog<C> {
  readonly tools: ReadonlyArray<Tool>
  readonly byName: ReadonlyMap<string, Target<C>>
}

/** @internal */
export const empty: Catalog<never> = { tools: [], byName: new Map() }

/**
 * A name as models take it: OpenAI's function names are `^[a-zA-Z0-9_-]{1,64}$`, MCP's may hold
 * more (`files.read`), so every other character becomes `_`.
 */
const modelName = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64)

/**
 * Each tool under its name as models take it (`modelName`); a name two servers offer is offered
 * as `<server>__<tool>` by both. @internal
 */
export const build = <C>(offers: ReadonlyArray<Offer<C>>): Catalog<C> => {
  const targets = offers.flatMap((offer) =>
    offer.tools
      .filter((tool) => offer.allowed?.has(tool.name) ?? true)
      .map((tool): Target<C> => ({ server: offer.server, tool, connection: offer.connection }))
  )
  const offeredBy = new Map<string, number>()
  for (const { tool } of targets) offeredBy.set(modelName(tool.name), (offeredBy.get(modelName(tool.name)) ?? 0) + 1)
  const byName = new Map(targets.map((target) => {
    const name = modelName(target.tool.name)
    return [offeredBy.get(name)! > 1 ? modelName(`${target.server}__${name}`) : name, target] as const
  }))
  return { tools: Array.from(byName, ([name, target]) => functionTool(name, target.tool)), byName }
}

const functionTool = (name: string, tool: McpTool): Tool => ({
  type: "function",
  function: {
    name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    parameters: tool.inputSchema
  }
})
