/**
 * The `recount` command line: an operator's view of a node over its API (state, streams, the live
 * log, projections, dead letters, workflows, API keys), and `migrate` against the database.
 *
 * ```ts
 * // In-process, as the tests do: the exit code, with output on the Console service.
 * const code = yield* Cli.main(["projections", "status", "--json"])
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as DeadLetters from "./internal/deadLetters.js"
import * as Events from "./internal/events.js"
import * as Keys from "./internal/keys.js"
import * as Migrate from "./internal/migrate.js"
import * as Projections from "./internal/projections.js"
import * as State from "./internal/state.js"
import * as Streams from "./internal/streams.js"
import * as Workflows from "./internal/workflows.js"

/**
 * The root command and every subcommand.
 *
 * @since 0.1.0
 */
export const command = Command.make("recount").pipe(
  Command.withDescription("Operate a Recount node"),
  Command.withSubcommands([State.command, Streams.command, Events.command, Projections.command, DeadLetters.command, Workflows.command, Keys.command, Migrate.command])
)

const cli = Command.run(command, { name: "recount", version: "0.1.0" })

/**
 * Parses `args` (without the node and script paths) and runs the command; fails with the
 * command's typed error, or a `ValidationError` after printing the usage.
 *
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>) => cli(["node", "recount", ...args]).pipe(Effect.provide(NodeContext.layer))

/** The one line an operator reads: the typed error's own message. */
export const messageOf = (error: unknown): string => {
  if (error instanceof Error && error.message.length > 0) return error.message.split("\n")[0]!
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

/**
 * Runs `args` and returns the exit code: 0, 1 after printing the error's message on stderr, 2 for
 * a command line that does not parse (its usage is printed), 130 when interrupted (Ctrl-C).
 *
 * @since 0.1.0
 */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> =>
  run(args).pipe(
    Effect.as(0),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return Effect.succeed(2)
      const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
      return Effect.as(Console.error(`recount: ${messageOf(error)}`), 1)
    })
  )
