/**
 * The kinds of values options take, as zod schemas with messages a person reads: each
 * message says what was wrong with the value, and the option's name (or flag, or config
 * path) is put in front of it by `schema/issues.ts`. Values from the command line arrive as
 * text, so numbers and booleans also accept their text form.
 */
import { z } from 'zod'
import { addressProblem } from '../address'
import { native } from '../native'
import type { Retention, Rotation } from '../rotation'

/** Metadata key: the JSON Schema of what a preprocessed value accepts (see configJsonSchema). */
export const JSON_INPUT = 'mproxyJsonInput'
/** Metadata key: the value is one item or a list of them (a flag that may be repeated); see ListMeta. */
export const LIST = 'mproxyList'

/** What a list takes, for its JSON Schema (an item's schema for each form it may have). */
export interface ListMeta {
  items: readonly z.ZodType[]
  min: number
  what: string
  /** The name of an item's type in the published types (`UdpOutput`), if it has one. */
  typeName?: TypeName
}

/**
 * Metadata key: the name of a schema's type in the published types (`Framing`, `RuledOutput`);
 * scripts/write-option-types.js declares it once and refers to it by name.
 */
export const TYPE_NAME = 'mproxyTypeName'

/** A named type: its name, and its doc comment. */
export interface TypeName {
  name: string
  doc: string
}

/** `schema`, known in the published types as `name`. */
export function named<T extends z.ZodType>(schema: T, name: string, doc: string): T {
  return schema.meta({ [TYPE_NAME]: { name, doc } satisfies TypeName }) as T
}

/**
 * A value as a message shows it, on one line and short: text quoted, lists and objects as
 * (cut) JSON. Never throws, whatever was given (an object without a prototype, a cycle).
 */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (value === null || typeof value !== 'object') return String(value)
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    json = undefined
  }
  if (json === undefined) return Array.isArray(value) ? 'a list' : 'an object'
  return json.length > 80 ? `${json.slice(0, 77)}...` : json
}

/** Non-empty text. */
export function text(what = 'text') {
  return z.string({ error: (iss) => (iss.input === undefined ? 'is required' : `must be ${what}`) }).min(1, { error: 'is empty' })
}

/**
 * A file path (or `-`, where the option says so). No NUL byte: no system takes one in a
 * file name (the message shows it as `\u0000`, not as an invisible character).
 */
export const filePath = text('a file path').check((ctx) => {
  if (ctx.value.includes('\0'))
    ctx.issues.push({ code: 'custom', input: ctx.value, message: `${JSON.stringify(ctx.value)} holds a NUL byte (\\u0000), which no file name can` })
})

/** true or false (the flag alone on the command line). */
export const flag = z.boolean({ error: (iss) => `must be true or false, not ${show(iss.input)}` })

/**
 * A whole number from `min` to `max`; its text (`"1400"`) is taken too, as command-line
 * values are text. A message shows the value as it was given.
 */
export function wholeNumber(min: number, max: number) {
  return numberOrText(min, max, { what: 'a whole number', text: /^\d+$/, json: 'integer', valid: Number.isInteger })
}

/**
 * A number from `min` to `max`, or its text matching `text` (command-line values are text);
 * `valid` says which numbers the kind takes. A message shows the value as it was given.
 */
function numberOrText(min: number, max: number, kind: { what: string; text: RegExp; json: 'integer' | 'number'; valid: (n: number) => boolean }) {
  const message = (input: unknown) => `${show(input)} is not ${kind.what} from ${min} to ${max}`
  return z
    .union([z.number(), z.string()], { error: (iss) => (iss.input === undefined ? 'is required' : message(iss.input)) })
    .transform((value, ctx) => {
      const n = typeof value === 'string' ? (kind.text.test(value.trim()) ? Number(value.trim()) : Number.NaN) : value
      if (!kind.valid(n) || n < min || n > max) {
        ctx.issues.push({ code: 'custom', input: value, message: message(value) })
        return z.NEVER
      }
      return n
    })
    .meta({
      [JSON_INPUT]: {
        anyOf: [
          { type: kind.json, minimum: min, maximum: max },
          { type: 'string', pattern: kind.text.source },
        ],
      },
    })
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 }
/** The highest rate taken: 100 GB/s, far beyond any link, and exact in the core's arithmetic. */
export const MAX_RATE = 100e9
const NOT_A_RATE = 'is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)'

/**
 * A byte rate: bytes per second as a number, or text such as `50M`, `800k`, `1.5G`;
 * 0 = unlimited. A rate between 0 and 1 is refused rather than rounded to 0, which would mean
 * the opposite (unlimited).
 */
export const rate = z
  .union([z.number(), z.string()], { error: (iss) => `${show(iss.input)} ${NOT_A_RATE}` })
  .transform((value, ctx) => {
    let n = Number.NaN
    if (typeof value === 'number') {
      n = value
    } else {
      const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim())
      if (match) n = Number(match[1]) * RATE_UNITS[match[2].toLowerCase()]
    }
    if (!Number.isFinite(n) || n < 0) {
      ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} ${NOT_A_RATE}` })
      return z.NEVER
    }
    if (n > MAX_RATE) {
      ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is above 100G, the highest rate in bytes per second (0 means unlimited)` })
      return z.NEVER
    }
    if (n > 0 && n < 1) {
      ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is below 1 byte per second; the smallest rate is 1 (0 means unlimited)` })
      return z.NEVER
    }
    return Math.round(n)
  })
  .meta({
    [JSON_INPUT]: {
      anyOf: [
        { type: 'number', minimum: 0, maximum: MAX_RATE },
        { type: 'string', pattern: '^\\d+(\\.\\d+)?[kKmMgG]?$' },
      ],
    },
  })

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

const NOT_A_ROTATION = 'is not hourly, daily or a size (for example 100M; k, M, G are 1024-based)'

/**
 * `hourly`, `daily`, or a size in bytes (a number, or text such as `100M`, `1.5G`, `512k`,
 * counted as logrotate does: k = 1024). The result is `'hourly' | 'daily' | { bytes }`.
 */
export const rotation = z.union([z.number(), z.string()], { error: (iss) => `${show(iss.input)} ${NOT_A_ROTATION}` }).transform((value, ctx): Rotation => {
  if (value === 'hourly' || value === 'daily') return value
  let n = Number.NaN
  if (typeof value === 'number') {
    n = value
  } else {
    const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim())
    if (match) n = Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]
  }
  if (!Number.isFinite(n) || n < 1 || n > Number.MAX_SAFE_INTEGER) {
    ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} ${NOT_A_ROTATION}` })
    return z.NEVER
  }
  return { bytes: Math.floor(n) }
})

/** The longest age `keep` takes: 100 years (36500 days); an age is a Duration in the core. */
export const MAX_KEEP_DAYS = 36_500
const MAX_KEEP_SECONDS = MAX_KEEP_DAYS * 86_400
const AGE_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }
const NOT_A_RETENTION = 'is not a number of files (for example 30) or an age (for example 7d, 12h, 90m)'

/**
 * A number of rotated files to keep (`30`), or an age after which they are removed (`7d`,
 * `12h`, `90m`, `3600s`, `2w`).
 */
export const retention = z.union([z.number(), z.string()], { error: (iss) => `${show(iss.input)} ${NOT_A_RETENTION}` }).transform((value, ctx): Retention => {
  const text = typeof value === 'number' ? String(value) : value.trim()
  const files = /^\d+$/.exec(text)
  if (files && Number(text) >= 1 && Number(text) <= 1_000_000) return { files: Number(text) }
  const age = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text)
  if (age && Number(age[1]) > 0) {
    const ageSeconds = Number(age[1]) * AGE_UNITS[age[2]]
    if (ageSeconds <= MAX_KEEP_SECONDS) return { ageSeconds }
    ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is longer than ${MAX_KEEP_DAYS} days (100 years), the longest age to keep` })
    return z.NEVER
  }
  ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} ${NOT_A_RETENTION}` })
  return z.NEVER
})

/** `HOST:PORT`, `[IPv6]:PORT` or `[IPv6%iface]:PORT`; `portZero`: a listener may ask for any port. */
export function address(portZero: boolean) {
  return z.string({ error: (iss) => `must be HOST:PORT, not ${show(iss.input)}` }).check((ctx) => {
    const problem = addressProblem(ctx.value, portZero)
    if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${JSON.stringify(ctx.value)} ${problem}` })
  })
}

/**
 * One item or a list of them; the result is always a list. A problem with an item is named
 * by its index in the list (and by the option alone when one item was given).
 */
export function listOf<T extends z.ZodType>(item: T, what: string, min = 0) {
  // Typed with what it takes (one item or a list), which a preprocess alone would call unknown.
  return z
    .preprocess(
      (v: z.input<T> | ReadonlyArray<z.input<T>>) => (typeof v === 'string' ? [v] : v),
      z
        .array(item, { error: (iss) => (iss.input === undefined ? 'is required' : `must be ${what} or a list of them, not ${show(iss.input)}`) })
        .check((ctx) => {
          if (ctx.value.length < min) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'is required' })
        }),
    )
    .meta({ [LIST]: { items: [item], min, what } satisfies ListMeta })
}

/** A plain object (not null, not a list). */
export const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * One item or a list of them, where an item is text or an object with settings of its own
 * (an output with rules, a listener with an allow list): `pick` gives the schema an item is
 * checked with, out of `forms` (for the JSON Schema). The result is always a list; a problem is
 * named by the item's index.
 */
export function itemList<T>(pick: (value: unknown) => z.ZodType, what: string, forms: readonly z.ZodType[], min = 0, typeName?: TypeName) {
  const item = z.unknown().transform((value, ctx): T => {
    const result = pick(value).safeParse(value)
    if (result.success) return result.data as T
    for (const issue of result.error.issues) ctx.issues.push({ ...issue, input: value } as never)
    return z.NEVER
  })
  return z
    .preprocess(
      (v) => (typeof v === 'string' || isObject(v) ? [v] : v),
      z
        .array(item, { error: (iss) => (iss.input === undefined ? 'is required' : `must be ${what} or a list of them, not ${show(iss.input)}`) })
        .check((ctx) => {
          if (ctx.value.length < min) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'is required' })
        }),
    )
    .meta({ [LIST]: { items: forms, min, what, typeName } satisfies ListMeta })
}

/** One address or a list of them. */
export function addressList(portZero: boolean, min = 0) {
  return listOf(address(portZero), 'HOST:PORT', min)
}

export const FRAMINGS = ['packed', 'line', 'raw'] as const
export type Framing = (typeof FRAMINGS)[number]

export const framing = named(
  z.enum(FRAMINGS, { error: (iss) => `${show(iss.input)} is not one of ${FRAMINGS.join(', ')}` }),
  'Framing',
  'How a byte stream becomes datagrams: `packed` (whole lines packed per datagram), `line` (one line each) or `raw` (fixed chunks).',
)

/** Largest UDP payload over IPv4; also the largest `maxDatagram` accepted. */
export const MAX_DATAGRAM = 65507

/**
 * A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`) or one address (that host), for
 * allow lists and rules by source. Checked by the core's own parser (`cidr.rs`, through the
 * binding), the one allow lists and rules use, so what passes here is what runs, messages
 * included (`::ffff:a.b.c.d` forms are the IPv4 block they name).
 */
export const cidr = z.string({ error: (iss) => `must be an IP address or CIDR block, not ${show(iss.input)}` }).check((ctx) => {
  const problem = native().cidrProblem(ctx.value)
  if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem })
})

/** A factor from `min` to `max`, fractions allowed (`0.5`, `10`); its text is taken too. */
export function factor(min: number, max: number) {
  return numberOrText(min, max, { what: 'a number', text: /^\d+(\.\d+)?$/, json: 'number', valid: Number.isFinite })
}

/** A duration in seconds from `min` to `max`, fractions allowed; its text (`"2.5"`) is taken too. */
export function seconds(min: number, max: number) {
  return numberOrText(min, max, { what: 'a number of seconds', text: /^\d+(\.\d+)?$/, json: 'number', valid: Number.isFinite })
}
