/**
 * Command-line flags, read from the option schemas (`option()` in schema/option.ts): `--flag
 * value`, `--flag=value`, repeated flags for lists, the original mproxy's underscore
 * spellings as aliases, and one-line usage errors (with the flag meant, for a misspelt one).
 * The help is written from the same entries, so a flag and its help cannot part.
 */
import type { z } from 'zod'
import { usageError } from '../errors'
import type { Labels } from '../options'
import { closest } from '../schema/issues'
import { defaultText, optionsOf, type FlagKind } from '../schema/option'

export interface FlagSpec {
  /** Kebab-case name without dashes, e.g. `server-addr`. */
  name: string
  /** The option field it sets, e.g. `serverAddrs`. */
  field: string
  kind: FlagKind
  /** Other spellings, with their dashes: `-t`, `--server_addr`. */
  aliases?: readonly string[]
  /** Placeholder in the help, e.g. `HOST:PORT`. */
  value?: string
  help: string
}

export interface ProgramSpec {
  name: string
  summary: string
  usage: string
  /** The program's own flags (help: OPTIONS). */
  flags: FlagSpec[]
  /** Flags it shares with the other programs (help: COMMON OPTIONS). */
  common: FlagSpec[]
  examples: string[]
  notes?: string[]
}

/** The flags of a shape's options that have one, with `; default …` added to their help. */
export function flagsOf(shape: Readonly<Record<string, z.ZodType>>, omit: Readonly<Record<string, unknown>> = {}): FlagSpec[] {
  return optionsOf(shape).flatMap((o) => {
    if (o.flag === false || Object.hasOwn(omit, o.field)) return []
    const given = o.kind === 'boolean' ? undefined : defaultText(o)
    return [
      { name: o.flag, field: o.field, kind: o.kind, aliases: o.aliases, value: o.value, help: given === undefined ? o.help : `${o.help}; default ${given}` },
    ]
  })
}

export type ParsedValues = Record<string, string | string[] | boolean | undefined>

function allFlags(spec: ProgramSpec): FlagSpec[] {
  return [...spec.flags, ...spec.common]
}

/**
 * Flag names by option field, so that messages name the flag the user typed: its name, or the
 * spelling given (`typed`, from parseArgs: the original's `--server_addr`).
 */
export function labelsFor(spec: ProgramSpec, typed: Readonly<Record<string, string>> = {}): Labels {
  const flags: Record<string, string> = {}
  for (const f of allFlags(spec)) flags[f.field] = typed[f.field] ?? `--${f.name}`
  return { flags }
}

/** A negative number is a value (refused by its option with the right message), not a flag. */
const NEGATIVE_NUMBER = /^-\d/

/** Reads `argv`; `typed` (when given) gets the spelling each long flag was given with, by field. */
export function parseArgs(argv: readonly string[], spec: ProgramSpec, typed?: Record<string, string>): ParsedValues {
  const bySpelling = new Map<string, FlagSpec>()
  for (const f of allFlags(spec)) {
    bySpelling.set(`--${f.name}`, f)
    for (const a of f.aliases ?? []) bySpelling.set(a, f)
  }
  const values: ParsedValues = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('-') || arg === '-') {
      throw usageError(`unexpected argument ${JSON.stringify(arg)} (flags take the form --flag VALUE; see --help)`)
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const spelling = eq > 0 ? arg.slice(0, eq) : arg
    const flag = bySpelling.get(spelling)
    if (!flag) throw usageError(unknownFlag(spelling, bySpelling))
    if (typed && spelling.startsWith('--')) typed[flag.field] = spelling
    const shown = spelling.startsWith('--') ? spelling : `--${flag.name}`
    if (flag.kind === 'boolean') {
      if (eq > 0) throw usageError(`${shown} takes no value`)
      values[flag.field] = true
      continue
    }
    let value: string
    if (eq > 0) {
      value = arg.slice(eq + 1)
    } else {
      const next = argv[i + 1]
      if (next === undefined || (next.startsWith('-') && next !== '-' && !NEGATIVE_NUMBER.test(next)))
        throw usageError(`${shown} needs a value${flag.value ? ` (${flag.value})` : ''}`)
      value = next
      i++
    }
    if (value === '') throw usageError(`${shown} needs a value${flag.value ? ` (${flag.value})` : ''}`)
    if (flag.kind === 'list') {
      const list = (values[flag.field] as string[] | undefined) ?? []
      list.push(value)
      values[flag.field] = list
    } else {
      if (values[flag.field] !== undefined) throw usageError(`${shown} is given more than once`)
      values[flag.field] = value
    }
  }
  return values
}

/** `unknown flag --servr-addr (did you mean --server-addr?)`: the closest spelling, by its main name. */
function unknownFlag(spelling: string, bySpelling: ReadonlyMap<string, FlagSpec>): string {
  const bare = (s: string) => s.replace(/^-+/, '')
  const spellings = [...bySpelling.keys()].filter((s) => s.startsWith('--'))
  const guess = spelling.startsWith('--') && spelling.length > 3 ? closest(bare(spelling), spellings.map(bare)) : undefined
  const meant = guess === undefined ? undefined : bySpelling.get(`--${guess}`)
  return meant ? `unknown flag ${spelling} (did you mean --${meant.name}?)` : `unknown flag ${spelling} (see --help)`
}

export function helpText(spec: ProgramSpec): string {
  const lines = [spec.summary, '', 'USAGE:', `    ${spec.usage}`]
  const render = (f: FlagSpec) => {
    const names = [...(f.aliases ?? []).filter((a) => /^-[a-zA-Z]$/.test(a)), `--${f.name}`].join(', ')
    const left = f.value ? `${names} ${f.value}` : names
    return `    ${left.padEnd(44)} ${f.help}`
  }
  if (spec.flags.length) lines.push('', 'OPTIONS:', ...spec.flags.map(render))
  if (spec.common.length) lines.push('', spec.flags.length ? 'COMMON OPTIONS:' : 'OPTIONS:', ...spec.common.map(render))
  if (spec.notes?.length) lines.push('', ...spec.notes)
  if (spec.examples.length) lines.push('', 'EXAMPLES:', ...spec.examples.map((e) => `    ${e}`))
  lines.push('')
  return lines.join('\n')
}
