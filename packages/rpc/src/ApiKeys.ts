/**
 * API keys for the public API: bearer tokens bound to a tenant and a role, stored as a SHA-256
 * hash of their secret (the secret is random, so a slow hash adds nothing). A bootstrap admin key
 * may come from configuration (`RECOUNT_ADMIN_KEY`); it may act in every tenant.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { InvalidArgument, StoreUnavailable } from "@recount/core/EventStoreError"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash, randomBytes } from "node:crypto"
import type { ApiKeyCreated, ApiKeyInfo, Principal, Role } from "./RecountApi.js"
import { Unauthorized } from "./RecountApi.js"

/** The tenant of the bootstrap key: every tenant. */
export const allTenants = "*"

/** @since 0.1.0 */
export interface ApiKeysService {
  readonly create: (options: { readonly tenant: string; readonly role: Role; readonly name: string }) => Effect.Effect<ApiKeyCreated, InvalidArgument | StoreUnavailable>
  readonly list: (tenant: string | undefined) => Effect.Effect<ReadonlyArray<ApiKeyInfo>, StoreUnavailable>
  readonly get: (id: string) => Effect.Effect<Option.Option<ApiKeyInfo>, StoreUnavailable>
  readonly revoke: (id: string) => Effect.Effect<ApiKeyInfo, InvalidArgument | StoreUnavailable>
  /** The caller of a bearer key, or `Unauthorized`. Revocations on this node apply at once, elsewhere within a second. */
  readonly authenticate: (key: string | undefined) => Effect.Effect<Principal["Type"], Unauthorized>
}

/** @since 0.1.0 */
export class ApiKeys extends Context.Tag("@recount/rpc/ApiKeys")<ApiKeys, ApiKeysService>() {}

const hash = (secret: string) => createHash("sha256").update(secret).digest("hex")

/**
 * Compares two strings in time that depends on their length only (the secrets have a fixed
 * length). Character by character rather than `timingSafeEqual` on Buffers: every call checks a
 * key, and the two Buffers per comparison were a measurable part of the WebSocket face's cost.
 */
const sameText = (a: string, b: string) => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** Keys look like `rk_<id>_<secret>`: the id finds the row, the secret is checked against its hash. */
const parse = (key: string) => {
  const match = /^rk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/.exec(key)
  return match ? { id: match[1]!, secret: match[2]! } : undefined
}

interface Row {
  readonly id: string
  readonly tenant: string
  readonly role: Role
  readonly name: string
  readonly secret_hash: string
  readonly created_at: Date
  readonly revoked_at: Date | null
}
const toInfo = (row: Row): ApiKeyInfo => ({ id: row.id, tenant: row.tenant, role: row.role, name: row.name, createdAt: row.created_at, revokedAt: row.revoked_at })
const unavailable = (operation: string) => (e: SqlError) => new StoreUnavailable({ operation, detail: e.message })

/** How long a node trusts a key it has checked before asking the database again. */
const cacheMillis = 1000

/**
 * A key's row as this node last read it. `secret` is the secret that was last found to match the
 * row's hash, so the next call with the same key compares it directly instead of hashing again
 * (a SHA-256 and two Buffers per call, on every WebSocket message); a different secret is still
 * hashed and checked against the row. The entry lives `cacheMillis` from its read, so a key
 * revoked on another node stops working within that time; `revoke` here drops it at once.
 */
interface Cached {
  readonly row: Row
  readonly until: number
  readonly principal: Principal["Type"]
  secret: string | undefined
}

/**
 * @since 0.1.0
 */
export const make = (options?: { readonly bootstrapKey?: Redacted.Redacted<string> | undefined }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bootstrap = options?.bootstrapKey ? Redacted.value(options.bootstrapKey) : undefined
    const cache = new Map<string, Cached>()
    const bootstrapPrincipal: Principal["Type"] = { keyId: "bootstrap", tenant: allTenants, role: "admin" }

    const select = (id: string) =>
      sql.unsafe<Row>("SELECT id, tenant, role, name, secret_hash, created_at, revoked_at FROM recount_api_keys WHERE id = $1", [id]).pipe(
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.mapError(unavailable("readApiKey"))
      )

    const unauthorized = (reason: string) => Effect.fail(new Unauthorized({ reason }))

    /** Checks `secret` against an entry read within `cacheMillis`: no database, no Effect.gen. */
    const check = (entry: Cached, secret: string): Effect.Effect<Principal["Type"], Unauthorized> => {
      if (entry.secret === undefined || !sameText(secret, entry.secret)) {
        if (!sameText(hash(secret), entry.row.secret_hash)) return unauthorized("unknown API key")
        entry.secret = secret
      }
      if (entry.row.revoked_at !== null) return unauthorized("the API key is revoked")
      return Effect.succeed(entry.principal)
    }

    const read = (id: string, secret: string) =>
      Effect.flatMap(
        select(id).pipe(Effect.catchAll(() => Effect.fail(new Unauthorized({ reason: "keys cannot be checked right now" })))),
        (found) => {
          if (Option.isNone(found)) return unauthorized("unknown API key")
          const row = found.value
          const entry: Cached = { row, until: Date.now() + cacheMillis, principal: { keyId: row.id, tenant: row.tenant, role: row.role }, secret: undefined }
          cache.set(id, entry)
          return check(entry, secret)
        }
      )

    // Suspended: the check happens each time the effect runs, not when it is made.
    const authenticate: ApiKeysService["authenticate"] = (key) =>
      Effect.suspend(() => {
        if (key === undefined || key === "") return unauthorized("no API key; send Authorization: Bearer <key>")
        if (bootstrap !== undefined && sameText(key, bootstrap)) return Effect.succeed(bootstrapPrincipal)
        const parsed = parse(key)
        if (!parsed) return unauthorized("malformed API key")
        const cached = cache.get(parsed.id)
        return cached !== undefined && cached.until > Date.now() ? check(cached, parsed.secret) : read(parsed.id, parsed.secret)
      })

    return ApiKeys.of({
      authenticate,
      create: ({ name, role, tenant }) =>
        Effect.gen(function*() {
          if (tenant === allTenants || tenant.length === 0 || tenant.length > 64 || tenant.includes("/")) {
            return yield* new InvalidArgument({ argument: "tenant", reason: "must be 1 to 64 characters, without / and not *" })
          }
          if (name.length === 0 || name.length > 200) return yield* new InvalidArgument({ argument: "name", reason: "must be 1 to 200 characters" })
          const id = randomBytes(10).toString("hex").slice(0, 16)
          const secret = randomBytes(32).toString("base64url")
          const [row] = yield* sql.unsafe<Row>(
            `INSERT INTO recount_api_keys (id, tenant, role, name, secret_hash) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, tenant, role, name, secret_hash, created_at, revoked_at`,
            [id, tenant, role, name, hash(secret)]
          ).pipe(Effect.mapError(unavailable("createApiKey")))
          return { ...toInfo(row!), key: `rk_${id}_${secret}` }
        }),
      list: (tenant) =>
        sql.unsafe<Row>(
          `SELECT id, tenant, role, name, secret_hash, created_at, revoked_at FROM recount_api_keys
           ${tenant === undefined ? "" : "WHERE tenant = $1"} ORDER BY created_at, id`,
          tenant === undefined ? [] : [tenant]
        ).pipe(Effect.map((rows) => rows.map(toInfo)), Effect.mapError(unavailable("listApiKeys"))),
      get: (id) => Effect.map(select(id), Option.map(toInfo)),
      revoke: (id) =>
        Effect.gen(function*() {
          const [row] = yield* sql.unsafe<Row>(
            `UPDATE recount_api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
             RETURNING id, tenant, role, name, secret_hash, created_at, revoked_at`,
            [id]
          ).pipe(Effect.mapError(unavailable("revokeApiKey")))
          cache.delete(id)
          if (!row) return yield* new InvalidArgument({ argument: "id", reason: `no API key ${id}` })
          return toInfo(row)
        })
    })
  })

/** `RECOUNT_ADMIN_KEY`: the bootstrap admin key, if any. */
export const bootstrapKeyConfig = Config.option(Config.redacted("RECOUNT_ADMIN_KEY"))

/**
 * Keys on PostgreSQL, with the bootstrap key from `RECOUNT_ADMIN_KEY` unless one is given.
 *
 * @since 0.1.0
 */
export const layer = (options?: { readonly bootstrapKey?: Redacted.Redacted<string> | undefined }) =>
  Layer.effect(
    ApiKeys,
    Effect.flatMap(bootstrapKeyConfig, (fromEnv) => make({ bootstrapKey: options?.bootstrapKey ?? Option.getOrUndefined(fromEnv) }))
  )
