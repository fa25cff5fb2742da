/**
 * What each stage of the gateway pipeline costs, in process and without HTTP: CPU µs per
 * `gateway.chat` and per fully consumed `gateway.chatStream`, for gateways built from the
 * public Layers of `@switchyard/core` with one stage switched on at a time, against a
 * provider that answers at once (20 content chunks and a usage chunk when streaming).
 *
 *   node stages.mjs [--quick]    (run.ts bundles it and runs it pinned to CPU 0)
 *
 * Each gateway is measured in a child process of its own (`--stage N`).
 * Progress and the table go to stderr; the result, as one `stages: JSON` line, to stdout.
 */
import * as Catalog from "@switchyard/core/Catalog"
import * as CircuitBreaker from "@switchyard/core/CircuitBreaker"
import type { ChatChunk, ChatRequest, ChatResponse } from "@switchyard/core/ChatSchema"
import * as Gateway from "@switchyard/core/Gateway"
import * as Hooks from "@switchyard/core/Hooks"
import * as LatencyStats from "@switchyard/core/LatencyStats"
import * as Plugins from "@switchyard/core/Plugins"
import { type Provider, streamFromOpen } from "@switchyard/core/Provider"
import * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import type { RoutingConfig } from "@switchyard/core/Routing"
import * as Streaming from "@switchyard/core/Streaming"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import { parseArgs } from "node:util"
import type { Mode } from "./load.js"
import { renderStages, type StageRow, type Stages } from "./report.js"

const { values } = parseArgs({ options: { quick: { type: "boolean" }, stage: { type: "string" } } })
const quick = values.quick === true
/** Requests in flight at once, as under the 64-connection load. */
const inFlight = 64
const rounds = quick ? 3 : 7
/** Per mode, and in a fresh process: the JIT's warm-up. */
const warmupMs = 500
const roundMs = quick ? { json: 40, stream: 60 } : { json: 150, stream: 300 }
const contentChunks = 20

// ---------------------------------------------------------------------------------------------
// An instant provider. Core's TestProvider records every request, which would be measured too.

const model = "gpt-4o-mini"
const alias = "bench-alias"
const usage = { prompt_tokens: 24, completion_tokens: contentChunks, total_tokens: 24 + contentChunks }
const meta = { id: "chatcmpl-bench", created: 0, model } as const

const response: ChatResponse = {
  ...meta,
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "A benchmark answer." }, finish_reason: "stop" }],
  usage
}
const chunks: ReadonlyArray<ChatChunk> = [
  ...Array.from({ length: contentChunks }, (_, i): ChatChunk => ({
    ...meta,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content: `token${i} ` }, finish_reason: i === contentChunks - 1 ? "stop" : null }],
    usage: null
  })),
  { ...meta, object: "chat.completion.chunk", choices: [], usage }
]
const answer = Effect.succeed(response)
const allChunks = Chunk.unsafeFromArray(chunks)
// All chunks in one pull, as when the upstream's whole answer arrives in one read.
const openStream = () => Effect.sync(() => Streaming.prepend(allChunks, Streaming.endPull))

// With `openStream`, as the real providers: the gateway uses it instead of `chatStream`. And,
// like them, it takes a target's request timeout on itself (it answers at once, so it never
// expires), which spares the gateway a fiber per call.
const instant = (name: string): Provider => ({
  enforcesTimeouts: true,
  name,
  kind: "bench",
  serves: (m) => m === model,
  chat: () => answer,
  openStream,
  chatStream: streamFromOpen(openStream),
  listModels: Effect.succeed([])
})

// ---------------------------------------------------------------------------------------------
// The gateways

interface Setup {
  readonly stage: string
  readonly config: RoutingConfig
  readonly providers: ReadonlyArray<string>
  readonly plugins: ReadonlyArray<Plugins.Plugin>
  readonly hooks: boolean
  readonly model: string
}

const passThrough: Plugins.Plugin = {
  name: "pass-through",
  beforeRequest: (req) => Effect.succeed(req),
  afterResponse: (res) => Effect.succeed(res),
  onError: () => Effect.void
}
const aliases = { [alias]: model }
const targets = [{ virtual_key: "a" }, { virtual_key: "b" }, { virtual_key: "c" }]
/** What a production fallback carries per target: retries, a circuit breaker, a request timeout. */
const guarded = targets.map((t) => ({
  ...t,
  retry: { attempts: 3, on_status_codes: [429, 503] },
  circuit_breaker: { failure_threshold: 5, timeout: 30_000 },
  timeouts: { request: 60_000 }
}))
const baseline: Setup = { stage: "baseline", config: {}, providers: ["a"], plugins: [], hooks: false, model }
const setups: ReadonlyArray<Setup> = [
  baseline,
  { ...baseline, stage: "+ alias", config: { aliases }, model: alias },
  { ...baseline, stage: "+ pass-through plugin (before, after, onError)", plugins: [passThrough] },
  { ...baseline, stage: "+ accounting hooks (counting handler)", hooks: true },
  { ...baseline, stage: "+ target a, strategy single", config: { strategy: { mode: "single" }, targets: [targets[0]!] }, providers: ["a", "b", "c"] },
  { ...baseline, stage: "+ fallback over a,b,c (a healthy)", config: { strategy: { mode: "fallback" }, targets }, providers: ["a", "b", "c"] },
  {
    ...baseline,
    stage: "+ fallback over a,b,c with retries, breakers, timeouts",
    config: { strategy: { mode: "fallback" }, targets: guarded },
    providers: ["a", "b", "c"]
  },
  {
    stage: "all of them (alias, plugin, hooks, guarded fallback)",
    config: { aliases, strategy: { mode: "fallback" }, targets: guarded },
    providers: ["a", "b", "c"],
    plugins: [passThrough],
    hooks: true,
    model: alias
  }
]

let events = 0
const counting = Hooks.layer(() => Effect.sync(() => void events++))

const gatewayLayer = (setup: Setup): Layer.Layer<Gateway.Gateway | Hooks.Hooks> => {
  const providers = Layer.effectDiscard(Effect.flatMap(
    ProviderRegistry.ProviderRegistry,
    (registry) => Effect.forEach(setup.providers, (name) => registry.register(instant(name)), { discard: true })
  ))
  return Gateway.layer(setup.config).pipe(
    Layer.orDie,
    Layer.provide(providers),
    Layer.provideMerge(Layer.mergeAll(
      ProviderRegistry.layer,
      Catalog.layer,
      CircuitBreaker.layer,
      LatencyStats.layer,
      setup.plugins.length === 0 ? Plugins.layerEmpty : Plugins.layer(setup.plugins),
      setup.hooks ? counting : Hooks.layerNone
    ))
  )
}

const requestFor = (setup: Setup, mode: Mode): ChatRequest => ({
  model: setup.model,
  messages: [{ role: "user", content: "Say something of average length, please." }],
  ...(mode === "stream" ? { stream: true } : {})
})

/** Reads a pull to its end; resolves to the number of elements. */
const drain = <A, E>(pull: Streaming.Pull<A, E>): Effect.Effect<number, E> =>
  Effect.suspend(() => {
    let n = 0
    const loop: Effect.Effect<number, E> = Effect.matchEffect(pull, {
      onFailure: Option.match({ onNone: () => Effect.succeed(n), onSome: Effect.fail }),
      onSuccess: (chunk) => {
        n += chunk.length
        return loop
      }
    })
    return loop
  })

/**
 * One request; resolves to what the caller received (chunks, when streaming). A stream is read
 * through its pull, as the HTTP layer does: reading `stream` would add a Stream run.
 */
const once = (gateway: Gateway.Service, req: ChatRequest, mode: Mode): Effect.Effect<number, unknown> =>
  mode === "json"
    ? Effect.map(gateway.chat(req), (r) => r.response.choices.length)
    : Effect.scoped(Effect.flatMap(gateway.chatStream(req), (r) => drain(r.pull)))

interface Cell {
  readonly mode: Mode
  /** Runs `n` requests, `inFlight` at a time. */
  readonly batch: (n: number) => Promise<void>
  readonly roundMs: number
}

type Runtime = ManagedRuntime.ManagedRuntime<Gateway.Gateway | Hooks.Hooks, never>

const makeCell = async (runtime: Runtime, setup: Setup, mode: Mode): Promise<Cell> => {
  const gateway = await runtime.runPromise(Gateway.Gateway)
  const req = requestFor(setup, mode)
  // The client did not ask for usage, so the gateway drops the usage chunk it requested itself.
  const expected = mode === "json" ? 1 : contentChunks
  const got = await runtime.runPromise(once(gateway, req, mode))
  if (got !== expected) throw new Error(`${setup.stage} (${mode}): expected ${expected} ${mode === "json" ? "choice" : "chunks"}, got ${got}`)
  return {
    mode,
    // A new call per request, as the server makes: each gets its own RequestContext.
    batch: (n) =>
      runtime.runPromise(Effect.forEach(Array.from({ length: n }), () => once(gateway, req, mode), { concurrency: inFlight, discard: true })),
    roundMs: mode === "json" ? roundMs.json : roundMs.stream
  }
}

const cpuMicros = async (f: () => Promise<void>): Promise<number> => {
  const before = process.cpuUsage()
  await f()
  const used = process.cpuUsage(before)
  return used.user + used.system
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const log = (line: string): void => void process.stderr.write(`${line}\n`)

interface Measured {
  readonly json: number
  readonly stream: number
  readonly hookEvents: number
  readonly hookEventsDropped: number
}

/** One gateway in this process: after a warm-up, its json and stream cells in alternating rounds. */
const measureStage = async (setup: Setup): Promise<Measured> => {
  const runtime = ManagedRuntime.make(gatewayLayer(setup))
  try {
    const cells = [await makeCell(runtime, setup, "json"), await makeCell(runtime, setup, "stream")]
    // The warm-up also sizes each round to about its roundMs of CPU.
    const iterations = new Map<Cell, number>()
    for (const cell of cells) {
      const until = performance.now() + warmupMs
      let perRequest = Number.POSITIVE_INFINITY
      while (performance.now() < until) perRequest = (await cpuMicros(() => cell.batch(100))) / 100
      iterations.set(cell, Math.min(200_000, Math.max(100, Math.round((cell.roundMs * 1000) / perRequest))))
    }
    const samples = new Map<Cell, Array<number>>(cells.map((c) => [c, []]))
    for (let round = 0; round < rounds; round++) {
      for (const cell of cells) {
        const n = iterations.get(cell)!
        samples.get(cell)!.push((await cpuMicros(() => cell.batch(n))) / n)
      }
    }
    return {
      json: median(samples.get(cells[0]!)!),
      stream: median(samples.get(cells[1]!)!),
      hookEvents: events,
      hookEventsDropped: await runtime.runPromise(Effect.flatMap(Hooks.Hooks, (h) => h.dropped))
    }
  } finally {
    await runtime.dispose()
  }
}

let current: ChildProcess | undefined

/**
 * Each gateway is measured in a fresh process of its own (which inherits this one's CPU
 * pinning and Node flags): a gateway process runs one configuration, and one process cycling
 * through all of them would measure the JIT's confusion rather than the stages.
 */
const inChild = (index: number): Promise<Measured> =>
  new Promise((resolve, reject) => {
    const args = [...process.execArgv, process.argv[1]!, "--stage", String(index), ...(quick ? ["--quick"] : [])]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    current = child
    let out = ""
    child.stdout.on("data", (data: Buffer) => void (out += data.toString()))
    child.once("error", reject)
    child.once("exit", (code) => {
      current = undefined
      const m = /^stage: (\{.*\})$/m.exec(out)
      if (code === 0 && m !== null) resolve(JSON.parse(m[1]!) as Measured)
      else reject(new Error(`stage '${setups[index]!.stage}' failed (exit code ${code})`))
    })
  })

const main = async (): Promise<void> => {
  if (values.stage !== undefined) {
    const setup = setups[Number(values.stage)]
    if (setup === undefined) throw new Error(`no stage ${values.stage}`)
    process.stdout.write(`stage: ${JSON.stringify(await measureStage(setup))}\n`)
    return
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      current?.kill("SIGKILL")
      process.exit(130)
    })
  }
  // The baseline once more at the end: how far apart two measurements of the same gateway are.
  const order = [...setups.keys(), 0]
  const rows: Array<StageRow> = []
  const measured: Array<Measured> = []
  for (const [i, index] of order.entries()) {
    const m = await inChild(index)
    measured.push(m)
    rows.push({ stage: i === setups.length ? "baseline again, measured last (the noise)" : setups[index]!.stage, json: m.json, stream: m.stream })
    log(`  ${rows.at(-1)!.stage}: ${m.json.toFixed(1)} µs json, ${m.stream.toFixed(1)} µs stream`)
  }
  const hookEvents = measured.reduce((n, m) => n + m.hookEvents, 0)
  if (hookEvents === 0) throw new Error("the accounting hook never ran")
  const result: Stages = {
    rows,
    rounds,
    inFlight,
    hookEvents,
    hookEventsDropped: measured.reduce((n, m) => n + m.hookEventsDropped, 0)
  }
  log(renderStages(result))
  process.stdout.write(`stages: ${JSON.stringify(result)}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`stages failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
