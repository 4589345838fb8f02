// TCP through both proxies: TCP to UDP and UDP to TCP, byte for byte; many TCP input
// clients without interleaving; 200 TCP output clients; a stuck client; reconnects.
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import { makeText, mproxy, readFile, requireIsolation, runProgram, sleep, stop, tempDir, waitFor, waitForSize, writeTemp } from './helpers.mjs'
import { startTcpServer } from './tls-fixtures.mjs'
import { notUnderWine, stoppedCleanly, unixOnly, WHY } from './platform.mjs'

const { createProxy, createReverseProxy, createServer, createClient } = mproxy
let nextGroup = 1
/** A group of its own per test, on loopback, with a port no other test uses. */
function group() {
  requireIsolation()
  const n = nextGroup++
  return { addr: `239.88.0.${n}:${20000 + n + 100 * (process.pid % 50)}`, iface: 'lo' }
}

/** A TCP reader: collects everything it receives. */
function tcpReader(address) {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(address.slice(address.lastIndexOf(':') + 1))]
  const chunks = []
  const socket = net.connect({ host, port })
  socket.on('data', (d) => chunks.push(d))
  const ended = new Promise((resolve) => socket.on('close', resolve))
  socket.on('error', () => undefined)
  const connected = new Promise((resolve) => socket.on('connect', resolve))
  return { socket, connected, ended, data: () => Buffer.concat(chunks), size: () => chunks.reduce((n, c) => n + c.length, 0) }
}

test('forward proxy: a TCP source reaches a UDP server byte for byte', async (t) => {
  const dir = tempDir()
  const data = makeText(5_000_000, 31)
  const upstream = await startTcpServer({ data })
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  const proxy = runProgram('proxy', ['--tcp-connect-addr', `localhost:${upstream.port}`, '--udp-downstream-addr', server.addresses.listen[0]])
  await waitForSize(out, data.length)
  await stop(proxy)
  await server.close()
  await upstream.close()
  t.true(readFile(out).equals(data))
  t.regex(proxy.stderr(), /connected to localhost:\d+/)
})

test('forward proxy: the upstream goes away and comes back; the proxy resumes by itself', async (t) => {
  const dir = tempDir()
  const first = makeText(200_000, 32)
  const upstream = await startTcpServer({ data: first })
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  const logs = []
  const proxy = await createProxy({
    tcpConnectAddrs: [`127.0.0.1:${upstream.port}`],
    udpDownstreamAddrs: server.addresses.listen,
    onLog: (e) => logs.push(e.message),
  })
  await waitForSize(out, first.length)
  await upstream.close()
  await waitFor(() => proxy.stats().endpoints.find((e) => e.kind === 'tcp-connection').disconnects === 1, 10_000, 'the disconnect')
  // Several attempts fail while it is down: reported once, not once per attempt.
  await new Promise((r) => setTimeout(r, 1500))
  await upstream.restart()
  await waitForSize(out, 2 * first.length, 60_000)
  const stats = await proxy.close()
  await server.close()
  await upstream.close()
  const conn = stats.endpoints.find((e) => e.kind === 'tcp-connection')
  t.is(conn.connects, 2)
  t.is(conn.disconnects, 1)
  t.true(readFile(out).equals(Buffer.concat([first, first])))
  t.is(logs.filter((m) => m.startsWith('connected to')).length, 2)
  t.is(logs.filter((m) => m.startsWith('cannot connect')).length, 1, logs.join('\n'))
})

test('reverse proxy: UDP in, TCP out, byte for byte', async (t) => {
  const g = group()
  const dir = tempDir()
  const data = makeText(5_000_000, 33)
  const rp = await createReverseProxy({ udpListenAddrs: ['127.0.0.1:0'], tcpOutputAddrs: ['127.0.0.1:0'], multicastAddr: g.addr, multicastInterface: g.iface })
  const reader = tcpReader(rp.addresses.tcpOutput[0])
  await reader.connected
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects === 1, 5000, 'the reader')
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: rp.addresses.listen })
  await client.finished
  await client.close()
  await waitFor(() => reader.size() >= data.length, 30_000, 'all bytes at the reader')
  await rp.close()
  t.true(reader.data().equals(data))
})

test('reverse proxy: TCP in, UDP out, byte for byte, through the CLI', async (t) => {
  const g = group()
  const dir = tempDir()
  const data = makeText(3_000_000, 34)
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  const rp = runProgram(
    'reverseproxy',
    ['--tcp-listen-addr', '127.0.0.1:0', '--multicast-addr', g.addr, '--multicast-interface', g.iface, '--udp-output-addr', server.addresses.listen[0]],
    { listeners: 1 },
  )
  const [input] = await rp.listening
  const socket = net.connect({ host: '127.0.0.1', port: Number(input.split(':')[1]) })
  await new Promise((r) => socket.on('connect', r))
  socket.end(data)
  await waitForSize(out, data.length)
  stoppedCleanly(t, await stop(rp))
  await server.close()
  t.true(readFile(out).equals(data))
})

test('many TCP input clients at once: every line arrives, no datagram mixes two clients', async (t) => {
  const g = group()
  const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
  const datagrams = []
  sink.on('message', (m) => datagrams.push(m.toString()))
  await new Promise((r) => sink.bind(0, '127.0.0.1', r))
  const rp = await createReverseProxy({
    tcpListenAddrs: ['127.0.0.1:0'],
    multicastAddr: g.addr,
    multicastInterface: g.iface,
    udpOutputAddrs: [`127.0.0.1:${sink.address().port}`],
  })
  const port = Number(rp.addresses.tcpListen[0].split(':')[1])
  const clients = 20
  const lines = 300
  // Each client writes with its own letter, so any byte of a datagram tells whose it is.
  const letter = (c) => String.fromCharCode(65 + c)
  // Line i of a client is its letter 1 + i % 50 times: order shows in the lengths.
  const textOf = (c) => Array.from({ length: lines }, (_, i) => `${letter(c).repeat(1 + (i % 50))}\n`).join('')
  await Promise.all(
    Array.from(
      { length: clients },
      (_, c) =>
        new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port }, async () => {
            // Small uneven pieces, so reads split lines anywhere.
            const text = textOf(c)
            for (let at = 0, n = 0; at < text.length; at += 37 + c, n++) {
              s.write(text.slice(at, at + 37 + c))
              if (n % 10 === 0) await new Promise((r) => setImmediate(r))
            }
            s.end(resolve)
          })
        }),
    ),
  )
  const total = Array.from({ length: clients }, (_, c) => textOf(c).length).reduce((a, b) => a + b, 0)
  await waitFor(() => datagrams.reduce((n, d) => n + d.length, 0) >= total, 20_000, 'all bytes')
  await rp.close()
  sink.close()
  const byClient = new Map()
  let newlines = 0
  for (const d of datagrams) {
    const owners = new Set(d.replace(/\n/g, ''))
    t.true(owners.size <= 1, `a datagram holds bytes of ${[...owners].join(', ')}`)
    newlines += d.split('\n').length - 1
    // A datagram of newlines alone (a partial line flushed just before its end) has no owner.
    if (owners.size === 1) {
      const owner = [...owners][0]
      byClient.set(owner, (byClient.get(owner) ?? '') + d.replace(/\n/g, '|'))
    }
  }
  t.is(newlines, clients * lines)
  t.is(byClient.size, clients)
  // Each client's letters, with the line ends that travelled with them, in order.
  for (let c = 0; c < clients; c++) {
    t.is(byClient.get(letter(c)).replace(/\|/g, ''), textOf(c).replace(/\n/g, ''), `client ${letter(c)}`)
  }
})

test('200 TCP output clients each receive everything', async (t) => {
  const g = group()
  const dir = tempDir()
  const data = makeText(1_000_000, 35)
  const rp = await createReverseProxy({ udpListenAddrs: ['127.0.0.1:0'], tcpOutputAddrs: ['127.0.0.1:0'], multicastAddr: g.addr, multicastInterface: g.iface })
  const readers = Array.from({ length: 200 }, () => tcpReader(rp.addresses.tcpOutput[0]))
  await Promise.all(readers.map((r) => r.connected))
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects === 200, 10_000, '200 clients')
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: rp.addresses.listen })
  await client.finished
  await client.close()
  await waitFor(() => readers.every((r) => r.size() >= data.length), 30_000, 'every reader')
  const stats = await rp.close()
  for (const r of readers) t.true(r.data().equals(data))
  const out = stats.endpoints.find((e) => e.kind === 'tcp-output')
  t.is(out.bytesOut, 200 * data.length)
  t.is(out.evicted, 0)
})

unixOnly("48 MB paced at 12 MB/s, beyond Wine's sockets")('a stuck TCP output client is disconnected while the others keep receiving everything', async (t) => {
  const g = group()
  const dir = tempDir()
  // Paced so that healthy readers in this (busy) test process keep up easily, while the
  // stuck one falls behind by more than the kernel's buffers plus its 16 MiB backlog.
  const data = makeText(48_000_000, 36)
  const logs = []
  const rp = await createReverseProxy({
    udpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: ['127.0.0.1:0'],
    multicastAddr: g.addr,
    multicastInterface: g.iface,
    tcpClientQueue: 16 * 1024 * 1024,
    onLog: (e) => logs.push(e.message),
  })
  let closed
  const close = () => (closed ??= rp.close())
  t.teardown(() => close().catch(() => undefined))
  const good = [tcpReader(rp.addresses.tcpOutput[0]), tcpReader(rp.addresses.tcpOutput[0])]
  const stuck = tcpReader(rp.addresses.tcpOutput[0])
  await Promise.all([...good, stuck].map((r) => r.connected))
  stuck.socket.pause() // reads nothing from now on
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects === 3, 5000, 'three clients')
  // In pieces of 4 MB, each sent once the healthy readers have everything before it: however
  // busy this process is, they are never more than a piece behind, the stuck one ever more.
  const PIECE = 4_000_000
  for (let at = 0; at < data.length; at += PIECE) {
    const client = await createClient({ path: writeTemp(dir, 'in.txt', data.subarray(at, at + PIECE)), serverAddrs: rp.addresses.listen, rate: '12M' })
    await client.finished
    await client.close()
    const sent = Math.min(at + PIECE, data.length)
    await waitFor(
      () => good.every((r) => r.size() >= sent),
      60_000,
      () => `the good readers to get ${sent} bytes (have ${good.map((r) => r.size())})`,
    ).catch((err) => {
      t.log(
        JSON.stringify(rp.stats().endpoints),
        good.map((r) => r.size()),
      )
      throw err
    })
  }
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').evicted === 1, 10_000, 'the stuck client to be dropped')
  // Reading again, it finds its connection closed (after what the kernel still held).
  stuck.socket.resume()
  await stuck.ended
  t.true(stuck.size() < data.length)
  const stats = await close()
  for (const r of good) t.true(r.data().equals(data))
  t.is(stats.endpoints.find((e) => e.kind === 'tcp-output').evicted, 1)
  t.is(logs.filter((m) => m.includes('disconnected TCP client')).length, 1)
})

test('a client leaving is cleaned up at once, and the next ones work', async (t) => {
  const g = group()
  const rp = await createReverseProxy({
    udpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: ['127.0.0.1:0'],
    multicastAddr: g.addr,
    multicastInterface: g.iface,
    maxTcpClients: 2,
  })
  const out = () => rp.stats().endpoints.find((e) => e.kind === 'tcp-output')
  for (let round = 1; round <= 5; round++) {
    const r = tcpReader(rp.addresses.tcpOutput[0])
    await r.connected
    await waitFor(() => out().connects === round, 5000, `client ${round}`)
    r.socket.destroy()
    await waitFor(() => out().disconnects === round, 5000, `client ${round} gone`)
  }
  // The limit: a third client while two are connected is refused.
  const a = tcpReader(rp.addresses.tcpOutput[0])
  const b = tcpReader(rp.addresses.tcpOutput[0])
  await Promise.all([a.connected, b.connected])
  await waitFor(() => out().connects === 7, 5000, 'two clients')
  const c = tcpReader(rp.addresses.tcpOutput[0])
  await c.ended
  t.is(out().refused, 1)
  a.socket.destroy()
  b.socket.destroy()
  await rp.close()
})

test('closing a reverse proxy right after the last input still delivers it to TCP clients', async (t) => {
  const g = group()
  const dir = tempDir()
  const data = makeText(3_000_000, 38)
  const rp = await createReverseProxy({ udpListenAddrs: ['127.0.0.1:0'], tcpOutputAddrs: ['127.0.0.1:0'], multicastAddr: g.addr, multicastInterface: g.iface })
  const reader = tcpReader(rp.addresses.tcpOutput[0])
  await reader.connected
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects === 1, 5000, 'the reader')
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: rp.addresses.listen, rate: 0 })
  t.is(await client.finished, 'complete')
  await client.close()
  const stats = await rp.close()
  await reader.ended
  const listener = stats.endpoints.find((e) => e.kind === 'udp-listener' && !e.name.startsWith('239.'))
  const out = stats.endpoints.find((e) => e.kind === 'tcp-output')
  // Everything the input counted went through the group and out to the reader.
  t.is(out.bytesIn, listener.bytesIn)
  t.is(out.bytesOut, out.bytesIn)
  t.is(out.bytesDropped, 0)
  t.true(reader.data().equals(data.subarray(0, listener.bytesIn)))
})

notUnderWine(WHY.wineReset)(
  'forward proxy: an upstream that resets every connection right after accepting it is retried with a growing backoff, and said once',
  async (t) => {
    const attempts = [] // when each connection was accepted
    const upstream = net.createServer((socket) => {
      attempts.push(Date.now())
      socket.resetAndDestroy()
    })
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r))
    const sink = dgram.createSocket('udp4')
    await new Promise((r) => sink.bind(0, '127.0.0.1', r))
    const name = `127.0.0.1:${upstream.address().port}`
    const proxy = runProgram('proxy', ['--tcp-connect-addr', name, '--udp-downstream-addr', `127.0.0.1:${sink.address().port}`])
    t.teardown(() => proxy.child.kill('SIGKILL'))
    // 0.5 s, 1 s, 2 s (each ±20%) between attempts: 4 in the 5 s from the first, not the 10
    // of a reset backoff. A busy machine only delays attempts, so only the upper bound holds
    // there: at most 4 in those 5 s, the fourth 1.6 s or more after the third.
    await waitFor(
      () => attempts.length >= 4,
      20_000,
      () => `four connections (${attempts.length})`,
    )
    await sleep(attempts[0] + 5000 - Date.now())
    const inFiveSeconds = attempts.filter((at) => at < attempts[0] + 5000).length
    const r = await stop(proxy)
    upstream.close()
    sink.close()
    stoppedCleanly(t, r)
    t.true(inFiveSeconds <= 4, `${inFiveSeconds} connections in the 5 s from the first`)
    t.true(attempts[3] - attempts[2] >= 1200, `${attempts[3] - attempts[2]} ms from the third connection to the fourth`)
    // Each attempt sees the reset either after connecting (`connected`, then `lost`) or while
    // connecting (`cannot connect`), by the timing of the kernel; either way the run of failures
    // is reported in a few lines, at most once each, and then no more.
    const lines = r.stderr.trimEnd().split('\n')
    const known = {
      connected: `mproxy-proxy: connected to ${name}`,
      lost: `mproxy-proxy: warn: connection to ${name} lost (connection reset by peer); reconnecting`,
      refused: `mproxy-proxy: warn: cannot connect to ${name}: connection reset by peer; retrying every 0.5 s to 30 s`,
      keepsFailing: `mproxy-proxy: warn: connection to ${name} keeps failing within 10 s of connecting (connection reset by peer); reconnecting with growing delays up to 30 s, without reporting each attempt`,
    }
    const count = (line) => lines.filter((l) => l === line).length
    for (const line of lines) t.true(Object.values(known).includes(line), line)
    t.true(lines.length <= 5, r.stderr)
    t.true(count(known.connected) <= 2 && count(known.lost) <= 1 && count(known.refused) <= 1 && count(known.keepsFailing) <= 1, r.stderr)
  },
)
