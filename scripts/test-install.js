#!/usr/bin/env node
// `npm run test:install`: the release rehearsal's tests (__test__/release/), against the
// tarballs `npm run pack:local` (or scripts/pack.js --addons DIR) left in pack/. Kept out of
// `npm test`: it needs those tarballs, and one of its tests compiles the addon from source.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const ava = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
// Named one by one: ava's configured `files` (npm test's) would filter out a glob.
const dir = path.join('__test__', 'release')
const files = fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.test.mjs')).map((f) => path.join(dir, f))
const r = spawnSync(process.execPath, [ava, ...files, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
