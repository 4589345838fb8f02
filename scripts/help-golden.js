#!/usr/bin/env node
// The `--help` of every program, as the golden files in __test__/golden/ hold it. Run
// `node scripts/help-golden.js --write` after changing a flag or its help on purpose (and
// read the diff); __test__/help-golden.test.mjs fails while the files and the programs differ.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const dist = path.join(root, 'dist', 'cli')
const GOLDEN = path.join(root, '__test__', 'golden')

/** File name, entry file, arguments. */
const HELPS = [
  ['mproxy.txt', 'mproxy.js', ['--help']],
  ['mproxy-check.txt', 'mproxy.js', ['check', '--help']],
  ['mproxy-keygen.txt', 'mproxy.js', ['keygen', '--help']],
  ['mproxy-client.txt', 'client.js', ['--help']],
  ['mproxy-server.txt', 'server.js', ['--help']],
  ['mproxy-proxy.txt', 'proxy.js', ['--help']],
  ['mproxy-reverseproxy.txt', 'reverseproxy.js', ['--help']],
]

/** What each program prints for its help now. */
function currentHelps() {
  return HELPS.map(([file, entry, args]) => ({
    file: path.join(GOLDEN, file),
    command: `${entry === 'mproxy.js' ? 'mproxy' : `mproxy-${entry.replace(/\.js$/, '')}`} ${args.join(' ')}`,
    text: execFileSync(process.execPath, [path.join(dist, entry), ...args], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' } }),
  }))
}

module.exports = { currentHelps, GOLDEN }

if (require.main === module) {
  if (!process.argv.includes('--write')) {
    process.stderr.write('usage: node scripts/help-golden.js --write   (rewrites __test__/golden/*.txt from the built programs)\n')
    process.exit(2)
  }
  fs.mkdirSync(GOLDEN, { recursive: true })
  for (const h of currentHelps()) {
    fs.writeFileSync(h.file, h.text)
    process.stdout.write(`wrote ${path.relative(root, h.file)} (${h.command})\n`)
  }
}
