/**
 * Stock of one product (the aggregate id is the SKU): added, reserved for orders, released.
 */
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const Quantity = Schema.Int.pipe(Schema.positive())

export class AddStock extends Schema.TaggedClass<AddStock>()("AddStock", { quantity: Quantity }) {}
export class ReserveStock extends Schema.TaggedClass<ReserveStock>()("ReserveStock", { orderId: Schema.NonEmptyString, quantity: Quantity }) {}
export class ReleaseStock extends Schema.TaggedClass<ReleaseStock>()("ReleaseStock", { orderId: Schema.NonEmptyString }) {}

export class StockAdded extends Schema.TaggedClass<StockAdded>()("StockAdded", { quantity: Schema.Number }) {}
export class StockReserved extends Schema.TaggedClass<StockReserved>()("StockReserved", { orderId: Schema.String, quantity: Schema.Number }) {}
export class StockReleased extends Schema.TaggedClass<StockReleased>()("StockReleased", { orderId: Schema.String, quantity: Schema.Number }) {}

export class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { available: Schema.Number, requested: Schema.Number }) {}

export const InventoryState = Schema.Struct({
  available: Schema.Number,
  reserved: Schema.Record({ key: Schema.String, value: Schema.Number })
})
export type InventoryState = typeof InventoryState.Type

export const Inventory = Aggregate.make({
  name: "inventory",
  commands: [AddStock, ReserveStock, ReleaseStock],
  events: [StockAdded, StockReserved, StockReleased],
  errors: [OutOfStock],
  initialState: { available: 0, reserved: {} } as InventoryState,
  decide: (state, command) => {
    switch (command._tag) {
      case "AddStock":
        return Effect.succeed([new StockAdded({ quantity: command.quantity })])
      case "ReserveStock":
        // Reserving twice for one order is the same reservation.
        if (state.reserved[command.orderId] !== undefined) return Effect.succeed([])
        return state.available >= command.quantity
          ? Effect.succeed([new StockReserved({ orderId: command.orderId, quantity: command.quantity })])
          : Effect.fail(new OutOfStock({ available: state.available, requested: command.quantity }))
      case "ReleaseStock": {
        const quantity = state.reserved[command.orderId]
        return Effect.succeed(quantity === undefined ? [] : [new StockReleased({ orderId: command.orderId, quantity })])
      }
    }
  },
  evolve: (state, event): InventoryState => {
    switch (event._tag) {
      case "StockAdded":
        return { ...state, available: state.available + event.quantity }
      case "StockReserved":
        return { available: state.available - event.quantity, reserved: { ...state.reserved, [event.orderId]: event.quantity } }
      case "StockReleased": {
        const { [event.orderId]: _, ...reserved } = state.reserved
        return { available: state.available + event.quantity, reserved }
      }
    }
  },
  snapshot: { every: 100, schema: InventoryState, version: 1 }
})
