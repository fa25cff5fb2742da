/**
 * The decoder of a Gemini `streamGenerateContent?alt=sse` stream into canonical chat chunks.
 * Plain code, no Stream: it runs once per network chunk.
 *
 * Every event is a whole `GenerateContentResponse` holding the parts generated since the last
 * one (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent); the last
 * one carries the candidate's `finishReason` and the final `usageMetadata` (earlier events may
 * carry partial usage, and older models repeat a `finishReason` on every event). There is no
 * end event: the body's end ends the stream.
 *
 * @internal
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import * as EventStream from "@switchyard/core/EventStream"
import type { ProviderError } from "@switchyard/core/GatewayError"
import * as Streaming from "@switchyard/core/Streaming"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord, preview } from "@switchyard/provider-http/Wire"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Errors from "./errors.js"
import * as FromGemini from "./response.js"

type Delta = ChatChunk["choices"][number]["delta"]

interface Candidate {
  started: boolean
  calls: number
  finish: string | undefined
}

/** @internal */
export interface Decoder {
  readonly decode: (text: string) => Upstream.Decoded<ChatChunk>
  /** The body ended: the finish and usage chunks, or the failure of a stream cut short. */
  readonly end: () => Upstream.Decoded<ChatChunk>
}

/**
 * A decoder for one stream, keeping its state (the response's id and model, the latest usage,
 * each candidate's tool call count and finish reason). The chunks:
 * - a candidate's text parts: content deltas; its thought parts: `reasoning_content` deltas;
 *   its `functionCall` parts: a whole tool call each (index among the candidate's calls, an id,
 *   the name, the JSON arguments; see `response.ts#toolCall`). A candidate's first delta also
 *   carries `role: "assistant"`; each candidate is a choice (its `index`);
 * - at the body's end, per candidate, a chunk with its finish reason (the last one seen), then
 *   a last chunk with no choices and the usage (the last `usageMetadata`), when there was any;
 * - a prompt Gemini blocked (`promptFeedback.blockReason`, no candidates): at the end, a chunk
 *   with `role: "assistant"`, the block reason as the `refusal` and `finish_reason:
 *   "content_filter"` (as `response.ts#toChatResponse` answers it);
 * - an event holding an error envelope fails the stream (`ProviderStatusError`, its `code`).
 *
 * A body that ends before every candidate has a finish reason (or before the block reason) was
 * cut short: the stream fails with `cutShort()` after what was decoded.
 *
 * Every chunk carries the response's `responseId` (else "") and `modelVersion` (else `model`),
 * and the given `created` (seconds).
 *
 * @internal
 */
export const makeDecoder = (
  provider: string,
  redact: Redactor,
  model: string,
  created: number,
  cutShort: () => ProviderError
): Decoder => {
  let parsed: Array<EventStream.Event> = []
  const parser = EventStream.makeParser((event) => parsed.push(event))
  let id = ""
  let modelName = model
  let usage: Record<string, unknown> | undefined
  let blocked: string | undefined
  const candidates = new Map<number, Candidate>()

  const chunk = (index: number, delta: Delta, finishReason: string | null = null): ChatChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: modelName,
    choices: [{ index, delta, finish_reason: finishReason }]
  })

  const candidateChunks = (candidate: Record<string, unknown>, position: number, out: Array<ChatChunk>) => {
    const index = typeof candidate.index === "number" ? candidate.index : position
    let state = candidates.get(index)
    if (state === undefined) {
      state = { started: false, calls: 0, finish: undefined }
      candidates.set(index, state)
    }
    const content = isRecord(candidate.content) ? candidate.content : {}
    const parts = Array.isArray(content.parts) ? content.parts : []
    for (const part of parts) {
      if (!isRecord(part)) continue
      let delta: Delta | undefined
      if (part.functionCall !== undefined) {
        delta = { tool_calls: [{ index: state.calls, ...FromGemini.toolCall(part, state.calls) }] }
        state.calls++
      } else if (typeof part.text === "string" && part.text !== "") {
        delta = part.thought === true ? { reasoning_content: part.text } : { content: part.text }
      }
      if (delta === undefined) continue
      if (!state.started) {
        delta = { role: "assistant", ...delta }
        state.started = true
      }
      out.push(chunk(index, delta))
    }
    if (typeof candidate.finishReason === "string" && candidate.finishReason !== "FINISH_REASON_UNSPECIFIED") {
      state.finish = candidate.finishReason
    }
  }

  /** The chunks of one event, or its failure. */
  const decodeEvent = (event: EventStream.Event, out: Array<ChatChunk>): ProviderError | undefined => {
    let value: unknown
    try {
      value = JSON.parse(event.data)
    } catch {
      return UpstreamErrors.outputError(provider, `a stream event is not JSON: ${preview(event.data)}`, redact)
    }
    if (!isRecord(value)) {
      return UpstreamErrors.outputError(provider, `a stream event is not an object: ${preview(event.data)}`, redact)
    }
    if (value.error !== undefined) return Errors.inBandError(provider, value.error, event.data, redact)
    if (id === "" && typeof value.responseId === "string") id = value.responseId
    if (typeof value.modelVersion === "string") modelName = value.modelVersion
    if (isRecord(value.usageMetadata)) usage = value.usageMetadata
    if (isRecord(value.promptFeedback)) blocked = FromGemini.blockedPrompt(value.promptFeedback) ?? blocked
    if (Array.isArray(value.candidates)) {
      value.candidates.forEach((candidate, position) => {
        if (isRecord(candidate)) candidateChunks(candidate, position, out)
      })
    }
    return undefined
  }

  const decode = (input: string): Upstream.Decoded<ChatChunk> => {
    parser.feed(input)
    const events = parsed
    parsed = []
    const chunks: Array<ChatChunk> = []
    for (const event of events) {
      const failure = decodeEvent(event, chunks)
      if (failure !== undefined) return { items: chunks, done: true, failure }
    }
    return { items: chunks, done: false }
  }

  const end = (): Upstream.Decoded<ChatChunk> => {
    const chunks: Array<ChatChunk> = []
    if (candidates.size === 0) {
      if (blocked === undefined) return { items: chunks, done: true, failure: cutShort() }
      chunks.push(chunk(0, { role: "assistant", content: null, refusal: blocked }, "content_filter"))
    }
    for (const index of Array.from(candidates.keys()).sort((a, b) => a - b)) {
      const state = candidates.get(index)!
      if (state.finish === undefined) return { items: chunks, done: true, failure: cutShort() }
      chunks.push(chunk(index, state.started ? {} : { role: "assistant", content: "" }, FromGemini.finishReason(state.finish, state.calls > 0)))
    }
    if (usage !== undefined) {
      chunks.push({ id, object: "chat.completion.chunk", created, model: modelName, choices: [], usage: FromGemini.toUsage(usage) })
    }
    return { items: chunks, done: true }
  }

  return { decode, end }
}

/**
 * The pull of `Upstream.stream` with the decoder's end: when the body ends, the chunks (or the
 * failure) `end` makes of it come before the stream's end. (Gemini has no end event, so what
 * only the body's end tells is decided here, not in the decoder.)
 *
 * @internal
 */
export const withEnd = (
  pull: Streaming.Pull<ChatChunk, ProviderError>,
  decoder: Decoder
): Streaming.Pull<ChatChunk, ProviderError> => {
  let ended = false
  let failure: ProviderError | undefined
  return Effect.suspend(() => {
    if (failure !== undefined) return Effect.fail(Option.some(failure))
    if (ended) return Streaming.endPull
    return Effect.catchAll(pull, (error) => {
      if (Option.isSome(error)) return Effect.fail(error)
      ended = true
      const last = decoder.end()
      if (last.items.length === 0) return last.failure === undefined ? Streaming.endPull : Effect.fail(Option.some(last.failure))
      failure = last.failure
      return Effect.succeed(Chunk.unsafeFromArray(last.items))
    })
  })
}

/**
 * The failure an event holding an error envelope (`{"error": {...}}`) reports; `undefined` for
 * any other data.
 *
 * @internal
 */
export const errorEvent = (provider: string, data: string, redact: Redactor): ProviderError | undefined => {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  return isRecord(value) && value.error !== undefined ? Errors.inBandError(provider, value.error, data, redact) : undefined
}
