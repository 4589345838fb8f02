/**
 * One option, described once: its value schema, and beside it (in a zod registry) what the
 * command line, `--help`, the JSON Schema and docs/options.md say about it. The flag parser,
 * the help, the option reference and the config file's JSON Schema are all read from here,
 * so an option added to a program's shape with `option()` is on the command line, in the
 * help and in the docs at once.
 *
 * Defaults live here too (`default:`), applied by the schema once: what reaches the binding
 * is always set for those fields.
 */
import { z } from 'zod'
import { JSON_INPUT, LIST } from './values'

/** What the registry holds for an option. */
export interface OptionMeta {
  /** Its flag, kebab-case without dashes (`server-addr`); `false`: API and config files only. */
  flag: string | false
  /** Other spellings, with their dashes: `-t`, the original mproxy's `--server_addr`. */
  aliases?: readonly string[]
  /** The value's placeholder in the help, e.g. `HOST:PORT` (not for true/false flags). */
  value?: string
  /** One line for `--help`, the JSON Schema and the option reference. */
  help: string
  /**
   * The doc comment of the option in the published types (`ClientOptions`, …), when it says
   * more than `help`; written by scripts/write-option-types.js.
   */
  doc?: string
  /** A default the program works out (say, from the destinations' family), as the help says it. */
  defaultText?: string
}

/** The options' metadata, by the schema `option()` returned. */
export const optionRegistry = z.registry<OptionMeta>()

/** The default, when the schema has one. */
type Given<D> = { default: D } | { default?: undefined }

/**
 * An optional option (or, with `default:`, one the schema fills in when it is not given),
 * registered with its metadata.
 */
export function option<T extends z.ZodType, D extends z.output<T> | undefined = undefined>(
  schema: T,
  meta: OptionMeta & Given<D>,
  // Not distributive: a literal default (`'packed'`) may be inferred as `'packed' | undefined`.
): [D] extends [undefined] ? z.ZodOptional<T> : z.ZodDefault<T> {
  const { default: value, ...rest } = meta
  const out = value === undefined ? schema.optional() : (schema as unknown as z.ZodType).default(value as never)
  optionRegistry.add(out as z.ZodType, rest)
  return out as never
}

/** A required option (no default, no `.optional()`), registered with its metadata. */
export function required<T extends z.ZodType>(schema: T, meta: OptionMeta): T {
  // A wrapper of its own, so that the same value schema can be described differently elsewhere.
  const out = schema.describe(meta.help) as T
  optionRegistry.add(out, meta)
  return out
}

interface Def {
  type: string
  innerType?: z.ZodType
  in?: z.ZodType
  defaultValue?: unknown
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def

/** What a flag takes: nothing (true/false), one value, or one value each time it is repeated. */
export type FlagKind = 'boolean' | 'string' | 'list'

/** The schema under optional/default. */
function valueSchema(schema: z.ZodType): z.ZodType {
  let s = schema
  for (let d = defOf(s); (d.type === 'optional' || d.type === 'default') && d.innerType; d = defOf(s)) s = d.innerType
  return s
}

export function flagKind(schema: z.ZodType): FlagKind {
  const s = valueSchema(schema)
  if (defOf(s).type === 'boolean') return 'boolean'
  const meta = z.globalRegistry.get(s) as Record<string, unknown> | undefined
  return meta?.[LIST] ? 'list' : 'string'
}

/** The default the schema fills in, if any. */
export function defaultOf(schema: z.ZodType): unknown {
  let s = schema
  for (let d = defOf(s); d.innerType; d = defOf(s)) {
    if (d.type === 'default') return d.defaultValue
    if (d.type !== 'optional') break
    s = d.innerType
  }
  return undefined
}

/** The bounds of a number option (see `wholeNumber`, `seconds`, `rate` in values.ts). */
export function boundsOf(schema: z.ZodType): { min: number; max: number } | undefined {
  const meta = z.globalRegistry.get(valueSchema(schema)) as Record<string, unknown> | undefined
  const json = meta?.[JSON_INPUT] as { anyOf?: Array<{ minimum?: number; maximum?: number }> } | undefined
  const n = json?.anyOf?.find((a) => a.minimum !== undefined)
  return n && n.maximum !== undefined ? { min: n.minimum as number, max: n.maximum } : undefined
}

/** An option as the command line, the help and the reference see it. */
export interface OptionInfo extends OptionMeta {
  field: string
  kind: FlagKind
  default?: unknown
  bounds?: { min: number; max: number }
  required: boolean
}

/** Every option of a shape that has metadata, in the shape's order. */
export function optionsOf(shape: Readonly<Record<string, z.ZodType>>): OptionInfo[] {
  return Object.entries(shape).flatMap(([field, schema]) => {
    const meta = optionRegistry.get(schema)
    if (!meta) return []
    const type = defOf(schema).type
    return [
      { ...meta, field, kind: flagKind(schema), default: defaultOf(schema), bounds: boundsOf(schema), required: type !== 'optional' && type !== 'default' },
    ]
  })
}

/** The default as the help and the reference write it. */
export function defaultText(o: OptionInfo): string | undefined {
  if (o.defaultText !== undefined) return o.defaultText
  return o.default === undefined ? undefined : String(o.default)
}
