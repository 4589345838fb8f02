// docs/options.md is written from the option schemas: it may not lag behind them. After a
// change to an option: npm run build:ts && node scripts/write-options-doc.js
import test from 'ava'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { root } from './helpers.mjs'
import { unixOnly } from './platform.mjs'

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
    t.deepEqual(
      described.map((o) => o.field),
      Object.keys(shape),
      `${kind}: an option without option() metadata`,
    )
    for (const o of described) {
      t.true(o.help.length > 10, `${kind}.${o.field} has help`)
      const numeric = /^(max|min)|Ms$|Buffer$|Ttl$|Queue$|Clients|Timeout$|^(baud|rate|sample)$/.test(o.field)
      if (numeric) t.truthy(o.bounds, `${kind}.${o.field} has bounds`)
    }
  }
})

test('the config JSON Schema is written from the option schemas: descriptions, defaults and bounds', (t) => {
  const { configJsonSchema } = require(path.join(root, 'dist', 'schema', 'config.js'))
  const json = configJsonSchema()
  t.deepEqual(JSON.parse(readFileSync(path.join(root, 'dist', 'mproxy.schema.json'), 'utf8')), json, 'dist/mproxy.schema.json is current')
  const kinds = json.properties.routes.items.oneOf
  t.deepEqual(
    kinds.map((k) => k.properties.kind.const),
    ['client', 'server', 'proxy', 'reverseproxy'],
  )
  for (const route of kinds) {
    const kind = route.properties.kind.const
    for (const [name, option] of Object.entries(route.properties)) {
      if (name === 'name' || name === 'kind') continue
      t.true(typeof option.description === 'string' && option.description.length > 10, `${kind}.${name} has a description`)
      const numeric = (option.anyOf ?? []).find((a) => a.type === 'integer' || a.type === 'number')
      if (numeric) t.true(numeric.minimum !== undefined && numeric.maximum !== undefined, `${kind}.${name} has bounds`)
    }
  }
  const rp = kinds[3].properties
  t.is(rp.multicastAddr.default, '[ff02::1]:9918')
  t.is(rp.maxTcpClients.default, 1024)
  t.is(rp.multicastTtl.default, 1)
  t.deepEqual(rp.maxTcpClients.anyOf[0], { type: 'integer', minimum: 1, maximum: 1_000_000 })
  // A one-or-a-list option: its items as the item's own schema gives them.
  t.deepEqual(
    kinds[1].properties.listenAddrs.anyOf.map((a) => a.type),
    ['string', 'array'],
  )
  t.is(kinds[1].properties.listenAddrs.anyOf[1].minItems, 1)
})

// The generator formats with biome, whose binary here is the one for the machine the tree was installed on.
unixOnly("biome's binary (the types are formatted by it; checked on Linux)")(
  'the published option types are as the option schemas write them (src/api/option-types.ts)',
  (t) => {
    const { optionTypes, OUT: TYPES } = require(path.join(root, 'scripts', 'write-option-types.js'))
    t.is(readFileSync(TYPES, 'utf8'), optionTypes(), 'stale: run npm run write:generated')
  },
)
