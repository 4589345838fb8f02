#!/usr/bin/env node
// `npm run test:install [-- --no-source-build]`: the release rehearsal's tests
// (__test__/release/), against the tarballs `npm run pack:local` (or scripts/pack.js
// --addons DIR) left in pack/. Kept out of `npm test`: it needs those tarballs, and one of its
// tests compiles the addon from source.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

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
const r = spawnSync(process.execPath, [ava, ...files, ...rest], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
