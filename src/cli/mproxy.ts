#!/usr/bin/env node
/** `mproxy <program> [flags]`: the four programs behind one command. */
import { runProgram, version, EXIT_USAGE } from './run'
import { programs } from './programs'

const [sub, ...rest] = process.argv.slice(2)
const names = Object.keys(programs).join(', ')
const usage = `mproxy: move files and raw socket data over UDP

USAGE:
    mproxy <PROGRAM> [OPTIONS]
    mproxy -h | --help | -V | --version

PROGRAMS: ${names}
(see mproxy <PROGRAM> --help; each is also installed as mproxy-<PROGRAM>)
`
if (sub === '-h' || sub === '--help') {
  process.stdout.write(usage)
} else if (sub === '-V' || sub === '--version') {
  process.stdout.write(`mproxy ${version()}\n`)
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
