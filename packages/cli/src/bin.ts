/**
 * The `recount` executable: runs the command line and exits with its code. Ctrl-C interrupts the
 * command (closing its connections) before the process exits.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { main } from "./Cli.js"

const fiber = Effect.runFork(main(process.argv.slice(2)))
const stop = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  process.exitCode = Exit.isSuccess(exit) ? exit.value : 130
  // Sockets and pools are closed by now; nothing left should keep the process up.
  setImmediate(() => process.exit())
})
