/**
 * `npm run demo`: drives a realistic load of orders against a running shop node over the public
 * API, with a progress bar, then prints a summary (`--json` for scripts). The URL and key come
 * from `--url`/`--key` or `RECOUNT_URL`/`RECOUNT_KEY`; the key `npm start` prints will do.
 *
 *   npm run demo -- --seconds 20 --concurrency 8
 *
 * The first Ctrl-C ends the load early (the last orders settle and the summary is printed); a
 * second one quits at once.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { MissingApiKey } from "./DemoError.js"
import * as DemoLoad from "./DemoLoad.js"
import * as DemoSummary from "./DemoSummary.js"

/** Completed by the first Ctrl-C. */
const stopRequested = Effect.runSync(Deferred.make<void>())

const positive = (name: string, fallback: number) =>
  Options.integer(name).pipe(
    Options.withDefault(fallback),
    Options.filterMap((n) => n > 0 ? Option.some(n) : Option.none(), `--${name} must be a positive whole number`)
  )

const demo = Command.make("demo", {
  url: Options.text("url").pipe(
    Options.withFallbackConfig(Config.string("RECOUNT_URL")),
    Options.withDefault("http://127.0.0.1:8080"),
    Options.withDescription("The node's API (default: RECOUNT_URL, else http://127.0.0.1:8080)")
  ),
  key: Options.redacted("key").pipe(Options.withDescription("The API key (default: RECOUNT_KEY)"), Options.optional),
  seconds: positive("seconds", 30).pipe(Options.withDescription("How long to place orders")),
  concurrency: positive("concurrency", 8).pipe(Options.withDescription("Shoppers at once")),
  json: Options.boolean("json").pipe(Options.withDescription("Print the summary as JSON"))
}, (o) =>
  Effect.gen(function*() {
    const key = Option.filter(
      Option.isSome(o.key) ? o.key : yield* Config.option(Config.redacted("RECOUNT_KEY")).pipe(Effect.orElseSucceed(() => Option.none())),
      (k) => Redacted.value(k).length > 0
    )
    if (Option.isNone(key)) return yield* new MissingApiKey()
    // With --json, progress goes to stderr so stdout stays one JSON document.
    const stream = o.json ? process.stderr : process.stdout
    const summary = yield* DemoLoad.run({
      url: o.url,
      apiKey: key.value,
      seconds: o.seconds,
      concurrency: o.concurrency,
      stop: Deferred.await(stopRequested),
      output: { write: (text) => stream.write(text), isTTY: stream.isTTY === true }
    })
    yield* Console.log(o.json ? JSON.stringify(summary, null, 2) : DemoSummary.format(summary))
  })).pipe(Command.withDescription("Place orders against a shop node for a while, then summarise what happened"))

const cli = Command.run(demo, { name: "demo", version: "0.1.0" })

const main = cli(process.argv).pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.sync(() => process.exitCode = 130)
    const failure = Cause.failureOption(cause)
    // A command line that does not parse: the usage is printed already.
    if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return Effect.sync(() => process.exitCode = 2)
    const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    return Effect.zipRight(
      Console.error(`demo: ${error instanceof Error && error.message !== "" ? error.message.split("\n")[0] : String(error)}`),
      Effect.sync(() => process.exitCode = 1)
    )
  }),
  Effect.provide(NodeContext.layer)
)

const fiber = Effect.runFork(main)
process.on("SIGINT", () => {
  if (Effect.runSync(Deferred.isDone(stopRequested))) {
    Effect.runFork(Fiber.interrupt(fiber))
  } else {
    process.stderr.write("\nstopping: the last orders settle, then the summary (Ctrl-C again to quit now)\n")
    Effect.runSync(Deferred.succeed(stopRequested, undefined))
  }
})
process.once("SIGTERM", () => Effect.runFork(Fiber.interrupt(fiber)))
// Sockets are closed by now; nothing left should keep the process up.
fiber.addObserver(() => setImmediate(() => process.exit()))
