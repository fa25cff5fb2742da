/**
 * The benchmark's child processes: spawned (pinned to a CPU with `taskset` when it is there),
 * recognised as ready from a line of their output, measured through `/proc`, and always
 * stopped: `stopAll` on the normal path, a SIGKILL to every survivor on `process.exit`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  readonly pid: number
  /** The last 64 KiB of its stdout and stderr, interleaved. */
  readonly output: () => string
  readonly exited: Promise<void>
  readonly alive: () => boolean
}

const children = new Set<Child>()

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** Why pinning is off, or `undefined` when proxies go on CPU 0 and the rest on CPU 1. */
export const pinningDisabled: string | undefined = !hasTaskset
  ? "taskset (util-linux) not found: nothing is pinned, proxy and load generator share all CPUs"
  : availableParallelism() < 2
  ? `only ${availableParallelism()} CPU available: nothing is pinned`
  : undefined

/** Pins this process (every thread) to `cpu`; children spawned later inherit it. */
export const pinSelf = (cpu: number): void => {
  if (pinningDisabled !== undefined) return
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], { stdio: "ignore" })
}

export interface SpawnOptions {
  readonly name: string
  readonly cpu: number
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** A line of output that says it is ready; its first capture group is returned. */
  readonly ready: RegExp
  readonly timeoutMs: number
}

/** Spawns `node ARGS` (under `taskset -c CPU` when pinning) and waits for its ready line. */
export const spawnNode = (options: SpawnOptions): Promise<{ child: Child; match: string }> => {
  const [command, args] = pinningDisabled === undefined
    ? ["taskset", ["-c", String(options.cpu), process.execPath, ...options.args]] as const
    : [process.execPath, options.args] as const
  const proc = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  const append = (data: Buffer): void => {
    output += data.toString()
    if (output.length > 65_536) output = output.slice(-65_536)
  }
  proc.stdout!.on("data", append)
  proc.stderr!.on("data", append)
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()))
  const child: Child = {
    name: options.name,
    process: proc,
    pid: proc.pid ?? -1,
    output: () => output,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null
  }
  children.add(child)
  void exited.then(() => children.delete(child))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} did not get ready within ${options.timeoutMs} ms. Its output:\n${output}`)),
      options.timeoutMs
    )
    const onData = (): void => {
      const m = options.ready.exec(output)
      if (m === null) return
      clearTimeout(timer)
      proc.stdout!.off("data", onData)
      proc.stderr!.off("data", onData)
      resolve({ child, match: m[1] ?? m[0] })
    }
    proc.stdout!.on("data", onData)
    proc.stderr!.on("data", onData)
    proc.once("error", (error) => {
      clearTimeout(timer)
      reject(new Error(`${options.name} could not be started: ${error.message}`))
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${options.name} exited (code ${proc.exitCode}, signal ${proc.signalCode}) before it was ready. Its output:\n${output}`))
    })
  })
}

const within = (p: Promise<void>, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void p.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/** SIGTERM, then SIGKILL after 5 s; resolves once it is gone (or after 7 s in all). */
export const stop = async (child: Child): Promise<void> => {
  if (!child.alive()) return
  child.process.kill("SIGTERM")
  if (await within(child.exited, 5_000)) return
  child.process.kill("SIGKILL")
  await within(child.exited, 2_000)
}

export const stopAll = async (): Promise<void> => {
  await Promise.all([...children].map(stop))
}

// The last resort on any exit path (an uncaught error, process.exit from a signal handler).
process.on("exit", () => {
  for (const child of children) {
    if (child.alive()) child.process.kill("SIGKILL")
  }
})

const statusMiB = (pid: number, field: "VmHWM" | "VmRSS"): number | undefined => {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** Peak resident set size (VmHWM) in MiB, or `undefined` when /proc does not tell. */
export const peakRssMiB = (pid: number): number | undefined => statusMiB(pid, "VmHWM")

/** Resident set size now (VmRSS) in MiB, or `undefined` when /proc does not tell. */
export const rssMiB = (pid: number): number | undefined => statusMiB(pid, "VmRSS")

/** The soft limit on open files of a process (`ulimit -n`), or `undefined` when /proc does not tell. */
export const openFilesLimit = (pid: number | "self"): number | undefined => {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))
    return m === null ? undefined : m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1])
  } catch {
    return undefined
  }
}

const clockTicks = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** CPU time (user + system, all threads) the process has used so far, in seconds. */
export const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which is in parentheses and may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch {
    return undefined
  }
}
