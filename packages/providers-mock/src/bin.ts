/**
 * Runs `MockUpstream` as its own process and prints its base URL on stdout (one line), e.g.
 * for the benchmark:
 *
 *   node --import tsx packages/providers-mock/src/bin.ts --port 9000 \
 *     [--host H] [--api-key K] [--latency-ms N] [--tokens N] [--chunks N] \
 *     [--chunk-delay-ms N] [--error-rate X] [--error-status N]
 *
 * SIGINT and SIGTERM close it.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import * as MockUpstream from "./MockUpstream.js"

const usage =
  "usage: bin.ts [--port N] [--host H] [--api-key K] [--latency-ms N] [--tokens N] [--chunks N] [--chunk-delay-ms N] [--error-rate X] [--error-status N]"

const number = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative number, got '${value}'\n${usage}\n`)
    process.exit(2)
  }
  return n
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "api-key": { type: "string" },
        "latency-ms": { type: "string" },
        tokens: { type: "string" },
        chunks: { type: "string" },
        "chunk-delay-ms": { type: "string" },
        "error-rate": { type: "string" },
        "error-status": { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    })
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`)
    process.exit(2)
  }
})()

if (values.help === true) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

// Only the flags given are passed on: exactOptionalPropertyTypes forbids explicit undefined.
const defined = <A extends Record<string, unknown>>(a: A): { [K in keyof A]?: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as { [K in keyof A]?: Exclude<A[K], undefined> }

const running = await MockUpstream.start(defined({
  port: number("port", values.port) ?? 0,
  host: values.host,
  apiKey: values["api-key"],
  latency: number("latency-ms", values["latency-ms"]),
  tokens: number("tokens", values.tokens),
  chunks: number("chunks", values.chunks),
  chunkDelay: number("chunk-delay-ms", values["chunk-delay-ms"]),
  errorRate: number("error-rate", values["error-rate"]),
  errorStatus: number("error-status", values["error-status"])
}))

process.stdout.write(`${running.url}\n`)

const stop = () => {
  running.close().then(() => process.exit(0), () => process.exit(1))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
