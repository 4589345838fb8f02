/**
 * Turning what zod found wrong into one line a person can act on, named the way the person
 * wrote it: the option path for the API and config files (`routes[2].udpDownstreamAddrs[1]`),
 * the flag on the command line (`--udp-downstream-addr`). An unknown option gets the closest
 * known one as a suggestion.
 */
import { distance } from 'fastest-levenshtein'
import type { z } from 'zod'
import { usageError, type MproxyError } from '../errors'
import { nameOf, renderPath, type Naming, type Path } from '../naming'

export type { Naming, Path } from '../naming'
export { nameOf, renderPath } from '../naming'

function label(path: Path, naming: Naming): string {
  if (naming.flags) {
    const name = path.find((p): p is string => typeof p === 'string')
    if (name !== undefined && naming.flags[name]) return naming.flags[name]
  }
  return renderPath([...(naming.prefix ?? []), ...path])
}

/** The known name closest to `key`, if close enough to be what was meant. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  // One edit for short names, two from six letters on: `metrix` is `metrics`, `rate` is not `path`.
  return best !== undefined && bestDistance <= (key.length >= 6 ? 2 : 1) ? best : undefined
}

/** A zod schema's definition, read through zod's public `_zod.def`. */
interface Definition {
  type: string
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  options?: z.ZodType[]
  discriminator?: string
  innerType?: z.ZodType
  in?: z.ZodType
  values?: unknown[]
}

function def(schema: z.ZodType): Definition {
  return (schema as unknown as { _zod: { def: Definition } })._zod.def
}

/** The object keys a schema accepts at `path` of `input` (for suggestions). */
export function keysAt(schema: z.ZodType, path: Path, input: unknown): string[] {
  let s: z.ZodType | undefined = schema
  let value: unknown = input
  let i = 0
  while (s) {
    const d = def(s)
    if (d.type === 'optional' || d.type === 'default' || d.type === 'nullable') s = d.innerType
    else if (d.type === 'pipe') s = d.in
    else if (d.type === 'union') {
      // A discriminated union picks the option whose literal matches the input.
      const disc = d.discriminator
      const tag = disc && value && typeof value === 'object' ? (value as Record<string, unknown>)[disc] : undefined
      s = d.options?.find((o) => {
        const od = def(o)
        const lit = disc ? od.shape?.[disc] : undefined
        return lit ? def(lit).values?.includes(tag) : od.type === 'object'
      })
    } else if (i === path.length) {
      return d.type === 'object' ? Object.keys(d.shape ?? {}) : []
    } else if (d.type === 'object') {
      const key = String(path[i++])
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined
      s = d.shape?.[key]
    } else if (d.type === 'array') {
      value = Array.isArray(value) ? value[Number(path[i++])] : undefined
      s = d.element
    } else {
      return []
    }
  }
  return []
}

/**
 * The path as the input has it: a list option given as one string is checked as a list of
 * one, and its problems are named by the option alone, not `[0]`.
 */
function givenPath(path: Path, input: unknown): Path {
  const out: PropertyKey[] = []
  let value = input
  for (const part of path) {
    // One string given, or a list of one: the option alone names it.
    if (typeof part === 'number' && (typeof value === 'string' || (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string'))) continue
    out.push(part)
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[part] : undefined
  }
  return out
}

/** One line for one issue. */
export function describeIssue(issue: z.core.$ZodIssue, naming: Naming, schema?: z.ZodType, input?: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const known = schema ? keysAt(schema, issue.path, input) : []
    return issue.keys
      .map((key) => {
        const guess = closest(key, known)
        const hint = guess ? `; did you mean ${naming.flags?.[guess] ?? guess}?` : ''
        return `${label([...issue.path, key], naming)}: unknown option${hint}`
      })
      .join('; ')
  }
  if (issue.code === 'invalid_union' && 'errors' in issue && issue.path.length === 0 && naming.prefix) {
    return `${label([], naming)}: ${issue.message}`
  }
  // Other options a message mentions are written `{name}`: options of the same object.
  const object = typeof issue.path[issue.path.length - 1] === 'string' ? issue.path.slice(0, -1) : issue.path
  const near = { ...naming, prefix: [...(naming.prefix ?? []), ...givenPath(object, input)] }
  const message = issue.message.replace(/\{(\w+)\}/g, (_, field: string) => nameOf(near, field))
  const where = label(givenPath(issue.path, input), naming)
  if (where === '') return message
  // "--path is required", "tee must be true or false"; "--rate: "fast" is not a rate ...".
  return /^(is|must|needs) /.test(message) ? `${where} ${message}` : `${where}: ${message}`
}

/**
 * Validates `input` against `schema` and returns the parsed value; the first problem is
 * thrown as a usage error, one line naming the option.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, naming: Naming = {}): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  throw firstIssue(result.error, naming, schema, input)
}

/** The issue to report: an unknown option first, as a misspelt one also explains a missing one. */
export function firstIssue(error: z.ZodError, naming: Naming, schema?: z.ZodType, input?: unknown): MproxyError {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]
  return usageError(describeIssue(issue, naming, schema, input))
}
