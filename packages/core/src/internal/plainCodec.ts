import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Struct from "effect/Struct"
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
  /**
   * `decode({ ...data, _tag: tag })` for stored data, which is kept without its tag: a tagged
   * class checks `data` as it is and skips that copy.
   */
  readonly decodeTagged: (data: unknown, tag: string) => Either.Either<A, ParseResult.ParseError>
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
  const isEnumerable = Object.prototype.propertyIsEnumerable
  return (input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return false
    const record = input as Record<string, unknown>
    for (let i = 0; i < count; i++) {
      const key = keys[i]!
      // Own and enumerable: what a copy of the object (the class constructor's spread) keeps.
      if (!isEnumerable.call(record, key)) return false
      const value = record[key]
      const type = types[i]
      if (type === undefined ? value !== literals[i] : typeof value !== type) return false
    }
    // Every field is there; any other key would be an excess property. Counted in place: an
    // array of the keys per event was a measurable part of a projector's batch.
    let own = 0
    for (const key in record) {
      if (hasOwn.call(record, key)) own++
    }
    return own === count && Object.getOwnPropertySymbols(record).length === 0
  }
}

/** `Schema.is` with excess properties refused, through `flatCheck` when the shape allows. */
const validator = (schema: Schema.Schema.Any, ast: AST.AST) => {
  const valid = Schema.is(schema, { onExcessProperty: "error" })
  const flat = flatCheck(ast)
  return flat ? (input: unknown) => flat(input) || valid(input) : valid
}

/**
 * A check of `data` that answers as `validator` would for `{ ...data }`: a copy keeps only own
 * enumerable properties, so an object with others goes the slow way (through the copy).
 */
const spreadValidator = (schema: Schema.Schema.Any) => {
  const valid = Schema.is(schema, { onExcessProperty: "error" })
  const flat = flatCheck(schema.ast)
  const onlyEnumerable = (input: unknown) =>
    typeof input === "object" && input !== null && Object.keys(input).length === Object.getOwnPropertyNames(input).length
  const slow = (input: unknown) => onlyEnumerable(input) && valid(input)
  return flat ? (input: unknown) => flat(input) || slow(input) : slow
}

type ClassSchema = Schema.Schema<any, any, never> & {
  readonly fields: Schema.Struct.Fields
  new(props: unknown, options: true): unknown
}

const isClassSchema = (schema: Schema.Schema<any, any, never>): schema is ClassSchema => {
  const ast = schema.ast
  return typeof (schema as unknown) === "function" && "fields" in schema && ast._tag === "Transformation" && ast.to._tag === "Declaration"
}

/** `decodeTagged` by the copy with the tag added, for what has no faster way. */
const spreadTag = <A>(decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>) => (data: unknown, tag: string) =>
  decode(data !== null && typeof data === "object" && !Array.isArray(data) ? { ...data, _tag: tag } : data)

/**
 * Makes the class instance that `new Class(props(input), true)` makes, without running the
 * constructor when that is known to give the same object. Effect's class constructor copies the
 * props, walks the schema's fields for constructor defaults and copies them again onto the
 * instance: 4 to 8 µs an event here, most of a projector's batch of decoded events, against about
 * 0.1 µs for the object built directly.
 *
 * Built directly: the prototype, the fields present in the input in declaration order, then the
 * tag (the one constructor default a tagged class has; a class with any other goes through its
 * constructor). Only for a class on `Data.Class` (not errors) with no constructor of its own
 * anywhere between it and Effect's (its source is read, conservatively), and only after the
 * first instance made both ways had the same own properties, so a field initializer also sends
 * the class through its constructor.
 */
const instanceMaker = (Class: ClassSchema, keys: ReadonlyArray<string>, tag: string | undefined) => {
  const construct = (props: (input: unknown) => unknown, input: unknown): unknown => new Class(props(input), true)
  if (!directlyBuildable(Class, tag)) return construct
  const prototype = Class.prototype as object
  const hasOwn = Object.prototype.hasOwnProperty
  // A constructor of its own rather than `Object.create` and writes: V8 sizes a constructor's
  // objects to the fields it has seen them get, so an event is one allocation instead of an
  // object and a separate store for its fields past the first few.
  const Built = function(this: Record<string, unknown>, record: Record<string, unknown>) {
    for (let i = 0; i < keys.length; i++) {
      if (hasOwn.call(record, keys[i]!)) this[keys[i]!] = record[keys[i]!]
    }
    if (tag !== undefined) this._tag = tag
  } as unknown as { new(record: Record<string, unknown>): Record<string, unknown>; prototype: object }
  Built.prototype = prototype
  const build = (input: unknown) => new Built(input as Record<string, unknown>)
  let direct: boolean | undefined
  return (props: (input: unknown) => unknown, input: unknown): unknown => {
    if (direct) return build(input)
    const made = construct(props, input)
    if (direct === undefined) direct = sameObject(made, build(input))
    return made
  }
}

/** Whether the class's own constructor defaults are at most its tag, and no class in its chain up to Effect's has a constructor of its own. */
const directlyBuildable = (Class: ClassSchema, tag: string | undefined): boolean => {
  for (const [key, field] of Object.entries(Class.fields)) {
    if (key === "_tag" && tag !== undefined) continue
    if (Schema.isPropertySignature(field)) {
      const ast = field.ast
      const defaultValue = ast._tag === "PropertySignatureDeclaration" ? ast.defaultValue : ast.to.defaultValue
      if (defaultValue !== undefined) return false
    }
  }
  // Effect's class (the one whose constructor copies the props) extends `Data.Class` directly;
  // the classes below it are the user's and Effect's thin tagged wrapper.
  let current: unknown = Class
  while (typeof current === "function" && Object.getPrototypeOf(current) !== Data.Class) {
    if (/\bconstructor\s*\(/.test(Function.prototype.toString.call(current))) return false
    current = Object.getPrototypeOf(current)
  }
  return typeof current === "function"
}

/** Same prototype, same own properties in the same order, with the same values and attributes. */
const sameObject = (a: unknown, b: unknown): boolean => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const keysA = Reflect.ownKeys(a)
  const keysB = Reflect.ownKeys(b)
  if (keysA.length !== keysB.length) return false
  for (let i = 0; i < keysA.length; i++) {
    if (keysA[i] !== keysB[i]) return false
    const da = Object.getOwnPropertyDescriptor(a, keysA[i]!)!
    const db = Object.getOwnPropertyDescriptor(b, keysB[i]!)!
    if (!Object.is(da.value, db.value) || da.get !== db.get || da.set !== db.set || da.writable !== db.writable ||
      da.enumerable !== db.enumerable || da.configurable !== db.configurable) return false
  }
  return true
}

/** @internal */
export const make = <A, I>(schema: Schema.Schema<A, I, never>): PlainCodec<A> => {
  const fullDecode = Schema.decodeUnknownEither(schema)
  const fullEncode = Schema.encodeUnknownEither(schema)
  // Excess properties fail the check (the decoder would drop them), so such input goes the slow way.

  if (isClassSchema(schema)) {
    const fields = Schema.Struct(schema.fields)
    if (!isPlain(fields.ast, false)) return { decode: fullDecode, decodeTagged: spreadTag(fullDecode), encode: fullEncode }
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
    const tag = (schema as { readonly _tag?: unknown })._tag
    const tagged = typeof tag === "string"
    const own = tagged ? keys.filter((key) => key !== "_tag") : keys
    const hasOwn = Object.prototype.hasOwnProperty
    const props = (input: unknown) => {
      const record = input as Record<string, unknown>
      const out: Record<string, unknown> = {}
      for (let i = 0; i < own.length; i++) {
        if (hasOwn.call(record, own[i]!)) out[own[i]!] = record[own[i]!]
      }
      return out
    }
    const instance = instanceMaker(Class, own, tagged ? tag : undefined)
    // Stored data has no `_tag`: checked against the fields without it, it needs no copy with one.
    const untaggedFields = tagged ? Schema.Struct(Struct.omit(schema.fields, "_tag")) : undefined
    const validUntagged = untaggedFields && spreadValidator(untaggedFields)
    const decodeSlow = spreadTag(fullDecode)
    return {
      // The check refused any property that is not a field.
      decode: (input) => valid(input) ? Either.right(instance(props, input) as A) : fullDecode(input),
      decodeTagged: validUntagged
        ? (data, dataTag) => dataTag === tag && validUntagged(data) ? Either.right(instance(props, data) as A) : decodeSlow(data, dataTag)
        : decodeSlow,
      encode: (value) => value instanceof Class && valid(value) ? Either.right(pick(value as Record<string, unknown>)) : fullEncode(value)
    }
  }

  if (!isPlain(schema.ast, false)) return { decode: fullDecode, decodeTagged: spreadTag(fullDecode), encode: fullEncode }
  const valid = validator(schema, schema.ast)
  const decode = (input: unknown) => valid(input) ? Either.right(input as A) : fullDecode(input)
  return {
    decode,
    decodeTagged: spreadTag(decode),
    encode: (value) => valid(value) ? Either.right(value) : fullEncode(value)
  }
}
