import * as CheckpointStore from "@recount/core/CheckpointStore"
import * as EventStore from "@recount/core/EventStore"
import * as SnapshotStore from "@recount/core/SnapshotStore"
import * as Layer from "effect/Layer"
import { run } from "../src/EventStoreContract.js"
import * as TestDatabase from "../src/TestDatabase.js"

run("in-memory", Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory, CheckpointStore.layerMemory))
run("PostgreSQL", TestDatabase.layerStores())
