/**
 * The shared fake upstream (`@switchyard/provider-http/TestUpstream`) and an Azure OpenAI
 * provider built on it.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Answer, start } from "@switchyard/provider-http/TestUpstream"
import * as AzureOpenAiProvider from "../src/AzureOpenAiProvider.js"

export * from "@switchyard/provider-http/TestUpstream"

/** The credentials the tests' providers are built with; they must never show up in an error. */
export const secret = "3f9c2b7e1d8a4c6f0b5e9a2d7c1f4e8b"
export const apiKey = Redacted.make(secret)
export const entraSecret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2lnbmF0dXJl"

/**
 * An Azure OpenAI provider over a fresh upstream answering with `answer` (its endpoint is the
 * upstream's origin: the provider appends `/openai/deployments/...`), both living in the Scope;
 * `requests` records what the upstream was sent. Authenticated with `apiKey` unless the options
 * say otherwise.
 */
export const build = (answer: Answer, options: Partial<AzureOpenAiProvider.Options> = {}) =>
  Effect.gen(function*() {
    const upstream = yield* start(answer)
    const auth = options.entraToken === undefined ? { apiKey } : {}
    const provider = yield* AzureOpenAiProvider.make({ endpoint: upstream.origin, ...auth, ...options })
    return { provider, requests: upstream.requests, upstream }
  })

/** The path of an operation on `deployment`, with the default api-version. */
export const operationPath = (
  deployment: string,
  operation: "chat/completions" | "embeddings" | "images/generations",
  apiVersion = "2024-10-21"
) => `/openai/deployments/${deployment}/${operation}?api-version=${apiVersion}`

/** The path of a chat completion on `deployment`, with the default api-version. */
export const chatPath = (deployment: string, apiVersion?: string) => operationPath(deployment, "chat/completions", apiVersion)
