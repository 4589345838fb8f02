// Losses at a destination that refuses datagrams (ICMP port unreachable) are charged to that
// destination, whether it has a socket of its own (connected) or shares one with others:
// `icmpErrors` counts them, `unreachable` says so, one warning is logged, and "works again"
// only after a quiet second. The healthy destination beside it loses nothing.
//
// Linux rate-limits ICMP errors (1000/s, bursts of 50) even on loopback; the test namespace
// lifts that (net.ipv4.icmp_ratemask=0) so every lost datagram has its ICMP error and the
// counts can be exact. Every datagram is one byte longer than the one before, which keeps UDP
// GSO from merging them (a run is datagrams of one size, the last maybe shorter): on loopback
// a merged run would reach the closed port as one packet and earn one ICMP error.
import ava from 'ava'
import dgram from 'node:dgram'
import { readFileSync, writeFileSync } from 'node:fs'
import { freeUdpPort, mproxy, requireIsolation, sleep, waitFor } from './helpers.mjs'
import { onWindows, unixOnly } from './platform.mjs'

const test = unixOnly('/proc/sys/net/ipv4/icmp_ratemask (Linux)')

const { createProxy } = mproxy
const RATEMASK = '/proc/sys/net/ipv4/icmp_ratemask'
const N = 2000

let savedMask
ava.before(() => {
  if (onWindows) return
  requireIsolation()
  savedMask = readFileSync(RATEMASK, 'utf8')
  writeFileSync(RATEMASK, '0')
})
ava.after.always(() => {
  if (savedMask !== undefined) writeFileSync(RATEMASK, savedMask)
})

async function udpSink() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  const sink = { socket, count: 0, addr: '' }
  socket.on('message', () => sink.count++)
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
  sink.addr = `127.0.0.1:${socket.address().port}`
  return sink
}

/** Each datagram sent is one byte longer than the last (from 100 bytes on). */
let nextSize = 100

/** Sends `count` datagrams of growing size to `port`, in paced bursts. */
async function sendTo(port, count) {
  const tx = dgram.createSocket('udp4')
  for (let i = 0; i < count; i++) {
    tx.send(Buffer.alloc(nextSize++, 65 + (i % 26)), port, '127.0.0.1')
    if (i % 100 === 99) await sleep(5)
  }
  await sleep(50)
  await new Promise((resolve) => tx.close(resolve))
}

const destination = (stats, addr) => stats.endpoints.find((e) => e.kind === 'udp-destination' && e.name === addr)

for (const shared of [true, false]) {
  test.serial(
    `${shared ? 'a destination sharing a socket with a healthy one' : 'a lone (connected) destination'}: every ICMP error is charged to it, one warning`,
    async (t) => {
      const live = shared ? await udpSink() : undefined
      const deadPort = await freeUdpPort()
      const dead = `127.0.0.1:${deadPort}`
      const logs = []
      const proxy = await createProxy({
        udpListenAddrs: '127.0.0.1:0',
        udpDownstreamAddrs: live ? [live.addr, dead] : [dead],
        onLog: (e) => logs.push(`${e.level}: ${e.message}`),
      })
      t.teardown(() => proxy.close())
      const port = Number(proxy.addresses.listen[0].split(':')[1])
      await sendTo(port, N)
      await waitFor(() => destination(proxy.stats(), dead).icmpErrors === N, 10_000, `${N} ICMP errors (have ${destination(proxy.stats(), dead).icmpErrors})`)
      const running = destination(proxy.stats(), dead)
      t.true(running.unreachable)
      const stats = await proxy.close()
      const d = destination(stats, dead)
      t.is(d.datagramsOut, N)
      t.is(d.icmpErrors, N)
      t.is(d.sendErrors, 0)
      t.is(stats.totals.icmpErrors, N)
      const warnings = logs.filter((l) => l.startsWith('warn:'))
      t.deepEqual(warnings, [`warn: sending to ${dead} failed: port unreachable (ICMP from the destination) (counting lost datagrams, will keep trying)`])
      if (live) {
        await waitFor(() => live.count === N, 5_000, `the healthy destination to get ${N} (has ${live.count})`)
        const l = destination(stats, live.addr)
        t.is(l.datagramsOut, N)
        t.is(l.icmpErrors, 0)
        t.false(l.unreachable)
        live.socket.close()
      }
    },
  )
}

test.serial('a destination that comes back is reported as working again once, after a quiet second', async (t) => {
  const deadPort = await freeUdpPort()
  const dead = `127.0.0.1:${deadPort}`
  const logs = []
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: dead, onLog: (e) => logs.push(`${e.level}: ${e.message}`) })
  t.teardown(() => proxy.close())
  const events = []
  proxy.on('unreachable', (e) => events.push(['unreachable', e]))
  proxy.on('reachable', (e) => events.push(['reachable', e]))
  const port = Number(proxy.addresses.listen[0].split(':')[1])
  await sendTo(port, 100)
  await waitFor(() => destination(proxy.stats(), dead).icmpErrors === 100, 10_000, '100 ICMP errors')
  // The destination starts listening; traffic goes on for two seconds.
  const back = dgram.createSocket('udp4')
  let received = 0
  back.on('message', () => received++)
  await new Promise((resolve) => back.bind(deadPort, '127.0.0.1', resolve))
  for (let i = 0; i < 20; i++) {
    await sendTo(port, 10)
    await sleep(100)
  }
  await waitFor(() => received === 200, 5_000, `200 datagrams at the revived destination (has ${received})`)
  const stats = await proxy.close()
  back.close()
  const d = destination(stats, dead)
  t.false(d.unreachable)
  t.is(d.icmpErrors, 100)
  t.deepEqual(logs, [
    `warn: sending to ${dead} failed: port unreachable (ICMP from the destination) (counting lost datagrams, will keep trying)`,
    `info: sending to ${dead} works again (no errors for 1 s)`,
  ])
  t.deepEqual(events, [
    ['unreachable', { address: dead, reason: 'port unreachable (ICMP from the destination)' }],
    ['reachable', { address: dead }],
  ])
})
