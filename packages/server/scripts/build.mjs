/**
 * Bundles the server into one ES module, `dist/switchyard.mjs`, run by plain `node`: what
 * `start` and the benchmark run. Development and tests run the TypeScript sources through tsx,
 * whose transform keeps function names by wrapping every closure in a `__name(...)` call, a
 * cost paid on every request; the bundle has none of it.
 */
import { build } from "esbuild"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

await build({
  entryPoints: [join(root, "src/bin.ts")],
  outfile: join(root, "dist/switchyard.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // CommonJS dependencies (undici, ...) call `require` for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" }
})
