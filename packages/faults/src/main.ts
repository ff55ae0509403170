/**
 * `npm run faults -- [--minutes 2] [--runners 3] [--clients 2] [--faults kill,pause,...] [--seed n] [--json]`:
 * one fault run, its summary on stdout (a table, or one JSON object with `--json`), progress on
 * stderr. Exits with 0 when every checker passed, 1 when one did not, 2 on a bad command line.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Faults from "./Faults.js"
import * as Run from "./Run.js"
import * as Summary from "./Summary.js"

const parseKinds = (text: string): ReadonlyArray<Faults.Kind> | string => {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0 && s !== "none")
  const unknown = names.filter((n) => !(Faults.kinds as ReadonlyArray<string>).includes(n))
  if (unknown.length > 0) return `unknown fault ${unknown.join(", ")}; known: ${Faults.kinds.join(", ")}`
  return names as ReadonlyArray<Faults.Kind>
}

let exitCode = 0

const command = Command.make("faults", {
  minutes: Options.float("minutes").pipe(Options.withDescription("How long the clients run (faults stop 15 s before)"), Options.withDefault(2)),
  runners: Options.integer("runners").pipe(Options.withDescription("Runner processes"), Options.withDefault(3)),
  clients: Options.integer("clients").pipe(Options.withDescription("Client processes"), Options.withDefault(2)),
  workers: Options.integer("workers").pipe(Options.withDescription("Concurrent operations per client"), Options.withDefault(4)),
  faults: Options.text("faults").pipe(Options.withDescription(`Comma-separated fault kinds: ${Faults.kinds.join(", ")}; none for a control run`), Options.withDefault(Faults.kinds.join(","))),
  seed: Options.integer("seed").pipe(Options.withDescription("Seeds the workload and the nemesis (default: random, printed)"), Options.optional),
  settle: Options.integer("settle-seconds").pipe(Options.withDescription("How long the read models and sagas may take to catch up after the run"), Options.withDefault(120)),
  out: Options.directory("out").pipe(Options.withDescription("Where the run's files go (default: a new temporary folder)"), Options.optional),
  json: Options.boolean("json").pipe(Options.withDescription("Print the summary as one JSON object"))
}, (o) =>
  Effect.gen(function*() {
    const kinds = parseKinds(o.faults)
    if (typeof kinds === "string") {
      process.stderr.write(`faults: ${kinds}\n`)
      return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(kinds)))
    }
    const seed = Option.getOrElse(o.seed, () => Math.floor(Math.random() * 1_000_000))
    const { outDir, summary } = yield* Run.run({
      minutes: o.minutes,
      runners: o.runners,
      clients: o.clients,
      workers: o.workers,
      faults: kinds,
      seed,
      outDir: Option.getOrUndefined(o.out),
      settleMillis: o.settle * 1000,
      databaseUrl: process.env.DATABASE_URL || undefined,
      log: (line) => process.stderr.write(`${line}\n`)
    })
    process.stdout.write(o.json ? `${JSON.stringify({ ...summary, outDir })}\n` : `${Summary.format(summary)}\n(files in ${outDir})\n`)
    exitCode = summary.passed ? 0 : 1
  })).pipe(Command.withDescription("Run the shop under faults and check that nothing acknowledged is lost"))

const cli = Command.run(command, { name: "faults", version: "0.1.0" })

const main = cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  Effect.map(() => exitCode),
  Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(2)),
  Effect.catchAllCause((cause) => Effect.sync(() => {
    process.stderr.write(`faults: ${Cause.pretty(cause)}\n`)
    return 1
  }))
)

NodeRuntime.runMain(Effect.flatMap(main, (code) => Effect.sync(() => void (process.exitCode = code))), {
  disableErrorReporting: true,
  teardown: (exit) => {
    // Interrupted by Ctrl-C or SIGTERM: the runtime interrupted the run first.
    if (Exit.isFailure(exit)) process.exitCode = 130
    setImmediate(() => process.exit())
  }
})
