import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { ProjectionStatus } from "@recount/core/ProjectionStatus"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { RebuildFailed } from "../CliError.js"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const rows = (all: ReadonlyArray<ProjectionStatus>) =>
  Output.table(
    ["name", "state", "version", "lag", "lag s", "applied", "parked", "rebuild", "last error"],
    all.map((s) => [
      s.name,
      s.state,
      String(s.version),
      String(s.lagEvents),
      s.lagSeconds.toFixed(1),
      String(s.eventsApplied),
      String(s.parkedEvents),
      s.rebuild ? `v${s.rebuild.version}, ${s.rebuild.lagEvents} left` : "",
      Output.cell(s.lastError, 50)
    ])
  )

const name = Args.text({ name: "name" }).pipe(Args.withDescription("The projection"))

const status = Command.make("status", { ...Connection.options, name: name.pipe(Args.optional) }, (o) =>
  Effect.gen(function*() {
    const all = yield* Connection.withRpc(o, (rpc) => rpc.GetProjections({ names: Option.match(o.name, { onNone: () => undefined, onSome: (n) => [n] }) }))
    yield* Output.print(o.json, all, rows)
  })).pipe(Command.withDescription("Every projection's state, version, lag and parked events (or one's)"))

const pause = Command.make("pause", { ...Connection.options, name }, (o) =>
  Effect.flatMap(Connection.withRpc(o, (rpc) => rpc.PauseProjection({ name: o.name })), (s) => Output.print(o.json, s, (s) => rows([s]))))
  .pipe(Command.withDescription("Stop a projection applying events until resume"))

const resume = Command.make("resume", { ...Connection.options, name }, (o) =>
  Effect.flatMap(Connection.withRpc(o, (rpc) => rpc.ResumeProjection({ name: o.name })), (s) => Output.print(o.json, s, (s) => rows([s]))))
  .pipe(Command.withDescription("Resume a paused projection, or a strict one that failed"))

const bar = (done: number, total: number) => {
  const share = total === 0 ? 1 : Math.min(1, done / total)
  const filled = Math.round(share * 30)
  return `[${"#".repeat(filled)}${".".repeat(30 - filled)}] ${Math.floor(share * 100)}%`
}

const rebuild = Command.make("rebuild", {
  ...Connection.options,
  name,
  detach: Options.boolean("detach").pipe(Options.withDescription("Start the rebuild and return; do not wait for the swap")),
  interval: Options.integer("interval").pipe(Options.withDescription("Milliseconds between progress polls"), Options.withDefault(500))
}, (o) =>
  Connection.withRpc(o, (rpc) =>
    Effect.gen(function*() {
      const { version } = yield* rpc.RebuildProjection({ name: o.name })
      if (o.detach) return yield* Output.print(o.json, { name: o.name, version }, () => `rebuilding ${o.name} to version ${version}`)
      if (!o.json) yield* Output.line(`rebuilding ${o.name} to version ${version}`)
      // The total is the most events the rebuild was seen to have left: the log grows meanwhile.
      let total = 0
      let shown = ""
      let warned = false
      while (true) {
        const [s] = yield* rpc.GetProjections({ names: [o.name] })
        if (!s) return yield* Effect.dieMessage(`the node returned no status for ${o.name}`)
        if (s.rebuild === null) {
          if (s.version < version) return yield* new RebuildFailed({ projection: o.name, version, lastError: s.lastError })
          return yield* Output.print(o.json, s, () => `${bar(1, 1)}  ${o.name} now serves version ${s.version}`)
        }
        // A paused, failed or stopped projection rebuilds nothing until someone acts: say so once.
        if (!o.json && !warned && (s.state === "paused" || s.state === "failed" || s.state === "stopped")) {
          warned = true
          yield* Output.line(`${o.name} is ${s.state}: the rebuild goes on once it runs again${s.state === "stopped" ? "" : " (recount projections resume)"}`)
        }
        total = Math.max(total, s.rebuild.lagEvents)
        const progress = `${bar(total - s.rebuild.lagEvents, total)}  ${s.rebuild.lagEvents} events left (${s.state})`
        if (!o.json && progress !== shown) yield* Output.line(progress)
        shown = progress
        yield* Effect.sleep(o.interval)
      }
    }))).pipe(Command.withDescription("Rebuild a projection's read model beside the current one, showing progress until the swap"))

/** `recount projections status|pause|resume|rebuild`. */
export const command = Command.make("projections").pipe(
  Command.withDescription("Operate projections (bootstrap key)"),
  Command.withSubcommands([status, pause, resume, rebuild])
)
