/**
 * What Azure OpenAI adds to the OpenAI wire, brought to the canonical shapes. Azure answers with
 * OpenAI's chat completions plus content-filter annotations
 * (https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter#annotations):
 * `prompt_filter_results` on the answer and `content_filter_results` on each choice, which pass
 * through as they are. What does not fit the canonical shapes is mended, and nothing else:
 *
 * - a stream opens with a chunk of prompt annotations only: no `id`, `object`, `model` or
 *   `created` (`""` and `0`) and no choices. It is held back and passed on with the first chunk of
 *   the answer, under that chunk's id, creation time and model, so that the stream's first chunk
 *   is the first of the answer (what the gateway's first-chunk timeout and retries wait for, and
 *   what mid-stream failover takes the answer's identity from).
 * - annotation chunks in the stream (asynchronous filter) and the chunk that ends a filtered
 *   choice carry choices without a `delta`
 *   (https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter-streaming): they
 *   get an empty one, and the answer's identity.
 * - a filtered non-stream choice may come without content: its message gets `content: null`.
 *
 * @internal
 */
import type { ChatChunk, ChatResponse } from "@switchyard/core/ChatSchema"
import type { ProviderError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import * as OpenAiWire from "@switchyard/providers-openai/OpenAiWire"
import * as Either from "effect/Either"

type Choice = ChatResponse["choices"][number]
type ChunkChoice = ChatChunk["choices"][number]
type Identity = Pick<ChatChunk, "id" | "created" | "model">

const hasMessageContent = (choice: Choice): boolean => {
  const message = (choice as Partial<Choice>).message
  return message !== undefined && message !== null && message.content !== undefined
}

const withMessageContent = (choice: Choice): Choice =>
  hasMessageContent(choice)
    ? choice
    : { ...choice, message: { role: "assistant", ...(choice as Partial<Choice>).message, content: null } }

/**
 * A 2xx chat completion body (see `OpenAiWire.parseChatResponse`), its choices given a message
 * with `content` when the filter left none, and `object` / `model` when missing (the REST
 * reference's examples have neither: https://learn.microsoft.com/azure/ai-services/openai/reference).
 *
 * @internal
 */
export const parseChatResponse = (
  provider: string,
  text: string,
  redact: Redactor,
  model: string
): Either.Either<ChatResponse, ProviderError> =>
  Either.map(OpenAiWire.parseChatResponse(provider, text, redact), (response) => {
    const complete = response.choices.every(hasMessageContent)
    const partial = response as Partial<ChatResponse>
    if (complete && partial.object === "chat.completion" && typeof partial.model === "string") return response
    return {
      ...response,
      object: "chat.completion",
      model: typeof partial.model === "string" ? partial.model : model,
      choices: complete ? response.choices : response.choices.map(withMessageContent)
    }
  })

const hasDelta = (choice: ChunkChoice): boolean => (choice as Partial<ChunkChoice>).delta !== undefined

/** A chunk that carries no part of the answer: annotations only (no delta, no usage). */
const isAnnotation = (chunk: ChatChunk): boolean => chunk.usage == null && !chunk.choices.some(hasDelta)

/** The chunk in canonical shape: itself when it already is. */
const canonical = (chunk: ChatChunk, identity: Identity | undefined): ChatChunk => {
  const renamed = chunk.id === "" && identity !== undefined
  const mended = !chunk.choices.every(hasDelta)
  if (!renamed && !mended && chunk.object === "chat.completion.chunk") return chunk
  return {
    ...chunk,
    ...(renamed ? identity : undefined),
    object: "chat.completion.chunk",
    choices: mended ? chunk.choices.map((c) => (hasDelta(c) ? c : { ...c, delta: {} })) : chunk.choices
  }
}

/**
 * The stream decoder (see `OpenAiWire.makeStreamDecoder`) with Azure's annotation chunks made
 * canonical. Annotations held back before the answer's first chunk are dropped when the stream
 * fails before it (so the failure stays one before the first byte, which can be retried), and
 * passed on as they are when it ends without an answer.
 *
 * @internal
 */
export const makeStreamDecoder = (
  provider: string,
  redact: Redactor
): (text: string) => Upstream.Decoded<ChatChunk> => {
  const decode = OpenAiWire.makeStreamDecoder(provider, redact)
  let started = false
  let identity: Identity | undefined
  let held: Array<ChatChunk> = []
  return (text) => {
    const decoded = decode(text)
    const items: Array<ChatChunk> = []
    for (const chunk of decoded.items) {
      if (identity === undefined && chunk.id !== "") {
        identity = { id: chunk.id, created: chunk.created, model: chunk.model }
      }
      if (!started) {
        if (isAnnotation(chunk)) {
          held.push(chunk)
          continue
        }
        started = true
        for (const annotation of held) items.push(canonical(annotation, identity))
        held = []
      }
      items.push(canonical(chunk, identity))
    }
    if (decoded.done && held.length > 0) {
      if (decoded.failure === undefined) for (const annotation of held) items.push(canonical(annotation, identity))
      held = []
    }
    return decoded.failure === undefined ? { items, done: decoded.done } : { items, done: true, failure: decoded.failure }
  }
}
