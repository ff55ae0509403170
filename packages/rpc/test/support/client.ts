/**
 * A client in its own process, as a user's service would be: dispatches with the typed client,
 * calls the HTTP face with fetch, then follows the log and prints every event it receives, one
 * JSON line each, across server restarts, until it has seen RECOUNT_EXPECT events.
 */
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { RecountClient } from "../../src/RecountClient.js"
import * as Client from "../../src/RecountClient.js"

const url = process.env.RECOUNT_URL!
const apiKey = process.env.RECOUNT_KEY!
const expect = Number(process.env.RECOUNT_EXPECT)
const say = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`)

const program = Effect.gen(function*() {
  const client = yield* RecountClient
  yield* client.dispatch(BankAccount, "proc-1", new Open({ owner: "Proc" }), { commandId: "proc-open" })
  yield* client.dispatch(BankAccount, "proc-1", new Deposit({ amount: 5 }), { commandId: "proc-deposit" })
  const state = yield* client.getState(BankAccount, "proc-1")
  say({ kind: "state", state })

  const posted = yield* Effect.promise(() =>
    fetch(`${url}/v1/acme/aggregates/account/proc-1/commands`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": "proc-http" },
      body: JSON.stringify({ _tag: "Deposit", amount: 7 })
    }).then(async (r) => ({ status: r.status, body: await r.json() })))
  const fetched = yield* Effect.promise(() =>
    fetch(`${url}/v1/acme/aggregates/account/proc-1/state`, { headers: { authorization: `Bearer ${apiKey}` } })
      .then(async (r) => ({ status: r.status, body: await r.json() })))
  say({ kind: "http", posted, fetched })

  let seen = 0
  yield* client.subscribe({ categories: ["account"] }).pipe(
    Stream.tap((e) => Effect.sync(() => say({ kind: "event", eventId: e.eventId, stream: e.streamName, version: e.streamVersion }))),
    Stream.takeWhile(() => ++seen < expect),
    Stream.runDrain
  )
  say({ kind: "done" })
})

Effect.runPromise(program.pipe(Effect.provide(Client.layer({ url, apiKey })))).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`client failed: ${String(e)}\n`)
    process.exit(1)
  }
)
