#!/usr/bin/env node
// Reads ava's TAP output (the Windows run of check:platforms) and prints, per test file,
// how many tests ran (passed, failed) and how many were skipped; the last line, the totals,
// is what check-platforms.sh puts in its summary.
'use strict'
const fs = require('node:fs')

const text = fs.readFileSync(process.argv[2], 'utf8')
const files = new Map()
const total = { passed: 0, failed: 0, skipped: 0 }
for (const line of text.split(/\r?\n/)) {
  const m = /^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line)
  if (!m) continue
  const file = m[2].includes(' › ') ? m[2].slice(0, m[2].indexOf(' › ')) : '(other)'
  const counts = files.get(file) ?? { passed: 0, failed: 0, skipped: 0 }
  const kind = m[3] ? 'skipped' : m[1] === 'ok' ? 'passed' : 'failed'
  counts[kind]++
  total[kind]++
  files.set(file, counts)
}
const say = (name, c) => `${c.passed + c.failed} ran (${c.passed} passed, ${c.failed} failed), ${c.skipped} skipped`
for (const [file, counts] of [...files].sort()) process.stderr.write(`  ${file.padEnd(26)} ${say(file, counts)}\n`)
process.stdout.write(`ava: ${say('total', total)}\n`)
