// Property-style checks of the option checking: thousands of random and half-right config
// objects, program options and address texts (from a fixed seed, so a failure reproduces)
// either pass or are refused with an MproxyError whose message is one line naming the path;
// nothing else is ever thrown. Bounded to run in a second or two.
import test from 'ava'
import path from 'node:path'
import { createRequire } from 'node:module'
import { root } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { configSchema } = require(path.join(root, 'dist/schema/config.js'))
const { parseWith } = require(path.join(root, 'dist/schema/issues.js'))
const { apiSchema, SHAPES } = require(path.join(root, 'dist/schema/programs.js'))
const { parseAddress } = require(path.join(root, 'dist/address.js'))
const { MproxyError } = require(path.join(root, 'dist/errors.js'))

/** A small deterministic generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  const pick = (list) => list[int(list.length)]
  return { next, int, pick }
}

const OPTION_NAMES = [...new Set(Object.values(SHAPES).flatMap((s) => Object.keys(s)))]
const KINDS = ['client', 'server', 'proxy', 'reverseproxy', 'Client', '', 'tcp']
const STRINGS = [
  '',
  ' ',
  '127.0.0.1:9920',
  '[::1]:0',
  '[ff02::1%eth0]:9918',
  '239.1.2.3:9920',
  'localhost:99999',
  'tls://h:1',
  'tls://',
  ':',
  '[',
  ']:1',
  '1.2.3.4',
  'a'.repeat(300),
  '-',
  '/dev/null',
  'packed',
  'raw',
  'line',
  '50M',
  '1e309',
  'NaN',
  '\n',
  '\u0000',
  '%',
  '[fe80::1%]:1',
  '0x10',
  '-1',
  '{"a":1}',
  'hourly',
  '💥',
]

function value(r, depth) {
  switch (r.int(depth > 2 ? 6 : 9)) {
    case 0:
      return r.pick(STRINGS)
    case 1:
      return r.pick([0, -1, 1, 1.5, 65535, 65536, 2 ** 53, -0, Infinity, NaN, 1024, 1472])
    case 2:
      return r.pick([true, false, null, undefined])
    case 3:
      return String.fromCharCode(...Array.from({ length: r.int(12) }, () => r.int(0x3000)))
    case 4:
      return r.pick(STRINGS) + r.pick(STRINGS)
    case 5:
      return r.int(100_000)
    case 6:
      return Array.from({ length: r.int(4) }, () => value(r, depth + 1))
    case 7:
      return object(r, depth + 1)
    default:
      return route(r, depth + 1)
  }
}

function object(r, depth) {
  const o = {}
  for (let i = r.int(5); i > 0; i--)
    o[r.next() < 0.8 ? r.pick(OPTION_NAMES) : r.pick(['routes', 'metrics', 'log', '__proto__', 'constructor', 'x'])] = value(r, depth)
  return o
}

function route(r, depth) {
  const o = object(r, depth)
  if (r.next() < 0.9) o.kind = r.pick(KINDS)
  if (r.next() < 0.8) o.name = r.pick(['a', 'b', 'bad name', '', 'a'])
  return o
}

/** A valid config with one option set to a random value: right often enough to pass. */
function nearlyValid(r) {
  const server = { name: 's', kind: 'server', path: '-', listenAddrs: '127.0.0.1:0' }
  const client = { name: 'c', kind: 'client', path: '-', serverAddrs: ['127.0.0.1:9920'] }
  const base = r.pick([server, client])
  const field = r.pick(OPTION_NAMES)
  const v = r.next() < 0.5 ? r.pick([true, 1, 1472, '1472', 'packed', '127.0.0.1:9', '-', '50M']) : value(r, 2)
  return { routes: [{ ...base, [field]: v }] }
}

function config(r) {
  switch (r.int(7)) {
    case 6:
      return nearlyValid(r)
    case 0:
      return value(r, 0)
    case 1:
      return { routes: value(r, 1) }
    default: {
      const c = { routes: Array.from({ length: r.int(4) }, () => route(r, 1)) }
      if (r.next() < 0.3) c.metrics = r.next() < 0.5 ? { addr: r.pick(STRINGS) } : value(r, 2)
      if (r.next() < 0.3) c.statsInterval = value(r, 2)
      if (r.next() < 0.3) c.log = { format: r.pick(['text', 'json', 'xml']), timestamps: value(r, 3) }
      if (r.next() < 0.1) c[r.pick(OPTION_NAMES)] = value(r, 2)
      return c
    }
  }
}

/** Runs `fn`; anything thrown must be a one-line MproxyError. Returns whether it passed. */
function refusedCleanly(t, fn, input) {
  try {
    fn()
    return true
  } catch (err) {
    const shown = (() => {
      try {
        return JSON.stringify(input)?.slice(0, 300)
      } catch {
        return String(input)
      }
    })()
    if (!(err instanceof MproxyError)) t.fail(`threw ${err?.name}: ${err?.message} for ${shown}`)
    else if (/[\r\n]/.test(err.message) || err.message.length === 0 || err.message.length > 1000)
      t.fail(`not one line: ${JSON.stringify(err.message)} for ${shown}`)
    return false
  }
}

test('random config files are accepted or refused with one line, never anything else thrown', (t) => {
  const r = rng(20261127)
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 3000; i++) {
    const input = config(r)
    if (refusedCleanly(t, () => parseWith(configSchema, input, {}), input)) accepted++
    else refused++
  }
  t.true(refused > 1500 && accepted > 20, `accepted ${accepted}, refused ${refused}`)
  t.log(`accepted ${accepted}, refused ${refused}`)
})

test('random program options are accepted or refused with one line', (t) => {
  const r = rng(42)
  for (const kind of ['client', 'server', 'proxy', 'reverseproxy']) {
    for (let i = 0; i < 1000; i++) {
      const input = r.next() < 0.1 ? value(r, 0) : object(r, 1)
      refusedCleanly(t, () => parseWith(apiSchema(kind), input, {}), input)
    }
  }
  t.pass()
})

test('random address texts parse or are refused with one line naming the option', (t) => {
  const r = rng(7)
  const alphabet = '0123456789abcdef:.[]%-/ tlsTLS\u0000\n'
  for (let i = 0; i < 5000; i++) {
    const text = r.next() < 0.3 ? r.pick(STRINGS) + r.pick(STRINGS) : Array.from({ length: r.int(40) }, () => alphabet[r.int(alphabet.length)]).join('')
    try {
      parseAddress(text, 'listenAddrs', r.next() < 0.5)
    } catch (err) {
      if (!(err instanceof MproxyError)) t.fail(`threw ${err?.name} for ${JSON.stringify(text)}`)
      else {
        t.true(err.message.startsWith('listenAddrs: '), err.message)
        t.false(/[\r\n]/.test(err.message.replace(JSON.stringify(text), '')), err.message)
      }
    }
  }
  t.pass()
})
