/**
 * Preloaded into a proxy by the `path` part (`node --import stamps.mjs`, see criticalPath.ts):
 * stamps, on the proxy's own clock, every request its HTTP server hands to a handler and every
 * write and read on its sockets, so that one unloaded request can be split at the sockets.
 * `SIGUSR2` writes what was stamped to `$BENCH_STAMPS_FILE` (whole: written beside it, then
 * renamed) and starts over.
 *
 * Sockets the server accepted are the client's; the others are the proxy's own, to its
 * upstream. Writes are seen in `net.Socket`'s `_writeGeneric` (internal, but where every write
 * and writev of Node 20 passes) and upstream reads in `push`; a client's reads go to the HTTP
 * parser without either, so the server's `request` event stands for them.
 */
import { renameSync, writeFileSync } from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"

export type Stamp = "request" | "client-write" | "upstream-write" | "upstream-read"

const file = process.env.BENCH_STAMPS_FILE
if (file === undefined) throw new Error("stamps.ts: BENCH_STAMPS_FILE is not set")

let stamps: Array<readonly [number, Stamp]> = []
const now = (): number => Number(process.hrtime.bigint()) / 1000
const clientSide = (socket: Net.Socket): boolean => (socket as { server?: unknown }).server != null

interface SocketInternals {
  _writeGeneric: (this: Net.Socket, writev: boolean, data: unknown, encoding: string, cb: unknown) => unknown
  push: (this: Net.Socket, chunk: unknown, encoding?: BufferEncoding) => boolean
}
const socket = Net.Socket.prototype as unknown as SocketInternals
if (typeof socket._writeGeneric !== "function") throw new Error(`stamps.ts: net.Socket has no _writeGeneric in Node ${process.version}`)

const writeGeneric = socket._writeGeneric
socket._writeGeneric = function(writev, data, encoding, cb) {
  stamps.push([now(), clientSide(this) ? "client-write" : "upstream-write"])
  return writeGeneric.call(this, writev, data, encoding, cb)
}
const push = socket.push
socket.push = function(chunk, encoding) {
  if (chunk !== null && !clientSide(this)) stamps.push([now(), "upstream-read"])
  return push.call(this, chunk, encoding)
}
const server = Http.Server.prototype as unknown as { emit: (this: Http.Server, event: string | symbol, ...args: Array<unknown>) => boolean }
const emit = server.emit
server.emit = function(event, ...args) {
  if (event === "request") stamps.push([now(), "request"])
  return emit.call(this, event, ...args)
}

process.on("SIGUSR2", () => {
  writeFileSync(`${file}.tmp`, JSON.stringify(stamps))
  renameSync(`${file}.tmp`, file)
  stamps = []
})
