/**
 * `npm run bench -- <suite> [--json] [options]`: runs one benchmark suite and prints a table, or
 * with `--json` one JSON object per result line and nothing else on stdout.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import type * as Measure from "./Measure.js"
import * as Report from "./Report.js"
import type { Result } from "./Suite.js"
import * as Suites from "./Suites.js"

interface Args {
  readonly suite: string | undefined
  readonly json: boolean
  readonly only: string | undefined
  readonly measure: Measure.Options
}

const defaults: Measure.Options = { rounds: 10, roundMillis: 500, warmupMillis: 500 }

const usage = () =>
  [
    "usage: npm run bench -- <suite> [--json] [--rounds n] [--round-ms n] [--warmup-ms n] [--only text]",
    "",
    "suites:",
    ...Suites.names().map((name) => `  ${name.padEnd(10)} ${Suites.find(name)!.description}`),
    "",
    `  --json       one JSON object per result on stdout, nothing else (progress goes to stderr)`,
    `  --rounds     measured rounds per side and workload (default ${defaults.rounds})`,
    `  --round-ms   length of one round (default ${defaults.roundMillis})`,
    `  --warmup-ms  unrecorded warm-up per side and workload (default ${defaults.warmupMillis})`,
    `  --only       run only the workloads whose name contains this text`
  ].join("\n")

class UsageError extends Error {}

const positive = (flag: string, value: string | undefined): number => {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer, got ${value ?? "nothing"}`)
  return n
}

const parse = (argv: ReadonlyArray<string>): Args => {
  let suite: string | undefined
  let json = false
  let only: string | undefined
  let measure = defaults
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    switch (arg) {
      case "--json":
        json = true
        break
      case "--rounds":
        measure = { ...measure, rounds: positive(arg, argv[++i]) }
        break
      case "--round-ms":
        measure = { ...measure, roundMillis: positive(arg, argv[++i]) }
        break
      case "--warmup-ms":
        measure = { ...measure, warmupMillis: positive(arg, argv[++i]) }
        break
      case "--only":
        only = argv[++i]
        if (only === undefined) throw new UsageError("--only needs a text")
        break
      default:
        if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`)
        if (suite !== undefined) throw new UsageError(`one suite at a time; got ${suite} and ${arg}`)
        suite = arg
    }
  }
  return { suite, json, only, measure }
}

const fail = (message: string, code: number): never => {
  Report.log(message)
  process.exit(code)
}

const main = async () => {
  let args: Args
  try {
    args = parse(process.argv.slice(2))
  } catch (e) {
    if (e instanceof UsageError) return fail(`${e.message}\n\n${usage()}`, 2)
    throw e
  }
  if (args.suite === undefined) return fail(usage(), 2)
  const entry = Suites.find(args.suite)
  if (entry === undefined) {
    return fail(`unknown suite "${args.suite}"; the suites are: ${Suites.names().join(", ")}\n\n${usage()}`, 2)
  }
  const suite = await entry.load()

  const results: Array<Result> = []
  const only = args.only
  const program = suite.run({
    log: Report.log,
    emit: (r) => {
      results.push(r)
      if (args.json) process.stdout.write(Report.jsonLine(r) + "\n")
      else Report.log(`  ${r.workload}: ratio ${r.ratio.toFixed(2)}`)
    },
    selected: (workload) => only === undefined || workload.includes(only),
    measure: args.measure
  }).pipe(
    Effect.scoped,
    // Effect's default logger writes to stdout, which belongs to the results.
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

  const fiber = Effect.runFork(program)
  // Ctrl-C interrupts the suite so its scope still stops the server and drops the database.
  const interrupt = () => Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", interrupt)
  process.once("SIGTERM", interrupt)
  const exit = await Effect.runPromise(Fiber.await(fiber))

  if (!args.json && results.length > 0) process.stdout.write(Report.table(results) + "\n")
  if (Exit.isFailure(exit)) {
    fail(Cause.isInterruptedOnly(exit.cause) ? "interrupted" : `${suite.name} failed:\n${Cause.pretty(exit.cause)}`, 1)
  }
  // Nothing of the suite's must keep the process alive; exit explicitly in case a driver does.
  process.exit(0)
}

void main()
