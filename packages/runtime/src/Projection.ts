/**
 * A projection: reads the global log and writes a PostgreSQL read model. It names the events it
 * handles, the read-model tables it owns, the versioned migrations that create them, and a handler
 * per event or per batch. The runtime runs it (see `Projections`): exactly once per event into
 * PostgreSQL, one instance in the whole cluster.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import type * as EventRegistry from "@recount/core/EventRegistry"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Where a handler or migration writes. Read-model tables are versioned so that a rebuild can fill a
 * new version while the old one keeps serving: `table("orders")` is the physical table of the
 * version being written (`orders_v2`), and readers query the view `orders`, which points at the
 * active version.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly projection: string
  /** The read-model version being written. */
  readonly version: number
  /** The physical name of one of the projection's tables in this version. */
  readonly table: (name: string) => string
}

/**
 * A stored event decoded with the projection's event schemas, with its envelope.
 *
 * @since 0.1.0
 */
export interface Decoded<E> {
  readonly event: E
  readonly envelope: RecordedEvent
}

/**
 * A migration of the read model. It runs once per read-model version, when the projection starts
 * or a rebuild begins, in the same transaction as its record.
 *
 * @since 0.1.0
 */
export type Migration = (target: Target) => Effect.Effect<void, unknown, SqlClient.SqlClient>

/**
 * What to do with an event whose handler keeps failing.
 *
 * @since 0.1.0
 */
export interface FailurePolicy {
  /**
   * Tries of an event on its own before it is parked (or the projection stops, when strict). A
   * failed batch is first split into single events, so the failing one's handler may run once more.
   */
  readonly maxAttempts: number
  /** Delay before the second attempt; doubled for each further one, at most 10 seconds. */
  readonly backoff: Duration.Duration
  /** Stop the projection instead of parking the event. */
  readonly strict: boolean
}

/**
 * @since 0.1.0
 */
export interface Projection<E> {
  readonly name: string
  readonly events: EventRegistry.EventRegistry<E & { readonly _tag: string }>
  /** The event types it reads: the registry's, or the subset given. */
  readonly eventTypes: ReadonlyArray<string>
  /** Only events of these stream categories; all categories when absent. */
  readonly categories: ReadonlyArray<string> | undefined
  /** The logical names of the read-model tables, each served by a view of that name. */
  readonly tables: ReadonlyArray<string>
  /** Migrations by id, applied in id order. Add new ones; never edit one that has run. */
  readonly migrations: ReadonlyArray<readonly [id: string, Migration]>
  /** Applies events in log order, inside the transaction that also moves the checkpoint. */
  readonly apply: (events: ReadonlyArray<Decoded<E>>, target: Target) => Effect.Effect<void, unknown, SqlClient.SqlClient>
  /** Events read and applied per transaction. */
  readonly batchSize: number
  /**
   * True for read models: the handler writes inside the checkpoint's transaction (exactly once).
   * False for side effects outside PostgreSQL: the handler runs before that transaction, so a
   * crash in between runs it again (at least once).
   */
  readonly transactional: boolean
  readonly failure: FailurePolicy
}

/** @since 0.1.0 */
export type Any = Projection<any>

/** Defaults: 5 attempts from 200 ms, parked rather than strict, batches of 500 events. */
export const defaults = {
  failure: { maxAttempts: 5, backoff: Duration.millis(200), strict: false } satisfies FailurePolicy,
  batchSize: 500
}

/** Options shared by `make` and `makeBatched`. */
export interface Options<E> {
  /** Letters, digits and `_-`, at most 40 characters; it names the projection's state. */
  readonly name: string
  /** The event schemas it handles; usually an aggregate's `events`. */
  readonly events: EventRegistry.EventRegistry<E & { readonly _tag: string }>
  /** Only these of the registry's event types; all of them when absent. */
  readonly eventTypes?: ReadonlyArray<string> | undefined
  readonly categories?: ReadonlyArray<string> | undefined
  readonly tables?: ReadonlyArray<string> | undefined
  readonly migrations?: Readonly<Record<string, Migration>> | undefined
  readonly batchSize?: number | undefined
  readonly maxAttempts?: number | undefined
  readonly backoff?: Duration.DurationInput | undefined
  readonly strict?: boolean | undefined
}

const namePattern = /^[A-Za-z0-9_-]{1,40}$/
const tablePattern = /^[a-z_][a-z0-9_]{0,50}$/

/** Builds a projection from its options and its `apply`; for modules that define new kinds. */
export const build = <E>(
  options: Options<E>,
  apply: (events: ReadonlyArray<Decoded<E>>, target: Target) => Effect.Effect<void, unknown, SqlClient.SqlClient>,
  transactional = true
): Projection<E> => {
  if (!namePattern.test(options.name)) {
    throw new Error(`projection name ${JSON.stringify(options.name)} must be 1 to 40 letters, digits, _ or -`)
  }
  for (const table of options.tables ?? []) {
    if (!tablePattern.test(table)) {
      throw new Error(`projection ${options.name}: table name ${JSON.stringify(table)} must be lower case letters, digits and _, at most 51 characters`)
    }
  }
  for (const type of options.eventTypes ?? []) {
    if (!options.events.types.includes(type)) throw new Error(`projection ${options.name}: ${type} is not an event type of the given registry`)
  }
  const batchSize = options.batchSize ?? defaults.batchSize
  const maxAttempts = options.maxAttempts ?? defaults.failure.maxAttempts
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`projection ${options.name}: batchSize must be a positive integer`)
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`projection ${options.name}: maxAttempts must be a positive integer`)
  return {
    name: options.name,
    events: options.events,
    eventTypes: options.eventTypes ?? options.events.types,
    categories: options.categories,
    tables: options.tables ?? [],
    migrations: Object.entries(options.migrations ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
    apply,
    batchSize,
    transactional,
    failure: {
      maxAttempts,
      backoff: options.backoff === undefined ? defaults.failure.backoff : Duration.decode(options.backoff),
      strict: options.strict ?? defaults.failure.strict
    }
  }
}

/**
 * A projection with a handler per event, called in log order inside the batch's transaction.
 *
 * On Recount's pool, a handler's writes that return no rows are pipelined: its statement answers
 * at once, and a write the database refuses fails the batch (which is then retried event by event)
 * rather than the statement. Statements that return rows, and any in a savepoint
 * (`sql.withTransaction`), wait for their answers.
 *
 * @since 0.1.0
 */
export const make = <E>(
  options: Options<E> & {
    readonly handle: (event: E, envelope: RecordedEvent, target: Target) => Effect.Effect<void, unknown, SqlClient.SqlClient>
  }
): Projection<E> => {
  const handle = options.handle
  return build(options, (events, target) => Effect.forEach(events, (d) => handle(d.event, d.envelope, target), { discard: true }))
}

/**
 * A projection whose handler gets a whole batch, to write it in few statements.
 *
 * @since 0.1.0
 */
export const makeBatched = <E>(
  options: Options<E> & {
    readonly handleBatch: (events: ReadonlyArray<Decoded<E>>, target: Target) => Effect.Effect<void, unknown, SqlClient.SqlClient>
  }
): Projection<E> => build(options, options.handleBatch)

/** The physical table of a logical table in a read-model version. */
export const physicalTable = (table: string, version: number) => `${table}_v${version}`

/** The target for writing a projection's read-model version. */
export const target = (projection: Any, version: number): Target => {
  // Handlers ask for the same few names once per event: each is checked and built once per batch.
  const names = new Map<string, string>()
  return {
    projection: projection.name,
    version,
    table: (name) => {
      const known = names.get(name)
      if (known !== undefined) return known
      if (!projection.tables.includes(name)) {
        throw new Error(`projection ${projection.name} has no table ${name}; declare it in \`tables\``)
      }
      const physical = physicalTable(name, version)
      names.set(name, physical)
      return physical
    }
  }
}
