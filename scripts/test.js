#!/usr/bin/env node
// `npm test`: the Rust core's tests, then the package's ava tests, both inside a network
// namespace this run creates (`unshare -n` as root, `unshare -rn` otherwise) so that no
// test datagram, multicast or not, can reach a real interface. Builds happen first, outside,
// where the registries are reachable.
//
// The ava tests run in two groups: first every file but the heavy ones, two files at a time;
// then the heavy ones (100 MiB transfers, files that start many programs), one file at a
// time, so that no test competes with another for the machine's cores. Arguments (`npm test
// -- FILE`, `-- --match TITLE`) go to one ava run instead. ava's timeout is scaled by
// MPROXY_TEST_SLOW (scripts/test-slow.js), as the tests' own deadlines are. The tests'
// temporary files go into a directory of this run's (TMPDIR), removed when ava is done, even
// when a worker was killed before it could clean up.
'use strict'
const { spawnSync } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { avaTimeout } = require('./test-slow.js')

const root = path.join(__dirname, '..')
/** Test files run after the others, one at a time. */
const HEAVY = ['large.test.mjs', 'bad-input.test.mjs']
/** ava's timeout (no test finishing for this long ends the run), before MPROXY_TEST_SLOW. */
const AVA_TIMEOUT_MINUTES = 3

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.error) {
    console.error(`test: cannot run ${cmd}: ${r.error.message}`)
    process.exit(1)
  }
  return r.status ?? 1
}

if (process.env.MPROXY_TEST_NETNS === '1') {
  // Inside the namespace: bring loopback up (with multicast), then run the suites.
  for (const args of [
    ['link', 'set', 'lo', 'up'],
    ['link', 'set', 'lo', 'multicast', 'on'],
  ]) {
    if (run('ip', args) !== 0) process.exit(1)
  }
  const cargo = run('cargo', ['test', '--offline', '-p', 'mproxy-core'])
  if (cargo !== 0) process.exit(cargo)
  process.exit(runAva(process.argv.slice(2)))
}

function runAva(args) {
  const ava = path.join(root, 'node_modules', '.bin', 'ava')
  const timeout = args.some((a) => /^(--timeout|-T)(=|$)/.test(a)) ? [] : [`--timeout=${avaTimeout(AVA_TIMEOUT_MINUTES)}`]
  if (args.length > 0) return run(ava, [...timeout, ...args])
  const all = fs
    .readdirSync(path.join(root, '__test__'))
    .filter((f) => f.endsWith('.test.mjs'))
    .sort()
  const light = all.filter((f) => !HEAVY.includes(f))
  const heavy = HEAVY.filter((f) => all.includes(f))
  const files = (list) => list.map((f) => path.join('__test__', f))
  const first = run(ava, [...timeout, ...files(light)])
  console.log(`\ntest: the heavy files, one at a time: ${heavy.join(', ')}`)
  const second = run(ava, [...timeout, '--concurrency=1', ...files(heavy)])
  return first || second
}

if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
  console.error('test: dist/ is missing; run npm install (or npm run build) first')
  process.exit(1)
}
const built = run('cargo', ['test', '-p', 'mproxy-core', '--no-run'])
if (built !== 0) process.exit(built)
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const unshareArgs = [isRoot ? '-n' : '-rn', '--', process.execPath, __filename, ...process.argv.slice(2)]
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-test-run-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))
// Ctrl-C reaches ava too, which stops; this process then removes the directory.
process.on('SIGINT', () => {})
process.exit(run('unshare', unshareArgs, { MPROXY_TEST_NETNS: '1', TMPDIR: tmp }))
