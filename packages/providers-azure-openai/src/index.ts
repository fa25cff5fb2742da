/** @since 0.1.0 */
export * as AzureOpenAiProvider from "./AzureOpenAiProvider.js"
