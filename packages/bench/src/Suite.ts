/**
 * What every benchmark suite provides, so the CLI can run any of them the same way.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Measure from "./Measure.js"

/**
 * One measured row: the same workload done by Recount and by the hand-written baseline.
 *
 * @since 0.1.0
 */
export interface Result {
  readonly bench: string
  readonly workload: string
  readonly unit: string
  readonly recount: number
  readonly baseline: number
  /** recount / baseline: above 1 means Recount did more per second. */
  readonly ratio: number
}

/**
 * @since 0.1.0
 */
export interface SuiteContext {
  /** Progress for people; never on stdout, which carries only results. */
  readonly log: (line: string) => void
  /** Called once per row as soon as it is measured, so long runs show results as they go. */
  readonly emit: (result: Result) => void
  /** Whether to run the workload of this name (`--only`); lets a profile cover one workload. */
  readonly selected: (workload: string) => boolean
  readonly measure: Measure.Options
}

/**
 * @since 0.1.0
 */
export interface Suite {
  readonly name: string
  readonly description: string
  /** Everything the suite starts (servers, pools, runtimes) belongs to the scope. */
  readonly run: (context: SuiteContext) => Effect.Effect<void, Error, Scope.Scope>
}

/**
 * @since 0.1.0
 */
export const result = (
  bench: string,
  workload: string,
  unit: string,
  rates: { readonly recount: number; readonly baseline: number }
): Result => ({
  bench,
  workload,
  unit,
  recount: rates.recount,
  baseline: rates.baseline,
  ratio: rates.baseline > 0 ? rates.recount / rates.baseline : Number.NaN
})

/**
 * A row with no baseline (a lag, a memory figure): baseline and ratio are NaN, printed "n/a" and
 * `null` in `--json`.
 *
 * @since 0.1.0
 */
export const recountOnly = (bench: string, workload: string, unit: string, recount: number): Result => ({
  bench,
  workload,
  unit,
  recount,
  baseline: Number.NaN,
  ratio: Number.NaN
})
