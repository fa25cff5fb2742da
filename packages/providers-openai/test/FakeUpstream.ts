/**
 * The shared fake upstream (`@switchyard/provider-http/TestUpstream`) and an OpenAI provider
 * built on it.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Answer, start } from "@switchyard/provider-http/TestUpstream"
import * as OpenAiProvider from "../src/OpenAiProvider.js"

export * from "@switchyard/provider-http/TestUpstream"

/** The credential the tests' provider is built with; it must never show up in an error. */
export const secret = "sk-proj-TEST-abcdefghijklmnopqrstuvwxyz0123456789"
export const apiKey = Redacted.make(secret)

/**
 * An OpenAI provider over a fresh upstream answering with `answer`, both living in the Scope;
 * `requests` records what the upstream was sent.
 */
export const build = (answer: Answer, options: Partial<OpenAiProvider.Options> = {}) =>
  Effect.gen(function*() {
    const upstream = yield* start(answer)
    const provider = yield* OpenAiProvider.make({ apiKey, baseUrl: upstream.baseUrl, ...options })
    return { provider, requests: upstream.requests, upstream }
  })
