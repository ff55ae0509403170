/**
 * One client process of the fault suite: `FAULTS_WORKERS` workers dispatch the workload through
 * the public API (`RecountClient` over HTTP), spread over every runner, and record the history.
 * An attempt whose outcome is unknown is retried with the same command id, on the next runner.
 *
 * Environment: `RECOUNT_URLS` (comma-separated), `RECOUNT_KEY`, `FAULTS_CLIENT` (its name and id
 * prefix), `FAULTS_SEED`, `FAULTS_HISTORY` (the file), `FAULTS_RUN_MILLIS` (how long it invokes
 * new operations), `FAULTS_DRAIN_MILLIS` (how long after that it still retries unknown ones),
 * `FAULTS_WORKERS` (default 4), `FAULTS_GIVE_UP_MILLIS` (default 30 s: during the run, an operation
 * unknown for this long stays unknown and its worker moves on). Prints `{"kind":"done",...}` and exits.
 *
 * @since 0.1.0
 */
import type * as Aggregate from "@recount/core/Aggregate"
import type { DispatchResult } from "@recount/rpc/RecountApi"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as History from "./History.js"
import * as Workload from "./Workload.js"

const env = (name: string, fallback?: string) => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const urls = env("RECOUNT_URLS").split(",")
const name = env("FAULTS_CLIENT")
const historyPath = env("FAULTS_HISTORY")
const startedAt = Date.now()
const invokeUntil = startedAt + Number(env("FAULTS_RUN_MILLIS"))
const retryUntil = invokeUntil + Number(env("FAULTS_DRAIN_MILLIS", "60000"))
const workers = Number(env("FAULTS_WORKERS", "4"))
// While the run goes, an operation still unknown after this long is left unknown and the worker
// moves on, so that one aggregate that never answers does not stop the workload.
const giveUpMillis = Number(env("FAULTS_GIVE_UP_MILLIS", "30000"))

/** Refusals that prove the attempt applied nothing; everything else may or may not have happened. */
const definite = new Set(["InvalidCommand", "Forbidden"])

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

type Attempt =
  | { readonly _tag: "ok"; readonly result: DispatchResult }
  | { readonly _tag: "fail" | "unknown"; readonly error: string }

const program = Effect.gen(function*() {
  const clients = yield* Effect.forEach(urls, (url) =>
    Effect.map(Layer.build(RecountClient.layer({ url, apiKey: env("RECOUNT_KEY"), transport: "http" })), Context.get(RecountClient.RecountClient)))
  const random = Random.make(Number(env("FAULTS_SEED")))
  const workload = Workload.make(random, `${name}-`)
  let sequence = 0
  const counts = { ok: 0, fail: 0, unknown: 0 }

  const attempt = (op: Workload.Op, commandId: string, target: number): Effect.Effect<Attempt> =>
    (clients[target % clients.length]!.dispatch(op.aggregate as Aggregate.Any, op.id, op.command, { commandId, timeout: "5 seconds" }) as Effect.Effect<DispatchResult, unknown>).pipe(
      Effect.timeoutFail({ duration: "8 seconds", onTimeout: () => ({ _tag: "ClientTimeout" }) }),
      Effect.map((result): Attempt => ({ _tag: "ok", result })),
      Effect.catchAll((error): Effect.Effect<Attempt> => {
        const tag = tagOf(error)
        const domain = Schema.is((op.aggregate as Aggregate.Any).errors)(error)
        return Effect.succeed({ _tag: domain || definite.has(tag) ? "fail" : "unknown", error: tag })
      }),
      Effect.catchAllCause((cause) => Effect.succeed<Attempt>({ _tag: "unknown", error: `defect: ${Cause.pretty(cause).split("\n")[0]}` }))
    )

  const perform = (op: Workload.Op) =>
    Effect.gen(function*() {
      const commandId = `${name}-${sequence++}`
      const invokedAt = Date.now()
      History.append(historyPath, {
        _tag: "invoke",
        at: invokedAt,
        client: name,
        commandId,
        aggregate: op.aggregate.name,
        aggregateId: op.id,
        command: Schema.encodeUnknownSync((op.aggregate as Aggregate.Any).commands)(op.command)
      })
      let target = yield* random.nextIntBetween(0, clients.length)
      for (let n = 1;; n++) {
        const outcome = yield* attempt(op, commandId, target)
        const at = Date.now()
        if (outcome._tag === "ok") {
          const r = outcome.result
          History.append(historyPath, {
            _tag: "ok",
            at,
            commandId,
            attempt: n,
            streamVersion: r.streamVersion,
            globalPosition: String(r.globalPosition),
            alreadyApplied: r.alreadyApplied,
            events: r.events.map((e) => ({ eventId: e.eventId, type: e.type, streamVersion: e.streamVersion }))
          })
          workload.acknowledged(op)
          counts.ok++
          return
        }
        History.append(historyPath, { _tag: outcome._tag, at, commandId, attempt: n, error: outcome.error })
        if (outcome._tag === "fail") {
          counts.fail++
          return
        }
        if (at > retryUntil || (at < invokeUntil && at - invokedAt > giveUpMillis)) {
          counts.unknown++
          return
        }
        // The next runner, after a short pause: the one that failed may be down.
        target++
        yield* Effect.sleep(Math.min(1000, 100 * n))
      }
    })

  yield* Effect.forEach(Array.from({ length: workers }), () =>
    Effect.gen(function*() {
      while (Date.now() < invokeUntil) yield* perform(yield* workload.next)
    }), { concurrency: "unbounded", discard: true })
  console.log(JSON.stringify({ kind: "done", client: name, ...counts }))
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(`client ${name} failed`, error)
    process.exit(1)
  }
)
