/**
 * Command-line flags: `--flag value`, `--flag=value`, repeated flags for lists, the
 * original mproxy's underscore spellings as aliases, and one-line usage errors.
 */
import { usageError } from '../errors'
import type { Labels } from '../options'

export interface FlagSpec {
  /** Kebab-case name without dashes, e.g. `server-addr`. */
  name: string
  /** The option field it sets, e.g. `serverAddrs`. */
  field: string
  kind: 'string' | 'list' | 'boolean'
  /** Other spellings, with their dashes: `-t`, `--server_addr`. */
  aliases?: string[]
  /** Placeholder in the help, e.g. `HOST:PORT`. */
  value?: string
  help: string
  /** About the process (logging, metrics), not an option of the program's API. */
  process?: boolean
}

export interface ProgramSpec {
  name: string
  summary: string
  usage: string
  flags: FlagSpec[]
  examples: string[]
  notes?: string[]
}

/** Flags every program has. */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'multicast-interface', field: 'multicastInterface', kind: 'string', value: 'NAME|ADDRESS|INDEX', help: 'Interface for multicast groups without a %scope (join and send)' },
  { name: 'multicast-ttl', field: 'multicastTtl', kind: 'string', value: 'N', help: 'TTL / hop limit of multicast sent (default 1)' },
  { name: 'recv-buffer', field: 'recvBuffer', kind: 'string', value: 'BYTES', help: 'Receive buffer per listening socket (default 8388608)' },
  { name: 'send-buffer', field: 'sendBuffer', kind: 'string', value: 'BYTES', help: 'Send buffer per sending socket (default 8388608)' },
  { name: 'bus-key', field: 'busKey', kind: 'string', value: 'FILE', help: 'Seal every UDP datagram sent and accept only sealed ones (key: 64 hex digits, mode 600)' },
  { name: 'bus-key-next', field: 'busKeyNext', kind: 'string', value: 'FILE', help: 'Also accept datagrams sealed with this key (rotation); needs --bus-key' },
  { name: 'metrics-addr', field: 'metricsAddr', kind: 'string', value: 'HOST:PORT', process: true, help: 'Serve Prometheus metrics at http://HOST:PORT/metrics' },
  { name: 'stats-interval', field: 'statsInterval', kind: 'string', value: 'SECONDS', process: true, help: 'Print rates and any loss every SECONDS on stderr' },
  { name: 'log-format', field: 'logFormat', kind: 'string', value: 'text|json', process: true, help: 'Log lines as text (default) or one JSON object each' },
  { name: 'no-timestamps', field: 'noTimestamps', kind: 'boolean', process: true, help: 'Leave the time out of log lines (the default when journald reads stderr)' },
  { name: 'timestamps', field: 'timestamps', kind: 'boolean', process: true, help: 'Put the time in log lines even under journald' },
  { name: 'verbose', field: 'verbose', kind: 'boolean', aliases: ['-v'], process: true, help: 'Also print the counters when stopping (and the client its summary when stderr is not a terminal)' },
  { name: 'quiet', field: 'quiet', kind: 'boolean', aliases: ['-q'], process: true, help: 'Print errors only' },
  { name: 'help', field: 'help', kind: 'boolean', aliases: ['-h'], process: true, help: 'Prints help information' },
  { name: 'version', field: 'version', kind: 'boolean', aliases: ['-V'], process: true, help: 'Prints the version' },
]

export type ParsedValues = Record<string, string | string[] | boolean | undefined>

function allFlags(spec: ProgramSpec): FlagSpec[] {
  return [...spec.flags, ...COMMON_FLAGS]
}

/** Flag names by option field, so that messages name the flag the user typed. */
export function labelsFor(spec: ProgramSpec): Labels {
  const flags: Record<string, string> = {}
  for (const f of allFlags(spec)) flags[f.field] = `--${f.name}`
  return { flags }
}

export function parseArgs(argv: readonly string[], spec: ProgramSpec): ParsedValues {
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
    if (!flag) throw usageError(`unknown flag ${spelling} (see --help)`)
    const shown = `--${flag.name}`
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
      if (next === undefined || (next.startsWith('-') && next !== '-')) throw usageError(`${shown} needs a value${flag.value ? ` (${flag.value})` : ''}`)
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

export function helpText(spec: ProgramSpec): string {
  const lines = [spec.summary, '', 'USAGE:', `    ${spec.usage}`, '', 'OPTIONS:']
  const render = (f: FlagSpec) => {
    const names = [...(f.aliases ?? []).filter((a) => /^-[a-zA-Z]$/.test(a)), `--${f.name}`].join(', ')
    const left = f.value ? `${names} ${f.value}` : names
    return `    ${left.padEnd(44)} ${f.help}`
  }
  for (const f of spec.flags) lines.push(render(f))
  lines.push('', 'COMMON OPTIONS:')
  for (const f of COMMON_FLAGS) lines.push(render(f))
  if (spec.notes?.length) lines.push('', ...spec.notes)
  lines.push('', 'EXAMPLES:', ...spec.examples.map((e) => `    ${e}`), '')
  return lines.join('\n')
}
