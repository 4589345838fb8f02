#!/usr/bin/env node
// Writes docs/options.md, the option reference, from the option schemas (option() metadata:
// flag, help, default, bounds). `node scripts/write-options-doc.js` after `npm run build:ts`;
// __test__/options-doc.test.mjs fails while the file and the schemas differ.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const OUT = path.join(root, 'docs', 'options.md')

function load() {
  const dist = path.join(root, 'dist')
  const programs = require(path.join(dist, 'schema', 'programs.js'))
  const { optionsOf, defaultText } = require(path.join(dist, 'schema', 'option.js'))
  const flags = require(path.join(dist, 'cli', 'flags.js'))
  return { programs, optionsOf, defaultText, flags }
}

const cell = (text) => String(text).replace(/\|/g, '\\|')
const code = (text) => `\`${text}\``

function table({ optionsOf, defaultText }, shape, { withOption = true } = {}) {
  const rows = optionsOf(shape).map((o) => {
    const flag = o.flag === false ? '(API, config)' : [code(`--${o.flag}${o.value ? ` ${o.value}` : ''}`), ...(o.aliases ?? []).map(code)].join(', ')
    const given = defaultText(o)
    const bounds = o.bounds ? `${o.bounds.min.toLocaleString('en-US')} to ${o.bounds.max.toLocaleString('en-US')}` : ''
    const cells = [cell(flag), o.required ? 'required' : given === undefined ? '' : cell(code(given)), cell(bounds), cell(o.help)]
    return `| ${withOption ? `${code(o.field)} | ` : ''}${cells.join(' | ')} |`
  })
  const head = withOption
    ? '| Option | Flag | Default | Bounds | Description |\n|---|---|---|---|---|'
    : '| Flag | Default | Bounds | Description |\n|---|---|---|---|'
  return `${head}\n${rows.join('\n')}\n`
}

/** The reference as it should be now. */
function optionsDoc() {
  const m = load()
  const { programs, flags } = m
  const own = (shape) => Object.fromEntries(Object.entries(shape).filter(([k]) => !Object.hasOwn(programs.commonShape, k)))
  const sections = [
    '# Option reference',
    '',
    '<!-- Written by `node scripts/write-options-doc.js` from the option schemas (src/schema/programs.ts); do not edit by hand. -->',
    '',
    'Every option of every program, as `create…()` and a config file route take it (the Option column, camelCase) and as the',
    'command line takes it (the Flag column). A default is filled in when the option is not given; a number outside its',
    'bounds is refused. Lists take one value or several (on the command line: repeat the flag).',
    '',
    '## Every program',
    '',
    table(m, programs.commonShape),
  ]
  for (const [title, shape] of [
    ['mproxy-client (`createClient`, `kind: client`)', programs.clientShape],
    ['mproxy-server (`createServer`, `kind: server`)', programs.serverShape],
    ['mproxy-proxy (`createProxy`, `kind: proxy`)', programs.proxyShape],
    ['mproxy-reverseproxy (`createReverseProxy`, `kind: reverseproxy`)', programs.reverseProxyShape],
  ]) {
    sections.push(`## ${title}`, '', table(m, own(shape)))
  }
  sections.push(
    '## Node API only',
    '',
    table(m, { ...programs.apiShape, ...programs.reverseProxyApiShape }),
    '## Command line only',
    '',
    'Routing rules for every output of the program (the API and config files give rules per output):',
    '',
    table(m, flags.filterShape, { withOption: false }),
    "Sensor inputs of mproxy-proxy and mproxy-reverseproxy (the API and config files: a `udpListenAddrs` item `{ addr, wire: 'plain' }`):",
    '',
    table(m, flags.wireShape, { withOption: false }),
    'Input stages (the API and config files give `tagBlock`, `dedup` and `throttle` as objects; see [sensor feeds](sensor-feeds.md)):',
    '',
    table(m, flags.feedFlagShape, { withOption: false }),
    'About the process (a config file has `metrics.addr`, `statsInterval` and `log` instead):',
    '',
    table(m, flags.processShape, { withOption: false }),
  )
  return `${sections.join('\n').trimEnd()}\n`
}

module.exports = { optionsDoc, OUT }

if (require.main === module) {
  fs.mkdirSync(path.dirname(OUT), { recursive: true })
  fs.writeFileSync(OUT, optionsDoc())
  process.stdout.write(`wrote ${path.relative(root, OUT)}\n`)
}
