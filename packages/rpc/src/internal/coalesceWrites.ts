import type * as Net from "node:net"

/**
 * Gathers everything written to a WebSocket's TCP socket within one turn of the event loop into
 * one system call. The WebSocket library writes each RPC message on its own (a `writev` per reply
 * or request); with 32 callers on one connection that was the largest single cost of the
 * WebSocket face on both ends. The socket is corked at the first write of a turn and uncorked in
 * the same turn's check phase, so a message waits for the JavaScript of that turn, never for a
 * timer. `end()` uncorks by itself, so a closing socket still flushes.
 */
export const coalesceWrites = (socket: Net.Socket): void => {
  let corked = false
  const flush = () => {
    corked = false
    if (socket.writableCorked > 0) socket.uncork()
  }
  const write = socket.write
  socket.write = function(this: Net.Socket, ...args: Array<unknown>) {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      setImmediate(flush)
    }
    return (write as (...args: Array<unknown>) => boolean).apply(this, args)
  } as typeof socket.write
}
