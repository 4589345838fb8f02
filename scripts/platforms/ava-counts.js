#!/usr/bin/env node
// Reads ava's default (verbose, non-TTY) reporter output of the Windows run of
// check:platforms and prints, per test file, how many tests ran (passed, failed) and how many
// were skipped (each skip's title says why); the last line, the totals, is what
// check-platforms.sh puts in its summary. Windows node.exe may print ava's figures in their
// ASCII fallbacks (√ ×), so both are read. Tests still pending when ava gave up (a timeout,
// ◌) count as failed.
'use strict'
const fs = require('node:fs')

const text = fs.readFileSync(process.argv[2], 'utf8')
const files = new Map()
const total = { passed: 0, failed: 0, skipped: 0 }
const kinds = [
  [/^\s*[✔√] (.*?)(?: \(\d+(?:\.\d+)?m?s\))?$/, 'passed'],
  [/^\s*[✘×] \[fail\]: (.*)$/, 'failed'],
  [/^\s*- \[skip\] (.*)$/, 'skipped'],
  [/^\s*(?:◌|\( \)) (.*)$/, 'failed'],
]
const seen = new Set()
for (const line of text.split(/\r?\n/)) {
  for (const [re, kind] of kinds) {
    const m = re.exec(line)
    if (!m) continue
    const title = m[1]
    if (kind === 'failed' && seen.has(`failed ${title}`)) break
    seen.add(`${kind} ${title}`)
    const file = title.includes(' › ') ? title.slice(0, title.indexOf(' › ')) : '(other)'
    const counts = files.get(file) ?? { passed: 0, failed: 0, skipped: 0 }
    counts[kind]++
    total[kind]++
    files.set(file, counts)
    break
  }
}
const say = (c) => `${c.passed + c.failed} ran (${c.passed} passed, ${c.failed} failed), ${c.skipped} skipped`
const skipped = (text.match(/\[not on Windows: [^\]]*\]/g) ?? []).reduce((m, r) => m.set(r, (m.get(r) ?? 0) + 1), new Map())
const out = [...files].sort().map(([file, counts]) => `  ${file.padEnd(26)} ${say(counts)}`)
for (const [reason, n] of [...skipped].sort((a, b) => b[1] - a[1])) out.push(`  skipped ${String(n).padStart(3)} ${reason}`)
process.stderr.write(`${out.join('\n')}\n`)
process.stdout.write(`ava: ${say(total)}\n`)
