/** @since 0.1.0 */
export * as OpenAiProvider from "./OpenAiProvider.js"

/** @since 0.1.0 */
export * as OpenAiWire from "./OpenAiWire.js"

/** @since 0.1.0 */
export * as Presets from "./Presets.js"
