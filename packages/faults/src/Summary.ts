/**
 * The summary of a run: operations by outcome, faults by kind with their recovery times, and the
 * checkers' verdicts. Printed as a table, or as one JSON object.
 *
 * Recovery of a fault: from its end (the restart, the SIGCONT, the server up again, the late
 * commit; for `terminate` the moment itself) until every operation open at that moment has
 * completed. A fault after which an operation never completed (unknown at the end) is counted,
 * not timed.
 *
 * @since 0.1.0
 */
import * as Checkers from "./Checkers.js"
import type * as Faults from "./Faults.js"
import type * as History from "./History.js"
import type * as ProjectionDrift from "./ProjectionDrift.js"

/** @since 0.1.0 */
export interface Percentiles {
  readonly count: number
  readonly p50: number | null
  readonly p99: number | null
  readonly max: number | null
}

/** @since 0.1.0 */
export interface Summary {
  readonly seed: number
  readonly minutes: number
  readonly runners: number
  readonly clients: number
  readonly operations: { readonly attempted: number; readonly ok: number; readonly failed: number; readonly unknown: number; readonly attempts: number }
  readonly faults: { readonly [kind: string]: { readonly injected: number; readonly recoveryMillis: Percentiles } }
  readonly recoveryMillis: Percentiles
  readonly checks: Checkers.Checks
  /** Undefined when the projections could not be compared (the reason is in `driftError`). */
  readonly drift: ProjectionDrift.Drift | undefined
  readonly driftError: string | undefined
  readonly passed: boolean
}

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** @since 0.1.0 */
export const percentiles = (values: ReadonlyArray<number>): Percentiles => {
  const sorted = [...values].sort((a, b) => a - b)
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length === 0 ? null : sorted[sorted.length - 1]! }
}

/**
 * Milliseconds from the end of the fault (its heal) until every operation still open then had
 * completed; 0 when none was open; undefined when one never completed.
 */
export const recovery = (fault: Faults.Injected, operations: ReadonlyArray<History.Operation>): number | undefined => {
  let last = fault.healedAt
  for (const op of operations) {
    if (op.invokedAt > fault.healedAt) continue
    if (op.completedAt !== undefined && op.completedAt <= fault.healedAt) continue
    if (op.completedAt === undefined) return undefined
    last = Math.max(last, op.completedAt)
  }
  return last - fault.healedAt
}

/** @since 0.1.0 */
export const make = (options: {
  readonly seed: number
  readonly minutes: number
  readonly runners: number
  readonly clients: number
  readonly operations: ReadonlyArray<History.Operation>
  readonly injected: ReadonlyArray<Faults.Injected>
  readonly checks: Checkers.Checks
  readonly drift: ProjectionDrift.Drift | undefined
  readonly driftError: string | undefined
}): Summary => {
  const ops = options.operations.filter((op) => op.client !== "nemesis")
  const byKind: Record<string, { injected: number; recoveries: Array<number> }> = {}
  const all: Array<number> = []
  for (const fault of options.injected) {
    const entry = byKind[fault.kind] ??= { injected: 0, recoveries: [] }
    entry.injected++
    const millis = recovery(fault, ops)
    if (millis !== undefined) {
      entry.recoveries.push(millis)
      all.push(millis)
    }
  }
  return {
    seed: options.seed,
    minutes: options.minutes,
    runners: options.runners,
    clients: options.clients,
    operations: {
      attempted: ops.length,
      ok: ops.filter((o) => o.outcome === "ok").length,
      failed: ops.filter((o) => o.outcome === "fail").length,
      unknown: ops.filter((o) => o.outcome === "unknown").length,
      attempts: ops.reduce((n, o) => n + o.attempts, 0)
    },
    faults: Object.fromEntries(Object.entries(byKind).map(([kind, e]) => [kind, { injected: e.injected, recoveryMillis: percentiles(e.recoveries) }])),
    recoveryMillis: percentiles(all),
    checks: options.checks,
    drift: options.drift,
    driftError: options.driftError,
    passed: Checkers.passed(options.checks) && options.drift !== undefined && options.drift.drift === 0
  }
}

const ms = (n: number | null) => (n === null ? "-" : `${(n / 1000).toFixed(1)} s`)

/** The summary as text for a person. */
export const format = (s: Summary): string => {
  const c = s.checks
  const verdict = (n: number) => (n === 0 ? "0" : `${n}  <-- VIOLATION`)
  return [
    `Recount fault run: ${s.minutes} min, ${s.runners} runners, ${s.clients} clients, seed ${s.seed}`,
    "",
    `operations   attempted ${s.operations.attempted}, ok ${s.operations.ok}, failed ${s.operations.failed}, unknown ${s.operations.unknown} (${s.operations.attempts} attempts)`,
    "",
    "fault             injected   recovery p50   p99      max",
    ...Object.entries(s.faults).map(([kind, f]) =>
      `${kind.padEnd(18)}${String(f.injected).padStart(8)}   ${ms(f.recoveryMillis.p50).padStart(12)}   ${ms(f.recoveryMillis.p99).padEnd(8)} ${ms(f.recoveryMillis.max)}`),
    `${"all".padEnd(18)}${String(Object.values(s.faults).reduce((n, f) => n + f.injected, 0)).padStart(8)}   ${ms(s.recoveryMillis.p50).padStart(12)}   ${ms(s.recoveryMillis.p99).padEnd(8)} ${ms(s.recoveryMillis.max)}`,
    "",
    `store        ${c.events} events in ${c.streams} streams; ${c.acknowledged} acknowledged commands checked`,
    `acknowledged-but-lost  ${verdict(c.lost)}`,
    `duplicates             ${verdict(c.duplicates)}`,
    `gaps                   ${verdict(c.gaps)}`,
    `version conflicts      ${verdict(c.versionConflicts)}`,
    `refused-but-applied    ${verdict(c.failedButApplied)}`,
    `unexplained events     ${verdict(c.unexplainedEvents)}`,
    s.drift === undefined
      ? `projection drift       not judged: ${s.driftError}  <-- VIOLATION`
      : `projection drift       ${verdict(s.drift.drift)}  (${s.drift.explained} rows explained by ${s.drift.deadLetters} dead letters)`,
    ...(s.drift?.projections ?? []).map((p) =>
      `  ${p.name.padEnd(20)} ${String(p.rows).padStart(6)} rows  live ${p.liveHash}  rebuilt ${p.rebuiltHash}${p.differing > 0 ? `  ${p.differing} differ` : ""}`),
    `workflows              ${c.workflows.started} started; missing ${verdict(c.workflows.missing)}, duplicated ${verdict(c.workflows.duplicated)}, unfinished ${verdict(c.workflows.unfinished)}`,
    ...(c.examples.length > 0 || (s.drift?.drift ?? 0) > 0
      ? ["", "evidence:", ...c.examples.map((e) => `  ${e}`), ...(s.drift?.projections ?? []).flatMap((p) => p.examples.map((e) => `  ${p.name} ${e}`))]
      : []),
    "",
    s.passed ? "PASSED" : "FAILED"
  ].join("\n")
}
