import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/**
 * Decode and encode for a schema, with a fast path for the common shape of events, commands and
 * snapshot states: a struct (or a `Schema.Class` over one) of JSON values with no transformation
 * anywhere. For such a schema, decoding can only validate, so a value that passes the validator
 * is the answer as it is. Effect's decoder allocates per field and per level; its validator
 * (`Schema.is`) was about 100 times cheaper per event here (16 µs against 0.15 µs for a
 * one-field event), and waking an aggregate decodes every one of its events.
 *
 * Anything the validator refuses goes through the full decoder, so errors read the same.
 */
export interface PlainCodec<A> {
  readonly decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>
  readonly encode: (value: A) => Either.Either<unknown, ParseResult.ParseError>
}

/**
 * Whether decoding a value with this AST yields that same value. Unions may only hold scalars: a
 * union of structs decodes to the first member that fits, dropping the properties of the others.
 * Index signatures, declarations, suspensions and transformations are left to the full decoder.
 */
const isPlain = (ast: AST.AST, scalarOnly: boolean): boolean => {
  switch (ast._tag) {
    case "Literal":
    case "UniqueSymbol":
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "BigIntKeyword":
    case "SymbolKeyword":
    case "UndefinedKeyword":
    case "VoidKeyword":
    case "NeverKeyword":
    case "Enums":
    case "TemplateLiteral":
      return true
    case "Refinement":
      return isPlain(ast.from, scalarOnly)
    case "Union":
      return ast.types.every((t) => isPlain(t, true))
    case "TupleType":
      return !scalarOnly && ast.elements.every((e) => isPlain(e.type, false)) && ast.rest.every((r) => isPlain(r.type, false))
    case "TypeLiteral":
      return !scalarOnly && ast.indexSignatures.length === 0 && ast.propertySignatures.every((p) => isPlain(p.type, false))
    default:
      return false
  }
}

/**
 * A check that accepts only what `Schema.is(schema, { onExcessProperty: "error" })` accepts, for
 * the flattest shape: an object whose fields are all required strings, numbers, booleans or
 * literals. It answers in a few property reads where the parser walks its machinery (about 4 µs
 * an event here); anything else it cannot vouch for goes to `Schema.is`, so it never decides a
 * refusal.
 */
const flatCheck = (ast: AST.AST): ((input: unknown) => boolean) | undefined => {
  if (ast._tag !== "TypeLiteral" || ast.indexSignatures.length > 0) return undefined
  const keys: Array<string> = []
  // Per field: the `typeof` it needs, or the literal it must equal.
  const types: Array<string | undefined> = []
  const literals: Array<unknown> = []
  for (const p of ast.propertySignatures) {
    if (p.isOptional || typeof p.name !== "string") return undefined
    const type = p.type
    keys.push(p.name)
    switch (type._tag) {
      case "StringKeyword":
        types.push("string")
        literals.push(undefined)
        break
      case "NumberKeyword":
        types.push("number")
        literals.push(undefined)
        break
      case "BooleanKeyword":
        types.push("boolean")
        literals.push(undefined)
        break
      case "Literal":
        types.push(undefined)
        literals.push(type.literal)
        break
      default:
        return undefined
    }
  }
  const count = keys.length
  const hasOwn = Object.prototype.hasOwnProperty
  return (input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return false
    const record = input as Record<string, unknown>
    for (let i = 0; i < count; i++) {
      const key = keys[i]!
      if (!hasOwn.call(record, key)) return false
      const value = record[key]
      const type = types[i]
      if (type === undefined ? value !== literals[i] : typeof value !== type) return false
    }
    // Every field is there; any other key would be an excess property.
    return Object.keys(record).length === count && Object.getOwnPropertySymbols(record).length === 0
  }
}

/** `Schema.is` with excess properties refused, through `flatCheck` when the shape allows. */
const validator = (schema: Schema.Schema.Any, ast: AST.AST) => {
  const valid = Schema.is(schema, { onExcessProperty: "error" })
  const flat = flatCheck(ast)
  return flat ? (input: unknown) => flat(input) || valid(input) : valid
}

type ClassSchema = Schema.Schema<any, any, never> & {
  readonly fields: Schema.Struct.Fields
  new(props: unknown, options: true): unknown
}

const isClassSchema = (schema: Schema.Schema<any, any, never>): schema is ClassSchema => {
  const ast = schema.ast
  return typeof (schema as unknown) === "function" && "fields" in schema && ast._tag === "Transformation" && ast.to._tag === "Declaration"
}

/** @internal */
export const make = <A, I>(schema: Schema.Schema<A, I, never>): PlainCodec<A> => {
  const fullDecode = Schema.decodeUnknownEither(schema)
  const fullEncode = Schema.encodeUnknownEither(schema)
  // Excess properties fail the check (the decoder would drop them), so such input goes the slow way.

  if (isClassSchema(schema)) {
    const fields = Schema.Struct(schema.fields)
    if (!isPlain(fields.ast, false)) return { decode: fullDecode, encode: fullEncode }
    const valid = validator(fields, fields.ast)
    const keys = Object.keys(schema.fields)
    // The encoder emits the fields in declaration order and nothing else; so does this.
    const pick = (input: Record<string, unknown>) => {
      const props: Record<string, unknown> = {}
      for (const key of keys) if (key in input) props[key] = input[key]
      return props
    }
    const Class = schema
    // A tagged class's constructor (TaggedClass, TaggedError) deletes `_tag` from its copy of the
    // props and sets it itself; the delete makes that copy a slow dictionary object, and the
    // constructor took 6 µs instead of 2.4. The check saw the right tag, so it is left out here.
    const tagged = typeof (schema as { readonly _tag?: unknown })._tag === "string"
    const untagged = keys.filter((key) => key !== "_tag")
    const props = tagged
      ? (input: unknown) => {
        const record = input as Record<string, unknown>
        const out: Record<string, unknown> = {}
        for (let i = 0; i < untagged.length; i++) out[untagged[i]!] = record[untagged[i]!]
        return out
      }
      : (input: unknown) => input
    return {
      // The check refused any property that is not a field, so the input can go in as it is (the
      // constructor copies it).
      decode: (input) => valid(input) ? Either.right(new Class(props(input), true) as A) : fullDecode(input),
      encode: (value) => value instanceof Class && valid(value) ? Either.right(pick(value as Record<string, unknown>)) : fullEncode(value)
    }
  }

  if (!isPlain(schema.ast, false)) return { decode: fullDecode, encode: fullEncode }
  const valid = validator(schema, schema.ast)
  return {
    decode: (input) => valid(input) ? Either.right(input as A) : fullDecode(input),
    encode: (value) => valid(value) ? Either.right(value) : fullEncode(value)
  }
}
