/**
 * A customer (the aggregate id is the customer id): registered with a name, an e-mail and a
 * delivery address, which may change over time. Orders refer to customers by id; the order history
 * read model shows the address each order was placed under.
 */
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** A delivery address. */
export const Address = Schema.Struct({
  street: Schema.NonEmptyString,
  city: Schema.NonEmptyString,
  postcode: Schema.String,
  country: Schema.NonEmptyString
})
export type Address = typeof Address.Type

export class RegisterCustomer extends Schema.TaggedClass<RegisterCustomer>()("RegisterCustomer", {
  name: Schema.NonEmptyString,
  email: Schema.NonEmptyString,
  address: Address
}) {}
export class ChangeAddress extends Schema.TaggedClass<ChangeAddress>()("ChangeAddress", { address: Address }) {}

export class CustomerRegistered extends Schema.TaggedClass<CustomerRegistered>()("CustomerRegistered", {
  name: Schema.String,
  email: Schema.String,
  address: Address
}) {}
export class AddressChanged extends Schema.TaggedClass<AddressChanged>()("AddressChanged", { address: Address }) {}

export class CustomerAlreadyRegistered extends Schema.TaggedError<CustomerAlreadyRegistered>()("CustomerAlreadyRegistered", {}) {}
export class CustomerNotFound extends Schema.TaggedError<CustomerNotFound>()("CustomerNotFound", {}) {}

export const CustomerState = Schema.Struct({
  registered: Schema.Boolean,
  name: Schema.String,
  email: Schema.String,
  address: Schema.NullOr(Address)
})
export type CustomerState = typeof CustomerState.Type

const sameAddress = (a: Address | null, b: Address) =>
  a !== null && a.street === b.street && a.city === b.city && a.postcode === b.postcode && a.country === b.country

export const Customer = Aggregate.make({
  name: "customer",
  commands: [RegisterCustomer, ChangeAddress],
  events: [CustomerRegistered, AddressChanged],
  errors: [CustomerAlreadyRegistered, CustomerNotFound],
  initialState: { registered: false, name: "", email: "", address: null } as CustomerState,
  decide: (state, command) => {
    switch (command._tag) {
      case "RegisterCustomer":
        return state.registered
          ? Effect.fail(new CustomerAlreadyRegistered())
          : Effect.succeed([new CustomerRegistered({ name: command.name, email: command.email, address: command.address })])
      case "ChangeAddress":
        // Moving to where one already lives changes nothing, so it records nothing.
        return !state.registered
          ? Effect.fail(new CustomerNotFound())
          : Effect.succeed(sameAddress(state.address, command.address) ? [] : [new AddressChanged({ address: command.address })])
    }
  },
  evolve: (state, event): CustomerState => {
    switch (event._tag) {
      case "CustomerRegistered":
        return { registered: true, name: event.name, email: event.email, address: event.address }
      case "AddressChanged":
        return { ...state, address: event.address }
    }
  },
  snapshot: { every: 50, schema: CustomerState, version: 1 }
})
