/**
 * The RPC library's own cost per call, without Recount's command path: the API's `Dispatch` and
 * `DispatchBatch` RPCs (same payload, result and error schemas, same `Authentication` middleware;
 * the typed client batches the commands of callers who dispatch while others wait) served over
 * WebSocket by a handler that answers at once, called by the typed client (`RecountClient`) with
 * 32 concurrent callers from another process. What each process spends per call here is the floor
 * under the `rpc` suite's face costs: the library's fibers, schemas and serialization, `ws` and
 * the sockets. No database.
 *
 * ```sh
 * npx tsx packages/bench/src/rpc/Floor.ts [--seconds 5] [--msgpack] [--spread 40]
 * ```
 *
 * `--spread ms` makes the handler answer after a random 0 to `ms` milliseconds, as commands
 * finish in the node at scattered times: replies then leave, and requests arrive, a few per
 * event-loop turn instead of many, and the per-turn costs (a read, a write, waking the loop)
 * fall on fewer calls.
 *
 * The server's WebSocket writes are not coalesced here (Recount's server gathers a turn's
 * replies into one write); the client's are, as `RecountClient` does it.
 *
 * @since 0.1.0
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import * as RecountClient from "@recount/rpc/RecountClient"
import { Authentication, Dispatch, DispatchBatch, type DispatchPayload } from "@recount/rpc/RecountApi"
import { BankAccount, Deposit } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type ChildProcess, fork } from "node:child_process"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"

const callers = 32
const warmupSeconds = 2

class Group extends RpcGroup.make(Dispatch, DispatchBatch).middleware(Authentication) {}

const principal = { keyId: "floor", tenant: "floor", role: "write" as const }

const server = (msgpack: boolean, spreadMillis: number) => {
  const dispatch = (p: DispatchPayload) =>
    Effect.as(spreadMillis > 0 ? Effect.sleep(Math.random() * spreadMillis) : Effect.void, {
      aggregate: p.aggregate,
      aggregateId: p.id,
      commandId: p.commandId ?? "none",
      streamVersion: 2,
      globalPosition: 1n,
      events: [{ eventId: "e", type: "Deposited", streamVersion: 2, data: { amount: 1 } }],
      alreadyApplied: false
    })
  const handlers = Group.toLayer({
    Dispatch: dispatch,
    // As the node answers a batch: every command at once, each outcome on its own.
    // (Outcomes are plain objects: an `Either`, whose `_tag` is on its prototype, does not encode.)
    DispatchBatch: (p) => Effect.forEach(p.commands, (c) => Effect.map(dispatch(c), (right) => ({ _tag: "Right" as const, right })), { concurrency: "unbounded" })
  })
  const auth = Layer.succeed(Authentication, Authentication.of(() => Effect.succeed(principal)))
  const rpc = RpcServer.layerHttpRouter({ group: Group, path: msgpack ? "/rpc/msgpack" : "/rpc", protocol: "websocket", disableTracing: true }).pipe(
    Layer.provide([handlers, auth, msgpack ? RpcSerialization.layerMsgPack : RpcSerialization.layerJson])
  )
  return HttpLayerRouter.serve(rpc, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(NodeHttpServer.layer(() => {
      const s = createServer()
      s.on("listening", () => process.send!({ port: (s.address() as AddressInfo).port }))
      return s
    }, { host: "127.0.0.1", port: 0 }))
  )
}

/** The server process: serves until its parent asks for its CPU time, answers, and exits. */
const serve = (msgpack: boolean, spreadMillis: number) => {
  let cpu = process.cpuUsage()
  process.on("message", (message: { readonly _tag: "Mark" | "Cpu" }) => {
    if (message._tag === "Mark") cpu = process.cpuUsage()
    else {
      const used = process.cpuUsage(cpu)
      process.send!({ micros: used.user + used.system }, () => process.exit(0))
    }
  })
  Effect.runFork(Layer.launch(server(msgpack, spreadMillis)))
}

const ask = <A>(child: ChildProcess, message: unknown): Promise<A> =>
  new Promise((resolve) => {
    child.once("message", (reply) => resolve(reply as A))
    child.send(message as object)
  })

/** Callers in a loop for `millis`; the calls that finished. */
const calls = (runtime: ManagedRuntime.ManagedRuntime<RecountClient.RecountClient, never>, millis: number) =>
  runtime.runPromise(Effect.gen(function*() {
    const client = yield* RecountClient.RecountClient
    const deposit = new Deposit({ amount: 1 })
    const deadline = performance.now() + millis
    let done = 0
    const caller = (c: number) =>
      Effect.gen(function*() {
        while (performance.now() < deadline) {
          yield* client.dispatch(BankAccount, `a${c}`, deposit, { commandId: randomUUID() })
          done++
        }
      })
    yield* Effect.forEach(Array.from({ length: callers }, (_, c) => c), caller, { concurrency: "unbounded", discard: true })
    return done
  }))

const main = async () => {
  const args = process.argv.slice(2)
  const msgpack = args.includes("--msgpack")
  const option = (name: string, otherwise: number) => {
    const at = args.indexOf(name)
    return at === -1 ? otherwise : Number(args[at + 1])
  }
  const spreadMillis = option("--spread", 0)
  if (args.includes("--serve")) return serve(msgpack, spreadMillis)
  const seconds = option("--seconds", 5)
  const child = fork(fileURLToPath(import.meta.url), ["--serve", "--spread", String(spreadMillis), ...(msgpack ? ["--msgpack"] : [])], {
    execArgv: ["--import", "tsx"]
  })
  const { port } = await new Promise<{ readonly port: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number })))
  const runtime = ManagedRuntime.make(RecountClient.layer({
    url: `http://127.0.0.1:${port}`,
    apiKey: "floor",
    serialization: msgpack ? "msgpack" : "json"
  }))
  await calls(runtime, warmupSeconds * 1000)
  child.send({ _tag: "Mark" })
  const cpu = process.cpuUsage()
  const start = performance.now()
  const done = await calls(runtime, seconds * 1000)
  const elapsed = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  const { micros } = await ask<{ readonly micros: number }>(child, { _tag: "Cpu" })
  await runtime.dispose()
  console.log(
    `${msgpack ? "msgpack" : "json"}, replies spread over ${spreadMillis} ms: ${done} calls in ${elapsed.toFixed(1)} s (${Math.round(done / elapsed)}/s), ${callers} callers; ` +
      `CPU µs/call: server ${(micros / done).toFixed(1)}, client ${((used.user + used.system) / done).toFixed(1)}`
  )
}

void main()
