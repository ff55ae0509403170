/**
 * Results for people (an aligned table) and for machines (one JSON object per line).
 *
 * @since 0.1.0
 */
import type { Result } from "./Suite.js"

const rateFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

/** Rates to whole units: the noise between runs is far larger than a fraction. */
const roundRate = (n: number): number => Math.round(n)
const roundRatio = (n: number): number => Math.round(n * 1000) / 1000

/**
 * One line of JSON, with the fields in a fixed order so lines diff cleanly between runs.
 *
 * @since 0.1.0
 */
export const jsonLine = (r: Result): string =>
  JSON.stringify({
    bench: r.bench,
    workload: r.workload,
    unit: r.unit,
    recount: roundRate(r.recount),
    baseline: roundRate(r.baseline),
    ratio: roundRatio(r.ratio)
  })

const columns = ["workload", "unit", "recount", "baseline", "ratio"] as const
const rightAligned = new Set<string>(["recount", "baseline", "ratio"])

const cells = (r: Result): ReadonlyArray<string> => [
  r.workload,
  r.unit,
  rateFormat.format(r.recount),
  // A row with nothing to compare against (a measurement of Recount alone) has no baseline.
  Number.isFinite(r.baseline) ? rateFormat.format(r.baseline) : "n/a",
  Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : "n/a"
]

/**
 * @since 0.1.0
 */
export const table = (results: ReadonlyArray<Result>): string => {
  const rows = results.map(cells)
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => rightAligned.has(columns[i]!) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd()
  const rule = widths.map((w) => "-".repeat(w)).join("  ")
  return [line(columns), rule, ...rows.map(line)].join("\n")
}

/**
 * Progress and diagnostics: stderr, so stdout stays parseable with `--json`.
 *
 * @since 0.1.0
 */
export const log = (line: string): void => {
  process.stderr.write(line + "\n")
}
