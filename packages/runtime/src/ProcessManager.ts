/**
 * The classic saga as a short definition: a state per correlation id, events in, commands out,
 * compensation when a command fails.
 *
 * ```ts
 * const Transfers = ProcessManager.make({
 *   name: "transfers",
 *   events: TransferEvents,
 *   state: TransferState,                                  // a Schema: Dates, Options, brands survive
 *   correlate: (event) => event.transferId,
 *   on: {
 *     TransferApproved: (event, state) => ({
 *       state: { ...Option.getOrThrow(state), approvedAt: event.at },
 *       commands: [ProcessManager.send(BankAccount, event.from, new Withdraw({ amount: event.amount }), { step: "withdraw" }),
 *                  ProcessManager.send(BankAccount, event.to, new Deposit({ amount: event.amount }), { step: "deposit" })]
 *     })
 *   },
 *   onFailure: (state, failure) => failure.step === "deposit"
 *     ? { state: { ...state, refunded: true }, commands: [ProcessManager.send(BankAccount, state.from, new Deposit(...), { step: "refund" })], complete: true }
 *     : undefined
 * })
 * RecountNode.layerSingle({ aggregates: [BankAccount], processManagers: [Transfers] })
 * ```
 *
 * How it runs, and why. Instances are per tenant: the events' tenant, and their commands go to it
 * unless they name another. The state lives in PostgreSQL (`recount_process_state`, encoded with the
 * state schema and decoded with it on every read, so its types come back as they were), and it is
 * written in the same transaction as the process manager's checkpoint, like a projection's read
 * model: an event changes the state exactly once, whatever crashes. The commands an event asks for
 * are written to an outbox (`recount_process_commands`) in that same transaction, and a cluster
 * singleton dispatches them after the commit, one correlation id's commands in order. Their
 * command ids are `<process>/<correlation id>/<step>`, so a command sent twice (a crash between
 * dispatch and marking it done, a failover) is applied once by the aggregate. A durable workflow
 * per correlation id was the other choice; it would need a signal per incoming event and replays
 * its whole journal on each, where this is two small tables and the projection machinery Recount
 * already has (lease, checkpoint, status, strict stop on a bug).
 *
 * When a command fails with a domain error (or cannot be delivered as a command at all), the
 * commands queued after it for the same correlation id are cancelled and `onFailure` decides the
 * compensation: a new state and compensating commands, written in one transaction. Commands that
 * time out or find their aggregate unavailable are retried with backoff.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Aggregate from "@recount/core/Aggregate"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import type * as EventRegistry from "@recount/core/EventRegistry"
import { EventStoreConfig } from "@recount/core/EventStoreConfig"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { CommandBus } from "./CommandBus.js"
import * as Projection from "./Projection.js"

/**
 * A command for the outbox: sent after the event's transaction commits, with the command id
 * `<process>/<correlation id>/<step>`.
 *
 * @since 0.1.0
 */
export interface Send {
  readonly aggregate: Aggregate.Any
  readonly aggregateId: string
  readonly command: unknown
  /** Unique within one correlation id: it names the command (and makes its id). */
  readonly step: string
  /** The tenant to send it in; the process instance's own (its events') by default. */
  readonly tenant?: string | undefined
}

/**
 * A command to send: `step` names it within the process instance.
 *
 * @since 0.1.0
 */
export const send = <A extends Aggregate.Any>(
  aggregate: A,
  aggregateId: string,
  command: Aggregate.CommandOf<A>,
  options: { readonly step: string; readonly tenant?: string | undefined }
): Send => ({ aggregate, aggregateId, command, step: options.step, tenant: options.tenant })

/**
 * What a handler decides: the next state, the commands to send, and whether the process instance
 * is complete (a complete instance ignores later events). `undefined` changes nothing.
 *
 * @since 0.1.0
 */
export type Step<S> = {
  readonly state: S
  readonly commands?: ReadonlyArray<Send> | undefined
  readonly complete?: boolean | undefined
} | undefined

/**
 * A command that failed: its step, and the aggregate's domain error (or the dispatch error when
 * the command could not be delivered as one, such as an unknown aggregate).
 *
 * @since 0.1.0
 */
export interface Failure {
  readonly step: string
  readonly aggregate: string
  readonly aggregateId: string
  /** The command as it was encoded into the outbox. */
  readonly command: unknown
  readonly error: unknown
}

/**
 * One command of a process instance, as `get` lists it.
 *
 * @since 0.1.0
 */
export interface CommandRecord {
  readonly step: string
  readonly commandId: string
  readonly aggregate: string
  readonly aggregateId: string
  /** `pending`, `done`, `failed`, or `cancelled` (queued after a failed one). */
  readonly status: "pending" | "done" | "failed" | "cancelled"
  readonly attempts: number
  readonly error: string | null
}

/**
 * A process instance: its decoded state, whether it completed, and its commands in order.
 *
 * @since 0.1.0
 */
export interface Instance<S> {
  readonly correlationId: string
  readonly state: S
  readonly completed: boolean
  readonly commands: ReadonlyArray<CommandRecord>
}

type Handlers<E extends { readonly _tag: string }, S> = {
  readonly [K in E["_tag"]]?: (event: Extract<E, { readonly _tag: K }>, state: Option.Option<S>, envelope: RecordedEvent) => Step<S>
}

/**
 * @since 0.1.0
 */
export interface ProcessManager<S, E> {
  readonly name: string
  readonly stateSchema: Schema.Schema<S, unknown>
  /** Follows the log: the state and the outbox, in the checkpoint's transaction. */
  readonly projection: Projection.Projection<E>
  /** Sends the outbox's commands; the node runs it as a cluster singleton. */
  readonly dispatcher: Effect.Effect<never, never, CommandBus | SqlClient.SqlClient>
}

/** @since 0.1.0 */
export type Any = ProcessManager<any, any>

/**
 * Defines a process manager.
 *
 * @since 0.1.0
 */
export const make = <E extends { readonly _tag: string }, S, I>(options: {
  /** Letters, digits and `_-`, at most 32 characters; it names the checkpoint and the rows. */
  readonly name: string
  readonly events: EventRegistry.EventRegistry<E>
  readonly categories?: ReadonlyArray<string> | undefined
  /** Encodes the state into PostgreSQL and decodes it back, with its types. */
  readonly state: Schema.Schema<S, I>
  /** The process instance an event belongs to; `undefined` ignores the event. */
  readonly correlate: (event: E, envelope: RecordedEvent) => string | undefined
  /** A handler per event type: the state is `None` for an instance's first event. */
  readonly on: Handlers<E, NoInfer<S>>
  /** Decides the compensation when a command fails. Without it, the instance just stops sending. */
  readonly onFailure?: ((state: NoInfer<S>, failure: Failure) => Step<NoInfer<S>>) | undefined
  /** How often an idle dispatcher looks for commands (default 200 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * How long sent and cancelled commands stay in the outbox (default one day); failed ones stay
   * until an operator deletes them. A replay of the log after that sends them again, and the
   * aggregates answer from their command ids without applying them twice.
   */
  readonly outboxRetention?: Duration.DurationInput | undefined
  /** Stop (rather than park the event) when a handler fails; default true, a saga must not skip. */
  readonly strict?: boolean | undefined
}): ProcessManager<S, E> => {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(options.name)) throw new Error(`process manager name ${JSON.stringify(options.name)} must be 1 to 32 letters, digits, _ or -`)
  const name = options.name
  const schema = options.state as unknown as Schema.Schema<S, unknown>
  const handlers = options.on as Record<string, ((event: E, state: Option.Option<S>, envelope: RecordedEvent) => Step<S>) | undefined>

  const projection = Projection.build<E>({
    name: `process-${name}`,
    events: options.events,
    eventTypes: Object.keys(options.on),
    categories: options.categories,
    migrations: { "0001_process_tables": () => ensureTables },
    strict: options.strict ?? true
  }, (events) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const { envelope, event } of events) {
        const handler = handlers[event._tag]
        const correlationId = handler ? options.correlate(event, envelope) : undefined
        if (!handler || correlationId === undefined) continue
        const tenant = envelope.tenant
        const [row] = yield* sql.unsafe<StateRow>(
          `SELECT state, completed, transaction_id::text AS transaction_id, global_position::text AS global_position
           FROM recount_process_state WHERE process = $1 AND tenant = $2 AND correlation_id = $3 FOR UPDATE`,
          [name, tenant, correlationId]
        )
        // A replay (a rebuild, a reset checkpoint) leaves what an event already did alone.
        if (row && (row.completed || Checkpoint.compare(checkpointOf(row), Checkpoint.of(envelope)) >= 0)) continue
        const state = row ? Option.some(yield* Schema.decodeUnknown(schema)(row.state)) : Option.none<S>()
        const step = handler(event, state, envelope)
        if (step === undefined) continue
        yield* save(sql, { tenant, correlationId }, step, Checkpoint.of(envelope))
      }
    }))

  /** Writes an instance's new state and queues its commands (in the instance's tenant unless they name one). */
  const save = (sql: SqlClient.SqlClient, instance: { readonly tenant: string; readonly correlationId: string }, step: NonNullable<Step<S>>, at: Checkpoint.Checkpoint | undefined) =>
    Effect.gen(function*() {
      const { correlationId, tenant } = instance
      const encoded = yield* Schema.encode(schema)(step.state)
      yield* at === undefined
        ? sql.unsafe(
          `UPDATE recount_process_state SET state = $4::jsonb, completed = completed OR $5, updated_at = now()
           WHERE process = $1 AND tenant = $2 AND correlation_id = $3`,
          [name, tenant, correlationId, JSON.stringify(encoded), step.complete === true]
        )
        : sql.unsafe(
          `INSERT INTO recount_process_state (process, tenant, correlation_id, state, completed, transaction_id, global_position)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6::xid8, $7)
           ON CONFLICT (process, tenant, correlation_id) DO UPDATE SET state = EXCLUDED.state, completed = EXCLUDED.completed,
             transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position, updated_at = now()`,
          [name, tenant, correlationId, JSON.stringify(encoded), step.complete === true, String(at.transactionId), String(at.position)]
        )
      for (const command of step.commands ?? []) {
        const json = yield* Schema.encodeUnknown(command.aggregate.commands)(command.command)
        yield* sql.unsafe(
          `INSERT INTO recount_process_commands (process, tenant, command_id, correlation_id, step, command_tenant, aggregate, aggregate_id, command)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (process, tenant, command_id) DO NOTHING`,
          [name, tenant, `${name}/${correlationId}/${command.step}`, correlationId, command.step, command.tenant ?? tenant, command.aggregate.name, command.aggregateId, JSON.stringify(json)]
        )
      }
    })

  const dispatcher = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bus = yield* CommandBus
    const idle = Duration.decode(options.pollInterval ?? "200 millis")
    const retentionMillis = Duration.toMillis(Duration.decode(options.outboxRetention ?? "1 day"))
    const cleanEvery = Math.min(retentionMillis / 10, 10 * 60_000)
    let cleanedAt = 0
    const clean = Effect.suspend(() => {
      if (Date.now() - cleanedAt < cleanEvery) return Effect.void
      cleanedAt = Date.now()
      return sql.unsafe(
        `DELETE FROM recount_process_commands
         WHERE process = $1 AND status IN ('done', 'cancelled') AND done_at < now() - ($2 || ' milliseconds')::interval`,
        [name, String(retentionMillis)]
      )
    })

    const fail = (command: PendingRow, error: unknown) =>
      sql.withTransaction(Effect.gen(function*() {
        const failed = yield* sql.unsafe<{ seq: string }>(
          `UPDATE recount_process_commands SET status = 'failed', error = $4, done_at = now()
           WHERE process = $1 AND tenant = $2 AND command_id = $3 AND status = 'pending' RETURNING seq::text AS seq`,
          [name, command.tenant, command.command_id, describe(error)]
        )
        if (failed.length === 0) return
        yield* sql.unsafe(
          `UPDATE recount_process_commands SET status = 'cancelled', done_at = now()
           WHERE process = $1 AND tenant = $2 AND correlation_id = $3 AND status = 'pending' AND seq > $4`,
          [name, command.tenant, command.correlation_id, failed[0]!.seq]
        )
        if (!options.onFailure) return
        const [row] = yield* sql.unsafe<StateRow>(
          `SELECT state, completed FROM recount_process_state WHERE process = $1 AND tenant = $2 AND correlation_id = $3 FOR UPDATE`,
          [name, command.tenant, command.correlation_id]
        )
        if (!row) return
        const state = yield* Schema.decodeUnknown(schema)(row.state)
        const step = options.onFailure(state, {
          step: command.step,
          aggregate: command.aggregate,
          aggregateId: command.aggregate_id,
          command: command.command,
          error
        })
        if (step !== undefined) yield* save(sql, { tenant: command.tenant, correlationId: command.correlation_id }, step, undefined)
      }))

    /** Sends one command: true when the instance's next command may go too. */
    const attempt = (command: PendingRow) =>
      Effect.gen(function*() {
        const result = yield* Effect.either(bus.dispatchUnknown(command.aggregate, command.aggregate_id, command.command, {
          commandId: command.command_id,
          tenant: command.command_tenant
        }))
        if (result._tag === "Right") {
          yield* sql.unsafe(
            `UPDATE recount_process_commands SET status = 'done', done_at = now() WHERE process = $1 AND tenant = $2 AND command_id = $3`,
            [name, command.tenant, command.command_id]
          )
          return true
        }
        const tag = typeof result.left === "object" && result.left !== null && "_tag" in result.left ? String(result.left._tag) : ""
        if (transient.has(tag)) {
          const delay = Math.min(200 * 2 ** command.attempts, 30_000)
          yield* sql.unsafe(
            `UPDATE recount_process_commands SET attempts = attempts + 1, error = $4, not_before = now() + ($5 || ' milliseconds')::interval
             WHERE process = $1 AND tenant = $2 AND command_id = $3`,
            [name, command.tenant, command.command_id, describe(result.left), String(delay)]
          )
          return false
        }
        yield* fail(command, result.left)
        return false
      })

    const round = Effect.gen(function*() {
      const pending = yield* sql.unsafe<PendingRow>(
        `SELECT tenant, command_id, correlation_id, step, command_tenant, aggregate, aggregate_id, command, attempts
         FROM recount_process_commands
         WHERE process = $1 AND status = 'pending' AND (not_before IS NULL OR not_before <= now())
         ORDER BY seq LIMIT 200`,
        [name]
      )
      const byInstance = new Map<string, Array<PendingRow>>()
      for (const row of pending) {
        const key = `${row.tenant}\u0000${row.correlation_id}`
        byInstance.set(key, [...(byInstance.get(key) ?? []), row])
      }
      yield* Effect.forEach(byInstance.values(), (commands) =>
        Effect.gen(function*() {
          for (const command of commands) if (!(yield* attempt(command))) return
        }), { concurrency: 16, discard: true })
      return pending.length
    })

    // The database may be down when the singleton starts, or at any round: log, wait, go on.
    const orWait = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.catchAllCause(effect, (cause) =>
        Effect.zipRight(Effect.logWarning(`process manager ${name}: dispatch failed`, cause), Effect.sleep("1 second")))
    yield* Effect.retry(ensureTables, Schedule.spaced("1 second"))
    return yield* round.pipe(
      Effect.zipLeft(clean),
      Effect.flatMap((sent) => sent === 0 ? Effect.sleep(idle) : Effect.void),
      orWait,
      Effect.forever
    )
  }).pipe(Effect.orDie)

  return { name, stateSchema: schema, projection, dispatcher }
}

/**
 * A process instance by correlation id, its state decoded with the state schema.
 *
 * @since 0.1.0
 */
export const get = <S, E>(processManager: ProcessManager<S, E>, correlationId: string, options?: { readonly tenant?: string | undefined }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tenant = options?.tenant ?? (yield* EventStoreConfig).defaultTenant
    const [row] = yield* sql.unsafe<StateRow>(
      `SELECT state, completed FROM recount_process_state WHERE process = $1 AND tenant = $2 AND correlation_id = $3`,
      [processManager.name, tenant, correlationId]
    )
    if (!row) return Option.none<Instance<S>>()
    const commands = yield* sql.unsafe<{
      step: string
      command_id: string
      aggregate: string
      aggregate_id: string
      status: CommandRecord["status"]
      attempts: number
      error: string | null
    }>(
      `SELECT step, command_id, aggregate, aggregate_id, status, attempts, error FROM recount_process_commands
       WHERE process = $1 AND tenant = $2 AND correlation_id = $3 ORDER BY seq`,
      [processManager.name, tenant, correlationId]
    )
    return Option.some<Instance<S>>({
      correlationId,
      state: yield* Schema.decodeUnknown(processManager.stateSchema)(row.state),
      completed: row.completed,
      commands: commands.map((c) => ({
        step: c.step,
        commandId: c.command_id,
        aggregate: c.aggregate,
        aggregateId: c.aggregate_id,
        status: c.status,
        attempts: Number(c.attempts),
        error: c.error
      }))
    })
  })

interface StateRow {
  readonly state: unknown
  readonly completed: boolean
  readonly transaction_id: string
  readonly global_position: string
}

interface PendingRow {
  /** The process instance's tenant. */
  readonly tenant: string
  readonly command_id: string
  readonly correlation_id: string
  readonly step: string
  readonly command_tenant: string
  readonly aggregate: string
  readonly aggregate_id: string
  readonly command: unknown
  readonly attempts: number
}

const transient = new Set(["CommandTimeout", "AggregateUnavailable", "CommandConflict"])

const checkpointOf = (row: StateRow) => Checkpoint.make(BigInt(row.transaction_id), BigInt(row.global_position))

const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const { _tag, ...rest } = error as { readonly _tag: unknown }
    return Object.keys(rest).length === 0 ? String(_tag) : `${String(_tag)} ${JSON.stringify(rest)}`
  }
  return error instanceof Error ? error.message : String(error)
}

/** Both tables, shared by every process manager; created once, under a lock against a racing node. */
const ensureTables = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext('recount_process_tables'))`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS recount_process_state (
      process text NOT NULL,
      tenant text NOT NULL,
      correlation_id text NOT NULL,
      state jsonb NOT NULL,
      completed boolean NOT NULL DEFAULT false,
      transaction_id xid8 NOT NULL,
      global_position bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (process, tenant, correlation_id)
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS recount_process_commands (
      process text NOT NULL,
      tenant text NOT NULL,
      command_id text NOT NULL,
      seq bigserial NOT NULL,
      correlation_id text NOT NULL,
      step text NOT NULL,
      command_tenant text NOT NULL,
      aggregate text NOT NULL,
      aggregate_id text NOT NULL,
      command jsonb NOT NULL,
      status text NOT NULL DEFAULT 'pending',
      attempts integer NOT NULL DEFAULT 0,
      not_before timestamptz,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      done_at timestamptz,
      PRIMARY KEY (process, tenant, command_id)
    )`)
    yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS recount_process_commands_pending ON recount_process_commands (process, seq) WHERE status = 'pending'`)
  })))
