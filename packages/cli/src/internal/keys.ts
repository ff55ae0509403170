import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { ApiKeyInfo } from "@recount/rpc/RecountApi"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const columns = ["id", "tenant", "role", "name", "created at", "revoked at"]
const row = (k: ApiKeyInfo) => [k.id, k.tenant, k.role, k.name, k.createdAt.toISOString(), k.revokedAt?.toISOString() ?? ""]

const create = Command.make("create", {
  ...Connection.options,
  tenant: Options.text("tenant").pipe(Options.withDescription("The key's tenant (default: the calling key's)"), Options.optional),
  role: Options.choice("role", ["read", "write", "admin"]),
  name: Options.text("name").pipe(Options.withDescription("What the key is for"))
}, (o) =>
  Effect.gen(function*() {
    const created = yield* Connection.withRpc(o, (rpc) => rpc.CreateKey({ tenant: Option.getOrUndefined(o.tenant), role: o.role, name: o.name }))
    yield* Output.print(o.json, created, (k) => `${Output.table([...columns, "key"], [[...row(k), k.key]])}\nThe key is shown only now; Recount keeps its hash.`)
  })).pipe(Command.withDescription("Create an API key (the secret is printed once)"))

const list = Command.make("list", { ...Connection.options, tenant: Options.text("tenant").pipe(Options.optional) }, (o) =>
  Effect.gen(function*() {
    const all = yield* Connection.withRpc(o, (rpc) => rpc.ListKeys({ tenant: Option.getOrUndefined(o.tenant) }))
    yield* Output.print(o.json, all, (all) => Output.table(columns, all.map(row)))
  })).pipe(Command.withDescription("List the keys of the calling key's tenant (every tenant's for the bootstrap key)"))

const revoke = Command.make("revoke", { ...Connection.options, id: Args.text({ name: "id" }) }, (o) =>
  Effect.gen(function*() {
    const revoked = yield* Connection.withRpc(o, (rpc) => rpc.RevokeKey({ id: o.id }))
    yield* Output.print(o.json, revoked, (k) => Output.table(columns, [row(k)]))
  })).pipe(Command.withDescription("Revoke a key: calls with it fail from then on"))

/** `recount keys create|list|revoke`. */
export const command = Command.make("keys").pipe(
  Command.withDescription("Manage API keys"),
  Command.withSubcommands([create, list, revoke])
)
