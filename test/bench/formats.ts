/**
 * The `formats` part: Anthropic Messages in (`POST /v1/messages`), an Anthropic upstream
 * (`anthropicUpstream.ts`, constant answers) behind, measured three ways as the load part
 * measures a target:
 *
 * - `direct`: the upstream itself;
 * - `fast path`: Switchyard's `anthropic` provider, which forwards the request as it came with
 *   only `model` rewritten and sends the answer's bytes back unchanged;
 * - `translated`: the same upstream through a provider with `passthrough: false`: the request
 *   decoded to the canonical (OpenAI chat) request and encoded again by the Anthropic adapter, the
 *   answer (JSON or events) decoded to canonical and encoded back to Anthropic's format.
 *
 * Both paths are served by one Switchyard process (two providers on the same upstream), so
 * they differ only in the provider a request's `model` prefix picks.
 */
import { type CellSettings, measureCell, type Mode, parsed, sseEvents, type Traffic, verify } from "./load.js"
import { peakRssMiB, stop } from "./processes.js"
import type { Cell } from "./report.js"
import { type ProxyOptions, startAnthropicUpstream, startSwitchyardWith } from "./targets.js"

/** The rows of the part, in the report's order. */
export const formatPaths = ["direct", "fast path", "translated"] as const
export type FormatPath = typeof formatPaths[number]

/** The model each path asks for: the gateway's provider prefix picks the path. */
const models: Readonly<Record<FormatPath, string>> = {
  direct: "claude-bench",
  "fast path": "anthropic/claude-bench",
  translated: "anthropic-translated/claude-bench"
}

/** The event names of an Anthropic event stream (`event: NAME` lines), in order. */
const eventNames = (text: string): ReadonlyArray<string | undefined> =>
  sseEvents(text).map((e) => /^event: *(\S+)/m.exec(e)?.[1])

/**
 * An Anthropic Messages request for `model` (https://platform.claude.com/docs/en/api/messages):
 * a system prompt and one user message, `"stream": true` for streams. An answer is right when
 * it is a Message (`type: "message"`) with a text content block, or a `text/event-stream`
 * with `content_block_delta` events whose last event is `message_stop`.
 */
export const messagesTraffic = (model: string): Traffic => ({
  body: (mode: Mode) =>
    JSON.stringify({
      model,
      max_tokens: 256,
      system: "You are a load benchmark.",
      messages: [{ role: "user", content: "Say something of average length, please." }],
      ...(mode === "stream" ? { stream: true } : {})
    }),
  headers: { "content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01" },
  wrong: (mode, { contentType, text }) => {
    if (mode === "json") {
      const json = parsed(text)
      if (json === undefined) return "the body is not JSON"
      const message = json as { type?: unknown; content?: unknown }
      if (message.type !== "message") return "the JSON is not a Message (type is not \"message\")"
      const hasText = Array.isArray(message.content) &&
        message.content.some((b: { type?: unknown; text?: unknown } | null) => b?.type === "text" && typeof b.text === "string")
      return hasText ? undefined : "the Message has no text content block"
    }
    if (!contentType.startsWith("text/event-stream")) return "not text/event-stream"
    const names = eventNames(text)
    if (names.at(-1) !== "message_stop") return "the last event is not message_stop"
    return names.includes("content_block_delta") ? undefined : "the stream has no content_block_delta event"
  }
})

export interface FormatsOptions {
  readonly proxies: ProxyOptions
  readonly settings: CellSettings
  readonly modes: ReadonlyArray<Mode>
  readonly log: (line: string) => void
}

/**
 * The Anthropic upstream, measured alone; then one Switchyard with two providers on it, both
 * paths verified in every mode, then measured. One cell per path and mode.
 */
export const runFormats = async ({ proxies, settings, modes, log }: FormatsOptions): Promise<ReadonlyArray<Cell>> => {
  const upstream = await startAnthropicUpstream(proxies.bundles, proxies.repoRoot, "anthropic upstream")
  log(`formats: Anthropic upstream ${upstream.baseUrl} (pid ${upstream.child.pid})`)
  const cells: Array<Cell> = []
  const measureAll = async (paths: ReadonlyArray<FormatPath>, url: string, measured: typeof upstream.child): Promise<void> => {
    for (const path of paths) {
      for (const mode of modes) await verify(path, url, messagesTraffic(models[path]), mode)
    }
    const mine: Array<Cell> = []
    for (const path of paths) {
      for (const mode of modes) {
        mine.push(await measureCell({ target: path, mode, url, traffic: messagesTraffic(models[path]), measured, settings, log }))
      }
    }
    // Read once all of this process's cells are done, while it still lives.
    const rss = peakRssMiB(measured.pid)
    for (const c of mine) cells.push({ ...c, peakRssMiB: rss })
  }

  await measureAll(["direct"], `${upstream.baseUrl}/v1/messages`, upstream.child)

  const provider = (name: string, extra: ReadonlyArray<string>): ReadonlyArray<string> => [
    `  - name: ${name}`,
    "    type: anthropic",
    `    base_url: ${upstream.baseUrl}`,
    "    api_key: bench",
    ...extra
  ]
  const gateway = await startSwitchyardWith(proxies, [
    ...provider("anthropic", []),
    ...provider("anthropic-translated", ["    passthrough: false"])
  ])
  log(`formats: switchyard ${gateway.origin} (pid ${gateway.child.pid}), providers anthropic and anthropic-translated (passthrough: false)`)
  await measureAll(["fast path", "translated"], `${gateway.origin}/v1/messages`, gateway.child)
  await stop(gateway.child)
  await stop(upstream.child)
  return cells
}
