/**
 * The benchmark's reference: the cheapest reasonable OpenAI-compatible proxy on Node. Bare
 * `node:http`, the body read as bytes and `JSON.parse`d, `model` rewritten, the request sent
 * to the upstream through an undici `Pool` (keep-alive) and the answer (JSON or SSE) written
 * straight into the client's response by `Pool.stream`, chunk by chunk as it arrives.
 *
 *   node forwarder.mjs --upstream http://127.0.0.1:9000 [--port N]    (run.ts bundles it: build.ts)
 *
 * Prints `Listening on http://127.0.0.1:PORT` once it listens. SIGINT and SIGTERM close it.
 * It is a measuring stick, not a product: no auth, no retries, no routing.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { parseArgs } from "node:util"
import { Pool } from "undici"

const { values } = parseArgs({
  options: {
    upstream: { type: "string" },
    port: { type: "string" },
    "api-key": { type: "string" }
  }
})
if (values.upstream === undefined) {
  process.stderr.write("usage: forwarder.ts --upstream http://127.0.0.1:PORT [--port N] [--api-key K]\n")
  process.exit(2)
}
const upstream = new URL(values.upstream)
const basePath = upstream.pathname.replace(/\/+$/, "") // e.g. "/v1" when given ".../v1"
const authorization = `Bearer ${values["api-key"] ?? "bench"}`

const pool = new Pool(upstream.origin, {
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 60_000,
  pipelining: 1
})

/** The one transformation a gateway must at least do: a `provider/model` prefix is stripped. */
const rewriteModel = (model: unknown): unknown => {
  if (typeof model !== "string") return model
  const slash = model.indexOf("/")
  return slash === -1 ? model : model.slice(slash + 1)
}

// Hop-by-hop headers are the proxy's own business, not the client's.
const hopByHop = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"])

const fail = (res: Http.ServerResponse, status: number, message: string): void => {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ error: { message, type: "proxy_error", code: null } })
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const forward = (req: Http.IncomingMessage, res: Http.ServerResponse, raw: Buffer): void => {
  let json: Record<string, unknown>
  try {
    json = JSON.parse(raw.toString("utf8")) as Record<string, unknown>
  } catch {
    return fail(res, 400, "The request body is not valid JSON")
  }
  if (typeof json !== "object" || json === null) return fail(res, 400, "The request body must be a JSON object")
  json.model = rewriteModel(json.model)
  const body = JSON.stringify(json)
  pool.stream(
    {
      method: "POST",
      path: basePath + (req.url ?? "/").replace(/^\/v1/, ""),
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        authorization
      },
      body
    },
    ({ statusCode, headers }) => {
      const out: Http.OutgoingHttpHeaders = {}
      for (const name in headers) {
        if (!hopByHop.has(name)) out[name] = headers[name]
      }
      res.writeHead(statusCode, out)
      // undici writes every chunk into `res` as it arrives (SSE included) and ends it.
      return res
    }
  ).catch((error: unknown) => fail(res, 502, `upstream: ${(error as Error).message}`))
}

const server = Http.createServer({ noDelay: true, keepAliveTimeout: 30_000 }, (req, res) => {
  const parts: Array<Buffer> = []
  req.on("data", (part: Buffer) => parts.push(part))
  req.on("end", () => {
    if (req.method !== "POST") return fail(res, 405, "only POST is forwarded")
    forward(req, res, parts.length === 1 ? parts[0]! : Buffer.concat(parts))
  })
})

server.listen(Number(values.port ?? 0), "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`Listening on http://127.0.0.1:${port}\n`)
})

const stop = (): void => {
  server.close()
  server.closeAllConnections()
  pool.close().then(() => process.exit(0), () => process.exit(1))
  setTimeout(() => process.exit(0), 2_000).unref()
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
