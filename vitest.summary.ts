import type { Reporter } from "vitest/node"

interface Task {
  readonly type: string
  readonly mode?: string
  readonly result?: { readonly state?: string }
  readonly tasks?: ReadonlyArray<Task>
}

/** Ends the run with one plain line, `Recount tests: N passed, N failed`, that CI can read. */
export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<Task> = [], errors: ReadonlyArray<unknown> = []) {
    const counts = { passed: 0, failed: 0, skipped: 0 }
    const visit = (task: Task) => {
      if (task.type === "test") {
        const state = task.result?.state
        if (state === "pass") counts.passed++
        else if (state === "fail") counts.failed++
        else counts.skipped++
      }
      task.tasks?.forEach(visit)
    }
    for (const file of files) {
      visit(file)
      // A file that failed to load has no tests but must not pass unnoticed.
      if (file.result?.state === "fail" && !(file.tasks ?? []).some((t) => t.type === "test" || t.type === "suite")) counts.failed++
    }
    counts.failed += errors.length
    // Deferred so that it prints after the default reporter's summary.
    setImmediate(() => process.stdout.write(`\nRecount tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`))
  }
}
