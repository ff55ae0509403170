import { expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as TestProcess from "@recount/testing/TestProcess"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { rm, writeFile } from "node:fs/promises"
import * as Os from "node:os"
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Database from "../src/Database.js"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"

const query = (url: Redacted.Redacted<string>, statement: string) =>
  Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe<Record<string, unknown>>(statement)).pipe(
    Effect.provide(PgClient.layer({ url, maxConnections: 1 })),
    Effect.scoped
  )

it.live("a second start on the same folder reuses the data; the scope stops the server", () =>
  Effect.gen(function*() {
    const parent = yield* EmbeddedPostgres.makeTempDir("recount-launcher-")
    const dataDir = Path.join(parent, "nested", "pg")
    const first = yield* Effect.scoped(Effect.gen(function*() {
      const running = yield* EmbeddedPostgres.start({ dataDir })
      // The library's exit hook (async-exit-hook) would call process.exit(0) and hide a failing
      // run's exit code; its handlers are recognisable by their event filters.
      const hooks = [...process.listeners("beforeExit"), ...process.listeners("exit")].filter((l) => String(l).includes("eventFilters"))
      expect(hooks).toEqual([])
      expect(running.initialised).toBe(true)
      expect(Redacted.value(running.url)).toContain("127.0.0.1")
      yield* query(running.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
      return running
    }))
    // The scope closed: nothing listens on that port any more.
    const down = yield* Effect.either(query(first.url, "SELECT 1"))
    expect(down._tag).toBe("Left")
    const rows = yield* Effect.scoped(Effect.gen(function*() {
      const again = yield* EmbeddedPostgres.start({ dataDir })
      expect(again.initialised).toBe(false)
      return yield* query(again.url, "SELECT v FROM kept")
    }))
    expect(rows).toEqual([{ v: "still here" }])
  }).pipe(Effect.scoped), { timeout: 120_000 })

it.live("as a normal user the server starts without any user switching", (ctx) =>
  Effect.gen(function*() {
    const script = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "support", "startAsNormalUser.ts")
    const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
    const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)}`
    // As root (CI and our machines), run it as `nobody`; otherwise we already are a normal user.
    const asRoot = process.getuid?.() === 0
    if (asRoot && spawnSync("su", ["-s", "/bin/sh", "nobody", "-c", `test -r ${JSON.stringify(script)}`]).status !== 0) {
      // A checkout under a private folder (root's home, say) cannot be read by another user.
      return ctx.skip(`nobody cannot read ${script}`)
    }
    const result = spawnSync(asRoot ? "su" : "sh", asRoot ? ["-s", "/bin/sh", "nobody", "-c", `HOME=/tmp ${node}`] : ["-c", node], {
      cwd: root,
      encoding: "utf8",
      timeout: 90_000
    })
    expect(result.stderr).toBe("")
    const [word, uid, one] = result.stdout.trim().split(" ")
    expect(word).toBe("ok")
    expect(uid).not.toBe("0")
    expect(one).toBe("1")
  }), { timeout: 120_000 })

it.live("with DATABASE_URL set, the database layer uses it and starts nothing", () =>
  Effect.gen(function*() {
    const db = yield* Database.DatabaseUrl
    expect(db.source).toBe("external")
    expect(Redacted.value(db.url)).toBe("postgres://someone@db.example:5432/app")
    expect(Option.isNone(db.dataDir)).toBe(true)
  }).pipe(
    Effect.provide(Database.layerUrl),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", "postgres://someone@db.example:5432/app"]])))
  ))

it("session settings are added to the URL without losing existing options", () => {
  const url = Database.withSessionSettings("postgres://u:p@h:1/db?options=-c%20search_path%3Dapp", {
    idle_in_transaction_session_timeout: "60000"
  })
  expect(new URL(url).searchParams.get("options")).toBe("-c search_path=app -c idle_in_transaction_session_timeout=60000")
})

it.live("an unusable data folder is a typed error naming the folder", () =>
  Effect.gen(function*() {
    // A folder inside a regular file can never be created.
    const file = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const path = Path.join(Os.tmpdir(), `recount-not-a-dir-${process.pid}`)
        await writeFile(path, "")
        return path
      }),
      (path) => Effect.promise(() => rm(path, { force: true }))
    )
    const error = yield* Effect.flip(EmbeddedPostgres.start({ dataDir: Path.join(file, "pg") }))
    expect(error._tag).toBe("EmbeddedPostgresError")
    expect(error.dataDir).toBe(Path.join(file, "pg"))
  }).pipe(Effect.scoped))


const signalled = TestProcess.bundle(
  Path.join(Path.dirname(fileURLToPath(import.meta.url)), "support", "signalled.ts"),
  Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "build", "test-bundles")
)
const urlOf = (message: unknown) => (message as { url?: string }).url

it.live("a process that handles SIGTERM itself keeps its server until its own scope stops it", () =>
  Effect.gen(function*() {
    const child = yield* TestProcess.start(yield* signalled, { HANDLE_SIGTERM: "1" })
    const url = urlOf(yield* child.waitFor((m) => urlOf(m) !== undefined, 90_000))!
    const exited = new Promise<number | null>((resolve) => child.process.once("exit", (code) => resolve(code)))
    child.process.kill("SIGTERM")
    yield* child.waitFor((m) => (m as { stopped?: boolean }).stopped === true, 30_000)
    expect(child.messages()).toContainEqual({ queriedAfterSignal: 1 })
    expect(yield* Effect.promise(() => exited)).toBe(0)
    expect((yield* Effect.either(query(Redacted.make(url), "SELECT 1")))._tag).toBe("Left")
  }).pipe(Effect.scoped), { timeout: 120_000 })

it.live("a process that does not handle SIGTERM stops its server and dies of the signal", () =>
  Effect.gen(function*() {
    const child = yield* TestProcess.start(yield* signalled, {})
    const url = urlOf(yield* child.waitFor((m) => urlOf(m) !== undefined, 90_000))!
    expect((yield* query(Redacted.make(url), "SELECT 1 AS one"))).toEqual([{ one: 1 }])
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.process.once("exit", (_, signal) => resolve(signal)))
    child.process.kill("SIGTERM")
    expect(yield* Effect.promise(() => exited).pipe(Effect.timeout("30 seconds"))).toBe("SIGTERM")
    expect((yield* Effect.either(query(Redacted.make(url), "SELECT 1")))._tag).toBe("Left")
  }).pipe(Effect.scoped), { timeout: 120_000 })

it.live("a process that exits without closing its scope still stops its server (it runs in a process group of its own)", () =>
  Effect.gen(function*() {
    const child = yield* TestProcess.start(yield* signalled, { EXIT: "1" })
    const url = urlOf(yield* child.waitFor((m) => urlOf(m) !== undefined, 90_000))!
    const exited = new Promise<number | null>((resolve) => child.process.once("exit", (code) => resolve(code)))
    expect(yield* Effect.promise(() => exited)).toBe(3)
    // Fast shutdown takes a moment after the signal.
    let down = false
    for (let attempt = 0; attempt < 50 && !down; attempt++) {
      down = (yield* Effect.either(query(Redacted.make(url), "SELECT 1")))._tag === "Left"
      if (!down) yield* Effect.sleep("200 millis")
    }
    expect(down).toBe(true)
  }).pipe(Effect.scoped), { timeout: 120_000 })
