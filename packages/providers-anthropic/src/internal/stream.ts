/**
 * The decoder of an Anthropic Messages stream into canonical chat chunks. Plain code, no
 * Stream: it runs once per network chunk.
 *
 * The events (https://platform.claude.com/docs/en/build-with-claude/streaming#event-types):
 * `message_start` (the `Message`, empty content, input usage), then per content block a
 * `content_block_start`, `content_block_delta`s (`text_delta`, `input_json_delta`,
 * `thinking_delta`, `signature_delta`, `citations_delta`) and a `content_block_stop`, then
 * `message_delta`s (`stop_reason`, cumulative usage), then `message_stop`; `ping`s anywhere,
 * and `error` events. Each event's `type` is in its data as well as its SSE name.
 *
 * @internal
 */
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import * as EventStream from "@switchyard/core/EventStream"
import { ProviderOutputError, ProviderStatusError } from "@switchyard/core/GatewayError"
import type { Redactor } from "@switchyard/provider-http/Redact"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord, preview } from "@switchyard/provider-http/Wire"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import * as Errors from "./errors.js"
import * as FromAnthropic from "./response.js"

type Delta = ChatChunk["choices"][number]["delta"]

type Failure = ProviderStatusError | ProviderOutputError

const isFailure = (u: ChatChunk | Failure): u is Failure =>
  u instanceof ProviderStatusError || u instanceof ProviderOutputError

/**
 * A decoder for one stream, keeping its state (the message's id and model, the usage so far,
 * which content blocks are tool calls). The chunks:
 * - `message_start`: a first chunk with `role: "assistant"` and empty content;
 * - `text_delta`: content; `thinking_delta`: `reasoning_content`;
 * - a `tool_use` block's start: a tool call delta with its index (counted among the tool calls),
 *   id, type and name, and empty arguments; its `input_json_delta`s: argument fragments;
 * - `message_delta` with a `stop_reason`: a chunk with the finish reason;
 * - `message_stop`: a last chunk with no choices and the usage (when the upstream reported
 *   any), and the end;
 * - an `error` event fails the stream (`ProviderStatusError`, the status its type stands for);
 * - `ping`, signatures, citations, server tool blocks and unknown events are skipped.
 *
 * A body that ends before `message_stop` was cut short: the provider asks `Upstream.stream` to
 * fail it (`endEventRequired`).
 *
 * Every chunk carries the message's id and model and the given `created` (seconds).
 * `trimmedPrefill` drops the answer's leading whitespace (see `request.ts`).
 *
 * @internal
 */
export const makeDecoder = (
  provider: string,
  redact: Redactor,
  created: number,
  trimmedPrefill: boolean
): (text: string) => Upstream.Decoded<ChatChunk> => {
  let parsed: Array<EventStream.Event> = []
  const parser = EventStream.makeParser((event) => parsed.push(event))
  let id = ""
  let model = ""
  const usage: Record<string, unknown> = {}
  /** Content block index -> tool call index. */
  const toolIndex = new Map<number, number>()
  let stripLeading = trimmedPrefill

  const chunk = (delta: Delta, finishReason: string | null = null): ChatChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason }]
  })

  const addUsage = (u: unknown) => {
    if (!isRecord(u)) return
    for (const key of Object.keys(u)) if (typeof u[key] === "number") usage[key] = u[key]
  }

  const text = (t: string): ChatChunk | undefined => {
    if (stripLeading) {
      t = t.trimStart()
      if (t === "") return undefined
      stripLeading = false
    }
    return t === "" ? undefined : chunk({ content: t })
  }

  const blockStart = (index: unknown, block: unknown): ChatChunk | undefined => {
    if (!isRecord(block)) return undefined
    if (block.type === "text") return typeof block.text === "string" ? text(block.text) : undefined
    if (block.type !== "tool_use" || typeof index !== "number") return undefined
    const call = toolIndex.size
    toolIndex.set(index, call)
    // `input` starts as `{}` and arrives in `input_json_delta`s; an input given whole is kept.
    const args = isRecord(block.input) && Object.keys(block.input).length > 0 ? JSON.stringify(block.input) : ""
    return chunk({
      tool_calls: [{
        index: call,
        id: typeof block.id === "string" ? block.id : "",
        type: "function",
        function: { name: typeof block.name === "string" ? block.name : "", arguments: args }
      }]
    })
  }

  const blockDelta = (index: unknown, delta: unknown): ChatChunk | undefined => {
    if (!isRecord(delta)) return undefined
    switch (delta.type) {
      case "text_delta":
        return typeof delta.text === "string" ? text(delta.text) : undefined
      case "input_json_delta": {
        const call = typeof index === "number" ? toolIndex.get(index) : undefined
        if (call === undefined || typeof delta.partial_json !== "string" || delta.partial_json === "") return undefined
        return chunk({ tool_calls: [{ index: call, function: { arguments: delta.partial_json } }] })
      }
      case "thinking_delta":
        return typeof delta.thinking === "string" && delta.thinking !== ""
          ? chunk({ reasoning_content: delta.thinking })
          : undefined
      default:
        return undefined
    }
  }

  /** A chunk, nothing, the end (`true`) or a failure, for one event. */
  const decode = (event: EventStream.Event): ChatChunk | undefined | true | Failure => {
    let value: unknown
    try {
      value = JSON.parse(event.data)
    } catch {
      if (event.event === "error") return Errors.inBandError(provider, event.data, event.data, redact)
      return UpstreamErrors.outputError(provider, `a stream event is not JSON: ${preview(event.data)}`, redact)
    }
    const type = isRecord(value) && typeof value.type === "string" ? value.type : event.event
    if (!isRecord(value)) {
      return type === "error"
        ? Errors.inBandError(provider, value, event.data, redact)
        : UpstreamErrors.outputError(provider, `a stream event is not an object: ${preview(event.data)}`, redact)
    }
    switch (type) {
      case "message_start": {
        const message = value.message
        if (isRecord(message)) {
          if (typeof message.id === "string") id = message.id
          if (typeof message.model === "string") model = message.model
          addUsage(message.usage)
        }
        return chunk({ role: "assistant", content: "" })
      }
      case "content_block_start":
        return blockStart(value.index, value.content_block)
      case "content_block_delta":
        return blockDelta(value.index, value.delta)
      case "message_delta": {
        addUsage(value.usage)
        const reason = isRecord(value.delta) ? FromAnthropic.finishReason(value.delta.stop_reason) : null
        return reason === null ? undefined : chunk({}, reason)
      }
      case "message_stop":
        return true
      case "error":
        return Errors.inBandError(provider, value.error, event.data, redact)
      default:
        return undefined
    }
  }

  return (input) => {
    parser.feed(input)
    const events = parsed
    parsed = []
    const chunks: Array<ChatChunk> = []
    for (const event of events) {
      const result = decode(event)
      if (result === undefined) continue
      if (result === true) {
        if (Object.keys(usage).length > 0) {
          chunks.push({ id, object: "chat.completion.chunk", created, model, choices: [], usage: FromAnthropic.toUsage(usage) })
        }
        return { items: chunks, done: true }
      }
      if (isFailure(result)) return { items: chunks, done: true, failure: result }
      chunks.push(result)
    }
    return { items: chunks, done: false }
  }
}

/**
 * The failure an `error` event reports, from its data: Anthropic's error envelope
 * (`{"type":"error","error":{...}}`), or text.
 *
 * @internal
 */
export const errorEvent = (provider: string, data: string, redact: Redactor): ProviderStatusError => {
  let value: unknown = data
  try {
    value = JSON.parse(data)
  } catch {
    // text
  }
  return Errors.inBandError(provider, isRecord(value) && value.error !== undefined ? value.error : value, data, redact)
}
