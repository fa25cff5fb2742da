/**
 * What goes in and out of a call: the model's arguments, the result as the text the model reads,
 * and errors described and sorted.
 *
 * @internal
 */
import { type CallToolResult, type ContentBlock, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"

/**
 * The model's arguments as the JSON object a call takes: nothing at all stands for `{}`, which
 * models send for tools without parameters. Left: why they are refused.
 *
 * @internal
 */
export const parseArguments = (name: string, args: string): Either.Either<Record<string, unknown>, string> => {
  if (args.trim() === "") return Either.right({})
  return Either.try({ try: (): unknown => JSON.parse(args), catch: describe }).pipe(
    Either.mapLeft((error) => `the arguments of '${name}' are not valid JSON: ${error}`),
    Either.filterOrLeft(Predicate.isRecord, () => `the arguments of '${name}' must be a JSON object`)
  )
}

/** Each block as text, one a line; with no block, the structured content as JSON. @internal */
export const render = (result: CallToolResult): string =>
  result.content.length > 0
    ? result.content.map(renderBlock).join("\n")
    : result.structuredContent === undefined
    ? ""
    : JSON.stringify(result.structuredContent)

const renderBlock = (block: ContentBlock): string => {
  switch (block.type) {
    case "text":
      return block.text
    case "image":
    case "audio":
      return `[${block.type}: ${block.mimeType}]`
    case "resource_link":
      return `[resource: ${block.uri}]`
    case "resource":
      return "text" in block.resource
        ? block.resource.text
        : `[resource: ${block.resource.uri}${block.resource.mimeType === undefined ? "" : ` (${block.resource.mimeType})`}]`
  }
}

/** An error's message, with its cause's (where `fetch failed` says why). @internal */
export const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message
}

/**
 * Whether the server answered (with an error): anything else (a refused connection, an HTTP
 * error status, a closed transport) puts the connection in doubt.
 *
 * @internal
 */
export const answered = (error: unknown): boolean => error instanceof McpError && error.code !== ErrorCode.ConnectionClosed
