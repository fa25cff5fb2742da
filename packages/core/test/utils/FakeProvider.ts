import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { ChatChunk, ChatRequest, ChatResponse } from "@switchyard/core/ChatSchema"
import { ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Provider } from "@switchyard/core/Provider"
import { modelMatcher } from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"

export const response = (model: string, content: string): ChatResponse => ({
  id: "chatcmpl-test",
  object: "chat.completion",
  created: 0,
  model,
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }
})

export const chunk = (model: string, content: string): ChatChunk => ({
  id: "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 0,
  model,
  choices: [{ index: 0, delta: { content }, finish_reason: null }]
})

export const usageChunk = (model: string): ChatChunk => ({
  id: "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 0,
  model,
  choices: [],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }
})

export const statusError = (provider: string, status: number) =>
  new ProviderStatusError({ provider, status, body: "{}", upstreamMessage: `status ${status}` })

/** A provider that records what it receives and answers `answer`'s result per call number. */
export const fake = (
  name: string,
  patterns: ReadonlyArray<string>,
  answer: (req: ChatRequest, call: number) => Effect.Effect<ChatResponse, ProviderStatusError> = (req) =>
    Effect.succeed(response(req.model, `from ${name}`)),
  stream: (req: ChatRequest, call: number) => Stream.Stream<ChatChunk, ProviderStatusError> = (req) =>
    Stream.make(chunk(req.model, "a"), chunk(req.model, "b"), usageChunk(req.model))
) => {
  const received: Array<ChatRequest> = []
  let calls = 0
  const provider: Provider = {
    name,
    kind: "fake",
    serves: modelMatcher(patterns),
    chat: (req) => Effect.suspend(() => (received.push(req), answer(req, calls++))),
    chatStream: (req) => Stream.suspend(() => (received.push(req), stream(req, calls++))),
    listModels: Effect.succeed(patterns.map((id) => ({ id, object: "model" as const, created: 0, owned_by: name })))
  }
  return { provider, received, layer: ProviderRegistry.register(Effect.succeed(provider)) }
}
