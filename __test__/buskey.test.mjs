// The bus key: authenticated encryption of every datagram mproxies send each other.
//
// On a bridge of three hosts (netns.mjs): host A publishes a file into a reverse proxy's
// group with key A, host B's reverse proxy (holding keys A and B) hands the group's stream to
// a TCP reader, and host C, without the key, listens to the group with a plain UDP socket
// and injects into it. C sees no plaintext; its plaintext datagrams, its datagrams sealed
// under another key and its replays of captured datagrams are all dropped and counted
// exactly, never delivered; then A rotates to key B and B receives the rest without loss.
// On loopback: client → server with a key, plain datagrams refused, bad key files refused.
import test from 'ava'
import path from 'node:path'
import dgram from 'node:dgram'
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { makeText, mproxy, readFile, root, runToEnd, sleep, tempDir, waitFor, waitForSize, within } from './helpers.mjs'
import { createHosts } from './netns.mjs'
import { WHY, unixOnly } from './platform.mjs'

const cli = (name) => path.join(root, 'dist/cli', `${name}.js`)
const GROUP_IP = '239.77.3.1'
const GROUP_PORT = 9918
const GROUP = `${GROUP_IP}:${GROUP_PORT}`
const INPUT_PORT = 9920

/** A key file as `openssl rand -hex 32` makes it, private to its owner. */
function keyFile(dir, name, mode = 0o600) {
  const file = path.join(dir, name)
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`)
  chmodSync(file, mode)
  return file
}

/**
 * Host B: a reverse proxy (outputs only) holding two keys, and a TCP reader of its output in
 * the same process. Answers `stats` and `close` on stdin with one JSON line on stdout.
 */
const RECEIVER = `
const { createReverseProxy } = require(${JSON.stringify(root)})
const net = require('node:net'), fs = require('node:fs'), readline = require('node:readline')
const [group, key, next, outFile] = process.argv.slice(1)
;(async () => {
  const rp = await createReverseProxy({ multicastAddr: group, multicastInterface: 'eth0', tcpOutputAddrs: '127.0.0.1:0', busKey: key, busKeyNext: next, onLog: (e) => process.stderr.write(e.level + ': ' + e.message + '\\n') })
  const chunks = []
  let bytes = 0
  const port = Number(rp.addresses.tcpOutput[0].split(':').pop())
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('data', (d) => { chunks.push(d); bytes += d.length })
  await new Promise((r) => socket.on('connect', r))
  await new Promise((r) => setTimeout(r, 500))
  const group_ = () => rp.stats().endpoints.find((e) => e.kind === 'udp-listener')
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
  say({ ready: true })
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === 'stats') say({ bytes, listener: group_() })
    if (line === 'close') {
      await rp.close()
      fs.writeFileSync(outFile, Buffer.concat(chunks))
      say({ bytes, listener: group_() })
      socket.destroy()
      process.exit(0)
    }
  }
})().catch((e) => { process.stderr.write(String(e) + '\\n'); process.exit(1) })
`

/**
 * Host C: a plain UDP socket on the group's port, joined to the group. Captures every
 * datagram other hosts send; on stdin: `count`, `plain N` (sends N plaintext AIS lines to the group),
 * `replay N` (sends the first N captured datagrams again).
 */
const EAVESDROPPER = `
const dgram = require('node:dgram'), readline = require('node:readline')
const [groupIp, port, ownIp] = process.argv.slice(1)
const captured = []
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
// Only what others send: C's own injections come back to it (multicast loop).
s.on('message', (m, from) => { if (from.address !== ownIp) captured.push(m) })
s.bind(Number(port), () => {
  s.addMembership(groupIp, ownIp)
  s.setMulticastInterface(ownIp)
  say({ ready: true })
})
const send = (buf) => new Promise((r) => s.send(buf, Number(port), groupIp, r))
;(async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, n] = line.split(' ')
    if (cmd === 'count') {
      const all = Buffer.concat(captured)
      say({ count: captured.length, bytes: all.length, plaintext: all.includes('!AIVDM') || all.includes('AIVDM,1,1') })
    }
    if (cmd === 'plain') {
      for (let i = 0; i < Number(n); i++) await send(Buffer.from('!AIVDM,1,1,,A,injected' + i + ',0*00\\n'))
      say({ sent: Number(n) })
    }
    if (cmd === 'replay') {
      for (let i = 0; i < Number(n); i++) await send(captured[i])
      say({ sent: Number(n) })
    }
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
  return {
    ready: next,
    ask: async (line) => {
      child.stdin.write(`${line}\n`)
      return next()
    },
    exited,
    stderr: () => err,
  }
}

/** A CLI program in a host's namespace. */
function program(topo, host, name, args) {
  const child = topo.exec(host, process.execPath, [cli(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  child.stdout.resume()
  const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr: err })))
  return {
    exited,
    stderr: () => err,
    waitErr: (re) => waitFor(() => re.test(err), 15_000, `${host} ${name} to print ${re} (stderr: ${err})`),
    stop: () => {
      child.kill('SIGTERM')
      return within(exited, 15_000, `${host} ${name} did not stop`)
    },
  }
}

unixOnly(WHY.namespaces)(
  'a keyed group: byte-identical between key holders, nothing readable or injectable without the key, replays refused, rotation without loss',
  async (t) => {
    const topo = await createHosts('bk', ['a', 'b', 'c'], { t })
    const dir = tempDir()
    const keyA = keyFile(dir, 'a.key')
    const keyB = keyFile(dir, 'b.key')
    const wrong = keyFile(dir, 'wrong.key')
    const first = makeText(1_000_000, 81)
    const second = makeText(700_000, 82)
    const file = (name) => path.join(dir, name)
    writeFileSync(file('first.txt'), first)
    writeFileSync(file('second.txt'), second)
    writeFileSync(file('forged.txt'), '!AIVDM,1,1,,A,forged1,0*00\n!AIVDM,1,1,,A,forged2,0*00\n!AIVDM,1,1,,A,forged3,0*00\n!AIVDM,1,1,,A,forged4,0*00\n')

    const receiver = talker(topo, 'b', RECEIVER, [GROUP, keyA, keyB, file('received.txt')])
    t.deepEqual(await receiver.ready(), { ready: true })
    const eavesdropper = talker(topo, 'c', EAVESDROPPER, [GROUP_IP, String(GROUP_PORT), topo.hosts.c.ipv4])
    t.deepEqual(await eavesdropper.ready(), { ready: true })

    const startInput = async (key, next) => {
      const rp = program(topo, 'a', 'reverseproxy', [
        '--udp-listen-addr',
        `127.0.0.1:${INPUT_PORT}`,
        '--multicast-addr',
        GROUP,
        '--multicast-interface',
        'eth0',
        '--bus-key',
        key,
        '--bus-key-next',
        next,
      ])
      await rp.waitErr(/multicast group/)
      return rp
    }
    // The client seals too: the hop into the reverse proxy's UDP input is keyed as well. Paced,
    // so that C's plain JavaScript socket keeps up and captures every datagram.
    const publish = async (name, key) => {
      const r = await within(
        runIn(topo, 'a', 'client', ['--path', file(name), '--server-addr', `127.0.0.1:${INPUT_PORT}`, '--bus-key', key, '--rate', '2M']),
        60_000,
        'the client did not finish',
      )
      t.is(r.code, 0, r.stderr)
    }

    // 1. Key holders exchange the file; the third host sees only ciphertext.
    let input = await startInput(keyA, keyB)
    await publish('first.txt', keyA)
    await waitFor(async () => (await receiver.ask('stats')).bytes >= first.length, 60_000, 'B to receive the first file')
    const afterFirst = await receiver.ask('stats')
    t.is(afterFirst.bytes, first.length)
    t.is(afterFirst.listener.authFailures, 0)
    t.is(afterFirst.listener.replays, 0)
    const published = afterFirst.listener.datagramsIn
    await waitFor(async () => (await eavesdropper.ask('count')).count >= published, 10_000, `C to capture every datagram (${published})`).catch(() => {})
    const seen = await eavesdropper.ask('count')
    // A plain JavaScript socket with the kernel's default buffer may miss a few of a burst;
    // what matters is that it heard the stream and none of it was readable.
    t.true(seen.count >= published - 16 && seen.count <= published, `C captured ${seen.count} of ${published} datagrams`)
    t.false(seen.plaintext, 'no AIS line is readable on the wire')

    // 2. C injects: 5 plaintext datagrams, 4 sealed under another key, 3 replays of captured ones.
    t.deepEqual(await eavesdropper.ask('plain 5'), { sent: 5 })
    const forger = await within(
      runIn(topo, 'c', 'client', [
        '--path',
        file('forged.txt'),
        '--framing',
        'line',
        '--server-addr',
        GROUP,
        '--multicast-interface',
        'eth0',
        '--bus-key',
        wrong,
      ]),
      30_000,
      'the forging client did not finish',
    )
    t.is(forger.code, 0, forger.stderr)
    t.deepEqual(await eavesdropper.ask('replay 3'), { sent: 3 })
    await waitFor(
      async () => {
        const l = (await receiver.ask('stats')).listener
        return l.authFailures >= 9 && l.replays >= 3
      },
      10_000,
      'B to count the injections',
    )
    await sleep(300)
    const afterInjection = await receiver.ask('stats')
    t.is(afterInjection.listener.authFailures, 9, 'plaintext and wrong-key datagrams, each counted once')
    t.is(afterInjection.listener.replays, 3)
    t.is(afterInjection.listener.datagramsIn, published + 12)
    t.is(afterInjection.bytes, first.length, 'nothing injected was delivered')
    t.regex(receiver.stderr(), /not sealed with the bus key/)
    t.regex(receiver.stderr(), /replayed datagrams/)

    // 3. Rotation: A switches from key A to key B; B holds both and loses nothing.
    const stopped = await input.stop()
    t.is(stopped.code, 0, stopped.stderr)
    t.notRegex(stopped.stderr, /warn|error/i)
    input = await startInput(keyB, keyA)
    await publish('second.txt', keyB)
    const both = Buffer.concat([first, second])
    await waitFor(async () => (await receiver.ask('stats')).bytes >= both.length, 60_000, 'B to receive the second file')
    const final = await receiver.ask('close')
    t.is((await receiver.exited).code, 0, receiver.stderr())
    t.true(readFile(file('received.txt')).equals(both), 'B received both files, byte for byte')
    t.is(final.listener.authFailures, 9)
    t.is(final.listener.replays, 3)
    t.false((await eavesdropper.ask('count')).plaintext)
    const last = await input.stop()
    t.is(last.code, 0, last.stderr)
  },
)

/** Runs a CLI program in a host to its end. */
function runIn(topo, host, name, args) {
  return program(topo, host, name, args).exited
}

test('loopback: client → server with a key is byte-identical; plain datagrams to a keyed server are counted, not written', async (t) => {
  const dir = tempDir()
  const key = keyFile(dir, 'bus.key')
  const data = makeText(400_000, 91)
  const input = path.join(dir, 'in.txt')
  const output = path.join(dir, 'out.txt')
  writeFileSync(input, data)
  const server = await mproxy.createServer({ path: output, listenAddrs: '127.0.0.1:0', busKey: key })
  t.teardown(() => server.close())
  const address = server.addresses.listen[0]
  const client = await runToEnd('client', ['--path', input, '--server-addr', address, '--bus-key', key])
  t.is(client.code, 0, client.stderr)
  await waitForSize(output, data.length)
  const plain = dgram.createSocket('udp4')
  const port = Number(address.split(':').pop())
  for (let i = 0; i < 7; i++) await new Promise((r) => plain.send(Buffer.from(`plain ${i}\n`), port, '127.0.0.1', r))
  plain.close()
  await waitFor(() => server.stats().totals.authFailures >= 7, 10_000, 'the server to count the plain datagrams')
  await sleep(200)
  const stats = await server.close()
  t.is(stats.totals.authFailures, 7)
  t.is(stats.totals.replays, 0)
  t.true(readFile(output).equals(data), 'the file is exactly what the client read')
})

test('loopback: client → proxy → server, every hop keyed, is byte-identical; the proxy opens and seals again', async (t) => {
  const dir = tempDir()
  const key = keyFile(dir, 'bus.key')
  const data = makeText(300_000, 92)
  const input = path.join(dir, 'in.txt')
  const output = path.join(dir, 'out.txt')
  writeFileSync(input, data)
  const server = await mproxy.createServer({ path: output, listenAddrs: '127.0.0.1:0', busKey: key })
  t.teardown(() => server.close())
  const proxy = await mproxy.createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: server.addresses.listen[0], busKey: key })
  t.teardown(() => proxy.close())
  const client = await runToEnd('client', ['--path', input, '--server-addr', proxy.addresses.listen[0], '--bus-key', key, '--verbose'])
  t.is(client.code, 0, client.stderr)
  await waitForSize(output, data.length)
  const p = await proxy.close()
  const s = await server.close()
  t.true(readFile(output).equals(data))
  const received = p.endpoints.find((e) => e.kind === 'udp-listener')
  const sent = p.endpoints.find((e) => e.kind === 'udp-destination')
  t.is(received.authFailures, 0)
  t.is(sent.datagramsOut, received.datagramsIn, 'every datagram opened and sent on')
  // Sealed on both hops: each datagram is 30 bytes longer than its payload.
  t.is(received.bytesIn, data.length + 30 * received.datagramsIn)
  t.is(sent.bytesOut, data.length + 30 * sent.datagramsOut)
  t.is(s.totals.authFailures + s.totals.replays, 0)
})

unixOnly(WHY.modes)('mproxy keygen writes a private key file once and never overwrites it', async (t) => {
  const dir = tempDir()
  const file = path.join(dir, 'new.key')
  const made = await runToEnd('mproxy', ['keygen', file])
  t.is(made.code, 0, made.stderr)
  t.is(made.stderr, `mproxy: keygen: wrote a new bus key to ${file} (64 hex digits, mode 600); give it with --bus-key ${file}\n`)
  t.is(statSync(file).mode & 0o777, 0o600)
  const text = readFileSync(file, 'utf8')
  t.regex(text, /^[0-9a-f]{64}\n$/)
  const again = await runToEnd('mproxy', ['keygen', file])
  t.is(again.code, 1)
  t.is(again.stderr, `mproxy: keygen: cannot create ${file}: it exists already; a key is never overwritten\n`)
  t.is(readFileSync(file, 'utf8'), text, 'the key is unchanged')
  const usage = await runToEnd('mproxy', ['keygen'])
  t.is(usage.code, 2)
  const server = await mproxy.createServer({ path: path.join(dir, 'out.log'), listenAddrs: '127.0.0.1:0', busKey: file })
  await server.close()
  t.pass()
})

unixOnly(WHY.modes)('bad key files are refused with one line naming the flag or option', async (t) => {
  const dir = tempDir()
  const good = keyFile(dir, 'good.key')
  const open = keyFile(dir, 'open.key', 0o644)
  const short = path.join(dir, 'short.key')
  writeFileSync(short, 'abcdef\n')
  chmodSync(short, 0o600)
  const missing = path.join(dir, 'missing.key')
  const cases = [
    [['--bus-key', missing], 1, /^mproxy-server: --bus-key: cannot read bus key .*missing\.key: /],
    [['--bus-key', short], 1, /^mproxy-server: --bus-key: bus key .*short\.key: it must hold 64 hexadecimal digits .*not 6 characters$/],
    [['--bus-key', open], 1, /^mproxy-server: --bus-key: bus key .*open\.key: it is readable or writable by group or others; make it private \(chmod 600\)$/],
    [['--bus-key', good, '--bus-key-next', open], 1, /^mproxy-server: --bus-key-next: bus key .*open\.key: .*chmod 600/],
    [['--bus-key', dir], 1, /^mproxy-server: --bus-key: cannot read bus key .*: it is a directory$/],
    [['--bus-key-next', good], 2, /^mproxy-server: --bus-key-next needs --bus-key \(the key to send with\)$/],
  ]
  for (const [flags, code, re] of cases) {
    const r = await runToEnd('server', ['--path', path.join(dir, 'out.log'), '--listen-addr', '127.0.0.1:0', ...flags])
    t.is(r.code, code, `${flags.join(' ')}: ${r.stderr}`)
    const lines = r.stderr.trim().split('\n')
    t.is(lines.length, 1, r.stderr)
    t.regex(lines[0], re)
  }
  const big = await runToEnd('client', ['--path', '-', '--server-addr', '127.0.0.1:9', '--bus-key', good, '--max-datagram', '65500'])
  t.is(big.code, 2)
  t.is(big.stderr, 'mproxy-client: --max-datagram is at most 65477 with --bus-key: a sealed datagram is 30 bytes longer\n')
  const err = await t.throwsAsync(mproxy.createClient({ path: '-', serverAddrs: '127.0.0.1:9', busKey: open }))
  t.is(err.code, 'EMPROXY_FILE')
  t.regex(err.message, /^busKey: bus key .*open\.key: .*chmod 600/)
})

test('loopback: outputs behind routing rules and balance groups are sealed too', async (t) => {
  const dir = tempDir()
  const key = keyFile(dir, 'bus.key')
  const outs = ['ruled.txt', 'a.txt', 'b.txt'].map((n) => path.join(dir, n))
  const servers = await Promise.all(outs.map((o) => mproxy.createServer({ path: o, listenAddrs: '127.0.0.1:0', busKey: key })))
  t.teardown(() => Promise.all(servers.map((s) => s.close())))
  const [ruled, a, b] = servers.map((s) => s.addresses.listen[0])
  const proxy = await mproxy.createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: [
      { addr: ruled, prefix: '!AIVDM' },
      { balance: 'round-robin', addrs: [a, b] },
    ],
    busKey: key,
  })
  t.teardown(() => proxy.close())
  const tx = dgram.createSocket('udp4')
  const port = Number(proxy.addresses.listen[0].split(':')[1])
  // The proxy itself needs sealed input: a keyed client sends the lines.
  const lines = ['!AIVDM,one\n', '$GPGGA,two\n', '!AIVDM,three\n', '$GPGGA,four\n']
  const input = path.join(dir, 'in.txt')
  writeFileSync(input, lines.join(''))
  tx.close()
  const client = await runToEnd('client', ['--path', input, '--server-addr', `127.0.0.1:${port}`, '--bus-key', key, '--framing', 'line'])
  t.is(client.code, 0, client.stderr)
  await waitFor(
    () => readFileSync(outs[0], 'utf8').length === 24 && readFileSync(outs[1], 'utf8').length + readFileSync(outs[2], 'utf8').length === 47,
    10_000,
    'every output to get its share',
  )
  await proxy.close()
  const finals = await Promise.all(servers.map((s) => s.close()))
  t.is(readFileSync(outs[0], 'utf8'), '!AIVDM,one\n!AIVDM,three\n')
  t.is(
    finals.reduce((n, s) => n + s.totals.authFailures, 0),
    0,
    'every output got sealed datagrams',
  )
})
