// Outputs that feed aggregators: a preamble at every (re)connect and to every new TCP output
// client, keep-alives after a quiet time (TCP clients, connect-out outputs, kept connections,
// UDP outputs), and a connect-out output that reconnects and drops (counted) what its
// bounded queue cannot hold while the aggregator is down. Exact bytes in order; every wait is
// on a condition (the keep-alive's quiet time is short, with no upper bound on when it comes).
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { makeText, mproxy, requireIsolation, runToEnd, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { makePki, startTlsServer } from './tls-fixtures.mjs'

const { createClient, createProxy, createReverseProxy, createServer } = mproxy

let nextGroup = 1
/** A group of its own per test, on loopback, with a port no other test uses. */
function group() {
  requireIsolation()
  const n = nextGroup++
  return { multicastAddr: `239.88.7.${n}:${21000 + n + 100 * (process.pid % 50)}`, multicastInterface: 'lo' }
}

const PREAMBLE = '$PMPXY,STATION,key-42'
const KEEP_ALIVE = '$PMPXY,ALIVE'
const P = `${PREAMBLE}\r\n`
const K = `${KEEP_ALIVE}\r\n`

/** An aggregator that listens: every connection's bytes, in order; it can drop one. */
async function aggregator() {
  const connections = []
  const server = net.createServer((socket) => {
    const c = { socket, chunks: [], text: () => Buffer.concat(c.chunks).toString() }
    connections.push(c)
    socket.on('data', (d) => c.chunks.push(d))
    socket.on('error', () => undefined)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const c of connections) c.socket.destroy()
        server.close(resolve)
      }),
  }
}

/** A UDP receiver on loopback: every datagram, as text. */
async function udpReceiver() {
  const socket = dgram.createSocket('udp4')
  const got = []
  socket.on('message', (m) => got.push(m.toString()))
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return { addr: `127.0.0.1:${socket.address().port}`, got, close: () => new Promise((resolve) => socket.close(resolve)) }
}

/** Sends datagrams to a UDP `HOST:PORT` from a socket of its own. */
async function sendUdp(address, datagrams) {
  const socket = dgram.createSocket('udp4')
  const port = Number(address.slice(address.lastIndexOf(':') + 1))
  for (const d of datagrams) await new Promise((resolve, reject) => socket.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())))
  await new Promise((resolve) => socket.close(resolve))
}

/** How many keep-alives `text` holds before and after `data`, if it is exactly that. */
function around(text, head, data) {
  const at = text.indexOf(data)
  if (!text.startsWith(head) || at < 0) return undefined
  const before = text.slice(head.length, at)
  const after = text.slice(at + data.length)
  const n = before.length / K.length
  const m = after.length / K.length
  if (before !== K.repeat(n) || after !== K.repeat(m)) return undefined
  return { before: n, after: m }
}

const endpoint = (stats, kind) => stats.endpoints.find((e) => e.kind === kind)

test('a TCP output client gets the preamble first, keep-alives when quiet, then the data', async (t) => {
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: [{ addr: '127.0.0.1:0', preamble: PREAMBLE }],
    keepAliveLine: KEEP_ALIVE,
    keepAliveAfter: 0.2,
  })
  const [host, port] = rp.addresses.tcpOutput[0].split(':')
  const chunks = []
  const reader = net.connect({ host, port: Number(port) })
  reader.on('data', (d) => chunks.push(d))
  reader.on('error', () => undefined)
  const text = () => Buffer.concat(chunks).toString()
  try {
    await waitFor(
      () => text().startsWith(P + K),
      20_000,
      () => `the preamble and a keep-alive (got ${JSON.stringify(text())})`,
    )
    await sendUdp(rp.addresses.listen[0], ['!AIVDM,1,1,,A,data-1,0*00\r\n'])
    await waitFor(() => text().includes('data-1'), 20_000, 'the data')
    const stats = await rp.close()
    await waitFor(() => reader.readableEnded || reader.destroyed, 20_000, 'the end of the stream')
    const seen = around(text(), P, '!AIVDM,1,1,,A,data-1,0*00\r\n')
    t.truthy(seen, JSON.stringify(text()))
    t.true(seen.before >= 1)
    const out = endpoint(stats, 'tcp-output')
    t.is(out.preambles, 1)
    t.is(out.keepAlives, seen.before + seen.after)
    t.is(out.datagramsIn, 1)
  } finally {
    reader.destroy()
    await rp.close()
  }
})

test('a connect-out output: preamble, keep-alives and data; the aggregator drops it, it reconnects and the preamble comes again', async (t) => {
  const agg = await aggregator()
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpConnectOutputAddrs: [`127.0.0.1:${agg.port}`],
    preamble: PREAMBLE,
    keepAliveLine: KEEP_ALIVE,
    keepAliveAfter: 0.2,
    onLog: (e) => logs.push(e.message),
  })
  const name = `127.0.0.1:${agg.port}`
  try {
    const first = () => agg.connections[0]?.text() ?? ''
    await waitFor(
      () => first().startsWith(P + K),
      20_000,
      () => `the preamble and a keep-alive (got ${JSON.stringify(first())})`,
    )
    await sendUdp(rp.addresses.listen[0], ['one\n'])
    await waitFor(() => first().includes('one\n'), 20_000, 'the first datagram')
    agg.connections[0].socket.destroy()
    const second = () => agg.connections[1]?.text() ?? ''
    await waitFor(() => second().startsWith(P), 20_000, 'the reconnect and its preamble')
    await sendUdp(rp.addresses.listen[0], ['two\n'])
    await waitFor(() => second().includes('two\n'), 20_000, 'the datagram after the reconnect')
    const stats = await rp.close()
    await waitFor(() => agg.connections[1].socket.readableEnded, 20_000, 'the end of the second connection')
    const a = around(first(), P, 'one\n')
    const b = around(second(), P, 'two\n')
    t.truthy(a, JSON.stringify(first()))
    t.truthy(b, JSON.stringify(second()))
    t.true(a.before >= 1)
    t.is(agg.connections.length, 2)
    const out = endpoint(stats, 'tcp-connect-output')
    t.is(out.name, name)
    t.is(out.connects, 2)
    t.is(out.disconnects, 1)
    t.is(out.preambles, 2)
    t.is(out.datagramsIn, 2)
    t.is(out.queueDrops, 0)
    // Keep-alives written whole to the first connection may have been cut by its end.
    t.true(out.keepAlives >= a.before + a.after + b.before + b.after)
    t.is(logs.filter((m) => m === `connected to ${name}`).length, 2, logs.join('\n'))
    t.true(logs.includes(`connection to ${name} lost (closed by the peer); reconnecting`), logs.join('\n'))
  } finally {
    await rp.close()
    await agg.close()
  }
})

test('a tls:// connect-out output verifies the aggregator against tlsCa and sends the preamble, then the stream byte for byte', async (t) => {
  const dir = tempDir()
  const pki = await makePki(dir)
  const agg = await startTlsServer({ cert: pki.serverCert, key: pki.serverKey })
  const data = makeText(2_000_000, 71)
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpConnectOutputAddrs: [`tls://localhost:${agg.port}`],
    tlsCa: pki.caCert,
    preamble: PREAMBLE,
  })
  try {
    await waitFor(() => agg.received().toString() === P, 20_000, 'the preamble over TLS')
    const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: rp.addresses.listen, rate: '20M' })
    await client.finished
    await client.close()
    await waitFor(
      () => agg.received().length >= P.length + data.length,
      60_000,
      () => `all bytes at the aggregator (${agg.received().length})`,
    )
    const stats = await rp.close()
    t.true(agg.received().equals(Buffer.concat([Buffer.from(P), data])))
    const out = endpoint(stats, 'tcp-connect-output')
    t.is(out.name, `tls://localhost:${agg.port}`)
    t.is(out.bytesOut, P.length + data.length)
    t.is(out.queueDrops, 0)
  } finally {
    await rp.close()
    await agg.close()
  }
})

test('a connect-out output whose aggregator is down drops what its queue cannot hold, counted and said', async (t) => {
  // A port nothing listens on: taken, then freed.
  const probe = net.createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = probe.address().port
  await new Promise((resolve) => probe.close(resolve))
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpConnectOutputAddrs: [`127.0.0.1:${port}`],
    tcpConnectOutputQueue: 65_536,
    onLog: (e) => logs.push(`${e.level} ${e.message}`),
  })
  const name = `127.0.0.1:${port}`
  try {
    const datagram = `${'x'.repeat(999)}\n`
    await sendUdp(
      rp.addresses.listen[0],
      Array.from({ length: 100 }, () => datagram),
    )
    // 65 whole datagrams fit the queue; the rest is dropped as it comes.
    await waitFor(
      () => {
        const e = endpoint(rp.stats(), 'tcp-connect-output')
        return e.datagramsIn === 100 && e.queueDrops >= 100 - 65
      },
      20_000,
      'the 100 datagrams at the output, and the drops',
    )
    const stats = await rp.close()
    const out = endpoint(stats, 'tcp-connect-output')
    // Closing with the aggregator still down: what was queued is dropped too.
    t.is(out.queueDrops, 100)
    t.is(out.bytesDropped, 100_000)
    t.is(out.bytesOut, 0)
    t.is(out.connects, 0)
    t.true(
      logs.some((m) => m.startsWith(`warn cannot connect to ${name}: connection refused`)),
      logs.join('\n'),
    )
    t.true(
      logs.includes(
        `warn ${name}: the aggregator does not take the stream (down or slow) and the queue of 65536 bytes is full: dropping what does not fit (counted in queueDrops)`,
      ),
      logs.join('\n'),
    )
    const stopped = logs
      .map((m) => m.match(/^warn (.+): stopped with (\d+) datagrams \((\d+) bytes\) the aggregator did not take: dropped \(counted in queueDrops\)$/))
      .find(Boolean)
    t.truthy(stopped, logs.join('\n'))
    t.is(stopped[1], name)
    t.true(Number(stopped[2]) >= 1 && Number(stopped[2]) <= 65)
    t.is(Number(stopped[3]), Number(stopped[2]) * 1000)
  } finally {
    await rp.close()
  }
})

test('a UDP output gets the keep-alive line as a datagram after the quiet time (the program’s, and an output’s own)', async (t) => {
  const plain = await udpReceiver()
  const own = await udpReceiver()
  const proxy = await createProxy({
    udpListenAddrs: ['127.0.0.1:0'],
    udpDownstreamAddrs: [plain.addr, { addr: own.addr, keepAliveLine: 'OWN' }],
    keepAliveLine: KEEP_ALIVE,
    keepAliveAfter: 0.2,
  })
  try {
    await waitFor(() => plain.got.includes(K) && own.got.includes('OWN\r\n'), 20_000, 'a keep-alive at each')
    await sendUdp(proxy.addresses.listen[0], ['hello\n'])
    await waitFor(() => plain.got.includes('hello\n') && own.got.includes('hello\n'), 20_000, 'the datagram at each')
    const stats = await proxy.close()
    const counted = (addr) => stats.endpoints.find((e) => e.kind === 'udp-destination' && e.name === addr).keepAlives
    await waitFor(() => plain.got.length === counted(plain.addr) + 1 && own.got.length === counted(own.addr) + 1, 20_000, 'every datagram sent')
    t.deepEqual(
      plain.got.filter((d) => d !== K),
      ['hello\n'],
    )
    t.deepEqual(
      own.got.filter((d) => d !== 'OWN\r\n'),
      ['hello\n'],
    )
    t.true(counted(plain.addr) >= 1)
    t.true(counted(own.addr) >= 1)
  } finally {
    await proxy.close()
    await plain.close()
    await own.close()
  }
})

test('with a bus key, the keep-alive datagram is sealed like the stream: a keyed server opens it', async (t) => {
  const dir = tempDir()
  const key = path.join(dir, 'bus.key')
  writeFileSync(key, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'], busKey: key })
  const proxy = await createProxy({
    udpListenAddrs: ['127.0.0.1:0'],
    udpDownstreamAddrs: server.addresses.listen,
    busKey: key,
    keepAliveLine: KEEP_ALIVE,
    keepAliveAfter: 0.2,
  })
  try {
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').startsWith(K + K), 20_000, 'two keep-alives in the server’s file')
    const sent = await proxy.close()
    const got = await server.close()
    const text = readFileSync(out, 'utf8')
    const kept = endpoint(sent, 'udp-destination').keepAlives
    t.is(text, K.repeat(kept))
    t.is(endpoint(got, 'udp-listener').authFailures, 0)
  } finally {
    await proxy.close()
    await server.close()
  }
})

test('a kept connection writes the preamble to its server at every (re)connect, and keep-alives', async (t) => {
  const server = await aggregator()
  const down = await udpReceiver()
  const proxy = await createProxy({
    // Its own preamble (the object form); the program's keep-alive.
    tcpConnectAddrs: [{ addr: `127.0.0.1:${server.port}`, preamble: PREAMBLE }],
    udpDownstreamAddrs: [down.addr],
    keepAliveLine: KEEP_ALIVE,
    keepAliveAfter: 0.2,
  })
  try {
    const text = (i) => server.connections[i]?.text() ?? ''
    await waitFor(
      () => text(0).startsWith(P + K),
      20_000,
      () => `the preamble and a keep-alive (got ${JSON.stringify(text(0))})`,
    )
    server.connections[0].socket.write('line-1\n')
    await waitFor(() => down.got.includes('line-1\n'), 20_000, 'the server’s line downstream')
    server.connections[0].socket.destroy()
    await waitFor(() => text(1).startsWith(P), 20_000, 'the reconnect and its preamble')
    const stats = await proxy.close()
    await waitFor(() => server.connections[1].socket.readableEnded || server.connections[1].socket.destroyed, 20_000, 'the end of the connection')
    for (const i of [0, 1]) {
      const rest = text(i).slice(P.length)
      t.is(rest, K.repeat(rest.length / K.length), JSON.stringify(text(i)))
    }
    const conn = endpoint(stats, 'tcp-connection')
    t.is(conn.preambles, 2)
    t.is(conn.connects, 2)
    t.true(conn.keepAlives >= 1)
    // What it framed, not what it wrote.
    t.is(conn.bytesOut, 'line-1\n'.length)
  } finally {
    await proxy.close()
    await server.close()
    await down.close()
  }
})

test('a keep-alive needs both halves for every output, and an output to go on', async (t) => {
  const { apiSchema } = await import('../dist/schema/programs.js').then((m) => m.default ?? m)
  const issues = (kind, o) => {
    const r = apiSchema(kind).safeParse(o)
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
  }
  const outs = ['127.0.0.1:9', { addr: '127.0.0.1:10', keepAliveAfter: 1 }]
  t.deepEqual(issues('proxy', { udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: outs, keepAliveLine: 'PING' }), [
    'keepAliveLine: needs {keepAliveAfter}: only 1 of the 2 outputs give their own',
  ])
  t.deepEqual(issues('reverseproxy', { udpListenAddrs: '127.0.0.1:0', multicastAddr: '239.1.2.3:9', keepAliveLine: 'PING', keepAliveAfter: 1 }), [
    'keepAliveLine: needs an output to send it on: {udpOutputAddrs}, {tcpOutputAddrs}, {tcpConnectOutputAddrs}',
  ])
})

test('a keep-alive line without its quiet time: the same line from mproxy check and from the run, exit 2', async (t) => {
  const flags = ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9', '--keep-alive-line', 'PING']
  const run = await runToEnd('proxy', flags, { hangLimit: 15_000 })
  t.is(run.code, 2, run.stderr)
  t.is(run.stderr, 'mproxy-proxy: --keep-alive-line needs --keep-alive-after\n')
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const dir = mkdtempSync(path.join(tmpdir(), 'mproxy-agg-'))
  try {
    const file = path.join(dir, 'c.yaml')
    writeFileSync(
      file,
      'routes:\n  - { name: feed, kind: reverseproxy, udpListenAddrs: "127.0.0.1:0", tcpConnectOutputAddrs: [{ addr: "127.0.0.1:9", keepAliveLine: PING }] }\n',
    )
    const checked = await runToEnd('mproxy', ['check', file], { hangLimit: 15_000 })
    const ran = await runToEnd('mproxy', ['--config', file], { hangLimit: 15_000 })
    const line = 'mproxy: routes[0].tcpConnectOutputAddrs[0].keepAliveLine needs keepAliveAfter, on this output or for the whole program\n'
    t.is(checked.code, 2, checked.stderr)
    t.is(checked.stderr, line)
    t.is(ran.code, 2, ran.stderr)
    t.is(ran.stderr, line)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
