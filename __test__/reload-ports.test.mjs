// A reload applies any valid config: two routes that swap their listen ports, a port handed
// from a removed route to a new one, and a reload with a route that cannot start, which puts
// the old routes back (and they work). An unchanged route beside them loses nothing.
import test from 'ava'
import dgram from 'node:dgram'
import { freeUdpPort, mproxy, waitFor } from './helpers.mjs'

const { start } = mproxy

async function sink(t) {
  const socket = dgram.createSocket('udp4')
  const s = { got: [], addr: '' }
  socket.on('message', (m) => s.got.push(m.toString()))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  t.teardown(() => socket.close())
  s.addr = `127.0.0.1:${socket.address().port}`
  return s
}

const tx = dgram.createSocket('udp4')
test.after.always(() => tx.close())
const send = (port, text) => new Promise((r, j) => tx.send(text, port, '127.0.0.1', (e) => (e ? j(e) : r())))

/** Sends `text` to `port` until `s` has it (a datagram to a port no route holds yet is lost). */
async function reaches(port, s, text) {
  await waitFor(
    async () => {
      if (s.got.includes(text)) return true
      await send(port, text)
      return s.got.includes(text)
    },
    10_000,
    `${text} to arrive`,
  )
}

const proxy = (name, port, to) => ({ name, kind: 'proxy', udpListenAddrs: `127.0.0.1:${port}`, udpDownstreamAddrs: to })

test('two routes swap their listen ports: applied, and each port reaches the other route', async (t) => {
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()]
  const [a, b] = [await sink(t), await sink(t)]
  const service = await start({ routes: [proxy('a', p1, a.addr), proxy('b', p2, b.addr)] })
  t.teardown(() => service.close())
  await reaches(p1, a, 'before 1')
  await reaches(p2, b, 'before 2')
  const r = await service.reload({ routes: [proxy('a', p2, a.addr), proxy('b', p1, b.addr)] })
  t.deepEqual(r, { kept: [], restarted: ['a', 'b'], started: [], stopped: [], failed: [] })
  t.deepEqual([...service.routes.keys()], ['a', 'b'])
  t.deepEqual(service.routes.get('a').addresses.listen, [`127.0.0.1:${p2}`])
  await reaches(p2, a, 'after 2')
  await reaches(p1, b, 'after 1')
})

test('a port moves from a removed route to a new one; the unchanged route loses nothing', async (t) => {
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()]
  const [old, neu, steady] = [await sink(t), await sink(t), await sink(t)]
  const service = await start({ routes: [proxy('steady', p2, steady.addr), proxy('old', p1, old.addr)] })
  t.teardown(() => service.close())
  await reaches(p1, old, 'to old')
  await reaches(p2, steady, 'first')
  const sent = []
  let n = 0
  // The steady route gets a datagram every few ms all through the reload.
  const feeding = setInterval(() => {
    const text = `steady ${n++}`
    sent.push(text)
    void send(p2, text)
  }, 5)
  const r = await service.reload({ routes: [proxy('steady', p2, steady.addr), proxy('new', p1, neu.addr)] })
  await reaches(p1, neu, 'to new')
  clearInterval(feeding)
  t.deepEqual(r, { kept: ['steady'], restarted: [], started: ['new'], stopped: ['old'], failed: [] })
  await waitFor(() => sent.every((x) => steady.got.includes(x)), 10_000, 'every datagram to the steady route')
  t.is(steady.got.filter((x) => x.startsWith('steady ')).length, sent.length)
})

test('a route that cannot start: nothing of the reload stays, the old routes work again', async (t) => {
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()]
  const [a, b] = [await sink(t), await sink(t)]
  // A port held by someone else: the new route "c" cannot bind it.
  const holder = dgram.createSocket('udp4')
  await new Promise((r) => holder.bind(0, '127.0.0.1', r))
  t.teardown(() => holder.close())
  const taken = holder.address().port
  const logs = []
  const service = await start({ routes: [proxy('a', p1, a.addr), proxy('b', p2, b.addr)] }, { onLog: (e) => logs.push(`${e.route}: ${e.level}: ${e.message}`) })
  t.teardown(() => service.close())
  const r = await service.reload({ routes: [proxy('a', p2, a.addr), proxy('b', p1, b.addr), proxy('c', taken, a.addr)] })
  t.deepEqual(r, { kept: [], restarted: [], started: [], stopped: [], failed: ['c'] })
  t.is(logs.filter((l) => l.includes('error')).length, 1, logs.join('\n'))
  t.regex(
    logs.find((l) => l.includes('error')),
    new RegExp(`^c: error: cannot start with the new options: .*127\\.0\\.0\\.1:${taken}.*; not reloaded, the old routes run again$`),
  )
  t.deepEqual([...service.routes.keys()], ['a', 'b'])
  t.deepEqual(service.routes.get('a').addresses.listen, [`127.0.0.1:${p1}`])
  t.deepEqual(service.routes.get('b').addresses.listen, [`127.0.0.1:${p2}`])
  await reaches(p1, a, 'a again')
  await reaches(p2, b, 'b again')
  // The old config is what runs: the same reload without "c" now applies.
  const again = await service.reload({ routes: [proxy('a', p2, a.addr), proxy('b', p1, b.addr)] })
  t.deepEqual(again.restarted, ['a', 'b'])
})
