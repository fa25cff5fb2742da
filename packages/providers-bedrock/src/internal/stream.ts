/**
 * The decoder of a ConverseStream body into canonical chat chunks. Plain code, no Stream: it
 * runs once per piece of the body.
 *
 * The body is `application/vnd.amazon.eventstream`
 * (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html describes the framing):
 * binary messages, each a prelude (total length, headers length, prelude CRC), headers, a
 * payload and a message CRC. The messages are cut out of the body by their total length, and
 * each is decoded (both CRCs checked, headers parsed) by `EventStreamCodec` from
 * `@smithy/eventstream-codec`. `:message-type` `event` messages name their
 * `ConverseStreamOutput` member in `:event-type` and carry its JSON
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html):
 * `messageStart` (`role`), `contentBlockStart` (`start.toolUse`: `toolUseId`, `name`),
 * `contentBlockDelta` (`delta.text`, `delta.toolUse.input` fragments,
 * `delta.reasoningContent`), `contentBlockStop`, `messageStop` (`stopReason`), and last
 * `metadata` (`usage`, `metrics`); `exception` messages name the exception in
 * `:exception-type`.
 *
 * @internal
 */
import { EventStreamCodec } from "@smithy/eventstream-codec"
import { fromUtf8, toUtf8 } from "@smithy/util-utf8"
import type { ChatChunk } from "@switchyard/core/ChatSchema"
import { ProviderOutputError, ProviderStatusError } from "@switchyard/core/GatewayError"
import type { ResponseHeaders } from "@switchyard/provider-http/HttpTransport"
import type { Redactor } from "@switchyard/provider-http/Redact"
import type * as Upstream from "@switchyard/provider-http/Upstream"
import * as UpstreamErrors from "@switchyard/provider-http/UpstreamErrors"
import { isRecord, preview } from "@switchyard/provider-http/Wire"
import * as Errors from "./errors.js"
import * as FromConverse from "./response.js"

type Delta = ChatChunk["choices"][number]["delta"]

type Failure = ProviderStatusError | ProviderOutputError

/** The stream's last event was seen; its usage chunk, if it reported usage. */
class End {
  constructor(readonly usage: ChatChunk | undefined) {}
}

/** A message's prelude, headers' minimum and CRCs: 16 bytes (the framing's overhead). */
const minimumMessageLength = 16

/**
 * The largest message accepted: the framing allows 16 MiB of payload and 128 KiB of headers. A
 * larger length is a corrupted prelude (its CRC would tell, once the message had arrived).
 */
const maximumMessageLength = 16 * 1024 * 1024 + 128 * 1024 + minimumMessageLength

/**
 * Cuts whole messages out of the body's pieces by the prelude's total length (big-endian, the
 * first 4 bytes of a message); what remains waits for the next piece.
 *
 * @internal
 */
export const makeFramer = () => {
  let pending: Uint8Array = new Uint8Array(0)
  return (piece: Uint8Array): { readonly messages: Array<Uint8Array>; readonly malformed?: string } => {
    if (pending.length === 0) {
      pending = piece
    } else {
      const joined = new Uint8Array(pending.length + piece.length)
      joined.set(pending, 0)
      joined.set(piece, pending.length)
      pending = joined
    }
    const messages: Array<Uint8Array> = []
    let offset = 0
    while (pending.length - offset >= 4) {
      const view = new DataView(pending.buffer, pending.byteOffset + offset, 4)
      const length = view.getUint32(0, false)
      if (length < minimumMessageLength || length > maximumMessageLength) {
        return { messages, malformed: `an event stream message declares a length of ${length} bytes` }
      }
      if (pending.length - offset < length) break
      messages.push(pending.subarray(offset, offset + length))
      offset += length
    }
    pending = pending.subarray(offset)
    return { messages }
  }
}

const headerString = (headers: Record<string, { readonly type: string; readonly value: unknown }>, name: string) => {
  const header = headers[name]
  return header !== undefined && typeof header.value === "string" ? header.value : undefined
}

/**
 * A decoder for one stream, keeping its state (the framing, which content blocks are tool
 * calls, the usage). The chunks:
 * - `messageStart`: a first chunk with `role: "assistant"` and empty content;
 * - `delta.text`: content; `delta.reasoningContent.text`: `reasoning_content`;
 * - a `toolUse` block's start: a tool call delta with its index (counted among the tool calls),
 *   id, type and name, and empty arguments; its `delta.toolUse.input`s: argument fragments;
 * - `messageStop`: a chunk with the finish reason;
 * - `metadata`: a last chunk with no choices and the usage, and the end (it is the stream's last
 *   event: a body that ends before it was cut short, and the provider asks `Upstream.streamBytes`
 *   to fail it);
 * - an exception message fails the stream (`ProviderStatusError`, the status the reference gives
 *   its type); an unmodeled error message too (500); a message that cannot be decoded (a CRC
 *   mismatch) or whose payload is not JSON fails it as `ProviderOutputError`;
 * - `contentBlockStop`, reasoning signatures and redacted reasoning, citations, and unknown
 *   events are skipped.
 *
 * Every chunk carries the answer's `x-amzn-requestid` as its id, the requested model and the
 * given `created` (seconds).
 *
 * @internal
 */
export const makeDecoder = (
  provider: string,
  redact: Redactor,
  model: string,
  created: number
): (bytes: Uint8Array, headers: ResponseHeaders) => Upstream.Decoded<ChatChunk> => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8)
  const frame = makeFramer()
  let id: string | undefined
  /** Content block index -> tool call index. */
  const toolIndex = new Map<number, number>()

  const chunk = (delta: Delta, finishReason: string | null = null): ChatChunk => ({
    id: id ?? "",
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason }]
  })

  const blockStart = (value: Record<string, unknown>): ChatChunk | undefined => {
    const start = value.start
    const index = value.contentBlockIndex
    if (!isRecord(start) || !isRecord(start.toolUse) || typeof index !== "number") return undefined
    const call = toolIndex.size
    toolIndex.set(index, call)
    const toolUse = start.toolUse
    return chunk({
      tool_calls: [{
        index: call,
        id: typeof toolUse.toolUseId === "string" ? toolUse.toolUseId : "",
        type: "function",
        function: { name: typeof toolUse.name === "string" ? toolUse.name : "", arguments: "" }
      }]
    })
  }

  const blockDelta = (value: Record<string, unknown>): ChatChunk | undefined => {
    const delta = value.delta
    if (!isRecord(delta)) return undefined
    if (typeof delta.text === "string") return delta.text === "" ? undefined : chunk({ content: delta.text })
    if (isRecord(delta.toolUse)) {
      const index = value.contentBlockIndex
      const call = typeof index === "number" ? toolIndex.get(index) : undefined
      const input = delta.toolUse.input
      if (call === undefined || typeof input !== "string" || input === "") return undefined
      return chunk({ tool_calls: [{ index: call, function: { arguments: input } }] })
    }
    if (isRecord(delta.reasoningContent)) {
      const text = delta.reasoningContent.text
      return typeof text === "string" && text !== "" ? chunk({ reasoning_content: text }) : undefined
    }
    return undefined
  }

  /** A chunk, nothing, the end (the usage chunk, if any) or a failure, for one message. */
  const decode = (bytes: Uint8Array): ChatChunk | undefined | End | Failure => {
    let message: ReturnType<EventStreamCodec["decode"]>
    try {
      message = codec.decode(bytes)
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error)
      return UpstreamErrors.outputError(provider, `an event stream message cannot be decoded: ${detail}`, redact)
    }
    const headers = message.headers as Record<string, { readonly type: string; readonly value: unknown }>
    const payload = toUtf8(message.body)
    switch (headerString(headers, ":message-type")) {
      case "exception":
        return Errors.streamException(provider, headerString(headers, ":exception-type") ?? "exception", payload, redact)
      case "error":
        return Errors.streamError(provider, headerString(headers, ":error-code"), headerString(headers, ":error-message"), redact)
      case "event":
        break
      default:
        return undefined
    }
    let value: unknown
    try {
      value = JSON.parse(payload)
    } catch {
      return UpstreamErrors.outputError(provider, `a stream event is not JSON: ${preview(payload)}`, redact)
    }
    if (!isRecord(value)) {
      return UpstreamErrors.outputError(provider, `a stream event is not an object: ${preview(payload)}`, redact)
    }
    switch (headerString(headers, ":event-type")) {
      case "messageStart":
        return chunk({ role: "assistant", content: "" })
      case "contentBlockStart":
        return blockStart(value)
      case "contentBlockDelta":
        return blockDelta(value)
      case "messageStop": {
        const reason = FromConverse.finishReason(value.stopReason)
        return reason === null ? undefined : chunk({}, reason)
      }
      case "metadata":
        return new End(
          isRecord(value.usage)
            ? { id: id ?? "", object: "chat.completion.chunk", created, model, choices: [], usage: FromConverse.toUsage(value.usage) }
            : undefined
        )
      default:
        return undefined
    }
  }

  return (bytes, headers) => {
    id ??= FromConverse.requestId(headers)
    const { malformed, messages } = frame(bytes)
    const chunks: Array<ChatChunk> = []
    for (const message of messages) {
      const result = decode(message)
      if (result === undefined) continue
      if (result instanceof End) {
        if (result.usage !== undefined) chunks.push(result.usage)
        return { items: chunks, done: true }
      }
      if (result instanceof ProviderStatusError || result instanceof ProviderOutputError) {
        return { items: chunks, done: true, failure: result }
      }
      chunks.push(result)
    }
    if (malformed !== undefined) {
      return { items: chunks, done: true, failure: UpstreamErrors.outputError(provider, malformed, redact) }
    }
    return { items: chunks, done: false }
  }
}
