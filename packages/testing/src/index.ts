/**
 * @since 0.1.0
 */
export * as EventStoreContract from "./EventStoreContract.js"
export * as Eventually from "./Eventually.js"
export * as TestAggregates from "./TestAggregates.js"
export * as TestDatabase from "./TestDatabase.js"
export * as TestIds from "./TestIds.js"
export * as TestProcess from "./TestProcess.js"
