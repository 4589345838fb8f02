// A UDP listener's wire form (`wire: 'sealed' | 'plain'`): with a bus key, listeners marked
// plain take sensors' unsealed datagrams while everything mproxy sends, and the group it
// reads, stay sealed.
//
// On a bridge of three hosts (netns.mjs, a veth pair each): a sensor on host C sends plain AIS
// lines to host A's reverse proxy (`--plain-udp-listen-addr`, keyed), which publishes them
// sealed into the group; host B's keyed reverse proxy hands the group to a TCP reader, which
// gets exactly those lines. A plain datagram the sensor sends into the group itself is refused
// by B and counted (`authFailures`), never delivered.
// On loopback: a keyed proxy with one plain and one sealed listener (counts and wire forms in
// its stats); `wire: 'sealed'` without a key refused in one line, the same by check and run.
import test from 'ava'
import dgram from 'node:dgram'
import path from 'node:path'
import { chmodSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { mproxy, readFile, root, runProgram, runToEnd, stop, tempDir, untimed, waitFor, waitForSize } from './helpers.mjs'
import { createHosts } from './netns.mjs'
import { stoppedCleanly, WHY, unixOnly } from './platform.mjs'

const cli = (name) => path.join(root, 'dist/cli', `${name}.js`)
const GROUP_IP = '239.77.4.1'
const GROUP_PORT = 9918
const GROUP = `${GROUP_IP}:${GROUP_PORT}`
const SENSOR_PORT = 9920

/** A key file as `openssl rand -hex 32` makes it, private to its owner. */
function keyFile(dir, name) {
  const file = path.join(dir, name)
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`)
  chmodSync(file, 0o600)
  return file
}

/** AIS-like sentence lines, one per datagram as a sensor sends them. */
const sensorLines = (n) => Array.from({ length: n }, (_, i) => `!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D${String(i).padStart(2, '0')},0*00\n`)

/**
 * Host B: a keyed reverse proxy (outputs only) and a TCP reader of its output, in one
 * process. Answers `stats` and `close` on stdin with one JSON line on stdout.
 */
const RECEIVER = `
const { createReverseProxy } = require(${JSON.stringify(root)})
const net = require('node:net'), readline = require('node:readline')
const [group, key] = process.argv.slice(1)
;(async () => {
  const rp = await createReverseProxy({ multicastAddr: group, multicastInterface: 'eth0', tcpOutputAddrs: '127.0.0.1:0', busKey: key, onLog: (e) => process.stderr.write(e.level + ': ' + e.message + '\\n') })
  const chunks = []
  const port = Number(rp.addresses.tcpOutput[0].split(':').pop())
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('data', (d) => chunks.push(d))
  await new Promise((r) => socket.on('connect', r))
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
  // Ready once the output counts its client: from then on it gets the whole stream.
  while (rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects !== 1) await new Promise((r) => setTimeout(r, 20))
  const now = () => ({ text: Buffer.concat(chunks).toString(), listener: rp.stats().endpoints.find((e) => e.kind === 'udp-listener') })
  say({ ready: true })
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === 'stats') say(now())
    if (line === 'close') {
      await rp.close()
      say(now())
      socket.destroy()
      process.exit(0)
    }
  }
})().catch((e) => { process.stderr.write(String(e) + '\\n'); process.exit(1) })
`

/** Host C: a sensor. `lines HOST PORT N` sends N lines as N plain datagrams; `group N` sends N plain datagrams into the group. */
const SENSOR = `
const dgram = require('node:dgram'), readline = require('node:readline')
const [groupIp, groupPort, ownIp, lines] = process.argv.slice(1)
const all = JSON.parse(lines)
const s = dgram.createSocket('udp4')
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
s.bind(0, ownIp, () => { s.setMulticastInterface(ownIp); say({ ready: true }) })
const send = (buf, port, host) => new Promise((r) => s.send(buf, port, host, r))
;(async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, a, b, c] = line.split(' ')
    if (cmd === 'lines') { for (let i = 0; i < Number(c); i++) await send(Buffer.from(all[i]), Number(b), a); say({ sent: Number(c) }) }
    if (cmd === 'group') { for (let i = 0; i < Number(a); i++) await send(Buffer.from('!AIVDM,1,1,,B,into-the-group' + i + ',0*00\\n'), Number(groupPort), groupIp); say({ sent: Number(a) }) }
  }
})()
`

/** A program in a host's namespace that answers commands on stdin with JSON lines. */
function talker(topo, host, script, args) {
  const child = topo.exec(host, process.execPath, ['-e', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  const lines = []
  let buffered = ''
  child.stderr.on('data', (d) => (err += d))
  child.stdout.on('data', (d) => {
    buffered += d
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, i)))
      buffered = buffered.slice(i + 1)
    }
  })
  const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr: err })))
  let read = 0
  const next = async () => {
    await waitFor(() => lines.length > read, 20_000, `${host} to answer (stderr: ${err})`)
    return lines[read++]
  }
  const ask = (line) => {
    child.stdin.write(`${line}\n`)
    return next()
  }
  return { ready: next, ask, exited, stderr: () => err, child }
}

unixOnly(WHY.namespaces)(
  'hosts: a keyed group fed by a plain sensor delivers to a keyed output on another host; a plain datagram into the group is refused and counted',
  async (t) => {
    const topo = await createHosts('wire4', ['a', 'b', 'c'], { t })
    const dir = tempDir()
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const key = keyFile(dir, 'bus.key')
    const { a, c } = topo.hosts
    const lines = sensorLines(20)

    // A: a keyed reverse proxy whose one UDP input is a sensor input.
    const input = topo.exec('a', process.execPath, [
      cli('reverseproxy'),
      '--plain-udp-listen-addr',
      `${a.ipv4}:${SENSOR_PORT}`,
      '--multicast-addr',
      GROUP,
      '--multicast-interface',
      'eth0',
      '--bus-key',
      key,
    ])
    let inputErr = ''
    input.stderr.on('data', (d) => (inputErr += d))
    const inputExited = new Promise((resolve) => input.on('close', (code) => resolve(code)))
    const note = `mproxy-reverseproxy: ${a.ipv4}:${SENSOR_PORT}: takes plain UDP (wire plain): anyone who can reach it can send into this route; what it sends on stays sealed`
    await waitFor(() => /multicast group/.test(inputErr) && inputErr.includes(note), 15_000, `A to start (stderr: ${inputErr})`)
    // The note comes from the route's thread, the others from the start: in either order.
    t.deepEqual(
      untimed(inputErr).trimEnd().split('\n').sort(),
      [note, `mproxy-reverseproxy: listening on ${a.ipv4}:${SENSOR_PORT} (udp)`, `mproxy-reverseproxy: multicast group ${GROUP}`].sort(),
    )

    const receiver = talker(topo, 'b', RECEIVER, [GROUP, key])
    t.deepEqual(await receiver.ready(), { ready: true })
    const sensor = talker(topo, 'c', SENSOR, [GROUP_IP, String(GROUP_PORT), c.ipv4, JSON.stringify(lines)])
    t.deepEqual(await sensor.ready(), { ready: true })

    // The sensor's 20 plain lines reach B's TCP reader, sealed on the way (B has only the key's form).
    t.deepEqual(await sensor.ask(`lines ${a.ipv4} ${SENSOR_PORT} 20`), { sent: 20 })
    const expected = lines.join('')
    await waitFor(async () => (await receiver.ask('stats')).text.length >= expected.length, 20_000, 'B to receive the sensor lines')

    // Into the group itself, plain: refused by B's group listener, counted, not delivered.
    t.deepEqual(await sensor.ask('group 3'), { sent: 3 })
    await waitFor(async () => (await receiver.ask('stats')).listener.authFailures >= 3, 20_000, "B to count the group's plain datagrams")
    const final = await receiver.ask('close')
    t.is(final.text, expected, 'exactly the sensor lines, in order')
    t.is(final.listener.wire, 'sealed')
    t.is(final.listener.authFailures, 3)
    t.is(final.listener.datagramsIn, 23, '20 sealed by A, 3 plain from the sensor')
    t.is((await receiver.exited).code, 0, receiver.stderr())

    input.kill('SIGTERM')
    t.is(await inputExited, 0, inputErr)
    t.notRegex(inputErr, /warn|error/i)
    sensor.child.kill('SIGTERM')
  },
)

test('loopback: a keyed proxy takes plain datagrams on its plain listener only; stats say each wire form', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = keyFile(dir, 'bus.key')
  const output = path.join(dir, 'out.txt')
  const server = await mproxy.createServer({ path: output, listenAddrs: '127.0.0.1:0', busKey: key })
  t.teardown(() => server.close())
  const logs = []
  const proxy = await mproxy.createProxy({
    udpListenAddrs: [{ addr: '127.0.0.1:0', wire: 'plain' }, '127.0.0.1:0', { addr: '127.0.0.1:0', wire: 'sealed' }],
    udpDownstreamAddrs: server.addresses.listen[0],
    busKey: key,
    onLog: (e) => logs.push(`${e.level}: ${e.message}`),
  })
  t.teardown(() => proxy.close())
  const [plainAddr, sealedAddr, sealedToo] = proxy.addresses.listen
  await waitFor(() => logs.length > 0, 10_000, 'the plain listener to be said')
  t.deepEqual(logs, [`info: ${plainAddr}: takes plain UDP (wire plain): anyone who can reach it can send into this route; what it sends on stays sealed`])
  const socket = dgram.createSocket('udp4')
  t.teardown(() => socket.close())
  const send = (text, address) => new Promise((r) => socket.send(Buffer.from(text), Number(address.split(':').pop()), '127.0.0.1', r))
  const lines = sensorLines(5)
  for (const line of lines) await send(line, plainAddr)
  await send('plain into a sealed listener\n', sealedAddr)
  await send('and another\n', sealedToo)
  const expected = lines.join('')
  await waitForSize(output, expected.length)
  await waitFor(() => proxy.stats().totals.authFailures >= 2, 10_000, 'the proxy to count the plain datagrams on its sealed listeners')
  const stats = await proxy.close()
  const listeners = stats.endpoints.filter((e) => e.kind === 'udp-listener')
  t.deepEqual(
    listeners.map((e) => [e.name, e.wire, e.datagramsIn, e.authFailures]),
    [
      [plainAddr, 'plain', 5, 0],
      [sealedAddr, 'sealed', 1, 1],
      [sealedToo, 'sealed', 1, 1],
    ],
  )
  t.is(stats.endpoints.find((e) => e.kind === 'udp-destination').wire, null)
  const serverStats = await server.close()
  t.is(serverStats.totals.authFailures, 0, 'the proxy sealed what it sent on')
  t.is(readFile(output).toString(), expected)
})

test('loopback: the CLI flag --plain-udp-listen-addr makes a plain listener after the --udp-listen-addr ones', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = keyFile(dir, 'bus.key')
  const output = path.join(dir, 'out.txt')
  const server = await mproxy.createServer({ path: output, listenAddrs: '127.0.0.1:0', busKey: key })
  t.teardown(() => server.close())
  const bad = await runToEnd('proxy', ['--plain-udp-listen-addr', 'nowhere', '--udp-downstream-addr', server.addresses.listen[0], '--bus-key', key])
  t.is(bad.code, 2)
  t.is(bad.stderr, 'mproxy-proxy: --plain-udp-listen-addr: "nowhere" has no port; expected HOST:PORT\n')
  // One sealed listener, then one plain: the plain one's lines reach the keyed server.
  const proxy = runProgram(
    'proxy',
    ['--plain-udp-listen-addr', '127.0.0.1:0', '--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', server.addresses.listen[0], '--bus-key', key],
    {
      listeners: 2,
    },
  )
  t.teardown(() => proxy.child.kill('SIGKILL'))
  const [sealedAddr, plainAddr] = await proxy.listening
  await waitFor(() => proxy.stderr().includes(`${plainAddr}: takes plain UDP (wire plain)`), 10_000, 'the plain listener to be said')
  const socket = dgram.createSocket('udp4')
  t.teardown(() => socket.close())
  const send = (text, address) => new Promise((r) => socket.send(Buffer.from(text), Number(address.split(':').pop()), '127.0.0.1', r))
  const lines = sensorLines(4)
  await send('refused: not sealed\n', sealedAddr)
  for (const line of lines) await send(line, plainAddr)
  await waitForSize(output, lines.join('').length)
  stoppedCleanly(t, await stop(proxy))
  t.is(readFile(output).toString(), lines.join(''))
})

test("check and the run refuse wire: 'sealed' without a bus key in the same one line", async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'routes.yaml')
  writeFileSync(
    file,
    'routes:\n  - name: sensors\n    kind: reverseproxy\n    udpListenAddrs: [{ addr: "127.0.0.1:0", wire: sealed }]\n    udpOutputAddrs: "127.0.0.1:9"\n',
  )
  const line =
    "mproxy: routes[0].udpListenAddrs[0].wire is 'sealed', which needs a bus key (busKey) and there is none: without a key every listener is plain; give busKey or leave wire out\n"
  const check = await runToEnd('mproxy', ['check', file])
  t.is(check.code, 2)
  t.is(check.stderr, line)
  const run = await runToEnd('mproxy', ['--config', file], { hangLimit: 20_000 })
  t.is(run.code, 2)
  t.is(run.stderr, line)
  const unknown = path.join(dir, 'unknown.yaml')
  writeFileSync(
    unknown,
    'routes:\n  - name: sensors\n    kind: proxy\n    udpListenAddrs: [{ addr: "127.0.0.1:0", wire: open }]\n    udpDownstreamAddrs: "127.0.0.1:9"\n',
  )
  const bad = await runToEnd('mproxy', ['check', unknown])
  t.is(bad.code, 2)
  t.is(bad.stderr, 'mproxy: routes[0].udpListenAddrs[0].wire: "open" is not one of sealed, plain\n')
})
