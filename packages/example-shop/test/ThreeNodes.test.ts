import { EntityId, Sharding } from "@effect/cluster"
import { expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import { entityId } from "@recount/runtime/AggregateProtocol"
import * as RecountNode from "@recount/runtime/RecountNode"
import { eventually } from "@recount/testing/Eventually"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import { existsSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Yaml from "yaml"
import { aggregates } from "../src/index.js"
import * as ShopNode from "./support/ShopNode.js"

const root = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

interface ComposeService {
  readonly image?: string
  readonly build?: { readonly context: string; readonly dockerfile: string }
  readonly environment?: Record<string, string>
  readonly depends_on?: Record<string, { readonly condition: string }>
  readonly healthcheck?: { readonly test: ReadonlyArray<string> }
  readonly volumes?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<string>
}

/** docker-compose.yml as compose reads it: anchors merged, `${VAR:-default}` at its default. */
const compose = () => {
  const parsed = Yaml.parse(readFileSync(Path.join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
    readonly services: Record<string, ComposeService>
    readonly volumes?: Record<string, unknown>
  }
  const interpolate = (value: string) => value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, __, fallback: string | undefined) => fallback ?? "")
  const nodes = Object.entries(parsed.services).filter(([, s]) => s.environment?.["RECOUNT_RUNNER_HOST"] !== undefined)
  return {
    ...parsed,
    nodes: nodes.map(([name, s]) => ({
      name,
      service: s,
      environment: Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]))
    }))
  }
}

it("docker-compose.yml: PostgreSQL with a named volume and a healthcheck, three nodes of one image, each its own runner, sharing the database", () => {
  const file = compose()
  const postgres = file.services["postgres"]!
  expect(postgres.healthcheck?.test.join(" ")).toContain("pg_isready")
  const volume = postgres.volumes?.[0]?.split(":")[0]
  expect(volume && file.volumes && volume in file.volumes).toBe(true)
  expect(file.nodes.map((n) => n.name)).toEqual(["node-1", "node-2", "node-3"])
  for (const node of file.nodes) {
    expect(node.service.build?.dockerfile).toBe("packages/example-shop/Dockerfile")
    expect(existsSync(Path.join(root, node.service.build!.context, node.service.build!.dockerfile))).toBe(true)
    expect(node.service.image).toBe(file.nodes[0]!.service.image)
    expect(node.service.depends_on?.["postgres"]?.condition).toBe("service_healthy")
    expect(new URL(node.environment["DATABASE_URL"]!).hostname).toBe("postgres")
    expect(node.environment["DATABASE_URL"]).toBe(file.nodes[0]!.environment["DATABASE_URL"])
    expect(node.environment["RECOUNT_RUNNER_HOST"]).toBe(node.name)
    expect(node.environment["RECOUNT_ADMIN_KEY"]).not.toBe("")
  }
  expect(new Set(file.nodes.flatMap((n) => n.service.ports ?? []).map((p) => p.split(":")[0])).size).toBe(3)
})

const parsed = (text: string): Record<string, unknown> => {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return { text }
  }
}

/** A command over a node's HTTP face, retried (same idempotency key) while the cluster moves shards. */
const command = (api: string, key: string, aggregate: string, id: string, commandId: string, body: unknown) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 90_000
    while (true) {
      const answer = yield* Effect.promise(() =>
        fetch(`${api}/v1/default/aggregates/${aggregate}/${id}/commands`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "idempotency-key": commandId, "content-type": "application/json" },
          body: JSON.stringify(body)
        }).then(async (r) => ({ status: r.status, body: parsed(await r.text()) }), (e: unknown) => ({ status: 0, body: { error: String(e) } }))
      )
      if (answer.status === 200) return answer.body
      if (![0, 503, 504].includes(answer.status) || Date.now() > deadline) {
        return yield* Effect.dieMessage(`${aggregate} ${id}: ${answer.status} ${JSON.stringify(answer.body)}`)
      }
      yield* Effect.sleep("200 millis")
    }
  })

interface Status {
  readonly name: string
  readonly state: string
  readonly owner: string | null
  readonly lagEvents: number
}

const projectionStatus = (api: string, key: string) =>
  Effect.promise(() => fetch(`${api}/v1/projections`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json() as Promise<ReadonlyArray<Status>>))

it.live("three nodes with docker-compose.yml's environment: aggregates spread over all three; a SIGKILLed node's aggregates and singletons move to the others", () =>
  Effect.gen(function*() {
    const url = yield* TestDatabase.TestDatabaseUrl
    const script = yield* ShopNode.bundle
    // The compose file's environment, with only addresses mapped to this machine's loopback.
    const nodes = yield* Effect.forEach(compose().nodes, (node) =>
      Effect.gen(function*() {
        const runnerPort = yield* TestProcess.freePort
        const httpPort = yield* TestProcess.freePort
        const started = yield* ShopNode.start(script, {
          ...node.environment,
          DATABASE_URL: url,
          RECOUNT_RUNNER_HOST: "127.0.0.1",
          RECOUNT_RUNNER_PORT: String(runnerPort),
          RECOUNT_HTTP_HOST: "127.0.0.1",
          RECOUNT_HTTP_PORT: String(httpPort)
        })
        return { name: node.name, key: node.environment["RECOUNT_ADMIN_KEY"]!, runner: `127.0.0.1:${runnerPort}`, api: `http://127.0.0.1:${httpPort}`, child: started }
      }), { concurrency: "unbounded" })
    const key = nodes[0]!.key
    const nodeOfApplication = (name: string | undefined) => nodes.find((n) => name === `recount ${n.runner}`)?.name
    const nodeOfOwner = (owner: string | null) => nodes.find((n) => owner?.split("/")[1] === String(n.child.process.pid))?.name

    yield* Effect.gen(function*() {
      const sharding = yield* Sharding.Sharding
      const sql = yield* PgClient.PgClient
      /** The node holding the shard lock of an aggregate: its connections carry its runner address. */
      const ownerOf = (id: string) =>
        Effect.map(
          sql.unsafe<{ application_name: string }>(
            `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1`,
            [1_000_000 + sharding.getShardId(EntityId.make(entityId("default", id)), "default").id]
          ),
          (rows) => nodeOfApplication(rows[0]?.application_name)
        )
      const owners = (ids: ReadonlyArray<string>) => Effect.forEach(ids, ownerOf, { concurrency: 8 })

      const ids = Array.from({ length: 60 }, (_, i) => `sku-${i}`)
      yield* Effect.forEach(ids, (id) => command(nodes[0]!.api, key, "inventory", id, `${id}-stock`, { _tag: "AddStock", quantity: 10 }), { concurrency: 8, discard: true })
      // Once every node has taken its shards, the 60 aggregates are spread over all three.
      const before = yield* eventually(owners(ids), (o) => o.every((n) => n !== undefined) && new Set(o).size === 3, 60_000)
      // Every projection, workflow trigger included, runs as a singleton on one of the three.
      const statusBefore = yield* eventually(projectionStatus(nodes[0]!.api, key), (all) => all.length > 0 && all.every((s) => nodeOfOwner(s.owner) !== undefined), 60_000)

      // The victim: the node running the most singletons (all three own aggregates).
      const singletonsOf = (name: string) => statusBefore.filter((s) => nodeOfOwner(s.owner) === name).map((s) => s.name)
      const victim = [...nodes].sort((a, b) => singletonsOf(b.name).length - singletonsOf(a.name).length)[0]!
      const survivor = nodes.find((n) => n !== victim)!
      const moved = ids.filter((_, i) => before[i] === victim.name)
      expect(moved.length).toBeGreaterThan(0)
      expect(singletonsOf(victim.name).length).toBeGreaterThan(0)
      victim.child.process.kill("SIGKILL")
      const killedAt = Date.now()

      // Its aggregates answer on the others: the next command to each applies once, on the state it had.
      yield* Effect.forEach(moved, (id) =>
        Effect.map(command(survivor.api, key, "inventory", id, `${id}-after`, { _tag: "AddStock", quantity: 1 }), (result) => {
          expect(result).toMatchObject({ streamVersion: 2, alreadyApplied: false })
        }), { concurrency: 8, discard: true })
      const answeredAfter = Date.now() - killedAt
      const after = yield* owners(moved)
      expect(after.every((n) => n !== undefined && n !== victim.name)).toBe(true)

      // Its singletons run on the others and keep advancing: a new order reaches the read model
      // and starts its saga.
      yield* command(survivor.api, key, "order", "after-kill", "after-kill-place", {
        _tag: "PlaceOrder",
        customerId: "c-1",
        lines: [{ sku: "sku-0", quantity: 1, price: 3 }]
      })
      const statusAfter = yield* eventually(
        projectionStatus(survivor.api, key),
        (all) => all.every((s) => s.state === "running" && s.lagEvents === 0 && nodeOfOwner(s.owner) !== undefined && nodeOfOwner(s.owner) !== victim.name),
        90_000
      )
      const caughtUpAfter = Date.now() - killedAt
      expect(statusAfter.map((s) => s.name).sort()).toEqual(statusBefore.map((s) => s.name).sort())
      const summary = yield* sql.unsafe<{ order_id: string }>("SELECT order_id FROM order_summaries WHERE order_id = 'after-kill'")
      expect(summary).toEqual([{ order_id: "after-kill" }])
      yield* Effect.logInfo(`killed ${victim.name} (${moved.length} of ${ids.length} aggregates, singletons ${singletonsOf(victim.name).join(", ")}): its aggregates all answered ${answeredAfter} ms after the kill, every projection ran and caught up ${caughtUpAfter} ms after it`)
    }).pipe(Effect.provide(RecountNode.layerClient({ aggregates })))
  }).pipe(Effect.provide(TestDatabase.layerStores()), Effect.scoped), { timeout: 300_000 })
