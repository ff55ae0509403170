import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"
import { RecountApi } from "../RecountApi.js"

/** Sends a payload as it is: for payloads whose wire form is the value itself. */
const asBuilt = <A>(schema: Schema.Schema<A, A>): Schema.Schema<A, A> =>
  Schema.declare((_: unknown): _ is A => true, { identifier: Schema.format(schema) })

/** The calls whose payloads `RecountClient` builds itself from typed arguments. */
const builtByClient: ReadonlySet<string> = new Set(["Dispatch", "DispatchBatch"])

/**
 * The API as `RecountClient` calls it: the same RPCs, middleware and wire forms, except that the
 * payloads of `Dispatch` and `DispatchBatch` go out as the client built them. The RPC library
 * checks a payload against its schema while encoding it; for these (plain JSON values whose
 * encoded form is the value itself, built from the caller's typed arguments) that check was
 * about an eighth of the client's CPU per command, three times what the command's own encoding costs.
 * The node decodes and checks every payload as before, and refuses a bad one naming its field.
 */
export const ClientApi: typeof RecountApi = RpcGroup.make(
  ...[...RecountApi.requests.values()].map((rpc): Rpc.Any => {
    if (!builtByClient.has(rpc._tag)) return rpc
    // `setPayload` is typed for struct schemas only; it keeps the RPC's other schemas and middleware.
    const withPayload = rpc as unknown as { setPayload: (schema: Schema.Schema.Any) => Rpc.Any }
    return withPayload.setPayload(asBuilt(rpc.payloadSchema as Schema.Schema<unknown>))
  })
) as unknown as typeof RecountApi
