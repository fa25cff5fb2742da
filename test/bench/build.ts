/**
 * Every measured process runs compiled JavaScript, never tsx: tsx keeps function names by
 * wrapping each closure in `__name(...)`, a cost paid per request that production does not pay.
 * Switchyard is built by its own script (`packages/server/scripts/build.mjs`); the forwarder,
 * the platform floor and forwarder, the mock upstream, the Anthropic upstream and the stage benchmark are
 * bundled here the same way, with the esbuild the server package already depends on.
 */
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import { join } from "node:path"

/** The part of esbuild's JS API used here (the test package does not depend on esbuild). */
interface Esbuild {
  readonly build: (options: {
    readonly entryPoints: ReadonlyArray<string>
    readonly outfile: string
    readonly bundle: boolean
    readonly platform: "node"
    readonly format: "esm"
    readonly target: string
    readonly logLevel: "warning"
    readonly banner: { readonly js: string }
  }) => Promise<unknown>
}

export interface Bundles {
  /** `node <switchyard> serve --config FILE` */
  readonly switchyard: string
  readonly forwarder: string
  /** `floor.ts`: `@effect/platform`'s server answering constants, no upstream. */
  readonly floor: string
  /** `platformForwarder.ts`: the floor's server forwarding through Switchyard's HTTP transport, no gateway. */
  readonly platformForwarder: string
  readonly upstream: string
  /** `anthropicUpstream.ts`: Anthropic's Messages API answering constants (`formats` part). */
  readonly anthropicUpstream: string
  readonly stages: string
  /** `stamps.ts`: the `path` part's preload. */
  readonly stamps: string
}

// CommonJS dependencies bundled into an ES module (undici, ...) call `require` for Node's own modules.
const banner = "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"

/** Builds Switchyard's bundle in place and the others into `outDir`; returns their paths. */
export const buildAll = async (repoRoot: string, outDir: string): Promise<Bundles> => {
  execFileSync(process.execPath, [join(repoRoot, "packages/server/scripts/build.mjs")], { cwd: repoRoot, stdio: ["ignore", 2, 2] })
  const esbuild = createRequire(join(repoRoot, "packages/server/package.json"))("esbuild") as Esbuild
  const bundle = async (entry: string, name: string): Promise<string> => {
    const outfile = join(outDir, `${name}.mjs`)
    await esbuild.build({
      entryPoints: [join(repoRoot, entry)],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
      banner: { js: banner }
    })
    return outfile
  }
  const [forwarder, floor, platformForwarder, upstream, anthropicUpstream, stages, stamps] = await Promise.all([
    bundle("test/bench/forwarder.ts", "forwarder"),
    bundle("test/bench/floor.ts", "floor"),
    bundle("test/bench/platformForwarder.ts", "platform-forwarder"),
    bundle("packages/providers-mock/src/bin.ts", "upstream"),
    bundle("test/bench/anthropicUpstream.ts", "anthropic-upstream"),
    bundle("test/bench/stages.ts", "stages"),
    bundle("test/bench/stamps.ts", "stamps")
  ])
  return { switchyard: join(repoRoot, "packages/server/dist/switchyard.mjs"), forwarder, floor, platformForwarder, upstream, anthropicUpstream, stages, stamps }
}
