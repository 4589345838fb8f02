// Handles behave like Node resources: an AbortSignal closes them, `Symbol.asyncDispose`
// too (what `await using` calls), and state changes come as typed events with their data.
import test from 'ava'
import dgram from 'node:dgram'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { mproxy, requireIsolation, sleep, tempDir, waitFor } from './helpers.mjs'
import { onWindows, unixOnly } from './platform.mjs'

const { createServer, createProxy, createReverseProxy } = mproxy

/** The core's threads in this process (named mproxy-…); Windows has no /proc: not counted there. */
function mproxyThreads() {
  if (onWindows) return 0
  return readdirSync('/proc/self/task').filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('mproxy-')
    } catch {
      return false
    }
  }).length
}

/** Whether `address` (a UDP port) can be bound again: the handle released it. */
async function udpPortFree(address) {
  const s = dgram.createSocket('udp4')
  const port = Number(address.slice(address.lastIndexOf(':') + 1))
  try {
    await new Promise((resolve, reject) => {
      s.once('error', reject)
      s.bind(port, '127.0.0.1', resolve)
    })
    return true
  } catch {
    return false
  } finally {
    s.close()
  }
}

// Serial: the thread counts are of the whole process.
test.serial('aborting the signal closes the handle: its port is free and its threads are gone', async (t) => {
  const before = mproxyThreads()
  const ac = new AbortController()
  const server = await createServer({ path: path.join(tempDir(), 'out.txt'), listenAddrs: '127.0.0.1:0', signal: ac.signal })
  t.teardown(() => server.close())
  const [addr] = server.addresses.listen
  t.false(await udpPortFree(addr))
  ac.abort()
  await waitFor(() => mproxyThreads() === before, 5000, 'the threads to end')
  // The sockets are dropped by the thread that closes the route, which may still be ending
  // when the count above reads /proc (and Windows has no count to wait for): wait for it too.
  await waitFor(() => udpPortFree(addr), 5000, 'the port to be free')
  const stats = await server.close()
  t.is(stats.totals.datagramsIn, 0)
})

test.serial('a signal aborted already: create…() rejects and nothing is left running', async (t) => {
  const before = mproxyThreads()
  const err = await t.throwsAsync(createServer({ path: path.join(tempDir(), 'out.txt'), listenAddrs: '127.0.0.1:0', signal: AbortSignal.abort() }))
  t.is(err.code, 'EMPROXY_ABORTED')
  t.is(err.message, 'aborted (the signal was aborted while it started); nothing is left running')
  // The thread that closed it ends right after it said so.
  await waitFor(() => mproxyThreads() === before, 5000, 'the threads to end')
})

test.serial('Symbol.asyncDispose (await using) closes the handle', async (t) => {
  const before = mproxyThreads()
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: '127.0.0.1:9' })
  const [addr] = proxy.addresses.listen
  t.is(typeof proxy[Symbol.asyncDispose], 'function')
  await proxy[Symbol.asyncDispose]()
  // The thread that closed it ends right after it said so.
  await waitFor(() => mproxyThreads() === before, 5000, 'the threads to end')
  t.true(await udpPortFree(addr))
})

test.serial('client events: a TCP output client joins, one beyond the limit is refused, the first leaves', async (t) => {
  const rp = await createReverseProxy({ multicastAddr: '239.9.9.9:9918', multicastInterface: 'lo', tcpOutputAddrs: '127.0.0.1:0', maxTcpClients: 1 })
  t.teardown(() => rp.close())
  const events = []
  rp.on('client', (e) => events.push(e))
  const [listener] = rp.addresses.tcpOutput
  const port = Number(listener.split(':')[1])
  const first = net.connect(port, '127.0.0.1')
  await new Promise((r) => first.once('connect', r))
  await waitFor(() => events.length === 1, 5000, 'joined')
  const firstPeer = `127.0.0.1:${first.localPort}`
  const second = net.connect(port, '127.0.0.1')
  second.on('error', () => undefined)
  await new Promise((r) => second.once('connect', r))
  // Read now: the listener closes a refused connection at once.
  const secondPeer = `127.0.0.1:${second.localPort}`
  await waitFor(() => events.length === 2, 5000, 'refused')
  first.end()
  await waitFor(() => events.length === 3, 5000, 'left')
  second.destroy()
  t.deepEqual(events, [
    { listener, peer: firstPeer, action: 'joined' },
    { listener, peer: secondPeer, action: 'refused', reason: 'the limit of 1 clients' },
    {
      listener,
      peer: firstPeer,
      action: 'left',
      reason: 'the client closed the connection (or its sending side: a reader that only listens keeps that open, as nc -d and ncat --recv-only do)',
    },
  ])
})

test.serial('connect and disconnect events for a kept TCP connection', async (t) => {
  const sockets = []
  const upstream = net.createServer((s) => {
    sockets.push(s)
    s.write('hello\n')
  })
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r))
  const address = `127.0.0.1:${upstream.address().port}`
  const proxy = await createProxy({ tcpConnectAddrs: address, udpDownstreamAddrs: '127.0.0.1:9' })
  t.teardown(() => proxy.close())
  const events = []
  proxy.on('connect', (e) => events.push(['connect', e]))
  proxy.on('disconnect', (e) => events.push(['disconnect', e]))
  await waitFor(() => sockets.length === 1, 5000, 'the connection')
  await waitFor(() => events.length === 1, 5000, 'connect')
  sockets[0].end()
  await waitFor(() => events.length === 2, 5000, 'disconnect')
  await proxy.close()
  upstream.close()
  for (const s of sockets) s.destroy()
  t.deepEqual(events.slice(0, 2), [
    ['connect', { address, peer: address }],
    ['disconnect', { address, reason: 'closed by the peer' }],
  ])
})

test.serial('statsInterval: a stats event every interval, with the counters', async (t) => {
  const server = await createServer({ path: path.join(tempDir(), 'out.txt'), listenAddrs: '127.0.0.1:0', statsInterval: 1 })
  t.teardown(() => server.close())
  const seen = []
  server.on('stats', (s) => seen.push(s))
  const tx = dgram.createSocket('udp4')
  const port = Number(server.addresses.listen[0].split(':')[1])
  await new Promise((r) => tx.send('one\n', port, '127.0.0.1', r))
  tx.close()
  await waitFor(() => seen.length >= 2, 5000, 'two stats events')
  t.is(seen.at(-1).totals.datagramsIn, 1)
  t.is(seen.at(-1).endpoints.length, 2)
  await server.close()
  const count = seen.length
  await sleep(1500)
  t.is(seen.length, count, 'no stats after close')
})

test.serial('bad values for the Node-only options name the option', async (t) => {
  const base = { path: path.join(tempDir(), 'out.txt'), listenAddrs: '127.0.0.1:0' }
  const bad = [
    [{ signal: 'stop' }, 'signal must be an AbortSignal'],
    [{ statsInterval: 0 }, 'statsInterval: 0 is not a whole number from 1 to 86400'],
    [{ onLog: 'console' }, 'onLog must be a function'],
  ]
  for (const [extra, message] of bad) {
    const err = await t.throwsAsync(createServer({ ...base, ...extra }))
    t.is(err.message, message)
    t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  }
})

test.serial('a reverse proxy counts each datagram in once and out once, and shows its two halves', async (t) => {
  requireIsolation() // the group is multicast
  const sink = dgram.createSocket('udp4')
  const got = []
  sink.on('message', (m) => got.push(m.toString()))
  await new Promise((r) => sink.bind(0, '127.0.0.1', r))
  const rp = await createReverseProxy({
    udpListenAddrs: '127.0.0.1:0',
    multicastAddr: '239.9.9.10:9918',
    multicastInterface: 'lo',
    udpOutputAddrs: `127.0.0.1:${sink.address().port}`,
  })
  const tx = dgram.createSocket('udp4')
  const port = Number(rp.addresses.listen[0].split(':')[1])
  for (let i = 0; i < 5; i++) await new Promise((r) => tx.send(`datagram number ${i} here\n`, port, '127.0.0.1', r))
  tx.close()
  await waitFor(() => got.length === 5, 5000, 'five datagrams at the output')
  const stats = await rp.close()
  sink.close()
  const pick = ({ datagramsIn, bytesIn, datagramsOut, bytesOut }) => ({ datagramsIn, bytesIn, datagramsOut, bytesOut })
  t.deepEqual(pick(stats.totals), { datagramsIn: 5, bytesIn: 115, datagramsOut: 5, bytesOut: 115 })
  t.deepEqual(pick(stats.routes.inputs), { datagramsIn: 5, bytesIn: 115, datagramsOut: 5, bytesOut: 115 })
  t.deepEqual(pick(stats.routes.outputs), { datagramsIn: 5, bytesIn: 115, datagramsOut: 5, bytesOut: 115 })
})

unixOnly('the error for a group with no route (Wine: EINVAL)').serial('messages from the core name API options, not flags', async (t) => {
  requireIsolation() // a group with no route to it: only lo, no default route, in the test's namespace
  const err = await t.throwsAsync(createServer({ path: path.join(tempDir(), 'o.txt'), listenAddrs: '239.1.2.3:0' }))
  t.is(err.message, 'cannot join multicast group 239.1.2.3:0: no interface reaches it; name one with multicastInterface, for example lo for this host only')
})
