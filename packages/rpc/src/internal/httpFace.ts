import { HttpApiBuilder, HttpLayerRouter } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ApiKeys } from "../ApiKeys.js"
import { HttpAuthentication, RecountHttpApi } from "../RecountHttpApi.js"
import { operations } from "./handlers.js"

const HttpAuthenticationLive = Layer.effect(
  HttpAuthentication,
  Effect.map(ApiKeys, (keys) => HttpAuthentication.of({ bearer: (token) => keys.authenticate(Redacted.value(token)) }))
)

const Handlers = HttpApiBuilder.group(RecountHttpApi, "recount", (handlers) =>
  Effect.map(operations, (ops) =>
    handlers
      .handle("dispatch", ({ headers, path, payload, urlParams }) =>
        ops.Dispatch({
          tenant: path.tenant,
          aggregate: path.name,
          id: path.id,
          command: payload,
          commandId: headers["idempotency-key"],
          consistency: urlParams.consistency === "strong" && urlParams.timeoutMillis !== undefined
            ? { timeoutMillis: urlParams.timeoutMillis }
            : urlParams.consistency,
          timeoutMillis: urlParams.consistency === "strong" ? undefined : urlParams.timeoutMillis
        }))
      .handle("state", ({ path, urlParams }) =>
        urlParams.version === undefined && urlParams.time === undefined
          ? ops.GetState({ tenant: path.tenant, aggregate: path.name, id: path.id })
          : ops.StateAt({ tenant: path.tenant, aggregate: path.name, id: path.id, version: urlParams.version, time: urlParams.time }))
      .handle("stream", ({ path, urlParams }) =>
        ops.ReadStream({ tenant: path.tenant, stream: path.stream, fromVersion: urlParams.from, direction: urlParams.direction, limit: urlParams.limit }))
      .handle("projections", () => ops.GetProjections({}))
      .handle("streams", ({ path, urlParams }) =>
        ops.ListStreams({ tenant: path.tenant, category: urlParams.category, prefix: urlParams.prefix, after: urlParams.after, limit: urlParams.limit }))
      .handle("workflows", ({ urlParams }) => ops.ListWorkflows({ workflow: urlParams.workflow, state: urlParams.state, limit: urlParams.limit }))
      .handle("retryWorkflow", ({ path }) => ops.RetryWorkflow(path))
      .handle("cancelWorkflow", ({ path }) => ops.CancelWorkflow(path))
  ))

/** The HTTP face's routes and `/openapi.json`. */
export const routes = HttpLayerRouter.addHttpApi(RecountHttpApi, { openapiPath: "/openapi.json" }).pipe(
  Layer.provide(Handlers),
  Layer.provide(HttpAuthenticationLive)
)
