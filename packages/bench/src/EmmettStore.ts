/**
 * Emmett's PostgreSQL event store for the baselines. Emmett's driver layer sets process-wide `pg`
 * type parsers when its store is created (int8 to BigInt, JSON through a reviver). Left alone, they
 * would change what Recount's and the plain-pg pools parse too, so `make` hands Emmett a pool of
 * its own whose connections use Emmett's parsers, and puts the process-wide ones back.
 *
 * @since 0.1.0
 */
import { getPostgreSQLEventStore, type PostgresEventStore } from "@event-driven-io/emmett-postgresql"
import pg from "pg"

/** The type ids Emmett's driver layer overrides process-wide. */
const overridden = [20, 114, 3802] as const

/**
 * @since 0.1.0
 */
export interface Emmett {
  readonly url: string
  readonly pool: pg.Pool
  readonly store: PostgresEventStore
  readonly close: () => Promise<void>
}

/**
 * Emmett's store on a pool of `poolSize` connections, its `emt_*` tables created.
 *
 * @since 0.1.0
 */
export const make = async (url: string, poolSize: number): Promise<Emmett> => {
  const ours = new Map(overridden.map((oid) => [oid, pg.types.getTypeParser(oid, "text")]))
  const emmettParsers = new Map<number, (value: string) => unknown>()
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      emmettParsers.get(oid) ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types })
  pool.on("error", () => {})
  const restore = () => {
    for (const oid of overridden) {
      const current = pg.types.getTypeParser(oid, "text")
      if (current !== ours.get(oid)) {
        emmettParsers.set(oid, current)
        pg.types.setTypeParser(oid, ours.get(oid)!)
      }
    }
  }
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } })
  restore()
  await store.schema.migrate()
  restore()
  return {
    url,
    pool,
    store,
    close: async () => {
      await store.close()
      await pool.end()
    }
  }
}

/**
 * Whether the process-wide parsers are still `pg`'s own (int8 as text): checked before any
 * measurement, so Emmett's settings cannot leak into the other sides unnoticed.
 *
 * @since 0.1.0
 */
export const parsersUntouched = (): boolean => typeof pg.types.getTypeParser(20, "text")("1") === "string"
