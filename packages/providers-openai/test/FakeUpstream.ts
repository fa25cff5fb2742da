/**
 * A fake upstream: an `HttpClient` that answers from a function and records every request it
 * receives (no network, no mock of fetch).
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as OpenAiProvider from "../src/OpenAiProvider.js"

export interface Recorded {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, parsed. */
  readonly body: unknown
  /** The header names the fiber would redact when rendering the request (logs, spans). */
  readonly redactedHeaderNames: ReadonlyArray<string>
  readonly signal: AbortSignal
}

export type Answer = Response | Effect.Effect<Response, HttpClientError.HttpClientError>

export const make = (answer: (recorded: Recorded) => Answer) => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request, url, signal, fiber) =>
    Effect.suspend(() => {
      const body = request.body._tag === "Uint8Array"
        ? JSON.parse(new TextDecoder().decode(request.body.body)) as unknown
        : undefined
      const redacted = Headers.redact(request.headers, fiber.getFiberRef(Headers.currentRedactedNames))
      const recorded: Recorded = {
        request,
        url: url.toString(),
        method: request.method,
        headers: { ...request.headers },
        body,
        redactedHeaderNames: Object.keys(redacted).filter((k) => typeof redacted[k] !== "string"),
        signal
      }
      requests.push(recorded)
      const out = answer(recorded)
      return Effect.map(
        out instanceof Response ? Effect.succeed(out) : out,
        (response) => HttpClientResponse.fromWeb(request, response)
      )
    })
  )
  return { client, requests }
}

export const json = (body: unknown, init?: ResponseInit): Response =>
  new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" }, ...init })

export const sse = (body: string, init?: ResponseInit): Response =>
  new Response(body, { status: 200, headers: { "content-type": "text/event-stream" }, ...init })

/** A body delivered in pieces of `size` bytes, to cross event and UTF-8 boundaries. */
export const inPieces = (text: string, size: number): ReadableStream<Uint8Array> => {
  const bytes = new TextEncoder().encode(text)
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + size))
      offset += size
    }
  })
}

/** The credential the tests' provider is built with; it must never show up in an error. */
export const secret = "sk-proj-TEST-abcdefghijklmnopqrstuvwxyz0123456789"
export const apiKey = Redacted.make(secret)
export const baseUrl = "https://upstream.test/v1"

/** An OpenAI provider over a fake upstream answering with `answer`; `requests` records what it was sent. */
export const build = (answer: (recorded: Recorded) => Answer, options: Partial<OpenAiProvider.Options> = {}) => {
  const fake = make(answer)
  return OpenAiProvider.make({ apiKey, baseUrl, ...options }).pipe(
    Effect.provideService(HttpClient.HttpClient, fake.client),
    Effect.map((provider) => ({ provider, requests: fake.requests }))
  )
}
