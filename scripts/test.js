#!/usr/bin/env node
// `npm test`: the Rust core's tests, then the package's ava tests, both inside a network
// namespace this run creates (`unshare -n` as root, `unshare -rn` otherwise) so that no
// test datagram, multicast or not, can reach a real interface. Builds happen first, outside,
// where the registries are reachable.
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const root = path.join(__dirname, '..')

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
  for (const args of [['link', 'set', 'lo', 'up'], ['link', 'set', 'lo', 'multicast', 'on']]) {
    if (run('ip', args) !== 0) process.exit(1)
  }
  const cargo = run('cargo', ['test', '--offline', '-p', 'mproxy-core'])
  if (cargo !== 0) process.exit(cargo)
  process.exit(run(path.join(root, 'node_modules', '.bin', 'ava'), process.argv.slice(2)))
}

if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
  console.error('test: dist/ is missing; run npm install (or npm run build) first')
  process.exit(1)
}
const built = run('cargo', ['test', '-p', 'mproxy-core', '--no-run'])
if (built !== 0) process.exit(built)
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const unshareArgs = [isRoot ? '-n' : '-rn', '--', process.execPath, __filename, ...process.argv.slice(2)]
process.exit(run('unshare', unshareArgs, { MPROXY_TEST_NETNS: '1' }))
