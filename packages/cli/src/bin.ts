/**
 * The `recount` executable: runs the command line and exits with its code. Ctrl-C interrupts the
 * command (closing its connections) before the process exits.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { main } from "./Cli.js"

NodeRuntime.runMain(Effect.flatMap(main(process.argv.slice(2)), (code) => Effect.sync(() => void (process.exitCode = code))), {
  disableErrorReporting: true,
  teardown: (exit) => {
    // Interrupted by Ctrl-C or SIGTERM (the runtime interrupts the command first, closing its connections).
    if (Exit.isFailure(exit)) process.exitCode = 130
    // Sockets and pools are closed by now; nothing left should keep the process up.
    setImmediate(() => process.exit())
  }
})
