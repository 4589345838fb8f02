// Several hosts on one link (network namespaces joined by a bridge, see netns.mjs): a reverse
// proxy with only inputs on host A publishes to a multicast group; reverse proxies with only
// outputs on hosts B and C subscribe to it and forward to an mproxy-server (UDP) and to a TCP
// reader in their own namespace. Everything A publishes reaches B and C byte for byte; an
// output host that stops misses only what is published while it is down, and receives again
// once it is back. Once over IPv4 (a group on a named interface), once over IPv6 (a link-local
// group carrying its interface as %scope).
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import { fileSize, makeText, readFile, root, sleep, tempDir, waitFor, waitForSize, within } from './helpers.mjs'
import { createHosts } from './netns.mjs'
import { WHY, unixOnly } from './platform.mjs'

const test = unixOnly(WHY.namespaces)

const cli = (name) => path.join(root, 'dist/cli', `${name}.js`)

// Fixed ports: every host is a namespace of its own.
const INPUT_PORT = 9920 // A: the reverse proxy's UDP input
const SERVER_PORT = 9930 // B, C: mproxy-server, the reverse proxy's UDP output
const READER_PORT = 9931 // B, C: the reverse proxy's TCP output

/** Connects to 127.0.0.1:PORT, says `connected` on stdout, writes what it receives to FILE. */
const READER = `
const net = require('node:net'), fs = require('node:fs')
const [port, file] = process.argv.slice(1)
const out = fs.createWriteStream(file)
const socket = net.connect({ host: '127.0.0.1', port: Number(port) }, () => process.stdout.write('connected\\n'))
socket.pipe(out)
socket.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exitCode = 1 })
out.on('finish', () => process.stdout.write('closed\\n'))
`

/** A program run inside a host's namespace: collects its output; `waitErr`/`waitOut` wait for a line. */
function spawnIn(topo, host, cmd, args) {
  const child = topo.exec(host, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })))
  const what = `${host}: ${args[0] === '-e' ? 'tcp reader' : path.basename(args[0] ?? cmd)}`
  let done = false
  exited.then(() => (done = true))
  const wait = (get, re, ms) =>
    waitFor(
      () => {
        if (re.test(get())) return true
        if (done) throw new Error(`${what} exited before printing ${re}: ${err}`)
        return false
      },
      ms,
      `${what} to print ${re} (stderr: ${err})`,
    )
  /** Its end, which must come within `ms`. */
  const ended = (ms = 60_000, since = 'its start') => within(exited, ms, `${what} did not exit within ${ms} ms of ${since} (stderr: ${err})`)
  return {
    child,
    ended,
    stderr: () => err,
    waitErr: (re, ms = 15_000) => wait(() => err, re, ms),
    waitOut: (re, ms = 15_000) => wait(() => out, re, ms),
    /** SIGTERM (`ip netns exec` execs, so this is the program's pid); it must exit within `ms`. */
    stop: (ms = 15_000) => {
      child.kill('SIGTERM')
      return ended(ms, 'SIGTERM')
    },
  }
}

const node = (topo, host, name, args) => spawnIn(topo, host, process.execPath, [cli(name), ...args])

async function multihost(t, { prefix, group, common }) {
  const topo = await createHosts(prefix, ['a', 'b', 'c'], { t }) // destroy(), at teardown, kills whatever still runs
  const dir = tempDir()
  const first = makeText(3_000_000, 71)
  const second = makeText(2_000_000, 72)
  const third = makeText(2_500_000, 73)
  const file = (name) => path.join(dir, name)
  writeFileSync(file('first.txt'), first)
  writeFileSync(file('second.txt'), second)
  writeFileSync(file('third.txt'), third)

  // A: inputs only.
  const input = node(topo, 'a', 'reverseproxy', ['--udp-listen-addr', `127.0.0.1:${INPUT_PORT}`, '--multicast-addr', group, ...common])
  await input.waitErr(/multicast group/)
  t.regex(input.stderr(), new RegExp(`listening on 127\\.0\\.0\\.1:${INPUT_PORT} \\(udp\\)`))
  t.notRegex(input.stderr(), /tcp output/)

  // B and C: outputs only, to a server and a TCP reader each.
  const servers = {}
  const outputs = {}
  const startOutput = async (h) => {
    const rp = node(topo, h, 'reverseproxy', [
      '--multicast-addr',
      group,
      ...common,
      '--udp-output-addr',
      `127.0.0.1:${SERVER_PORT}`,
      '--tcp-output-addr',
      `127.0.0.1:${READER_PORT}`,
    ])
    await rp.waitErr(/multicast group/)
    t.regex(rp.stderr(), new RegExp(`listening on 127\\.0\\.0\\.1:${READER_PORT} \\(tcp output`))
    t.notRegex(rp.stderr(), /\(udp\)|tcp input/)
    return rp
  }
  const readers = []
  const startReader = async (h, name) => {
    const reader = spawnIn(topo, h, process.execPath, ['-e', READER, String(READER_PORT), file(name)])
    await reader.waitOut(/connected/)
    readers.push(reader)
    return reader
  }
  for (const h of ['b', 'c']) {
    servers[h] = node(topo, h, 'server', ['--path', file(`${h}.log`), '--listen-addr', `127.0.0.1:${SERVER_PORT}`])
    await servers[h].waitErr(/listening on/)
    outputs[h] = await startOutput(h)
  }
  const readerB1 = await startReader('b', 'b-reader1.txt')
  const readerC = await startReader('c', 'c-reader.txt')
  // A connected client is in the listener's queue; give the reverse proxy a moment to take it.
  await sleep(500)

  const publish = async (name) => {
    const client = node(topo, 'a', 'client', ['--path', file(name), '--server-addr', `127.0.0.1:${INPUT_PORT}`])
    const r = await client.ended()
    t.is(r.code, 0, r.stderr)
  }

  // 1. Both output hosts receive everything.
  await publish('first.txt')
  for (const f of ['b.log', 'c.log', 'b-reader1.txt', 'c-reader.txt']) await waitForSize(file(f), first.length, 60_000)
  for (const f of ['b.log', 'c.log', 'b-reader1.txt', 'c-reader.txt']) t.true(readFile(file(f)).equals(first), `${f} after the first part`)

  // 2. B's output stops (its reader is disconnected); C still receives everything.
  const stoppedB = await outputs.b.stop()
  t.is(stoppedB.code, 0, stoppedB.stderr)
  const endedB1 = await readerB1.ended(15_000, "B's reverse proxy stopping")
  t.is(endedB1.code, 0, endedB1.stderr)
  await publish('second.txt')
  const firstSecond = Buffer.concat([first, second])
  for (const f of ['c.log', 'c-reader.txt']) await waitForSize(file(f), firstSecond.length, 60_000)
  for (const f of ['c.log', 'c-reader.txt']) t.true(readFile(file(f)).equals(firstSecond), `${f} after the second part`)
  t.true(readFile(file('b.log')).equals(first), 'b.log gets nothing while B is down')
  t.true(readFile(file('b-reader1.txt')).equals(first))

  // 3. B's output is back (and a new reader with it): B gets the third part, C all three.
  outputs.b = await startOutput('b')
  const readerB2 = await startReader('b', 'b-reader2.txt')
  await sleep(500)
  await publish('third.txt')
  const all = Buffer.concat([first, second, third])
  const firstThird = Buffer.concat([first, third])
  await waitForSize(file('b.log'), firstThird.length, 60_000)
  await waitForSize(file('b-reader2.txt'), third.length, 60_000)
  for (const f of ['c.log', 'c-reader.txt']) await waitForSize(file(f), all.length, 60_000)
  t.true(readFile(file('b.log')).equals(firstThird), `b.log is first + third (${fileSize(file('b.log'))} bytes)`)
  t.true(readFile(file('b-reader2.txt')).equals(third), 'the new reader on B gets the third part')
  t.true(readFile(file('c.log')).equals(all), 'c.log has all three parts')
  t.true(readFile(file('c-reader.txt')).equals(all), 'the reader on C has all three parts')

  // Everything stops cleanly; the readers see their stream end.
  for (const p of [input, outputs.b, outputs.c, servers.b, servers.c]) {
    const r = await p.stop()
    t.is(r.code, 0, r.stderr)
    t.notRegex(r.stderr, /warn|error/i)
  }
  for (const r of [readerB2, readerC]) t.is((await r.ended(15_000, 'the reverse proxies stopping')).code, 0)
}

test('IPv4: one input host, two output hosts, one output leaves and comes back', multihost, {
  prefix: 'mh4',
  group: '239.77.2.1:9918',
  common: ['--multicast-interface', 'eth0'],
})

test('IPv6: one input host, two output hosts, one output leaves and comes back', multihost, {
  prefix: 'mh6',
  group: '[ff02::4d51%eth0]:9918',
  common: [],
})
