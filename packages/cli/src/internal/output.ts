import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

/** JSON for machines: bigints (positions, checkpoints) as strings, dates as ISO text. */
export const toJson = (value: unknown, indent?: number): string =>
  JSON.stringify(value, (_key, v: unknown) => typeof v === "bigint" ? v.toString() : v, indent)

/** One value in a table cell, on one line and cut short when long. */
export const cell = (value: unknown, max = 60): string => {
  const text = value === null || value === undefined ? "" : value instanceof Date ? value.toISOString()
    : typeof value === "object" ? toJson(value)
    : String(value)
  const flat = text.replace(/\s+/g, " ")
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** A plain-text table with a header row, columns padded to their widest cell. */
export const table = (columns: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  if (rows.length === 0) return "(none)"
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/** Prints `value` as JSON with `--json`, else what `human` makes of it. */
export const print = <A>(json: boolean, value: A, human: (value: A) => string) => Console.log(json ? toJson(value, 2) : human(value))

/** Prints a single line. */
export const line = (text: string): Effect.Effect<void> => Console.log(text)
