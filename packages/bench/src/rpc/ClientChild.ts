/**
 * The client process of the `rpc` suite, forked by `Client.ts`: it dispatches deposits to the
 * node through one face at a time, with `clients` concurrent callers, and reports what finished
 * and how long each took. A process of its own so that the client's work (encoding, sockets, the
 * typed client's fibers) is not charged to the node, as it would not be in production.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as RecountClient from "@recount/rpc/RecountClient"
import { BankAccount, Deposit } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Callers from "./Callers.js"
import * as Profile from "./Profile.js"
import type { Done, Face, Init, Reply, Request, Run } from "./Protocol.js"

const deposit = new Deposit({ amount: 1 })
const depositJson = JSON.stringify({ _tag: "Deposit", amount: 1 })

const send = (reply: Reply): void => {
  process.send!(reply)
}

type ClientRuntime = ManagedRuntime.ManagedRuntime<RecountClient.RecountClient, never>

/** Client `c` of `clients` owns the ids at positions c, c + clients, …: no two callers share one. */
const owned = (ids: ReadonlyArray<string>, client: number, clients: number): Array<string> =>
  ids.filter((_, i) => i % clients === client)

interface Tally {
  readonly callers: ReadonlyArray<Callers.Caller>
  readonly latencies: Array<number>
}

/** One round through the typed client: every caller loops until the deadline. */
const viaClient = (runtime: ClientRuntime, init: Init, deadline: number, tally: Tally) =>
  runtime.runPromise(Effect.gen(function*() {
    const client = yield* RecountClient.RecountClient
    const caller = (c: number) =>
      Effect.gen(function*() {
        const mine = owned(init.ids, c, init.clients)
        const me = tally.callers[c]!
        for (let i = 0; ; i++) {
          const start = performance.now()
          yield* client.dispatch(BankAccount, mine[i % mine.length]!, deposit, { commandId: randomUUID() })
          const end = performance.now()
          if (end > deadline) return
          me.done++
          me.lastEnd = end
          tally.latencies.push(end - start)
        }
      })
    yield* Effect.forEach(Array.from({ length: init.clients }, (_, c) => c), caller, { concurrency: "unbounded", discard: true })
  }))

/** One round through the HTTP+JSON face as any non-Effect program would call it: `fetch`. */
const viaFetch = async (init: Init, deadline: number, tally: Tally): Promise<void> => {
  const base = `${init.url}/v1/${encodeURIComponent(init.tenant)}/aggregates/${BankAccount.name}/`
  const caller = async (c: number) => {
    const mine = owned(init.ids, c, init.clients)
    const me = tally.callers[c]!
    for (let i = 0; ; i++) {
      const start = performance.now()
      const response = await fetch(`${base}${encodeURIComponent(mine[i % mine.length]!)}/commands`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${init.apiKey}`,
          "content-type": "application/json",
          "idempotency-key": randomUUID()
        },
        body: depositJson
      })
      const body = await response.text()
      const end = performance.now()
      if (!response.ok) throw new Error(`POST ${BankAccount.name} commands: HTTP ${response.status} ${body}`)
      const result = JSON.parse(body) as { readonly streamVersion?: unknown }
      if (typeof result.streamVersion !== "number") throw new Error(`POST ${BankAccount.name} commands: unexpected body ${body}`)
      if (end > deadline) return
      me.done++
      me.lastEnd = end
      tally.latencies.push(end - start)
    }
  }
  await Promise.all(Array.from({ length: init.clients }, (_, c) => caller(c)))
}

const main = () => {
  let init: Init | undefined
  const runtimes = new Map<Face, ClientRuntime>()
  const runtimeFor = (face: Exclude<Face, "http-json">): ClientRuntime => {
    let runtime = runtimes.get(face)
    if (runtime === undefined) {
      runtime = ManagedRuntime.make(RecountClient.layer({
        url: init!.url,
        apiKey: init!.apiKey,
        transport: face === "http-rpc" ? "http" : "websocket",
        serialization: face === "websocket-msgpack" ? "msgpack" : "json"
      }))
      runtimes.set(face, runtime)
    }
    return runtime
  }

  const run = async (request: Omit<Run, "_tag">): Promise<Done> => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    const tally: Tally = { callers: Array.from({ length: init!.clients }, () => Callers.caller(start)), latencies: [] }
    const deadline = start + request.millis
    if (request.face === "http-json") await viaFetch(init!, deadline, tally)
    else await viaClient(runtimeFor(request.face), init!, deadline, tally)
    const used = process.cpuUsage(cpu)
    const { millis, units } = Callers.tally(start, request.millis, tally.callers)
    return { _tag: "Done", round: request.round, units, millis, latencies: tally.latencies, cpuMicros: used.user + used.system }
  }

  const stop = async () => {
    await Promise.all([...runtimes.values()].map((r) => r.dispose()))
    process.exit(0)
  }

  const failed = (e: unknown) => send({ _tag: "Failed", message: e instanceof Error ? e.stack ?? e.message : String(e) })

  // One request at a time: the parent waits for each reply before it sends the next.
  process.on("message", (message: Request) => {
    switch (message._tag) {
      case "Init":
        init = message
        send({ _tag: "Ready" })
        break
      case "Run":
        run(message).then(send, failed)
        break
      case "Profile":
        Profile.during(message.path, () => run(message)).then(send, failed)
        break
      case "Stop":
        void stop()
        break
    }
  })
  // The parent died without a Stop: nothing else would end this process.
  process.on("disconnect", () => process.exit(0))
}

main()
