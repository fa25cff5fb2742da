/** @since 0.1.0 */
export * as AnthropicProvider from "./AnthropicProvider.js"
