'use strict'
/**
 * Two channels: the report goes to stdout (people and tooling read it, the last line is
 * JSON); progress and problems go to stderr, prefixed, so they never mix into the report.
 */
const log = (line = '') => process.stdout.write(`${line}\n`)
const note = (line) => process.stderr.write(`bench: ${line}\n`)

module.exports = { log, note }
