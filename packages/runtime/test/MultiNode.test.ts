import { EntityId, Sharding } from "@effect/cluster"
import { expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as AggregateHistory from "../src/AggregateHistory.js"
import { entityId } from "../src/AggregateProtocol.js"
import { CommandBus } from "../src/CommandBus.js"
import type { CommandResult } from "../src/AggregateProtocol.js"
import * as RecountNode from "../src/RecountNode.js"
import * as RunnerProcess from "./support/RunnerProcess.js"

/** Dispatches until acknowledged, always with the same command id, as a careful client does. */
const dispatchUntilAcked = (bus: CommandBus["Type"], id: string, command: Open | Deposit, commandId: string) =>
  bus.dispatch(BankAccount, id, command, { commandId, timeout: "3 seconds" }).pipe(
    interruptedReplyIsUnknown,
    Effect.retry({ while: (e) => e._tag === "CommandTimeout" || e._tag === "AggregateUnavailable" || e._tag === "InterruptedReply", times: 40 })
  )

/**
 * During a failover the cluster sometimes answers a command with an interruption (@effect/rpc's
 * -499, "the client asked the server to interrupt", while this caller still waits; not found
 * where it comes from yet, see the session note). The caller itself was not interrupted, so the
 * outcome is unknown and a careful client retries with the same command id, as for a timeout.
 */
const interruptedReplyIsUnknown = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InterruptedReply, R> =>
  Effect.catchAllCause(effect, (cause): Effect.Effect<never, E | InterruptedReply> =>
    Cause.isInterruptedOnly(cause) ? Effect.fail({ _tag: "InterruptedReply" }) : Effect.failCause(cause))

interface InterruptedReply {
  readonly _tag: "InterruptedReply"
}

/** Which runner holds the shard of an aggregate: the application name of the lock holder. */
const ownerOf = (id: string) =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const sql = yield* PgClient.PgClient
    const shard = sharding.getShardId(EntityId.make(entityId("default", id)), "default")
    const rows = yield* sql.unsafe<{ application_name: string }>(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1`,
      [1_000_000 + shard.id]
    )
    return rows[0]?.application_name
  })

it.live("two runner processes: a SIGKILLed runner's aggregates answer on the other, nothing lost or doubled", () =>
  Effect.gen(function*() {
    const url = yield* TestDatabase.TestDatabaseUrl
    const script = yield* RunnerProcess.bundle
    const runnerA = yield* RunnerProcess.start(script, { name: "runner-a", databaseUrl: url })
    const runnerB = yield* RunnerProcess.start(script, { name: "runner-b", databaseUrl: url })

    yield* Effect.gen(function*() {
      const bus = yield* CommandBus
      const ids = Array.from({ length: 200 }, (_, i) => `acc${i}`)
      yield* Effect.forEach(ids, (id) => dispatchUntilAcked(bus, id, new Open({ owner: id }), `${id}-open`), { concurrency: 20, discard: true })

      // Both runners own some of the 200 (the shards are split between them).
      const owners = yield* Effect.forEach(ids, ownerOf, { concurrency: 10 })
      const onB = ids.filter((_, i) => owners[i] === "runner-b")
      expect(onB.length).toBeGreaterThan(0)
      expect(owners.filter((o) => o === "runner-a").length).toBeGreaterThan(0)
      expect(onB.length + owners.filter((o) => o === "runner-a").length).toBe(200)

      // One command acknowledged by B, to be retried after B is gone.
      const witness = onB[0]!
      const beforeKill = yield* dispatchUntilAcked(bus, witness, new Deposit({ amount: 1000 }), "witness")

      // Keep dispatching three rounds of deposits with retries; kill B during the second round.
      const acked = new Map<string, CommandResult>()
      const load = yield* Effect.forEach([1, 2, 3], (round) =>
        Effect.forEach(ids, (id) =>
          Effect.map(dispatchUntilAcked(bus, id, new Deposit({ amount: round }), `${id}-r${round}`), (r) => void acked.set(`${id}-r${round}`, r)), {
          concurrency: 20,
          discard: true
        }), { discard: true }).pipe(Effect.fork)
      yield* Effect.repeat(Effect.sleep("20 millis"), { until: () => acked.size >= 250 })
      yield* runnerB.kill("SIGKILL")
      const killedAt = Date.now()
      // How long B's aggregates stay unanswered (logged for the record; timing targets belong to benchmarks).
      const failover = yield* bus.getState(BankAccount, witness, { timeout: "500 millis" }).pipe(
        interruptedReplyIsUnknown,
        Effect.retry({ while: () => Date.now() - killedAt < 60_000 }),
        Effect.map(() => Date.now() - killedAt),
        Effect.fork
      )
      yield* load.await.pipe(Effect.flatten, Effect.timeout("120 seconds"))
      expect(acked.size).toBe(600)

      // A retry of a command B acknowledged, sent after B died, gets B's result from A.
      const retried = yield* dispatchUntilAcked(bus, witness, new Deposit({ amount: 1000 }), "witness")
      expect(retried).toEqual({ ...beforeKill, alreadyApplied: true })

      // Every aggregate answers again, holds exactly its commands once, gap-free, and its live
      // state equals a fold of its stream.
      const sql = yield* PgClient.PgClient
      const versions = yield* sql.unsafe<{ stream_name: string; versions: Array<string> }>(
        "SELECT stream_name, array_agg(stream_version ORDER BY stream_version) AS versions FROM recount_events GROUP BY stream_name"
      )
      expect(versions.length).toBe(200)
      for (const row of versions) {
        const expected = row.stream_name === `account-${witness}` ? 5 : 4
        expect(row.versions.map(Number)).toEqual(Array.from({ length: expected }, (_, i) => i + 1))
      }
      for (const [, result] of acked) {
        const events = yield* sql.unsafe<{ n: string }>(
          "SELECT count(*) AS n FROM recount_events WHERE event_id = $1 AND stream_version = $2",
          [result.events[0]!.eventId, result.events[0]!.streamVersion]
        )
        expect(Number(events[0]!.n)).toBe(1)
      }
      yield* Effect.forEach(ids, (id) =>
        Effect.gen(function*() {
          const live = yield* bus.getState(BankAccount, id, { timeout: "10 seconds" }).pipe(
            interruptedReplyIsUnknown,
            Effect.retry({ while: (e) => e._tag === "InterruptedReply", times: 5 })
          )
          const folded = yield* AggregateHistory.stateAt(BankAccount, id, { useSnapshot: false })
          expect(live).toEqual({ version: folded.version, state: folded.state })
          expect(folded.state).toMatchObject({ balance: id === witness ? 1006 : 6 })
        }), { concurrency: 10, discard: true })
      yield* Effect.logInfo(`B's aggregates answered again ${yield* failover.await.pipe(Effect.flatten)} ms after the kill; the load finished ${Date.now() - killedAt} ms after it`)
    }).pipe(
      Effect.provide(RecountNode.layerClient({ aggregates: [BankAccount] }))
    )
    yield* runnerA.kill("SIGTERM")
  }).pipe(Effect.provide(TestDatabase.layerStores()), Effect.scoped), { timeout: 240_000 })
