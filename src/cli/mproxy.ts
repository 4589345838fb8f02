#!/usr/bin/env node
/** `mproxy <program> [flags]`: the four programs behind one command. */
import { runProgram, EXIT_USAGE } from './run'
import { programs } from './programs'

const [sub, ...rest] = process.argv.slice(2)
const names = Object.keys(programs).join(', ')
if (sub === undefined || sub === '-h' || sub === '--help') {
  process.stdout.write(`mproxy: move files and raw socket data over UDP\n\nUSAGE:\n    mproxy <PROGRAM> [OPTIONS]\n\nPROGRAMS: ${names}\n(see mproxy <PROGRAM> --help)\n`)
  process.exit(sub === undefined ? EXIT_USAGE : 0)
} else if (!Object.hasOwn(programs, sub)) {
  process.stderr.write(`mproxy: unknown program ${JSON.stringify(sub)}; expected one of ${names}\n`)
  process.exit(EXIT_USAGE)
} else {
  void runProgram(programs[sub], rest)
}
