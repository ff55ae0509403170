/**
 * @since 0.1.0
 */
export * as AggregateEntity from "./AggregateEntity.js"
export * as AggregateHistory from "./AggregateHistory.js"
export * as AggregateProtocol from "./AggregateProtocol.js"
export * as ClusterHousekeeping from "./ClusterHousekeeping.js"
export * as EventWorkflow from "./EventWorkflow.js"
export * as CommandBus from "./CommandBus.js"
export * as ProcessManager from "./ProcessManager.js"
export * as Projection from "./Projection.js"
export * as Projections from "./Projections.js"
export * as ReadModelTable from "./ReadModelTable.js"
export * as RecountNode from "./RecountNode.js"
export * as ResidentAggregates from "./ResidentAggregates.js"
export * as RuntimeConfig from "./RuntimeConfig.js"
export * as RuntimeError from "./RuntimeError.js"
export * as SideEffect from "./SideEffect.js"
export * as Workflows from "./Workflows.js"
