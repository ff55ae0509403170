/**
 * Bad input, generated: payloads from the aggregates' command schemas (valid, boundary, invalid),
 * sent over the HTTP+JSON face and over RPC. Every answer is a success or a typed error, the node
 * stays up, and the store changes by exactly the events of the successful commands.
 */
import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { BankAccount, Order } from "@recount/testing/TestAggregates"
import { fresh } from "@recount/testing/TestIds"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { RecountClient } from "../src/RecountClient.js"
import * as RecountServer from "../src/RecountServer.js"
import { createKey, layerNode, withClient } from "./support/server.js"

const seed = 20261130
const tenant = "fuzz"

/** Every error tag the API documents for a dispatch; anything else is a defect leaking out. */
const typedErrors = new Set([
  "InvalidCommand", "InvalidStreamName", "InvalidArgument", "LimitExceeded", "Unauthorized", "Forbidden",
  "UnknownProjection", "CommandConflict", "DomainError", "AggregateUnavailable", "StoreUnavailable",
  "CommandTimeout", "ProjectionsUnavailable"
])

type Json = unknown

const aggregates = [BankAccount, Order] as const

/** Strings that have broken event stores and JSON columns before. */
const nasty = [
  "", " ", "a\u0000b", "\u0000", "\ud800", "x\udfffy", "\uffff", "🧾🚚", "مرحبا", "e\u0301", "'; DROP TABLE recount_events; --",
  "\" OR 1=1 --", "\\", "%_%", "$1", "${jndi}", "<script>", "a".repeat(70_000), "\n\r\t", "../../etc/passwd"
]

const deep = (levels: number): Json => {
  let value: Json = 1
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

const wrongValues: ReadonlyArray<Json> = [null, true, 0, -1, 1e308, "ten", [], {}, [1, 2], { nested: { x: 1 } }, deep(50)]

const rng = (s: number) => () => {
  s = (s * 1_103_515_245 + 12_345) & 0x7fffffff
  return s / 0x7fffffff
}

const pick = <A>(random: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!

/** Valid commands drawn from the schemas, in their encoded (wire) form. */
const validCommands = (count: number): ReadonlyArray<{ readonly aggregate: string; readonly command: Json }> =>
  aggregates.flatMap((aggregate) => {
    const schema = aggregate.commands as unknown as Schema.Schema<unknown, Json>
    const values = FastCheck.sample(Arbitrary.make(schema), { seed, numRuns: count })
    return values.map((value) => ({ aggregate: aggregate.name, command: Schema.encodeSync(schema)(value) }))
  })

/** One case: where to send it and the raw body (a string, so that malformed JSON can go too). */
interface Case {
  readonly kind: string
  readonly aggregate: string
  readonly id: string
  readonly body: string
}

const cases = (): ReadonlyArray<Case> => {
  const random = rng(seed)
  const valid = validCommands(40)
  const out: Array<Case> = []
  const id = () => fresh("z")
  for (const { aggregate, command } of valid) out.push({ kind: "valid", aggregate, id: id(), body: JSON.stringify(command) })
  // A realistic sequence on one account, so that decisions past the first run too.
  const account = id()
  for (const command of [{ _tag: "Open", owner: "Ada" }, { _tag: "Deposit", amount: 10 }, { _tag: "Withdraw", amount: 4 }, { _tag: "Withdraw", amount: 400 }]) {
    out.push({ kind: "sequence", aggregate: "account", id: account, body: JSON.stringify(command) })
  }
  for (let i = 0; i < 120; i++) {
    const base = pick(random, valid)
    const command = { ...(base.command as Record<string, Json>) }
    const fields = Object.keys(command).filter((k) => k !== "_tag")
    const roll = random()
    let kind: string
    if (roll < 0.25 && fields.length > 0) {
      kind = "wrong type"
      command[pick(random, fields)] = pick(random, wrongValues)
    } else if (roll < 0.45) {
      kind = "nasty string"
      const field = fields.find((f) => typeof command[f] === "string") ?? "owner"
      command[field] = pick(random, nasty)
    } else if (roll < 0.55) {
      kind = "boundary number"
      const field = fields.find((f) => typeof command[f] === "number") ?? "amount"
      command[field] = pick(random, [0, -0, Number.MIN_VALUE, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, 1e-320, -1])
    } else if (roll < 0.65) {
      kind = "deep nesting"
      command[fields[0] ?? "extra"] = deep(Math.floor(random() * 3000) + 10)
    } else if (roll < 0.72) {
      kind = "unknown tag"
      command._tag = pick(random, nasty)
    } else if (roll < 0.8) {
      kind = "missing field"
      if (fields.length > 0) delete command[pick(random, fields)]
      else delete command._tag
    } else if (roll < 0.88) {
      kind = "hostile id"
      out.push({ kind, aggregate: base.aggregate, id: pick(random, nasty.filter((s) => s.length > 0)), body: JSON.stringify(command) })
      continue
    } else {
      kind = "not a command"
      out.push({ kind, aggregate: base.aggregate, id: id(), body: pick(random, ["[]", "null", "\"x\"", "42", "{", "{\"_tag\":", "\u0000", "{\"_tag\":\"Open\",\"owner\":\"a\"}}"]) })
      continue
    }
    out.push({ kind, aggregate: base.aggregate, id: id(), body: JSON.stringify(command) })
  }
  out.push({ kind: "unknown aggregate", aggregate: "'; DROP TABLE x; --", id: id(), body: "{}" })
  out.push({ kind: "huge body", aggregate: "account", id: id(), body: JSON.stringify({ _tag: "Open", owner: "x".repeat(2 * 1024 * 1024) }) })
  return out
}

interface Outcome {
  readonly kind: string
  readonly transport: "http" | "rpc"
  readonly ok: boolean
  readonly events: number
  readonly answer: string
}

const overHttp = (url: string, key: string, c: Case) =>
  Effect.promise(async (): Promise<Outcome> => {
    const path = `/v1/${tenant}/aggregates/${encodeURIComponent(c.aggregate)}/${encodeURIComponent(c.id)}/commands`
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: c.body
    })
    const text = await response.text()
    let body: { readonly _tag?: string; readonly events?: ReadonlyArray<unknown> } = {}
    try {
      body = JSON.parse(text)
    } catch {
      // Not JSON: judged below.
    }
    const ok = response.status === 200 && Array.isArray(body.events)
    return {
      kind: c.kind,
      transport: "http",
      ok,
      events: ok ? body.events!.length : 0,
      answer: ok ? "ok" : `${response.status} ${body._tag ?? `${text.slice(0, 120)} for ${c.body.slice(0, 40)}`}`
    }
  })

const overRpc = (c: Case) =>
  Effect.gen(function*() {
    const client = yield* RecountClient
    let command: Json
    try {
      command = JSON.parse(c.body)
    } catch {
      command = c.body
    }
    const exit = yield* Effect.exit(client.rpc.Dispatch({ aggregate: c.aggregate, id: c.id, command }))
    if (Exit.isSuccess(exit)) return { kind: c.kind, transport: "rpc", ok: true, events: exit.value.events.length, answer: "ok" } satisfies Outcome
    const failure = exit.cause._tag === "Fail" ? exit.cause.error as { readonly _tag?: string } : undefined
    return { kind: c.kind, transport: "rpc", ok: false, events: 0, answer: failure?._tag ?? `defect: ${String(exit.cause).slice(0, 160)}` } satisfies Outcome
  })

const storeRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly row: string }>`
    SELECT concat_ws('|', global_position, tenant, stream_name, stream_version, event_id, event_type, data::text, metadata::text) AS row
    FROM recount_events ORDER BY global_position`.pipe(Effect.map((rows) => rows.map((r) => r.row))))

layer(layerNode(), { excludeTestServices: true, timeout: 180_000 })("API fuzz", (it) => {
  it.scoped(`generated payloads over HTTP and RPC: typed answers, the node stays up, the store changes only by successes (seed ${seed})`, () =>
    Effect.gen(function*() {
      const key = (yield* createKey(tenant, "write")).key
      const url = yield* RecountServer.url
      // Something already stored, which bad input must leave alone.
      const existing = fresh("keep")
      yield* withClient(Effect.flatMap(RecountClient, (client) => client.rpc.Dispatch({ aggregate: "account", id: existing, command: { _tag: "Open", owner: "Keep" } })), { apiKey: key })
      const before = yield* storeRows

      const all = cases()
      const outcomes: Array<Outcome> = []
      // The same cases over both faces (fresh ids for the RPC copy, so each face decides on its own).
      for (const c of all) outcomes.push(yield* overHttp(url, key, c))
      yield* withClient(Effect.gen(function*() {
        for (const c of all) {
          const copy = c.kind === "sequence" || c.kind === "hostile id" ? { ...c, id: `${c.id}-rpc` } : { ...c, id: fresh("r") }
          outcomes.push(yield* overRpc(copy))
        }
      }), { apiKey: key })

      // Refused below the API, by design: Node's HTTP server answers 431 to a URL past its 16 KiB
      // header limit (the 70,000-character id), and a WebSocket message past the limit closes the
      // connection with 1009, which the RPC client reports as an RpcClientError.
      const transportRefusal = (o: Outcome) =>
        (o.transport === "http" && o.kind === "hostile id" && o.answer.startsWith("431")) ||
        (o.transport === "rpc" && o.kind === "huge body" && o.answer === "RpcClientError")
      const untyped = outcomes.filter((o) => !o.ok && !transportRefusal(o) && !typedErrors.has(o.answer.replace(/^\d+ /, "")))
      expect(untyped, "answers that are neither a success nor a typed error").toEqual([])
      const http500 = outcomes.filter((o) => o.transport === "http" && o.answer.startsWith("500"))
      expect(http500).toEqual([])
      // Both faces reached the domain: successes and refusals of every kind.
      const kinds = new Set(outcomes.map((o) => o.kind))
      expect(kinds.size).toBeGreaterThanOrEqual(8)
      expect(outcomes.filter((o) => o.ok).length).toBeGreaterThan(40)
      expect(outcomes.some((o) => o.answer.endsWith("InvalidCommand"))).toBe(true)
      expect(outcomes.some((o) => o.answer.endsWith("LimitExceeded"))).toBe(true)

      // The node is still up and answers a valid command.
      const alive = yield* overHttp(url, key, { kind: "after", aggregate: "account", id: fresh("alive"), body: JSON.stringify({ _tag: "Open", owner: "Still here" }) })
      expect(alive.ok).toBe(true)

      const after = yield* storeRows
      expect(after.slice(0, before.length), "events stored before the fuzz are unchanged").toEqual(before)
      const expected = outcomes.reduce((sum, o) => sum + o.events, 0) + alive.events
      expect(after.length - before.length, "new events = the successful commands' events").toBe(expected)
    }))
})
