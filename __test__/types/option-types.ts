// The published option types (src/api/option-types.ts, written from the option schemas'
// JSON Schema by scripts/write-option-types.js) checked against zod's own input types of the
// same schemas: the same option names, the same required ones, and every value a type allows
// accepted by the schema. A check on the generator: this file stops compiling (`npm run
// lint`, __test__/types.test.mjs) if it ever writes a type its schema would not take.
import type { z } from 'zod'
import type { apiSchema, feedShape, ProgramKind } from '../../src/schema/programs'
import type { ClientOptions, FeedOptions, ProxyOptions, ReverseProxyOptions, ServerOptions } from '../../src/index'

type SchemaInput<K extends ProgramKind> = z.input<ReturnType<typeof apiSchema<K>>>

/** The keys that must be given. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T]

/** `true`, or a type that names what differs (shown in the compiler's message). */
type SameKeys<Type, Schema> = [Exclude<keyof Type, keyof Schema>, Exclude<keyof Schema, keyof Type>] extends [never, never]
  ? true
  : { notInTheSchema: Exclude<keyof Type, keyof Schema>; notInTheType: Exclude<keyof Schema, keyof Type> }
type SameRequired<Type, Schema> = [Exclude<RequiredKeys<Type>, RequiredKeys<Schema>>, Exclude<RequiredKeys<Schema>, RequiredKeys<Type>>] extends [never, never]
  ? true
  : { requiredInTheTypeOnly: Exclude<RequiredKeys<Type>, RequiredKeys<Schema>>; requiredInTheSchemaOnly: Exclude<RequiredKeys<Schema>, RequiredKeys<Type>> }
type Accepted<Type, Schema> = [Type] extends [Schema]
  ? true
  : { notAcceptedByTheSchema: { [K in keyof Type & keyof Schema]: Type[K] extends Schema[K] ? never : K }[keyof Type & keyof Schema] }

type Check<Type, K extends ProgramKind> = [SameKeys<Type, SchemaInput<K>>, SameRequired<Type, SchemaInput<K>>, Accepted<Type, SchemaInput<K>>]
type Assert<T extends [true, true, true]> = T

/** The input stages' options (in every program's options) against their own shape. */
type FeedInput = z.input<z.ZodObject<typeof feedShape>>
type FeedCheck = [SameKeys<FeedOptions, FeedInput>, SameRequired<FeedOptions, FeedInput>, Accepted<FeedOptions, FeedInput>]

export type Checked = [
  Assert<FeedCheck>,
  Assert<Check<ClientOptions, 'client'>>,
  Assert<Check<ServerOptions, 'server'>>,
  Assert<Check<ProxyOptions, 'proxy'>>,
  Assert<Check<ReverseProxyOptions, 'reverseproxy'>>,
]
