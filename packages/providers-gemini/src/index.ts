/** @since 0.1.0 */
export * as GeminiProvider from "./GeminiProvider.js"
/** @since 0.1.0 */
export * as VertexProvider from "./VertexProvider.js"
