#!/usr/bin/env node
/** `mproxy <program> [flags]`: the four programs behind one command. */
import { releaseSignals } from './early'
import { randomBytes } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { flagsOf, helpText, parseArgs, type ParsedValues, type ProgramSpec } from './args'
import { checkShape, configRunShape, keygenShape } from './flags'
import { runProgram, version, EXIT_RUNTIME, EXIT_USAGE } from './run'
import { programs } from './programs'
import { checkConfig, runConfig } from './config'

const [sub, ...rest] = process.argv.slice(2)
const names = Object.keys(programs).join(', ')
const usage = `mproxy: move files and raw socket data over UDP

USAGE:
    mproxy <PROGRAM> [OPTIONS]
    mproxy --config FILE [--log-format text|json] [--no-timestamps] [--quiet]
    mproxy check [--config] FILE   (every check of the run, no socket bound; see mproxy check --help)
    mproxy keygen FILE             (a new bus key: 64 hex digits, mode 600; FILE must not exist)
    mproxy -h | --help | -V | --version

PROGRAMS: ${names}
(see mproxy <PROGRAM> --help; each is also installed as mproxy-<PROGRAM>)

CONFIG: a YAML, JSON or TOML file (by extension) of named routes, each with the options of its
program (camelCase, as in the Node API), plus metrics, statsInterval and log settings.
SIGHUP reloads it (unchanged routes keep running) and reopens output files.
`

const CONFIG_SPEC: ProgramSpec = {
  name: 'mproxy',
  summary: '',
  usage: 'mproxy --config FILE [OPTIONS]',
  flags: flagsOf(configRunShape),
  common: [],
  examples: [],
}

const checkSpec: ProgramSpec = {
  name: 'mproxy check',
  summary:
    'mproxy check: check a config file without running it\nEvery check the run makes (options, files, keys, certificates, interfaces, names), with no socket bound,\nso it may run beside the service it checks.',
  usage: 'mproxy check [--config] FILE',
  flags: [],
  common: flagsOf(checkShape),
  examples: ['mproxy check /etc/mproxy/routes.yaml && systemctl reload mproxy'],
  notes: [
    'Exit 0: the config is good; 2: it is not (one line on stderr naming the option); 1: a file could not be read.',
    'Only what a socket alone can show (a port in use, a group join the system refuses) is left to the run.',
  ],
}

const keygenSpec: ProgramSpec = {
  name: 'mproxy keygen',
  summary: 'mproxy keygen: write a new bus key\nA key of 32 random bytes as 64 hex digits, in a new file of mode 600 (never over an existing one).',
  usage: 'mproxy keygen FILE',
  flags: [],
  common: flagsOf(keygenShape),
  examples: [
    'mproxy keygen /etc/mproxy/bus.key && mproxy server --bus-key /etc/mproxy/bus.key --path - --listen-addr 239.255.0.1:9920 --multicast-interface lo',
  ],
}

interface ConfigFlags {
  config: string
  logFormat?: 'text' | 'json'
  timestamps?: boolean
  quiet: boolean
}

/** `--config FILE` and the flags that go with it; a usage line for anything else. */
function configFlags(args: readonly string[], spec: ProgramSpec = CONFIG_SPEC): ConfigFlags | 'help' {
  let values: ParsedValues
  try {
    values = parseArgs(args, spec)
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err))
  }
  if (values.help) return 'help'
  if (values.config === undefined) usageError('--config FILE is required')
  if (values.timestamps && values.noTimestamps) usageError('--timestamps and --no-timestamps cannot both be given')
  const logFormat = values.logFormat
  if (logFormat !== undefined && logFormat !== 'text' && logFormat !== 'json') usageError(`--log-format: ${JSON.stringify(logFormat)} is not one of text, json`)
  return {
    config: String(values.config),
    logFormat,
    timestamps: values.noTimestamps ? false : values.timestamps ? true : undefined,
    quiet: values.quiet === true,
  }
}

/** A line for what keygen could not do: the folder that is not there, or the system's reason. */
function keygenProblem(file: string, e: NodeJS.ErrnoException): string {
  if (e.code === 'EEXIST') return 'it exists already; a key is never overwritten'
  if (e.code === 'ENOENT') return `there is no folder ${path.dirname(path.resolve(file))}; create it first (mkdir -p, mode 700)`
  if (e.code === 'ENOTDIR') return `${path.dirname(file)} is not a folder`
  if (e.code === 'EACCES' || e.code === 'EPERM') return `permission denied in ${path.dirname(path.resolve(file))}`
  return e.code ?? e.message
}

function usageError(message: string): never {
  process.stderr.write(`mproxy: ${message}\n`)
  process.exit(EXIT_USAGE)
}
const configMode =
  sub === '--config' ||
  sub?.startsWith('--config=') ||
  (sub?.startsWith('-') && process.argv.slice(2).some((a) => a === '--config' || a.startsWith('--config=')))
// Only a service keeps the signals early.ts holds; for anything else they act as Node's defaults.
if (sub === '-h' || sub === '--help' || sub === '-V' || sub === '--version' || !(configMode || (sub !== undefined && Object.hasOwn(programs, sub))))
  releaseSignals()
if (sub === '-h' || sub === '--help') {
  process.stdout.write(usage)
} else if (sub === '-V' || sub === '--version') {
  process.stdout.write(`mproxy ${version()}\n`)
} else if (configMode) {
  const flags = configFlags(process.argv.slice(2))
  if (flags === 'help') process.stdout.write(usage)
  else void runConfig(flags)
} else if (sub === 'keygen') {
  if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
    process.stdout.write(helpText(keygenSpec))
  } else {
    if (rest.length !== 1 || rest[0].startsWith('-')) usageError('keygen takes one argument: the FILE to create (see mproxy keygen --help)')
    const file = rest[0]
    try {
      // Created with mode 600 and never over an existing file (a key in use, or a symlink).
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      process.stderr.write(`mproxy: keygen: cannot create ${file}: ${keygenProblem(file, err as NodeJS.ErrnoException)}\n`)
      process.exit(EXIT_RUNTIME)
    }
    process.stderr.write(
      `mproxy: keygen: wrote a new bus key to ${file} (64 hex digits${process.platform === 'win32' ? '' : `, mode ${(statSync(file).mode & 0o777).toString(8)}`}); give it with --bus-key ${file}\n`,
    )
  }
} else if (sub === 'check') {
  // `mproxy check FILE` as well as `mproxy check --config FILE`.
  const flags = configFlags(rest.length === 1 && !rest[0].startsWith('-') ? ['--config', rest[0]] : rest, checkSpec)
  if (flags === 'help') process.stdout.write(helpText(checkSpec))
  else void checkConfig(flags.config)
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
