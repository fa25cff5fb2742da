/**
 * Starting what the benchmark measures, each from its compiled bundle (see build.ts): the mock
 * upstream, the Anthropic upstream (`formats` part), the forwarder, the platform floor, the
 * platform forwarder and Switchyard. Proxies (and the floor) go on CPU 0, upstreams on CPU 1.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Bundles } from "./build.js"
import { type Child, spawnNode } from "./processes.js"

export const allTargets = ["direct", "forwarder", "platform-floor", "platform-forwarder", "switchyard"] as const
export type TargetName = typeof allTargets[number]

export interface Started {
  readonly child: Child
  /** The chat completions endpoint. */
  readonly url: string
}

/** This process's environment, minus anything that could add providers or change a config. */
export const nodeEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  for (const k of ["OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GATEWAY_CONFIG", "PORT", "NODE_OPTIONS"]) delete env[k]
  return env
}

export interface Upstream {
  readonly child: Child
  /** The mock's e.g. http://127.0.0.1:41234/v1; the Anthropic upstream's http://127.0.0.1:41234 */
  readonly baseUrl: string
}

/** An upstream bundle on CPU 1, ready once it prints its base URL on a line of its own. */
const spawnUpstream = async (bundle: string, repoRoot: string, name: string, args: ReadonlyArray<string>): Promise<Upstream> => {
  const { child, match } = await spawnNode({
    name,
    cpu: 1,
    cwd: repoRoot,
    env: nodeEnv(),
    args: [bundle, ...args],
    ready: /^(http:\/\/\S+)\s*$/m,
    timeoutMs: 30_000
  })
  return { child, baseUrl: match }
}

/** The mock upstream with `flags` (`--chunks`, `--latency-ms`, `--chunk-delay-ms`, ...). */
export const startUpstream = (bundles: Bundles, repoRoot: string, name: string, flags: ReadonlyArray<string>): Promise<Upstream> =>
  spawnUpstream(bundles.upstream, repoRoot, name, ["--host", "127.0.0.1", "--port", "0", ...flags])

/** `anthropicUpstream.ts`: `POST /v1/messages` answered with prebuilt constants. */
export const startAnthropicUpstream = (bundles: Bundles, repoRoot: string, name: string): Promise<Upstream> =>
  spawnUpstream(bundles.anthropicUpstream, repoRoot, name, ["--port", "0"])

export interface ProxyOptions {
  readonly bundles: Bundles
  readonly repoRoot: string
  /** Where Switchyard's config files go. */
  readonly configDir: string
  readonly switchyardNodeFlags: ReadonlyArray<string>
  /** Node flags and environment for every proxy started (the `path` part's preload). */
  readonly instrument?: { readonly nodeFlags: ReadonlyArray<string>; readonly env: NodeJS.ProcessEnv } | undefined
}

const instrumented = (options: ProxyOptions, env: NodeJS.ProcessEnv) => ({
  flags: options.instrument?.nodeFlags ?? [],
  env: { ...env, ...options.instrument?.env }
})

let configs = 0

/** A proxy bundle on CPU 0, run with `args` (after the bundle). */
const startBundle = async (
  name: TargetName,
  bundle: string,
  args: ReadonlyArray<string>,
  options: ProxyOptions
): Promise<Started> => {
  const { flags, env } = instrumented(options, nodeEnv())
  const { child, match } = await spawnNode({
    name,
    cpu: 0,
    cwd: options.repoRoot,
    env,
    args: [...flags, bundle, ...args],
    ready: /Listening on (http:\/\/\S+)/,
    timeoutMs: 30_000
  })
  return { child, url: `${match}/v1/chat/completions` }
}

/**
 * A fresh `switchyard serve --config` whose config has `providers` (YAML lines of the list's
 * items, each `  - name: ...` and its fields); resolves with its origin (http://127.0.0.1:PORT).
 */
export const startSwitchyardWith = async (
  options: ProxyOptions,
  providers: ReadonlyArray<string>
): Promise<{ readonly child: Child; readonly origin: string }> => {
  const config = join(options.configDir, `switchyard-${++configs}.yaml`)
  writeFileSync(config, ["providers:", ...providers, "server:", "  host: 127.0.0.1", ""].join("\n"))
  const { flags, env } = instrumented(options, { ...nodeEnv(), PORT: "0" })
  const { child, match } = await spawnNode({
    name: "switchyard",
    cpu: 0,
    cwd: options.repoRoot,
    env,
    args: [...options.switchyardNodeFlags, ...flags, options.bundles.switchyard, "serve", "--config", config],
    ready: /Listening on http:\/\/[^\s"]+:(\d+)/,
    timeoutMs: 60_000
  })
  return { child, origin: `http://127.0.0.1:${match}` }
}

const startSwitchyard = async (options: ProxyOptions, upstream: Upstream): Promise<Started> => {
  const { child, origin } = await startSwitchyardWith(options, [
    "  - name: upstream",
    "    type: openai",
    `    base_url: ${upstream.baseUrl}`,
    "    api_key: bench"
  ])
  return { child, url: `${origin}/v1/chat/completions` }
}

/**
 * A fresh proxy in front of `upstream`; for direct, the upstream itself (nothing started); for
 * platform-floor, a fresh floor that ignores `upstream`.
 */
export const startTarget = (target: TargetName, options: ProxyOptions, upstream: Upstream): Promise<Started> =>
  target === "forwarder"
    ? startBundle(target, options.bundles.forwarder, ["--upstream", upstream.baseUrl], options)
    : target === "platform-forwarder"
    ? startBundle(target, options.bundles.platformForwarder, ["--upstream", upstream.baseUrl], options)
    : target === "platform-floor"
    // The floor answers by itself: `upstream` stays the direct target's.
    ? startBundle(target, options.bundles.floor, [], options)
    : target === "switchyard"
    ? startSwitchyard(options, upstream)
    : Promise.resolve({ child: upstream.child, url: `${new URL(upstream.baseUrl).origin}/v1/chat/completions` })
