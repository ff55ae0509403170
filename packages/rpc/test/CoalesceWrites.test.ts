import { describe, expect, it } from "@effect/vitest"
import * as Net from "node:net"
import { coalesceWrites } from "../src/internal/coalesceWrites.js"

/** A loopback connection; resolves with both ends and what the server end has received so far. */
const connect = () =>
  new Promise<{ client: Net.Socket; received: () => string; closed: Promise<void>; server: Net.Server }>((resolve) => {
    let data = ""
    let onClose: () => void = () => {}
    const closed = new Promise<void>((done) => (onClose = done))
    const server = Net.createServer((peer) => {
      peer.setEncoding("utf8").on("data", (chunk: string) => (data += chunk)).on("end", onClose)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      const client = Net.connect(port, "127.0.0.1", () => resolve({ client, received: () => data, closed, server }))
    })
  })

describe("coalesceWrites", () => {
  it("sends the writes of one turn in one system call, in order", async () => {
    const { client, received, closed, server } = await connect()
    coalesceWrites(client)
    const calls: Array<number> = []
    const writev = (client as unknown as { _writev: (chunks: Array<unknown>, cb: () => void) => void })._writev
    ;(client as unknown as { _writev: typeof writev })._writev = function(this: Net.Socket, chunks, cb) {
      calls.push(chunks.length)
      return writev.call(this, chunks, cb)
    }
    for (let i = 0; i < 32; i++) client.write(`m${i};`)
    await new Promise((done) => setImmediate(done))
    await new Promise((done) => setTimeout(done, 50))
    expect(calls).toEqual([32])
    client.write("last;")
    client.end()
    await closed
    server.close()
    expect(received()).toBe(Array.from({ length: 32 }, (_, i) => `m${i};`).join("") + "last;")
  })

  it("a socket ended in the same turn as its writes still sends them", async () => {
    const { client, received, closed, server } = await connect()
    coalesceWrites(client)
    client.write("a;")
    client.write("b;")
    client.end()
    await closed
    server.close()
    expect(received()).toBe("a;b;")
  })
})
