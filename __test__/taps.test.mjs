// Datagrams in and out of JavaScript: handle.messages() taps and handle.send() injection, as
// a Node service uses them, on every kind of handle.
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { mproxy, portOf, readFile, requireIsolation, sleep, tempDir, waitFor, within, writeTemp } from './helpers.mjs'
import { WHY, onWindows, unixOnly } from './platform.mjs'

const { createClient, createProxy, createReverseProxy, createServer, MproxyError } = mproxy

async function udpSink() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  const got = []
  socket.on('message', (m) => got.push(m))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return { socket, got, addr: `127.0.0.1:${socket.address().port}` }
}

async function udpSender() {
  const socket = dgram.createSocket('udp4')
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return socket
}

const sendTo = (socket, data, addr) => new Promise((resolve, reject) => socket.send(data, portOf(addr), '127.0.0.1', (err) => (err ? reject(err) : resolve())))

/** The endpoint of kind `kind` in a handle's stats. */
const endpoint = (handle, kind) => handle.stats().endpoints.find((e) => e.kind === kind)

/** Datagram `seq` of source `source`: its own bytes, of varying length. */
const payload = (source, seq) => Buffer.from(`${source}:${seq}:${'x'.repeat((seq * 7 + source) % 200)}\n`)

/** Threads of this process that belong to a route (the core names them all `mproxy-…`); not counted on Windows (no /proc). */
const routeThreads = () =>
  onWindows
    ? 0
    : readdirSync('/proc/self/task').filter((task) => {
        try {
          return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').startsWith('mproxy-')
        } catch {
          return false // ended meanwhile
        }
      }).length

unixOnly(WHY.drops)('a Node service reads 100,000 datagrams from a reverse proxy with subscribe: true, byte-identical and in order per source', async (t) => {
  requireIsolation() // the group is multicast
  const bus = await createReverseProxy({ udpListenAddrs: '127.0.0.1:0', subscribe: true, multicastAddr: '239.77.9.1:29701', multicastInterface: 'lo' })
  t.teardown(() => bus.close())
  const input = bus.addresses.listen[0]
  const senders = [await udpSender(), await udpSender()]
  t.teardown(() => {
    for (const s of senders) s.close()
  })
  const PER_SOURCE = 50_000
  // What a reverse proxy's outputs receive comes from the group: `from` is the socket that
  // published it (this proxy's own inputs), the same for both sources; each datagram says
  // which source it is from.
  const next = [0, 0]
  const publishers = new Set()
  let received = 0
  let readerDone = false
  const reader = (async () => {
    for await (const { data, from } of bus.messages({ highWaterMark: 100_000 })) {
      publishers.add(from)
      const source = Number(data.toString('latin1', 0, 1))
      const expected = { source, seq: next[source] }
      if (!data.equals(payload(expected.source, expected.seq)))
        throw new Error(`source ${source}: datagram ${expected.seq} is ${JSON.stringify(data.toString())}`)
      next[source]++
      if (++received === 2 * PER_SOURCE) break
    }
  })().finally(() => {
    readerDone = true
  })
  // Both sources at once, each kept at most 2,000 datagrams ahead of the reader: UDP has no
  // flow control, and this test is about the tap, not the kernel's buffers.
  let sent = 0
  const send = async (socket, source) => {
    for (let seq = 0; seq < PER_SOURCE; seq++) {
      while (sent - received > 2_000 && !readerDone) await sleep(1)
      await sendTo(socket, payload(source, seq), input)
      sent++
    }
  }
  await Promise.all(senders.map((s, i) => send(s, i)))
  await within(reader, 60_000, `the reader got ${received} of ${2 * PER_SOURCE}`)
  t.deepEqual(next, [PER_SOURCE, PER_SOURCE])
  t.is(publishers.size, 1)
  t.regex([...publishers][0], /^127\.0\.0\.1:\d+$/)
  const totals = (await bus.close()).totals
  t.is(totals.kernelDrops, 0)
  t.is(totals.tapDrops, 0)
})

test('publish: true: send() reaches a UDP output and a TCP output client, exactly', async (t) => {
  requireIsolation()
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const bus = await createReverseProxy({
    publish: true,
    udpOutputAddrs: sink.addr,
    tcpOutputAddrs: '127.0.0.1:0',
    multicastAddr: '239.77.9.2:29702',
    multicastInterface: 'lo',
  })
  t.teardown(() => bus.close())
  t.deepEqual(bus.addresses.listen, [])
  const client = net.connect(portOf(bus.addresses.tcpOutput[0]), '127.0.0.1')
  t.teardown(() => client.destroy())
  const stream = []
  client.on('data', (d) => stream.push(d))
  await waitFor(() => endpoint(bus, 'tcp-output').connects === 1, 10_000, 'the TCP client to be accepted')
  const datagrams = []
  for (let batch = 0; batch < 20; batch++) {
    const items = Array.from({ length: 50 }, (_, i) => (i % 2 ? payload(1, batch * 50 + i) : payload(1, batch * 50 + i).toString()))
    datagrams.push(...items.map((d) => Buffer.from(d)))
    await bus.send(items)
  }
  await bus.send('last\n')
  datagrams.push(Buffer.from('last\n'))
  await waitFor(() => sink.got.length === datagrams.length, 10_000, `${datagrams.length} datagrams at the UDP output (has ${sink.got.length})`)
  t.deepEqual(sink.got, datagrams)
  const whole = Buffer.concat(datagrams)
  await waitFor(() => Buffer.concat(stream).length >= whole.length, 10_000, 'the whole stream at the TCP client')
  t.true(Buffer.concat(stream).equals(whole))
  const sent = endpoint(bus, 'send')
  t.is(sent.name, 'send()')
  t.is(sent.datagramsIn, datagrams.length)
  t.is(sent.datagramsOut, datagrams.length)
  await sleep(100)
  t.is(sink.got.length, datagrams.length)
})

test('a slow tap drops and counts while a UDP output gets everything', async (t) => {
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const logs = []
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr, onLog: (e) => logs.push(e) })
  t.teardown(() => proxy.close())
  const SENT = 3_000
  const tap = proxy.messages({ highWaterMark: 100 })
  const seen = []
  const reader = (async () => {
    for await (const { data, from } of tap) {
      if (from !== 'js') throw new Error(`from ${from}`)
      // The first datagram takes JavaScript half a second: everything else arrives meanwhile.
      if (seen.length === 0) await sleep(500)
      seen.push(Number(data.toString().split(':')[1]))
    }
  })()
  for (let i = 0; i < SENT; i += 100) await proxy.send(Array.from({ length: 100 }, (_, k) => payload(2, i + k)))
  await waitFor(() => sink.got.length === SENT, 10_000, `${SENT} datagrams at the UDP output (has ${sink.got.length})`)
  t.deepEqual(
    sink.got.map((d) => d.toString()),
    Array.from({ length: SENT }, (_, i) => payload(2, i).toString()),
  )
  await waitFor(() => endpoint(proxy, 'tap').datagramsIn === SENT, 10_000, 'the tap to have been offered everything')
  const finals = await proxy.close()
  await within(reader, 10_000, 'the loop to end when the handle closes')
  const tapStats = finals.endpoints.find((e) => e.kind === 'tap')
  t.true(tapStats.tapDrops > 0)
  t.is(seen.length + tapStats.tapDrops, SENT)
  t.is(tap.drops, tapStats.tapDrops)
  t.is(finals.totals.tapDrops, tapStats.tapDrops)
  t.is(tapStats.datagramsOut, seen.length)
  t.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
  )
  t.is(new Set(seen).size, seen.length)
  t.is(finals.endpoints.find((e) => e.kind === 'udp-destination').datagramsOut, SENT)
  const dropLogs = logs.filter((e) => e.message.includes('not keeping up'))
  t.is(dropLogs.length, 1)
  t.is(dropLogs[0].level, 'warn')
  t.regex(dropLogs[0].message, /^messages\(\) #1: JavaScript is not keeping up; .* \(100 datagrams\) .* tapDrops$/)
})

test('several taps at once each get every datagram', async (t) => {
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr })
  t.teardown(() => proxy.close())
  const N = 5_000
  const read = async (it) => {
    const got = []
    for await (const { data } of it) {
      got.push(data.toString())
      if (got.length === N) break
    }
    return got
  }
  const readers = [read(proxy.messages()), read(proxy.messages({ highWaterMark: N })), read(proxy.messages())]
  for (let i = 0; i < N; i += 250) await proxy.send(Array.from({ length: 250 }, (_, k) => payload(3, i + k)))
  const expected = Array.from({ length: N }, (_, i) => payload(3, i).toString())
  for (const got of await within(Promise.all(readers), 20_000, 'three taps to read everything')) t.deepEqual(got, expected)
  t.is(proxy.stats().totals.tapDrops, 0)
  t.is(endpoint(proxy, 'tap').datagramsOut, 3 * N)
})

unixOnly(WHY.proc).serial('break and an AbortSignal detach a tap; close() leaves no thread behind', async (t) => {
  // Serial: no other test's route runs meanwhile.
  await waitFor(() => routeThreads() === 0, 2_000, 'no route thread before the test')
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr })
  t.teardown(() => proxy.close())
  const controller = new AbortController()
  const breaking = (async () => {
    let n = 0
    for await (const m of proxy.messages()) if (++n === 10) return m.data.toString()
  })()
  let aborted = 0
  const aborting = (async () => {
    for await (const _ of proxy.messages({ signal: controller.signal })) if (++aborted === 10) controller.abort()
    return aborted
  })()
  await proxy.send(Array.from({ length: 20 }, (_, i) => payload(4, i)))
  // A thread names itself once it runs.
  await waitFor(() => routeThreads() >= 2, 5_000, 'a listener thread and the send() thread')
  t.is(await within(breaking, 10_000, 'the breaking loop'), payload(4, 9).toString())
  t.is(await within(aborting, 10_000, 'the aborted loop'), 10)
  // Both detached: later datagrams are offered to no tap.
  const offered = endpoint(proxy, 'tap').datagramsIn
  t.is(offered, 40)
  await proxy.send(Array.from({ length: 20 }, (_, i) => payload(4, 20 + i)))
  await waitFor(() => sink.got.length === 40, 10_000, '40 datagrams at the UDP output')
  t.is(endpoint(proxy, 'tap').datagramsIn, 40)
  // An aborted signal ends a loop before it starts.
  let ran = 0
  for await (const _ of proxy.messages({ signal: AbortSignal.abort() })) ran++
  t.is(ran, 0)
  // A tap still attached ends when the handle closes.
  const open = (async () => {
    let n = 0
    for await (const _ of proxy.messages()) n++
    return n
  })()
  await within(proxy.close(), 2_000, 'close() to resolve promptly')
  t.is(await within(open, 2_000, 'the open loop to end with the handle'), 0)
  // The thread that ran the stop resolves close() just before it ends itself.
  await waitFor(() => routeThreads() === 0, 2_000, `every route thread to end (${routeThreads()} left)`)
})

test('taps on a server, a client and a proxy say who sent each datagram', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Server: what it receives, from the UDP sender; send() writes to its file.
  const file = path.join(dir, 'server.txt')
  const server = await createServer({ listenAddrs: '127.0.0.1:0', path: file })
  t.teardown(() => server.close())
  const sender = await udpSender()
  t.teardown(() => sender.close())
  const serverTap = server.messages()
  await sendTo(sender, 'hello\n', server.addresses.listen[0])
  t.deepEqual(await serverTap.next(), { done: false, value: { data: Buffer.from('hello\n'), from: `127.0.0.1:${sender.address().port}` } })
  await server.send(['from js\n', Buffer.from('again\n')])
  t.deepEqual((await serverTap.next()).value, { data: Buffer.from('from js\n'), from: 'js' })
  t.deepEqual((await serverTap.next()).value, { data: Buffer.from('again\n'), from: 'js' })
  await serverTap.return()
  await server.close()
  t.is(readFile(file).toString(), 'hello\nfrom js\nagain\n')

  // Client: what it sends, from its input file; send() goes to its servers too.
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const input = writeTemp(dir, 'in.txt', Buffer.from('one\ntwo\n'))
  const client = await createClient({ path: input, serverAddrs: sink.addr, framing: 'line' })
  t.teardown(() => client.close())
  const clientTap = client.messages()
  // The tap may have missed what was sent before it was attached; the rest are in order.
  await client.finished
  await client.send('three\n')
  const fromClient = []
  for await (const m of clientTap) {
    fromClient.push([m.data.toString(), m.from])
    if (m.from === 'js') break
  }
  t.deepEqual(fromClient.at(-1), ['three\n', 'js'])
  for (const [data, from] of fromClient.slice(0, -1)) {
    t.true(['one\n', 'two\n'].includes(data))
    t.is(from, input)
  }
  await waitFor(() => sink.got.length === 3, 10_000, 'three datagrams at the server')
  t.deepEqual(sink.got.map(String), ['one\n', 'two\n', 'three\n'])
  await client.close()

  // Proxy: what goes downstream, from the TCP peer it keeps a connection to.
  const tcp = net.createServer((socket) => socket.end('a\nb\n'))
  await new Promise((r) => tcp.listen(0, '127.0.0.1', r))
  t.teardown(() => tcp.close())
  const upstream = `127.0.0.1:${tcp.address().port}`
  const proxy = await createProxy({ tcpConnectAddrs: upstream, udpDownstreamAddrs: sink.addr, framing: 'line' })
  t.teardown(() => proxy.close())
  const proxyTap = proxy.messages()
  const fromProxy = []
  for await (const m of proxyTap) {
    fromProxy.push([m.data.toString(), m.from])
    if (fromProxy.length === 2) break
  }
  t.deepEqual(fromProxy, [
    ['a\n', upstream],
    ['b\n', upstream],
  ])
  await proxy.close()
})

test('what cannot take send() or messages() says why', async (t) => {
  requireIsolation()
  const group = { multicastAddr: '239.77.9.3:29703', multicastInterface: 'lo' }
  const subscriber = await createReverseProxy({ subscribe: true, ...group })
  t.teardown(() => subscriber.close())
  const publisher = await createReverseProxy({ publish: true, ...group })
  t.teardown(() => publisher.close())
  const noPublish = await t.throwsAsync(subscriber.send('x'), { instanceOf: MproxyError })
  t.is(noPublish.message, 'send(): this reverse proxy does not publish to its group: give it inputs or publish: true')
  t.is(noPublish.code, 'EMPROXY_INVALID_ARGUMENT')
  t.throws(() => publisher.messages(), {
    instanceOf: MproxyError,
    message: 'messages(): this reverse proxy does not subscribe to its group: give it outputs or subscribe: true',
  })
  // The two halves in one process, linked only by the group.
  const tap = subscriber.messages()
  await publisher.send(['p1', 'p2'])
  t.deepEqual([(await tap.next()).value.data.toString(), (await tap.next()).value.data.toString()], ['p1', 'p2'])
  await t.throwsAsync(publisher.send(42), { instanceOf: MproxyError, message: 'send(): data is not a Buffer or a string' })
  await t.throwsAsync(publisher.send(['ok', null]), { instanceOf: MproxyError, message: 'send(): data[1] is not a Buffer or a string' })
  t.throws(() => subscriber.messages({ highWaterMark: 0 }), {
    instanceOf: MproxyError,
    message: 'messages(): highWaterMark: 0 is not a whole number of datagrams from 1 to 16777216',
  })
  t.throws(() => subscriber.messages({ highWatermark: 5 }), {
    instanceOf: MproxyError,
    message: 'messages(): highWatermark is not an option (highWaterMark, signal)',
  })
  await t.throwsAsync(createReverseProxy({ ...group }), {
    instanceOf: MproxyError,
    message: 'nothing to do: give inputs (udpListenAddrs, tcpListenAddrs, publish) and/or outputs (tcpOutputAddrs, udpOutputAddrs, subscribe)',
  })
  await publisher.close()
  await t.throwsAsync(publisher.send('late'), { instanceOf: MproxyError, message: 'send(): the handle is closed' })
  const ended = await publisher.messages().next()
  t.true(ended.done)
  await subscriber.close()
  t.true((await tap.next()).done)
})
