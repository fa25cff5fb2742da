/**
 * What the HTTP layer does its own way when `@effect/platform-node`'s server serves it: request
 * bodies read from the `IncomingMessage`, streamed bodies handed over as a `Readable`.
 *
 * @internal
 */
import type * as Streaming from "@switchyard/core/Streaming"
import * as Cause from "effect/Cause"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { Readable } from "node:stream"

/** The parts of a Node `IncomingMessage` the body reader uses. @internal */
export interface NodeSource {
  readonly on: (event: string, listener: (arg: never) => void) => unknown
  readonly off: (event: string, listener: (arg: never) => void) => unknown
  readonly read: () => Buffer | null
  readonly readableEnded: boolean
  readonly readableFlowing: boolean | null
  readonly readableLength: number
}

/**
 * Whether a request's source is a Node `IncomingMessage`: served by `@effect/platform-node`, whose
 * server also pipes a `Readable` raw body into the response.
 *
 * @internal
 */
export const isNodeSource = (source: unknown): source is NodeSource =>
  typeof source === "object" && source !== null && "readableEnded" in source &&
  typeof (source as NodeSource).on === "function" && typeof (source as NodeSource).off === "function"

/**
 * A `Readable` that reads a pull: one fiber, started when Node asks for bytes, pulls and pushes
 * for as long as Node takes them; once Node has enough (the client reads slowly) it stops, and
 * the next `_read` starts another. Destroying it (the client is gone, the request is
 * interrupted) interrupts the fiber that is pulling.
 */
class PullReadable extends Readable {
  private pulling = false
  private fiber: Fiber.RuntimeFiber<void> | undefined
  private readonly loop: Effect.Effect<void>

  constructor(pull: Streaming.Pull<Uint8Array, never>, private readonly runtime: Runtime.Runtime<never>) {
    super()
    const loop: Effect.Effect<void> = Effect.matchCauseEffect(pull, {
      onSuccess: (chunk: Chunk.Chunk<Uint8Array>) => {
        let more = true
        for (const bytes of chunk) more = this.push(bytes)
        if (more) return loop
        this.pulling = false
        return Effect.void
      },
      onFailure: (cause) => {
        this.pulling = false
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          this.push(null)
        } else {
          // Interrupted, or a defect: the response is cut short.
          const error = Cause.squash(cause)
          this.destroy(error instanceof Error ? error : new Error(String(error)))
        }
        return Effect.void
      }
    })
    this.loop = loop
  }

  override _read(): void {
    if (this.pulling) return
    this.pulling = true
    this.fiber = Runtime.runFork(this.runtime)(this.loop)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fiber = this.fiber
    this.fiber = undefined
    if (fiber !== undefined && this.pulling) fiber.unsafeInterruptAsFork(FiberId.none)
    callback(error)
  }
}

/** A `Readable` of `pull`'s bytes, whose fibers run with `runtime`. @internal */
export const readable = (pull: Streaming.Pull<Uint8Array, never>, runtime: Runtime.Runtime<never>): Readable =>
  new PullReadable(pull, runtime)
