/** @since 0.1.0 */
export * as BedrockProvider from "./BedrockProvider.js"
