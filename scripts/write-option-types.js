#!/usr/bin/env node
// Writes src/api/option-types.ts, the published option types (ClientOptions, …, UdpOutput),
// from the option schemas, so that no option is written twice: what a schema accepts as
// input is what its type says, and each option's doc comment is its `doc` (or `help`) with
// its default. Run after `npm run build:ts` (it reads dist/); __test__/options-doc.test.mjs
// fails while the file and the schemas differ.
//
// The types come from the schemas' input JSON Schema (the one config files are checked
// with, src/schema/config.ts), which already sees through the schemas' transforms; zod's own
// input types (`z.input<>`) would do too, but would pull zod's declarations into every
// consumer's compile (they need esModuleInterop). Named types (`named()` in values.ts, a
// list's `typeName`) are declared once and referred to by name.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const OUT = path.join(root, 'src', 'api', 'option-types.ts')
const WIDTH = 100

function load() {
  const dist = path.join(root, 'dist', 'schema')
  const { z } = require('zod')
  const programs = require(path.join(dist, 'programs.js'))
  const { optionRegistry, defaultOf } = require(path.join(dist, 'option.js'))
  const { inputJsonSchema, TYPE_KEY } = require(path.join(dist, 'config.js'))
  const link = require(path.join(dist, 'link.js'))
  const rules = require(path.join(dist, 'rules.js'))
  return { z, programs, link, rules, optionRegistry, defaultOf, inputJsonSchema, TYPE_KEY }
}

/** Options whose values JSON cannot describe (functions, objects of Node's). */
const NOT_JSON = { onLog: '(entry: LogEntry) => void', signal: 'AbortSignal' }

/** A doc comment at `indent`, wrapped. */
function docComment(text, indent) {
  // Words, with a code span (`{ addr, prefix }`) kept whole: a line break inside one would show.
  const words =
    text
      .replace(/\s+/g, ' ')
      .trim()
      .match(/(?:`[^`]*`|[^ `])+/g) ?? []
  const lines = []
  let line = ''
  for (const w of words) {
    if (line && indent.length + 3 + line.length + 1 + w.length > WIDTH) {
      lines.push(line)
      line = w
    } else line = line ? `${line} ${w}` : w
  }
  if (line) lines.push(line)
  if (lines.length === 1 && indent.length + lines[0].length + 7 <= WIDTH) return `${indent}/** ${lines[0]} */\n`
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}\n`).join('')}${indent} */\n`
}

const literal = (v) => (typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v))

/** The types being declared, by name: their text, once. */
class Declarations {
  constructor(TYPE_KEY) {
    this.key = TYPE_KEY
    this.byName = new Map()
  }

  /** The TypeScript type of a JSON Schema, at `indent` (for objects written out). */
  type(js, indent = '') {
    const named = js[this.key]
    if (named) {
      const { name, doc } = named
      const { [this.key]: _, ...rest } = js
      const text = docComment(doc, '') + this.declaration(name, rest)
      const known = this.byName.get(name)
      if (known !== undefined && known !== text) throw new Error(`two different schemas are named ${name}`)
      this.byName.set(name, text)
      return name
    }
    const union = js.anyOf ?? js.oneOf
    if (union) return this.union(union.map((u) => this.type(u, indent)))
    if (js.const !== undefined) return literal(js.const)
    if (js.enum) return this.union(js.enum.map(literal))
    if (Array.isArray(js.type)) return this.union(js.type.map((t) => this.type({ ...js, type: t }, indent)))
    switch (js.type) {
      case 'string':
        return 'string'
      case 'number':
      case 'integer':
        return 'number'
      case 'boolean':
        return 'boolean'
      case 'array': {
        const item = this.type(js.items, indent)
        return `readonly ${/[ |&]/.test(item) ? `(${item})` : item}[]`
      }
      case 'object':
        return this.object(js, indent)
      default:
        return 'unknown'
    }
  }

  union(types) {
    return [...new Set(types)].join(' | ')
  }

  /** An object type's body: one documented member per property. */
  members(js, indent, doc = (_key, p) => p.description) {
    const required = new Set(js.required ?? [])
    return Object.entries(js.properties ?? {})
      .map(([key, p]) => {
        const text = doc(key, p)
        return `${text ? docComment(text, indent) : ''}${indent}${key}${required.has(key) ? '' : '?'}: ${NOT_JSON[key] ?? this.type(p, indent)}\n`
      })
      .join('')
  }

  object(js, indent) {
    return `{\n${this.members(js, `${indent}  `)}${indent}}`
  }

  declaration(name, js) {
    if (js.type === 'object' && !js.anyOf) return `export interface ${name} {\n${this.members(js, '  ')}}\n`
    return `export type ${name} = ${this.type(js)}\n`
  }
}

/** The option types as they should be now. */
function optionTypes() {
  const { z, programs, link, rules, optionRegistry, defaultOf, inputJsonSchema, TYPE_KEY } = load()
  const decls = new Declarations(TYPE_KEY)
  const { SHAPES, commonShape, apiShape, reverseProxyApiShape, listenerAccessShape } = programs
  const shapes = {
    ClientOptions: SHAPES.client,
    ServerOptions: SHAPES.server,
    ProxyOptions: SHAPES.proxy,
    ReverseProxyOptions: { ...SHAPES.reverseproxy, ...reverseProxyApiShape },
  }
  const common = { ...commonShape, ...apiShape }
  const TLS = ['tlsCa', 'tlsCert', 'tlsKey', 'tlsInsecure']
  const tls = Object.fromEntries(TLS.map((k) => [k, SHAPES.proxy[k]]))

  /** An option's doc comment: its doc (or help), and its default when the doc does not say it. */
  const optionDoc = (shape) => (key, p) => {
    const schema = shape[key]
    const meta = optionRegistry.get(schema)
    if (!meta) return p.description
    let text = meta.doc ?? meta.help
    if (!/[.!?)]$/.test(text)) text += '.'
    const value = defaultOf(schema)
    const given = meta.defaultText ?? (value === undefined ? undefined : `\`${literal(value)}\``)
    if (given !== undefined && !/default/i.test(text)) text += ` Default: ${given}.`
    return text
  }
  const body = (shape, keys) => {
    const js = inputJsonSchema(z.strictObject(Object.fromEntries(keys.map((k) => [k, shape[k]]))), { typeNames: true })
    return decls.members(js, '  ', optionDoc(shape))
  }
  const blocks = []
  blocks.push(`/** Options every program has (and the handle's, for the API). */\nexport interface CommonOptions {\n${body(common, Object.keys(common))}}\n`)
  blocks.push(`/** TLS options of the forward proxy's \`tls://\` connections. */\nexport interface TlsOptions {\n${body(tls, TLS)}}\n`)
  const docs = {
    ClientOptions: 'Options of `createClient()` and `mproxy-client`.',
    ServerOptions: 'Options of `createServer()` and `mproxy-server`.',
    ProxyOptions: 'Options of `createProxy()` and `mproxy-proxy`.',
    ReverseProxyOptions: 'Options of `createReverseProxy()` and `mproxy-reverseproxy`.',
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const own = Object.keys(shape).filter((k) => !(k in common) && !(name === 'ProxyOptions' && TLS.includes(k)))
    const bases = name === 'ProxyOptions' ? 'CommonOptions, TlsOptions' : 'CommonOptions'
    blocks.push(`/** ${docs[name]} */\nexport interface ${name} extends ${bases} {\n${body(shape, own)}}\n`)
  }
  // Shapes that are parts of objects, with names of their own.
  const parts = {
    ListenerAccess: ["Who may connect to one TCP listener; given on it, these replace the route's own.", listenerAccessShape],
    KeepAlive: [
      "An output's own keep-alive (the object form of an output): a line sent when it sent nothing for `keepAliveAfter` seconds; field by field it replaces the program's.",
      link.linkFields(false),
    ],
    Preamble: ["An output's or connection's own preamble: a line sent first on every connection.", { preamble: link.linkFields(true).preamble }],
    OutputStages: ["An output's stages (the object form of any output): TAG blocks stripped, a rate cap.", rules.stageShape],
    UdpOutputStages: ["A UDP output's stages: an output's, and one line per datagram.", { ...rules.stageShape, ...rules.udpStageShape }],
    FeedOptions: ['Input stages (every program has them), in the order they run; each left out is off.', programs.feedShape],
  }
  for (const [name, [doc, shape]] of Object.entries(parts)) {
    const js = inputJsonSchema(z.strictObject(shape), { typeNames: true })
    blocks.push(`${docComment(doc, '')}export interface ${name} {\n${decls.members(js, '  ', optionDoc(shape))}}\n`)
  }
  const named = [...decls.byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, text]) => text)
  return formatted(
    [
      '// Written by scripts/write-option-types.js from the option schemas (src/schema/): do not',
      '// edit. After a change to an option: npm run build:ts && node scripts/write-option-types.js',
      "import type { LogEntry } from '../handle'",
      '',
      [...blocks, ...named].join('\n'),
    ].join('\n'),
  )
}

/** `text` as the project's formatter writes it (so that `biome check` and this file agree). */
function formatted(text) {
  const biome = path.join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome')
  const r = spawnSync(process.execPath, [biome, 'format', `--stdin-file-path=${OUT}`], { cwd: root, input: text, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`biome format failed: ${r.stderr}`)
  return r.stdout
}

module.exports = { optionTypes, OUT }

if (require.main === module) {
  fs.writeFileSync(OUT, optionTypes())
  console.log(`wrote ${path.relative(root, OUT)}`)
}
