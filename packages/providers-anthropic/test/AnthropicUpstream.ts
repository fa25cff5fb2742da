/**
 * The shared fake upstream (`@switchyard/provider-http/TestUpstream`) and an Anthropic provider
 * built on it.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Answer, start } from "@switchyard/provider-http/TestUpstream"
import * as AnthropicProvider from "../src/AnthropicProvider.js"

export * from "@switchyard/provider-http/TestUpstream"

/** The credential the tests' provider is built with; it must never show up in an error. */
export const secret = "sk-ant-api03-TEST-abcdefghijklmnopqrstuvwxyz0123456789"
export const apiKey = Redacted.make(secret)

/**
 * An Anthropic provider over a fresh upstream answering with `answer` (its base URL is the
 * upstream's origin: the provider appends `/v1/messages`), both living in the Scope;
 * `requests` records what the upstream was sent.
 */
export const build = (answer: Answer, options: Partial<AnthropicProvider.Options> = {}) =>
  Effect.gen(function*() {
    const upstream = yield* start(answer)
    const provider = yield* AnthropicProvider.make({ apiKey, baseUrl: upstream.origin, ...options })
    return { provider, requests: upstream.requests, upstream }
  })
