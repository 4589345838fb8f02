// docs/options.md is written from the option schemas: it may not lag behind them. After a
// change to an option: npm run build:ts && node scripts/write-options-doc.js
import test from 'ava'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { root } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { optionsDoc, OUT } = require(path.join(root, 'scripts', 'write-options-doc.js'))
const { SHAPES } = require(path.join(root, 'dist', 'schema', 'programs.js'))
const { optionsOf } = require(path.join(root, 'dist', 'schema', 'option.js'))

test('docs/options.md is as the option schemas write it', (t) => {
  t.is(readFileSync(OUT, 'utf8'), optionsDoc(), 'stale: run node scripts/write-options-doc.js')
})

test('every option of every program is described, and every number has a bound', (t) => {
  for (const [kind, shape] of Object.entries(SHAPES)) {
    const described = optionsOf(shape)
    t.deepEqual(described.map((o) => o.field), Object.keys(shape), `${kind}: an option without option() metadata`)
    for (const o of described) {
      t.true(o.help.length > 10, `${kind}.${o.field} has help`)
      const numeric = /^(max|min)|Ms$|Buffer$|Ttl$|Queue$|Clients|Timeout$|^(baud|rate|sample)$/.test(o.field)
      if (numeric) t.truthy(o.bounds, `${kind}.${o.field} has bounds`)
    }
  }
})
