// A whole config in one process through start(config): every kind of route, reload without
// loss for the routes that did not change, and a reload that does not validate changes nothing.
import test from 'ava'
import dgram from 'node:dgram'
import path from 'node:path'
import { rmSync } from 'node:fs'
import { fileSize, makeText, mproxy, readFile, requireIsolation, sleep, tempDir, waitFor, writeTemp } from './helpers.mjs'

const { start, MproxyError } = mproxy

async function udpSink() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
  const got = []
  socket.on('message', (m) => got.push(m.toString()))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return { socket, got, addr: `127.0.0.1:${socket.address().port}` }
}

test('every kind of route runs from one config', async (t) => {
  requireIsolation() // the reverse proxy joins a multicast group
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const data = makeText(200_000, 5)
  const sink = await udpSink()
  const out = path.join(dir, 'server.txt')
  const service = await start({
    routes: [
      { name: 'store', kind: 'server', path: out, listenAddrs: '127.0.0.1:0' },
      { name: 'relay', kind: 'proxy', udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr },
      { name: 'bus', kind: 'reverseproxy', tcpListenAddrs: '127.0.0.1:0', multicastAddr: '239.66.1.1:29601', multicastInterface: 'lo' },
    ],
  })
  t.teardown(() => service.close())
  const store = service.routes.get('store').addresses.listen[0]
  const client = await start({ routes: [{ name: 'feed', kind: 'client', path: writeTemp(dir, 'in.txt', data), serverAddrs: store }] })
  await client.routes.get('feed').finished
  await waitFor(() => fileSize(out) === data.length, 10_000, 'the whole file at the server')
  t.true(readFile(out).equals(data))
  t.deepEqual([...service.routes.keys()], ['store', 'relay', 'bus'])
  t.is(service.routes.get('bus').addresses.group, '239.66.1.1:29601')
  const finals = await service.close()
  t.is(finals.store.totals.bytesIn, data.length)
  await client.close()
  sink.socket.close()
})

test('five reloads: the unchanged route loses nothing, the changed one restarts', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sink = await udpSink()
  const config = (n) => ({
    routes: [
      { name: 'steady', kind: 'proxy', udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr },
      { name: 'churn', kind: 'server', path: path.join(dir, `churn-${n}.txt`), listenAddrs: '127.0.0.1:0' },
    ],
  })
  const service = await start(config(0))
  t.teardown(() => service.close())
  const steady = service.routes.get('steady')
  const port = Number(steady.addresses.listen[0].split(':')[1])
  const tx = dgram.createSocket('udp4')
  const N = 10_000
  let sent = 0
  const sending = (async () => {
    while (sent < N) {
      for (let i = 0; i < 50 && sent < N; i++, sent++) tx.send(`datagram ${sent}\n`, port, '127.0.0.1')
      await sleep(2)
    }
  })()
  const results = []
  for (let n = 1; n <= 5; n++) {
    await sleep(30)
    results.push(await service.reload(config(n)))
  }
  await sending
  await waitFor(() => sink.got.length === N, 10_000, `all ${N} datagrams (have ${sink.got.length})`)
  t.deepEqual(
    sink.got,
    Array.from({ length: N }, (_, i) => `datagram ${i}\n`),
  )
  for (const r of results) t.deepEqual(r, { kept: ['steady'], restarted: ['churn'], started: [], stopped: [], failed: [] })
  t.is(service.routes.get('steady'), steady, 'the unchanged route is the same handle')
  await service.close()
  tx.close()
  sink.socket.close()
})

test('a reload that does not validate changes nothing and says why in one line', async (t) => {
  const sink = await udpSink()
  const good = { routes: [{ name: 'a', kind: 'proxy', udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: sink.addr }] }
  const service = await start(good)
  t.teardown(() => service.close())
  const before = service.routes.get('a')
  const err = await t.throwsAsync(service.reload({ routes: [{ name: 'a', kind: 'proxy', udpListenAddrs: '127.0.0.1:0', udpDownstremAddrs: sink.addr }] }), {
    instanceOf: MproxyError,
  })
  t.is(err.message, 'routes[0].udpDownstremAddrs: unknown option; did you mean udpDownstreamAddrs?')
  t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  t.is(service.routes.get('a'), before)
  const tx = dgram.createSocket('udp4')
  tx.send('still here\n', Number(before.addresses.listen[0].split(':')[1]), '127.0.0.1')
  await waitFor(() => sink.got.length === 1, 5_000, 'a datagram through the old route')
  await service.close()
  tx.close()
  sink.socket.close()
})
