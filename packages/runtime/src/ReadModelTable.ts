/**
 * The common projection in a few lines: one read-model table whose rows are keyed by a field of
 * the event, with a function per event type saying which row changes and how. The table, its
 * migration and the handler are derived from that.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import type * as EventRegistry from "@recount/core/EventRegistry"
import * as Effect from "effect/Effect"
import * as Projection from "./Projection.js"
import { quote } from "./internal/projectionRows.js"

/** A column value: what node-postgres sends as a parameter. */
export type Value = string | number | boolean | bigint | Date | null | ReadonlyArray<unknown> | { readonly [key: string]: unknown }

/**
 * What one event does to the table. `set` writes the given columns, inserting the row when it is
 * missing (upsert); `increment` adds to numeric columns (starting from 0 when the row is new);
 * `delete` removes the row.
 *
 * @since 0.1.0
 */
export type Change<Columns extends string> =
  | {
    readonly key: Value
    readonly set?: Partial<Record<Columns, Value>> | undefined
    readonly increment?: Partial<Record<Columns, number>> | undefined
  }
  | { readonly key: Value; readonly delete: true }

/** Handlers by event type; each event type the projection should see has one. */
export type Handlers<E extends { readonly _tag: string }, Columns extends string> = {
  readonly [K in E["_tag"]]?: (event: Extract<E, { readonly _tag: K }>, envelope: RecordedEvent) => Change<Columns> | ReadonlyArray<Change<Columns>> | undefined
}

/**
 * @since 0.1.0
 */
export const make = <E extends { readonly _tag: string }, const Columns extends Readonly<Record<string, string>>>(options: {
  /** The projection's name. */
  readonly name: string
  /** The view readers query; its versions are `<table>_v<n>`. */
  readonly table: string
  /** Column names to SQL types, key included. */
  readonly columns: Columns
  /** The key column. */
  readonly key: keyof Columns & string
  readonly events: EventRegistry.EventRegistry<E>
  readonly on: Handlers<E, keyof Columns & string>
  readonly categories?: ReadonlyArray<string> | undefined
  /** More migrations after the generated `0001_create_table` (indexes, say). */
  readonly migrations?: Readonly<Record<string, Projection.Migration>> | undefined
  readonly batchSize?: number | undefined
  readonly maxAttempts?: number | undefined
  readonly strict?: boolean | undefined
}): Projection.Projection<E> => {
  const columnNames = Object.keys(options.columns)
  for (const column of columnNames) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(column)) throw new Error(`read model ${options.name}: column ${JSON.stringify(column)} must be lower case letters, digits and _`)
  }
  if (!columnNames.includes(options.key)) throw new Error(`read model ${options.name}: key ${options.key} is not a column`)
  const handled = Object.keys(options.on)
  const handlers = options.on as Record<string, ((event: E, envelope: RecordedEvent) => Change<string> | ReadonlyArray<Change<string>> | undefined) | undefined>
  const unknownColumn = (names: ReadonlyArray<string>) => names.find((n) => !columnNames.includes(n))

  const write = (table: string, change: Change<string>) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const t = quote(table)
      const k = quote(options.key)
      if ("delete" in change) return sql.unsafe(`DELETE FROM ${t} WHERE ${k} = $1`, [change.key as never])
      const set = Object.entries(change.set ?? {})
      const increment = Object.entries(change.increment ?? {})
      const bad = unknownColumn([...set.map(([c]) => c), ...increment.map(([c]) => c)])
      if (bad !== undefined) return Effect.dieMessage(`read model ${options.name}: no column ${bad}`)
      const columns = [options.key, ...set.map(([c]) => c), ...increment.map(([c]) => c)]
      const values = [change.key, ...set.map(([, v]) => v), ...increment.map(([, v]) => v)]
      const updates = [
        ...set.map(([c]) => `${quote(c)} = excluded.${quote(c)}`),
        ...increment.map(([c]) => `${quote(c)} = coalesce(${t}.${quote(c)}, 0) + excluded.${quote(c)}`)
      ]
      return sql.unsafe(
        `INSERT INTO ${t} (${columns.map(quote).join(", ")}) VALUES (${values.map((_, i) => `$${i + 1}`).join(", ")})
         ON CONFLICT (${k}) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(", ")}` : "NOTHING"}`,
        values as Array<never>
      )
    })

  return Projection.make<E>({
    name: options.name,
    events: options.events,
    eventTypes: handled,
    categories: options.categories,
    tables: [options.table],
    batchSize: options.batchSize,
    maxAttempts: options.maxAttempts,
    strict: options.strict,
    migrations: {
      "0001_create_table": (target) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.unsafe(
            `CREATE TABLE ${quote(target.table(options.table))} (${
              columnNames.map((c) => `${quote(c)} ${options.columns[c]}`).join(", ")
            }, PRIMARY KEY (${quote(options.key)}))`
          )),
      ...options.migrations
    },
    handle: (event, envelope, target) => {
      const handler = handlers[event._tag]
      const result = handler?.(event, envelope)
      if (result === undefined) return Effect.void
      const changes: ReadonlyArray<Change<string>> = Array.isArray(result) ? result : [result as Change<string>]
      const table = target.table(options.table)
      return Effect.forEach(changes, (change) => write(table, change), { discard: true })
    }
  })
}
