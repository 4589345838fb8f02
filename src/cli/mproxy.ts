#!/usr/bin/env node
/** `mproxy <program> [flags]`: the four programs behind one command. */
import { releaseSignals } from './early'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { runProgram, version, EXIT_RUNTIME, EXIT_USAGE } from './run'
import { programs } from './programs'
import { checkConfig, runConfig } from './config'

const [sub, ...rest] = process.argv.slice(2)
const names = Object.keys(programs).join(', ')
const usage = `mproxy: move files and raw socket data over UDP

USAGE:
    mproxy <PROGRAM> [OPTIONS]
    mproxy --config FILE [--log-format text|json] [--no-timestamps] [--quiet]
    mproxy check [--config] FILE
    mproxy keygen FILE        (a new bus key: 64 hex digits, mode 600; FILE must not exist)
    mproxy -h | --help | -V | --version

PROGRAMS: ${names}
(see mproxy <PROGRAM> --help; each is also installed as mproxy-<PROGRAM>)

CONFIG: a YAML, JSON or TOML file (by extension) of named routes, each with the options of its
program (camelCase, as in the Node API), plus metrics, statsInterval and log settings.
SIGHUP reloads it (unchanged routes keep running) and reopens output files.
`

/** `--config FILE` and the flags that go with it; a usage line for anything else. */
function configFlags(args: readonly string[]): { config: string; logFormat?: 'text' | 'json'; timestamps?: boolean; quiet: boolean } {
  const out: { config?: string; logFormat?: 'text' | 'json'; timestamps?: boolean; quiet: boolean } = { quiet: false }
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith('--') && args[i].includes('=') ? [args[i].slice(0, args[i].indexOf('=')), args[i].slice(args[i].indexOf('=') + 1)] : [args[i], undefined]
    const value = () => {
      const v = inline ?? args[++i]
      if (v === undefined || v === '') usageError(`${flag} needs a value`)
      return v as string
    }
    if (flag === '--config') out.config = value()
    else if (flag === '--log-format') {
      const v = value()
      if (v !== 'text' && v !== 'json') usageError(`--log-format: ${JSON.stringify(v)} is not one of text, json`)
      out.logFormat = v as 'text' | 'json'
    } else if (flag === '--no-timestamps') out.timestamps = false
    else if (flag === '--timestamps') out.timestamps = true
    else if (flag === '-q' || flag === '--quiet') out.quiet = true
    else usageError(`unknown flag ${flag} with --config (see mproxy --help)`)
  }
  if (!out.config) usageError('--config FILE is required')
  return out as { config: string; logFormat?: 'text' | 'json'; timestamps?: boolean; quiet: boolean }
}

function usageError(message: string): never {
  process.stderr.write(`mproxy: ${message}\n`)
  process.exit(EXIT_USAGE)
}
const configMode = sub === '--config' || sub?.startsWith('--config=') || (sub !== undefined && sub.startsWith('-') && process.argv.slice(2).some((a) => a === '--config' || a.startsWith('--config=')))
// Only a service keeps the signals early.ts holds; for anything else they act as Node's defaults.
if (sub === '-h' || sub === '--help' || sub === '-V' || sub === '--version' || !(configMode || (sub !== undefined && Object.hasOwn(programs, sub)))) releaseSignals()
if (sub === '-h' || sub === '--help') {
  process.stdout.write(usage)
} else if (sub === '-V' || sub === '--version') {
  process.stdout.write(`mproxy ${version()}\n`)
} else if (configMode) {
  void runConfig(configFlags(process.argv.slice(2)))
} else if (sub === 'keygen') {
  if (rest.length !== 1 || rest[0].startsWith('-')) usageError('keygen takes one argument: the FILE to create (see mproxy --help)')
  try {
    // Created with mode 600 and never over an existing file (a key in use, or a symlink).
    writeFileSync(rest[0], `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    process.stderr.write(`mproxy: keygen: cannot create ${rest[0]}: ${e.code === 'EEXIST' ? 'it exists already; a key is never overwritten' : e.code ?? e.message}\n`)
    process.exit(EXIT_RUNTIME)
  }
} else if (sub === 'check') {
  // `mproxy check FILE` as well as `mproxy check --config FILE`.
  const flags = configFlags(rest.length === 1 && !rest[0].startsWith('-') ? ['--config', rest[0]] : rest)
  void checkConfig(flags.config)
} else if (sub === undefined) {
  // Nothing asked: the usage goes where errors go, and the exit code says it was not a run.
  process.stderr.write(usage)
  process.exitCode = EXIT_USAGE
} else if (!Object.hasOwn(programs, sub)) {
  process.stderr.write(`mproxy: unknown program ${JSON.stringify(sub)}; expected one of ${names} (see mproxy --help)\n`)
  process.exitCode = EXIT_USAGE
} else {
  void runProgram(programs[sub], rest)
}
