/**
 * Tools the gateway runs itself (an MCP server's), offered to the model in every chat request:
 * `ToolLoop` injects them and runs the calls the model makes. Absent, requests go through
 * untouched.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { Tool } from "./ChatSchema.js"
import type { RequestContext } from "./RequestContext.js"

/**
 * What one call gave: the text the model reads, and whether it is an error (a tool that failed,
 * timed out or whose server is down: the model is told, the request goes on).
 *
 * @since 0.1.0 @category Models
 */
export interface CallResult {
  readonly content: string
  readonly isError: boolean
}

/** @since 0.1.0 @category Models */
export interface Service {
  /** The tools offered now: those of the servers connected (none while none is). */
  readonly list: Effect.Effect<ReadonlyArray<Tool>>
  /** Runs one call (`args`: the model's JSON arguments). Never fails: a failure is an error result. */
  readonly call: (name: string, args: string, ctx: RequestContext) => Effect.Effect<CallResult>
  /** How many rounds of tool calls one request may take before its answer is given as it is. */
  readonly maxDepth: number
}

/** @since 0.1.0 @category Context */
export class Tools extends Context.Tag("@switchyard/core/Tools")<Tools, Service>() {}
