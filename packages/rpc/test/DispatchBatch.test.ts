import { describe, expect, it, layer } from "@effect/vitest"
import { BankAccount, Deposit, InsufficientFunds, Open, Withdraw } from "@recount/testing/TestAggregates"
import { fresh } from "@recount/testing/TestIds"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as DispatchBatcher from "../src/internal/dispatchBatcher.js"
import { RecountClient } from "../src/RecountClient.js"
import { createKey, layerNode, Slow, Touch, withClient } from "./support/server.js"

/** Long enough for the batcher's end of turn and its calls to start (real time, not the test clock). */
const aWhile = Effect.promise(() => new Promise<void>((done) => setTimeout(done, 20)))

describe("DispatchBatcher", () => {
  /** A batcher whose calls are recorded and answered when the test says so. */
  const recording = Effect.gen(function*() {
    const calls: Array<ReadonlyArray<number>> = []
    const answer = yield* Deferred.make<void>()
    const dispatch = DispatchBatcher.make<number, string, string, never>({
      one: (n) => Effect.zipRight(Effect.sync(() => calls.push([n])), Effect.zipRight(Deferred.await(answer), n < 0 ? Effect.fail(`no ${n}`) : Effect.succeed(`ok ${n}`))),
      many: (ns) => Effect.zipRight(Effect.sync(() => calls.push(ns)), Effect.as(Deferred.await(answer), ns.map((n) => n < 0 ? Either.left(`no ${n}`) : Either.right(`ok ${n}`)))),
      max: 3,
      runtime: yield* Effect.runtime<never>()
    })
    return { calls, answer, dispatch }
  })

  it.effect("a lone caller calls alone, at once; callers who come while it waits share calls of at most `max`, each with its own outcome", () =>
    Effect.gen(function*() {
      const { answer, calls, dispatch } = yield* recording
      const first = yield* Effect.fork(dispatch(1))
      yield* Effect.yieldNow()
      expect(calls).toEqual([[1]])
      const others = yield* Effect.fork(Effect.all([2, -3, 4, 5].map((n) => Effect.either(dispatch(n))), { concurrency: "unbounded" }))
      yield* aWhile
      expect(calls).toEqual([[1], [2, -3, 4], [5]])
      yield* Deferred.succeed(answer, void 0)
      expect(yield* Fiber.join(first)).toBe("ok 1")
      expect(yield* Fiber.join(others)).toEqual([Either.right("ok 2"), Either.left("no -3"), Either.right("ok 4"), Either.right("ok 5")])
    }))

  it.effect("a queued caller that is interrupted before its batch leaves is not sent", () =>
    Effect.gen(function*() {
      const { answer, calls, dispatch } = yield* recording
      const first = yield* Effect.fork(dispatch(1))
      yield* Effect.yieldNow()
      const leaving = yield* Effect.fork(dispatch(2))
      const staying = yield* Effect.fork(dispatch(3))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(leaving)
      yield* aWhile
      expect(calls).toEqual([[1], [3]])
      yield* Deferred.succeed(answer, void 0)
      expect(yield* Fiber.join(first)).toBe("ok 1")
      expect(yield* Fiber.join(staying)).toBe("ok 3")
    }))
})

layer(layerNode(), { excludeTestServices: true, timeout: 120_000 })("DispatchBatch", (it) => {
  for (const transport of ["websocket", "http"] as const) {
    for (const serialization of ["json", "msgpack"] as const) {
      it.scoped(`each command of a batch is checked and answered on its own, in order (${transport}, ${serialization})`, () =>
        Effect.gen(function*() {
          const key = yield* createKey("acme", "write")
          const [a, b] = [fresh("a"), fresh("b")]
          yield* withClient(Effect.gen(function*() {
            const client = yield* RecountClient
            yield* client.dispatch(BankAccount, b, new Open({ owner: "Bo" }))
            const outcomes = yield* client.rpc.DispatchBatch({
              commands: [
                { aggregate: "account", id: a, command: { _tag: "Open", owner: "Ada" } },
                { aggregate: "account", id: b, command: { _tag: "Withdraw", amount: 5 } },
                { aggregate: "account", id: a, tenant: "other", command: { _tag: "Deposit", amount: 1 } },
                { aggregate: "rocket", id: a, command: {} }
              ]
            })
            expect(outcomes.map((o) => o._tag === "Right" ? "Right" : o.left._tag)).toEqual(["Right", "DomainError", "Forbidden", "InvalidCommand"])
            expect(outcomes[0]).toMatchObject({ _tag: "Right", right: { aggregate: "account", aggregateId: a, streamVersion: 1 } })
            // Decoded to their types, single and batched alike (the wire carries positions as text).
            const single = yield* client.dispatch(BankAccount, a, new Deposit({ amount: 2 }))
            for (const result of [outcomes[0]!._tag === "Right" ? outcomes[0]!.right : undefined, single]) {
              expect(typeof result?.globalPosition).toBe("bigint")
              expect(result?.events.map((e) => e.type)).toEqual([expect.any(String)])
            }
            expect(single.globalPosition > (outcomes[0] as { right: { globalPosition: bigint } }).right.globalPosition).toBe(true)
            expect(yield* client.getState(BankAccount, a)).toEqual({ version: 2, state: { status: "open", owner: "Ada", balance: 2 } })
            expect(yield* client.getState(BankAccount, b)).toEqual({ version: 1, state: { status: "open", owner: "Bo", balance: 0 } })
          }), { apiKey: key.key, transport, serialization })
        }))
    }
  }

  it.scoped("a read key's batch is refused command by command; a batch over the limit is refused whole", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "read")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const id = fresh("r")
        const outcomes = yield* client.rpc.DispatchBatch({ commands: [{ aggregate: "account", id, command: { _tag: "Open", owner: "R" } }] })
        expect(outcomes.map((o) => o._tag === "Left" ? o.left._tag : "Right")).toEqual(["Forbidden"])
        const tooMany = Array.from({ length: 257 }, () => ({ aggregate: "account", id, command: { _tag: "Open", owner: "R" } }))
        expect((yield* Effect.exit(client.rpc.DispatchBatch({ commands: tooMany })))._tag).toBe("Failure")
        expect((yield* Effect.either(client.getState(BankAccount, id)))._tag).toBe("Right")
      }), { apiKey: key.key })
    }))

  it.scoped("payloads the client sends as it built them are still checked by the node: a wrong one is refused naming its field, and runs nothing", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const id = fresh("p")
        // What a JavaScript caller, unchecked by the compiler, could send.
        const wrong = { aggregate: "account", id: 42, command: { _tag: "Open", owner: "P" } } as unknown as { aggregate: string; id: string; command: unknown }
        const calls: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          client.rpc.Dispatch(wrong),
          client.rpc.DispatchBatch({ commands: [wrong, { aggregate: "account", id, command: { _tag: "Open", owner: "P" } }] })
        ]
        for (const call of calls) {
          const exit = yield* Effect.exit(call)
          expect(exit._tag).toBe("Failure")
          expect(String(exit._tag === "Failure" ? Cause.squash(exit.cause) : "")).toMatch(/\bid\b[\s\S]*Expected string, actual 42/)
        }
        // The batch was refused whole: its well-formed command did not run either.
        expect((yield* client.getState(BankAccount, "42")).version).toBe(0)
        expect((yield* client.getState(BankAccount, id)).version).toBe(0)
      }), { apiKey: key.key })
    }))

  it.scoped("concurrent dispatches of one client each get their own result or typed domain error", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const ids = Array.from({ length: 24 }, () => fresh("c"))
        yield* Effect.forEach(ids, (id) => client.dispatch(BankAccount, id, new Open({ owner: id })), { concurrency: "unbounded" })
        const outcomes = yield* Effect.forEach(ids, (id, i) =>
          Effect.either(i % 3 === 0 ? client.dispatch(BankAccount, id, new Withdraw({ amount: 1 })) : client.dispatch(BankAccount, id, new Deposit({ amount: i }))), { concurrency: "unbounded" })
        outcomes.forEach((outcome, i) => {
          if (i % 3 === 0) expect(outcome).toEqual(Either.left(new InsufficientFunds({ balance: 0, requested: 1 })))
          else expect(Either.getOrThrow(outcome)).toMatchObject({ aggregateId: ids[i], streamVersion: 2 })
        })
        const states = yield* Effect.forEach(ids, (id) => client.getState(BankAccount, id), { concurrency: "unbounded" })
        expect(states.map((s) => (s.state as { balance: number }).balance)).toEqual(ids.map((_, i) => i % 3 === 0 ? 0 : i))
      }), { apiKey: key.key })
    }))

  /**
   * A quick command goes first, alone; then, while it is in flight, a slow one and three quick
   * ones: batched together, the quick ones' outcomes would wait the slow one's 800 ms.
   */
  const slowAmongQuick = (slowOptions: { readonly timeout?: Duration.DurationInput }) =>
    Effect.gen(function*() {
      const client = yield* RecountClient
      const quick = (id: string) =>
        Effect.gen(function*() {
          const start = performance.now()
          yield* client.dispatch(BankAccount, id, new Open({ owner: "Q" }))
          return performance.now() - start
        })
      const results = yield* Effect.all([
        quick(fresh("q")),
        Effect.as(client.dispatch(Slow, fresh("s"), new Touch({ millis: 800 }), slowOptions), -1),
        quick(fresh("q")),
        quick(fresh("q")),
        quick(fresh("q"))
      ], { concurrency: "unbounded" })
      return results.filter((millis) => millis >= 0)
    })

  it.scoped("a command with a timeout of its own is sent alone: other commands' outcomes do not wait for it", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      const quick = yield* withClient(slowAmongQuick({ timeout: "10 seconds" }), { apiKey: key.key })
      expect(quick.every((millis) => millis < 500)).toBe(true)
    }))

  it.scoped("with batch: false every command is sent alone", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      const quick = yield* withClient(slowAmongQuick({}), { apiKey: key.key, batch: false })
      expect(quick.every((millis) => millis < 500)).toBe(true)
      // Batched, the same quick commands wait for the slow one.
      const batched = yield* withClient(slowAmongQuick({}), { apiKey: key.key })
      expect(batched.some((millis) => millis >= 700)).toBe(true)
    }))
})
