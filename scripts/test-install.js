#!/usr/bin/env node
// `npm run test:install [-- --no-source-build]`: the release rehearsal's tests
// (__test__/release/), against the tarballs `npm run pack:local` (or scripts/pack.js
// --addons DIR) left in pack/. Kept out of `npm test`: it needs those tarballs, and one of its
// tests compiles the addon from source (with a timeout of its own: a fresh release compile
// takes several minutes on two cores). One file at a time, so that compile has the machine;
// ava's timeout scaled by MPROXY_TEST_SLOW (scripts/test-slow.js); the tests' temporary files
// in a directory of this run's (TMPDIR), removed when ava is done, even after a timeout.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { avaTimeout } = require('./test-slow.js')

const root = path.join(__dirname, '..')
const ava = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
// --no-source-build leaves out the test that compiles the addon from source (for machines
// without a Rust toolchain: the old-glibc, musl and armv7 containers of the release workflow).
const args = process.argv.slice(2)
const noSourceBuild = args.includes('--no-source-build')
// Named one by one: ava's configured `files` (npm test's) would filter out a glob.
const dir = path.join('__test__', 'release')
const files = fs
  .readdirSync(path.join(root, dir))
  .filter((f) => f.endsWith('.test.mjs') && !(noSourceBuild && f === 'source-build.test.mjs'))
  .map((f) => path.join(dir, f))
const rest = args.filter((a) => a !== '--no-source-build')
const timeout = rest.some((a) => /^(--timeout|-T)(=|$)/.test(a)) ? [] : [`--timeout=${avaTimeout(3)}`]
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-test-install-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))
// Ctrl-C reaches ava too, which stops; this process then removes the directory.
process.on('SIGINT', () => {})
const r = spawnSync(process.execPath, [ava, '--concurrency=1', ...timeout, ...files, ...rest], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: tmp },
})
process.exit(r.status ?? 1)
