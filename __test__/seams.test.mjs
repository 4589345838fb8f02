// Issue #15, the defects a user can hit today: a value too large for the core (`--keep
// 40000000000000w`) aborted Node from inside the binding; `mproxy check` passed configs the run
// then refused (a multicastAddr that is no group, a NUL byte in a path), and ran checks of its
// own instead of the programs' start path. Real processes and files throughout.
import test from 'ava'
import { createRequire } from 'node:module'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { mproxy, root, runProgram, runToEnd, tempDir } from './helpers.mjs'
import { stoppedCleanly } from './platform.mjs'

const require = createRequire(import.meta.url)
const binding = require(path.join(root, 'index.js'))
const { fromNative } = require(path.join(root, 'dist/errors.js'))

const dir = tempDir()
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
function configFile(text, ext = 'yaml') {
  const file = path.join(dir, `seams-${n++}.${ext}`)
  writeFileSync(file, text)
  return file
}

/** A program's run, killed if it is still running after `ms` (a bad config must not start). */
async function runBounded(name, args, ms = 15_000) {
  const p = runProgram(name, args)
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms)
  const r = await p.exited
  clearTimeout(timer)
  return r
}

const HUGE_KEEP = '40000000000000w'
const KEEP_LINE = `"${HUGE_KEEP}" is longer than 36500 days (100 years), the longest age to keep`

test('--keep 40000000000000w on the command line: exit 2, one line naming the flag, no abort', async (t) => {
  const out = path.join(dir, 'cli-keep.log')
  const r = await runToEnd('server', ['--path', out, '--listen-addr', '127.0.0.1:0', '--rotate', 'daily', '--keep', HUGE_KEEP])
  t.is(r.code, 2, r.stderr)
  t.is(r.signal, null)
  t.is(r.stderr, `mproxy-server: --keep: ${KEEP_LINE}\n`)
})

test('keep of 40000000000000w in the API rejects with a usage error naming the option', async (t) => {
  const err = await t.throwsAsync(mproxy.createServer({ path: path.join(dir, 'api-keep.log'), listenAddrs: '127.0.0.1:0', rotate: 'daily', keep: HUGE_KEEP }))
  t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  t.is(err.message, `keep: ${KEEP_LINE}`)
  // The bound itself is taken; a day more is not.
  const handle = await mproxy.createServer({ path: path.join(dir, 'api-keep-ok.log'), listenAddrs: '127.0.0.1:0', rotate: 'daily', keep: '36500d' })
  await handle.close()
  const over = await t.throwsAsync(mproxy.createServer({ path: path.join(dir, 'api-keep.log'), listenAddrs: '127.0.0.1:0', rotate: 'daily', keep: '36501d' }))
  t.regex(over.message, /^keep: "36501d" is longer than 36500 days/)
})

test('a rate above the bound is refused by the schema, in the API and on the command line', async (t) => {
  const err = await t.throwsAsync(mproxy.createClient({ path: '/etc/hostname', serverAddrs: '127.0.0.1:9', rate: '200G' }))
  t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  t.is(err.message, 'rate: "200G" is above 100G, the highest rate in bytes per second (0 means unlimited)')
  const r = await runToEnd('client', ['--path', '/etc/hostname', '--server-addr', '127.0.0.1:9', '--rate', '1e30'])
  t.is(r.code, 2, r.stderr)
  t.false(r.stderr.trimEnd().includes('\n'))
})

test('the binding refuses an age too long for the core instead of panicking', (t) => {
  // Below the schema: the binding's own conversion is checked too.
  const options = { outputs: [{ path: path.join(dir, 'binding.log'), rotate: { every: 'daily' }, keep: { keep: 'age', seconds: 4e13 * 604_800 } }] }
  for (const attempt of [() => binding.checkRoute(options), () => binding.startRoute(options, () => {})]) {
    const err = t.throws(attempt)
    t.true(err instanceof Error)
    t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
    t.is(err.option, 'keep')
    t.regex(err.message, /^\{keep\}: .* seconds is not an age a file can have$/)
  }
})

test('a caught panic reaches JavaScript as EMPROXY_INTERNAL, a runtime error', (t) => {
  // The binding's guard throws this error (crates/mproxy-binding/src/guard.rs, unit-tested
  // there with the real Duration panic); the TypeScript layer keeps its code.
  const thrown = Object.assign(new Error('internal error: cannot convert float seconds to Duration'), { code: 'EMPROXY_INTERNAL' })
  const err = fromNative(thrown)
  t.is(err.code, 'EMPROXY_INTERNAL')
  t.false(err.usage)
  t.is(err.message, 'internal error: cannot convert float seconds to Duration')
  // An error without a code of ours is a system refusal, and its text is kept whole.
  t.is(fromNative(new Error('[EMPROXY_FILE] not parsed')).code, 'EMPROXY_IO')
})

test('the binding throws real errors with code, errno, syscall and address', async (t) => {
  const first = await mproxy.createServer({ path: path.join(dir, 'taken.log'), listenAddrs: '127.0.0.1:0' })
  t.teardown(() => first.close())
  const [taken] = first.addresses.listen
  const raw = t.throws(() => binding.startRoute({ udpListeners: [{ address: taken, recvBuffer: 1 << 20 }] }, () => {}))
  t.true(raw instanceof Error)
  t.is(raw.code, 'EMPROXY_ADDRESS_IN_USE')
  t.is(raw.syscall, 'bind')
  t.is(raw.address, taken)
  t.is(typeof raw.errno, 'number')
  t.true(raw.message.startsWith(`cannot listen on ${taken}: `), raw.message)
  // Through the API: an MproxyError with the same fields.
  const err = await t.throwsAsync(mproxy.createServer({ path: path.join(dir, 'taken-2.log'), listenAddrs: taken }))
  t.true(err instanceof mproxy.MproxyError)
  t.is(err.code, 'EMPROXY_ADDRESS_IN_USE')
  t.is(err.syscall, 'bind')
  t.is(err.address, taken)
  t.is(err.errno, raw.errno)
  // A file the system cannot open: the option, the path, and the OS's error.
  const key = path.join(dir, 'no-such.key')
  const missing = await t.throwsAsync(mproxy.createServer({ path: path.join(dir, 'keyed.log'), listenAddrs: '127.0.0.1:0', busKey: key }))
  t.is(missing.code, 'EMPROXY_FILE')
  t.is(missing.option, 'busKey')
  // A file that is not there fails at its stat, as Node's fs.stat would say.
  t.is(missing.syscall, 'stat')
  t.is(missing.address, key)
  t.is(typeof missing.errno, 'number')
  t.false(missing.usage)
})

// Configs the run refuses before it opens anything: `check` must refuse them the same way.
const route = (fields) => `routes:\n  - { name: a, ${fields} }\n`
const BAD = [
  [
    'a multicastAddr that is not a group',
    route('kind: reverseproxy, udpListenAddrs: "127.0.0.1:0", multicastAddr: "127.0.0.1:9611"'),
    2,
    'routes[0].multicastAddr: 127.0.0.1:9611 is not a multicast group (224.0.0.0/4 or ff00::/8)',
  ],
  [
    'a NUL byte in a path',
    JSON.stringify({ routes: [{ name: 'a', kind: 'server', path: 'out\u0000x.txt', listenAddrs: '127.0.0.1:0' }] }),
    2,
    'routes[0].path: "out\\u0000x.txt" holds a NUL byte (\\u0000), which no file name can',
    'json',
  ],
  [
    'a keep age too long for the core',
    route(`kind: server, path: out.txt, listenAddrs: "127.0.0.1:0", rotate: daily, keep: ${HUGE_KEEP}`),
    2,
    `routes[0].keep: ${KEEP_LINE}`,
  ],
  [
    'a rate too high',
    route('kind: client, path: /etc/hostname, serverAddrs: "127.0.0.1:9", rate: 200G'),
    2,
    'routes[0].rate: "200G" is above 100G, the highest rate in bytes per second (0 means unlimited)',
  ],
  [
    'a destination that is its own listener',
    route('kind: proxy, udpListenAddrs: "127.0.0.1:9612", udpDownstreamAddrs: "127.0.0.1:9612"'),
    2,
    "routes[0].udpDownstreamAddrs: 127.0.0.1:9612 reaches this process's own routes[0].udpListenAddrs 127.0.0.1:9612; every datagram would come back to it forever",
  ],
  [
    'a listener given twice',
    route('kind: server, path: out.txt, listenAddrs: ["127.0.0.1:9613", "127.0.0.1:9613"]'),
    2,
    'routes[0].listenAddrs: 127.0.0.1:9613 is given twice',
  ],
  [
    'a multicast interface that does not exist',
    route('kind: server, path: out.txt, listenAddrs: "239.255.0.9:9614", multicastInterface: nosuch0'),
    1,
    /^routes\[0\]\.multicastInterface: .*nosuch0/,
  ],
  [
    'a bus key file that is not there',
    route(`kind: server, path: out.txt, listenAddrs: "127.0.0.1:0", busKey: ${path.join('/nonexistent', 'bus.key')}`),
    1,
    /^routes\[0\]\.busKey: .*[\\/]nonexistent[\\/]bus\.key/,
  ],
]

for (const [what, text, code, expected, ext] of BAD) {
  test(`check and the run agree: ${what}`, async (t) => {
    const file = configFile(text, ext)
    const checked = await runBounded('mproxy', ['check', file])
    const ran = await runBounded('mproxy', ['--config', file])
    for (const [how, r] of [
      ['check', checked],
      ['run', ran],
    ]) {
      t.is(r.code, code, `${how}: ${r.stderr}`)
      t.is(r.stdout.length, 0, how)
      const line = r.stderr.trimEnd()
      t.false(line.includes('\n'), `${how}: one line`)
      t.notRegex(r.stderr, /\n\s+at |panicked|RUST_BACKTRACE/)
      if (expected instanceof RegExp) t.regex(line, new RegExp(`^mproxy: ${expected.source.slice(1)}`), how)
      else t.is(line, `mproxy: ${expected}`, how)
    }
    t.is(checked.stderr, ran.stderr, 'the same line')
  })
}

test('a config that check accepts runs: rotation by size and keep, given as text, as in the API', async (t) => {
  // The run parsed the checked (already parsed) options again, and refused `{ bytes }`.
  const out = path.join(dir, 'rotated.log')
  const file = configFile(route(`kind: server, path: ${out}, listenAddrs: "127.0.0.1:0", rotate: 100M, keep: 3`))
  const checked = await runToEnd('mproxy', ['check', file])
  t.is(checked.code, 0, checked.stderr)
  const run = runProgram('mproxy', ['--config', file], { listeners: 1 })
  const [address] = await run.listening
  t.regex(address, /^127\.0\.0\.1:\d+$/)
  run.child.kill('SIGTERM')
  const r = await run.exited
  stoppedCleanly(t, r)
  t.notRegex(r.stderr, /rotate|keep/)
})

test('check opens no socket: a config whose port is taken still checks', async (t) => {
  const dgram = await import('node:dgram')
  const socket = dgram.createSocket('udp4')
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => socket.close())
  const port = socket.address().port
  const file = configFile(route(`kind: server, path: out.txt, listenAddrs: "127.0.0.1:${port}"`))
  const checked = await runToEnd('mproxy', ['check', '--config', file])
  t.is(checked.code, 0, checked.stderr)
  t.is(checked.stdout.toString(), `${file}: 1 route (a: server): ok\n`)
})
