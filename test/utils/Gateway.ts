/**
 * Starts the real bundled server (`switchyard serve`) as a child process, the way an operator
 * does, and finds the port it listens on from its log.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const repoRoot = resolve(import.meta.dirname, "../..")
const bin = join(repoRoot, "packages/server/src/bin.ts")

export interface RunningGateway {
  readonly url: string
  readonly port: number
  readonly process: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export const writeConfig = (yaml: string): string => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-"))
  const path = join(dir, "gateway.yaml")
  writeFileSync(path, yaml)
  return path
}

/** Runs the CLI to completion (for commands expected to exit). */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) => {
    const child = spawn(process.execPath, ["--import", "tsx", bin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("exit", (code) => resolvePromise({ code, stdout, stderr }))
  })

export const startGateway = (options: { config?: string; env?: Record<string, string> } = {}) =>
  new Promise<RunningGateway>((resolvePromise, reject) => {
    const args = ["--import", "tsx", bin, "serve", ...(options.config ? ["--config", writeConfig(options.config)] : [])]
    const env: Record<string, string | undefined> = { ...process.env, PORT: "0", ...options.env }
    delete env.OPENAI_API_KEY
    if (options.env?.OPENAI_API_KEY) env.OPENAI_API_KEY = options.env.OPENAI_API_KEY
    const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const timer = setTimeout(() => reject(new Error(`gateway did not start in time:\n${output}`)), 20_000)
    const onData = (data: Buffer) => {
      output += data.toString()
      const match = /Listening on http:\/\/[^\s"]+:(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        const port = Number(match[1])
        resolvePromise({
          url: `http://127.0.0.1:${port}`,
          port,
          process: child,
          output: () => output,
          exited,
          stop: (signal = "SIGTERM") => {
            if (child.exitCode === null) child.kill(signal)
            return exited
          }
        })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited with ${code} before listening:\n${output}`))
    })
  })
