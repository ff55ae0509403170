/**
 * One fault run: PostgreSQL, the runners, the clients and the nemesis, then the checkers. Every
 * file of the run (histories, runner logs, the summary) stays in its folder as evidence.
 *
 * @since 0.1.0
 */
import * as Shop from "@recount/example-shop"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import Pg from "pg"
import * as Checkers from "./Checkers.js"
import * as Faults from "./Faults.js"
import * as History from "./History.js"
import * as PgServer from "./PgServer.js"
import * as ProjectionDrift from "./ProjectionDrift.js"
import * as Runners from "./Runners.js"
import * as Summary from "./Summary.js"

/** @since 0.1.0 */
export interface Options {
  /** How long the clients invoke new operations. */
  readonly minutes: number
  readonly runners: number
  readonly clients: number
  readonly faults: ReadonlyArray<Faults.Kind>
  /** Inject the faults in the order given, every round (default: a seeded shuffle per round). */
  readonly inOrder?: boolean | undefined
  readonly seed: number
  /** Concurrent operations per client (default 4). */
  readonly workers?: number | undefined
  /** Where the run's files go (default: a new folder under the system's temporary folder). */
  readonly outDir?: string | undefined
  /** Use this server (a fresh database on it) instead of an embedded one; it is never crashed or filled. */
  readonly databaseUrl?: string | undefined
  /** How long clients keep retrying unknown operations after the run (default 60 s). */
  readonly drainMillis?: number | undefined
  /** How long the read model and the sagas may take to catch up after the run (default 120 s). */
  readonly settleMillis?: number | undefined
  readonly timings?: Faults.Timings | undefined
  /** Progress lines (stderr in the CLI). */
  readonly log: (line: string) => void
}

/** @since 0.1.0 */
export interface Result {
  readonly summary: Summary.Summary
  readonly outDir: string
}

const here = Path.dirname(fileURLToPath(import.meta.url))

/**
 * Runs the workload under faults and judges it.
 *
 * @since 0.1.0
 */
export const run = (options: Options): Effect.Effect<Result, Error> =>
  Effect.scoped(Effect.gen(function*() {
    const outDir = options.outDir ?? mkdtempSync(Path.join(Os.tmpdir(), "recount-faults-run-"))
    mkdirSync(outDir, { recursive: true })
    const log = (line: string) => options.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
    log(`run folder ${outDir}`)
    const random = Random.make(options.seed)

    const server = yield* PgServer.make({ databaseUrl: options.databaseUrl })
    const kinds = server.owned ? options.faults : options.faults.filter((k) => !Faults.needOwnedServer.includes(k))
    if (kinds.length < options.faults.length) log(`DATABASE_URL: the server is not ours, so no ${Faults.needOwnedServer.join(" or ")}`)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({ connectionString: server.url, max: 4, application_name: "faults-harness" })
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.promise(() => pool.end().catch(() => {}))
    )

    // Inside the repository, so that the bundles' imports resolve from its node_modules.
    const bundles = Path.join(here, "..", "build", "bundles")
    mkdirSync(bundles, { recursive: true })
    const runnerScript = yield* Runners.bundle(bundles)
    const clientScript = yield* TestProcess.bundle(Path.join(here, "client.ts"), bundles)
    const adminKey = randomBytes(24).toString("base64url")

    log(`starting ${options.runners} runners`)
    const runners = yield* Runners.start({ script: runnerScript, count: options.runners, databaseUrl: server.url, adminKey, logDir: outDir })
    // For looking into a run while it goes (and after, with --out): where everything is.
    writeFileSync(Path.join(outDir, "run.json"), JSON.stringify({ seed: options.seed, databaseUrl: server.url, adminKey, runners: runners.map((r) => ({ name: r.name, url: r.url })) }, null, 2))

    const runMillis = Math.round(options.minutes * 60_000)
    const drainMillis = options.drainMillis ?? 60_000
    log(`starting ${options.clients} clients for ${runMillis / 1000} s`)
    const startedAt = Date.now()
    const clients = yield* Effect.forEach(Array.from({ length: options.clients }, (_, i) => i), (i) =>
      TestProcess.start(clientScript, {
        RECOUNT_URLS: runners.map((r) => r.url).join(","),
        RECOUNT_KEY: adminKey,
        FAULTS_CLIENT: `c${i + 1}`,
        FAULTS_SEED: String(options.seed * 1000 + i + 1),
        FAULTS_HISTORY: Path.join(outDir, `history-c${i + 1}.ndjson`),
        FAULTS_RUN_MILLIS: String(runMillis),
        FAULTS_DRAIN_MILLIS: String(drainMillis),
        FAULTS_WORKERS: String(options.workers ?? 4)
      }))

    // Faults until shortly before the clients stop, so that the last one's recovery is seen.
    const nemesisHistory = Path.join(outDir, "history-nemesis.ndjson")
    const injected = yield* Faults.run(
      { runners, server, pool, random, targets: Random.make(`${options.seed}/targets`), timings: options.timings ?? Faults.defaultTimings, record: (r) => History.append(nemesisHistory, r) },
      { kinds, until: startedAt + runMillis - 15_000, inOrder: options.inOrder, log }
    )
    writeFileSync(Path.join(outDir, "faults.json"), JSON.stringify(injected, null, 2))

    // Heal everything, then let the clients finish and retry what is still unknown.
    yield* Effect.forEach(runners, (r) => Effect.zipRight(r.signal("SIGCONT"), r.restart), { discard: true })
    log("faults over; waiting for the clients")
    yield* Effect.forEach(clients, (c) => c.waitFor((m) => (m as { kind?: string }).kind === "done", runMillis + drainMillis + 120_000), { discard: true })

    const records = readdirSync(outDir).filter((f) => f.startsWith("history-")).flatMap((f) => History.read(Path.join(outDir, f)))
    const operations = History.operations(records)

    log("checking")
    const settleUntil = Date.now() + (options.settleMillis ?? 120_000)
    let checks = yield* Checkers.check(pool, operations)
    while (!Checkers.settled(checks) && Date.now() < settleUntil) {
      yield* Effect.sleep("2 seconds")
      checks = yield* Checkers.check(pool, operations)
    }
    log("rebuilding the projections to compare them with the log")
    const client = yield* Effect.map(Layer.build(RecountClient.layer({ url: runners[0]!.url, apiKey: adminKey, transport: "http" })), Context.get(RecountClient.RecountClient))
    const drift = yield* Effect.either(ProjectionDrift.check(pool, client, Shop.projections, { timeoutMillis: options.settleMillis ?? 120_000 }))
    const summary = Summary.make({
      seed: options.seed,
      minutes: options.minutes,
      runners: options.runners,
      clients: options.clients,
      operations,
      injected,
      checks,
      drift: drift._tag === "Right" ? drift.right : undefined,
      driftError: drift._tag === "Left" ? drift.left.message : undefined
    })
    writeFileSync(Path.join(outDir, "summary.json"), JSON.stringify(summary, null, 2))
    return { summary, outDir }
  }))
