/** @since 0.1.0 */
export * as McpTools from "./McpTools.js"
