import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Faults from "../src/Faults.js"
import * as Run from "../src/Run.js"
import * as Summary from "../src/Summary.js"

// The short profile of the fault suite (`npm run faults` is the long one): three runners, two
// clients, about two minutes, every kind of fault at least once, on an embedded server of its own
// (never the run's shared one: a fault crashes it). FAULTS_SEED repeats a run.
// Being brought up (issue 8); see the faults helper's report.
it.skip("the shop under every kind of fault: nothing acknowledged is lost or doubled, no gaps, projections equal their rebuild, one saga per order", () =>
  Effect.gen(function*() {
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000)
    const { outDir, summary } = yield* Run.run({
      minutes: 2,
      runners: 3,
      clients: 2,
      workers: 3,
      faults: Faults.kinds,
      seed,
      timings: { pauseMillis: 12_000, downMillis: 2_000, holdMillis: 8_000 },
      log: (line) => console.log(line)
    })
    console.log(`${Summary.format(summary)}\n(files in ${outDir})`)

    for (const kind of Faults.kinds) expect(summary.faults[kind]?.injected ?? 0, `fault ${kind} injected`).toBeGreaterThan(0)
    expect(summary.operations.ok).toBeGreaterThan(100)
    const c = summary.checks
    expect({
      lost: c.lost,
      duplicates: c.duplicates,
      gaps: c.gaps,
      versionConflicts: c.versionConflicts,
      refusedButApplied: c.failedButApplied,
      unexplainedEvents: c.unexplainedEvents,
      workflows: c.workflows,
      drift: summary.drift?.drift ?? summary.driftError,
      evidence: c.examples
    }).toEqual({
      lost: 0,
      duplicates: 0,
      gaps: 0,
      versionConflicts: 0,
      refusedButApplied: 0,
      unexplainedEvents: 0,
      workflows: { started: c.workflows.started, missing: 0, duplicated: 0, unfinished: 0 },
      drift: 0,
      evidence: []
    })
  }), { timeout: 900_000 })
