/**
 * The benchmark's Anthropic upstream, for the `formats` part: bare `node:http` answering
 * `POST /v1/messages` with constant bodies built once at start, so that it is never what limits
 * a measurement (as `floor.ts` answers constants, and unlike the mock upstream, which builds each
 * answer from the request).
 *
 * - JSON: a Message object (https://platform.claude.com/docs/en/api/messages): `id`,
 *   `type: "message"`, `role`, `model`, one `text` content block, `stop_reason: "end_turn"`,
 *   `stop_sequence: null`, `usage { input_tokens, output_tokens }`.
 * - A body with `"stream": true`: the documented event stream
 *   (https://platform.claude.com/docs/en/build-with-claude/streaming), `event:` and `data:` lines:
 *   message_start, content_block_start, ping, 20 content_block_delta events (`text_delta`, a word
 *   each), content_block_stop, message_delta (stop_reason and usage), message_stop; one HTTP
 *   chunk per event, written one after another, as the mock upstream writes an unpaced stream.
 * - `GET` (model discovery, `/v1/models`): `{"data":[],"has_more":false}`.
 *
 * The body is read as bytes and searched for `"stream":true`, never parsed; the key and the
 * `anthropic-version` header are not checked (the gateway's own tests do that).
 *
 *   node anthropicUpstream.mjs [--port N]    (run.ts bundles it: build.ts)
 *
 * Prints its base URL (`http://127.0.0.1:PORT`; the gateway appends `/v1/messages`) on stdout
 * once it listens. SIGINT and SIGTERM close it.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { parseArgs } from "node:util"

const { values } = parseArgs({ options: { port: { type: "string" }, deltas: { type: "string" } } })
const port = Number(values.port ?? 0)
/** content_block_delta events of a streamed answer. */
const deltas = Number(values.deltas ?? 20)

// ---------------------------------------------------------------------------------------------
// The answers, built once.

const model = "claude-bench"
const sentence = "This is a simulated answer from the Switchyard bench upstream.".split(" ")
/** One word per delta, as the mock's 20-chunk streams carry about a word a chunk. */
const pieces = Array.from({ length: deltas }, (_, i) => `${i === 0 ? "" : " "}${sentence[i % sentence.length]}`)
const text = pieces.join("")
const usage = { input_tokens: 24, output_tokens: deltas }

const jsonBody = Buffer.from(JSON.stringify({
  id: "msg_01BenchAnthropicUpstream",
  type: "message",
  role: "assistant",
  model,
  content: [{ type: "text", text }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage
}))

const event = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`

const sseEvents = [
  event("message_start", {
    message: {
      id: "msg_01BenchAnthropicUpstream",
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input_tokens, output_tokens: 1 }
    }
  }),
  event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  event("ping", {}),
  ...pieces.map((piece) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } })),
  event("content_block_stop", { index: 0 }),
  event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }),
  event("message_stop", {})
].map((e) => Buffer.from(e))

const modelsBody = Buffer.from(JSON.stringify({ data: [], has_more: false }))
const notFound = Buffer.from(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "Not found" } }))

const jsonHeaders = (body: Buffer): Http.OutgoingHttpHeaders => ({ "content-type": "application/json", "content-length": body.length })
const sseHeaders: Http.OutgoingHttpHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache" }

// `"stream": true` anywhere in the body, with or without whitespace around the colon.
const streamFlag = /"stream"\s*:\s*true/

// ---------------------------------------------------------------------------------------------

const server = Http.createServer({ noDelay: true, keepAliveTimeout: 30_000 }, (req, res) => {
  const parts: Array<Buffer> = []
  req.on("data", (part: Buffer) => parts.push(part))
  req.on("end", () => {
    if (req.method === "GET") {
      res.writeHead(200, jsonHeaders(modelsBody))
      res.end(modelsBody)
      return
    }
    const path = req.url ?? "/"
    if (req.method !== "POST" || (path !== "/v1/messages" && !path.startsWith("/v1/messages?"))) {
      res.writeHead(404, jsonHeaders(notFound))
      res.end(notFound)
      return
    }
    const raw = parts.length === 1 ? parts[0]!.toString("latin1") : Buffer.concat(parts).toString("latin1")
    if (streamFlag.test(raw)) {
      res.writeHead(200, sseHeaders)
      for (let i = 0; i < sseEvents.length - 1; i++) res.write(sseEvents[i])
      res.end(sseEvents[sseEvents.length - 1])
    } else {
      res.writeHead(200, jsonHeaders(jsonBody))
      res.end(jsonBody)
    }
  })
})

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`)
})

const close = (): void => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.once("SIGINT", close)
process.once("SIGTERM", close)
