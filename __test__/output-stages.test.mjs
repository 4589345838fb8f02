// Per-output stages: a Signal K-style consumer (one line per datagram, no TAG blocks) beside
// an output that gets the feed unchanged, and a rate cap that queues a flood, then drops and
// counts exactly. Loopback only; nothing waits on the clock (conditions only).
import test from 'ava'
import dgram from 'node:dgram'
import { mproxy, runProgram, runToEnd, stop, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { stoppedCleanly } from './platform.mjs'

const { createClient, createProxy } = mproxy

async function receiver() {
  const socket = dgram.createSocket('udp4')
  const got = []
  socket.on('message', (m) => got.push(m.toString()))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return { socket, got, addr: `127.0.0.1:${socket.address().port}` }
}

const stage = (stats, name) => stats.endpoints.find((e) => e.kind === 'stage' && e.name === name)
const destination = (stats, addr) => stats.endpoints.find((e) => e.kind === 'udp-destination' && e.name === addr)

/** An AIS line as a station tags it (NMEA 4.10), and the sentence alone. */
const clean = (i) => `!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb0${String(i).padStart(2, '0')},0*23\r\n`
const tagged = (i) => `\\s:rcv${i % 3},c:17000000${String(i).padStart(2, '0')}*5A\\${clean(i)}`
const gga = (i) => `$GPGGA,1235${String(i).padStart(2, '0')},4807.038,N,01131.000,E*47\r\n`

test('a Signal K-style output gets one clean line per datagram from packed, tagged input; another output of the route gets it unchanged', async (t) => {
  const [raw, signalk] = await Promise.all([receiver(), receiver()])
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: [raw.addr, { addr: signalk.addr, stripTagBlocks: true, oneLinePerDatagram: true }],
  })
  const sender = dgram.createSocket('udp4')
  t.teardown(async () => {
    await proxy.close()
    for (const s of [raw.socket, signalk.socket, sender]) s.close()
  })
  // Four datagrams, each packed with three lines: a tagged AIS line, a GGA, another tagged line.
  const datagrams = Array.from({ length: 4 }, (_, d) => `${tagged(3 * d)}${gga(3 * d + 1)}${tagged(3 * d + 2)}`)
  const expected = Array.from({ length: 4 }, (_, d) => [clean(3 * d), gga(3 * d + 1), clean(3 * d + 2)]).flat()
  const [host, port] = proxy.addresses.listen[0].split(':')
  for (const d of datagrams) await new Promise((r, j) => sender.send(d, Number(port), host, (e) => (e ? j(e) : r())))

  await waitFor(() => raw.got.length === 4 && signalk.got.length === 12, 20_000, 'both outputs served')
  await waitFor(() => destination(proxy.stats(), signalk.addr).datagramsOut === 12, 20_000, 'the clean output counted')
  t.deepEqual(raw.got, datagrams)
  t.deepEqual(signalk.got, expected)

  const stats = proxy.stats()
  const bytesIn = datagrams.reduce((n, d) => n + Buffer.byteLength(d), 0)
  const bytesClean = expected.reduce((n, l) => n + Buffer.byteLength(l), 0)
  const strip = stage(stats, `${signalk.addr} strip-tag-blocks`)
  t.deepEqual([strip.datagramsIn, strip.bytesIn, strip.datagramsOut, strip.bytesOut, strip.tagBlocksStripped], [4, bytesIn, 4, bytesClean, 8])
  const split = stage(stats, `${signalk.addr} one-line-per-datagram`)
  t.deepEqual([split.datagramsIn, split.bytesIn, split.datagramsOut, split.bytesOut], [4, bytesClean, 12, bytesClean])
  t.deepEqual([destination(stats, raw.addr).datagramsOut, destination(stats, signalk.addr).datagramsOut], [4, 12])
  // The plain output is listed first and shares the fast path; the stages follow their output.
  t.deepEqual(
    stats.endpoints.map((e) => `${e.kind} ${e.name}`),
    [
      `udp-destination ${raw.addr}`,
      `udp-destination ${signalk.addr}`,
      `stage ${signalk.addr} strip-tag-blocks`,
      `stage ${signalk.addr} one-line-per-datagram`,
      `udp-listener ${proxy.addresses.listen[0]}`,
    ],
  )
  // Stages are not losses: nothing of it is dropped in the totals.
  t.is(stats.totals.capped, 0)
})

test("an output's own dedup: it gets each message once (channel A and B alike), the other output every copy", async (t) => {
  const [all, once] = await Promise.all([receiver(), receiver()])
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: [all.addr, { addr: once.addr, dedup: { window: 3600 } }],
  })
  const sender = dgram.createSocket('udp4')
  t.teardown(async () => {
    await proxy.close()
    for (const s of [all.socket, once.socket, sender]) s.close()
  })
  // Three messages, each heard twice (the second time on channel B), one datagram each.
  const heard = [0, 1, 2].flatMap((i) => [clean(i), clean(i).replace(',A,', ',B,')])
  const [host, port] = proxy.addresses.listen[0].split(':')
  for (const d of heard) await new Promise((r, j) => sender.send(d, Number(port), host, (e) => (e ? j(e) : r())))

  await waitFor(() => all.got.length === 6, 20_000, 'every copy to the plain output')
  await waitFor(() => stage(proxy.stats(), `${once.addr} dedup`)?.datagramsIn === 6, 20_000, 'every copy judged')
  await waitFor(() => once.got.length === 3, 20_000, 'each message once')
  t.deepEqual(all.got, heard)
  t.deepEqual(once.got, [clean(0), clean(1), clean(2)])
  const dedup = stage(proxy.stats(), `${once.addr} dedup`)
  t.deepEqual([dedup.datagramsIn, dedup.datagramsOut, dedup.duplicates], [6, 3, 3])
  // The route's own input stage is not there: only this output deduplicates.
  t.is(stage(proxy.stats(), 'dedup'), undefined)
})

test('a rate cap queues a flood to its bound, then drops and counts exactly, and says so once; the other output gets everything', async (t) => {
  const dir = tempDir(t)
  const [plain, capped] = await Promise.all([receiver(), receiver()])
  t.teardown(() => {
    for (const s of [plain.socket, capped.socket]) s.close()
  })
  // 100 lines of 8 bytes; the client frames them one per datagram and hands them on in one
  // batch (one read of the file), so the cap's queue of 80 bytes takes exactly 10.
  const lines = Array.from({ length: 100 }, (_, i) => `msg ${String(i).padStart(3, '0')}\n`)
  const file = writeTemp(dir, 'flood.txt', lines.join(''))
  const logs = []
  const client = await createClient({
    path: file,
    framing: 'line',
    onLog: (e) => logs.push(`${e.level} ${e.message}`),
    serverAddrs: [plain.addr, { addr: capped.addr, maxDatagramRate: 1000, rateQueue: 80 }],
  })
  t.teardown(() => client.close())
  t.is(await client.finished, 'complete')
  await waitFor(() => plain.got.length === 100 && capped.got.length === 10, 20_000, 'both outputs served')
  const capName = `${capped.addr} max-datagram-rate 1000/s`
  await waitFor(() => stage(client.stats(), capName)?.datagramsOut === 10, 20_000, 'the cap counted what it sent')
  await client.close()
  t.deepEqual(plain.got, lines)
  t.deepEqual(capped.got, lines.slice(0, 10))

  const stats = client.stats()
  const cap = stage(stats, capName)
  t.deepEqual([cap.datagramsIn, cap.datagramsOut, cap.capped, cap.bytesIn, cap.bytesOut, cap.bytesDropped], [100, 10, 90, 800, 80, 720])
  t.is(cap.datagramsOut + cap.capped, cap.datagramsIn)
  t.is(destination(stats, capped.addr).datagramsOut, 10)
  t.is(destination(stats, plain.addr).datagramsOut, 100)
  t.is(stats.totals.capped, 90)
  t.deepEqual(
    logs.filter((l) => l.includes('cap')),
    [`warn ${capName}: more arrives than the cap lets through and its queue of 80 bytes is full; dropping (counted as capped in the stats)`],
  )
})

test('stages that cannot apply, or shape nothing, are refused with the option path', async (t) => {
  const refused = async (options, message) => {
    const error = await t.throwsAsync(() => createProxy({ udpListenAddrs: '127.0.0.1:0', ...options }))
    t.is(error.message, message)
  }
  await refused(
    { udpDownstreamAddrs: [{ addr: '127.0.0.1:9', rateQueue: 100 }] },
    'udpDownstreamAddrs[0].rateQueue needs udpDownstreamAddrs[0].maxRate or udpDownstreamAddrs[0].maxDatagramRate: it shapes a rate cap',
  )
  await refused(
    { udpDownstreamAddrs: [{ addr: '127.0.0.1:9', maxDatagramRate: 0 }] },
    'udpDownstreamAddrs[0].maxDatagramRate: 0 is not a whole number from 1 to 100000000',
  )
  const tcp = await t.throwsAsync(() =>
    mproxy.createReverseProxy({ multicastAddr: '239.255.0.9:9999', tcpOutputAddrs: [{ addr: '127.0.0.1:0', oneLinePerDatagram: true }] }),
  )
  // A TCP stream is the same bytes either way: the TCP form has no such option.
  t.is(tcp.message, 'tcpOutputAddrs[0].oneLinePerDatagram: unknown option')
})

test('the command line: stage flags are checked by name, and --one-line-per-datagram needs a UDP output', async (t) => {
  const proxy = async (...flags) => runToEnd('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9', ...flags])
  const zero = await proxy('--max-datagram-rate', '0')
  t.is(zero.code, 2)
  t.is(zero.stderr, 'mproxy-proxy: --max-datagram-rate: "0" is not a whole number from 1 to 100000000\n')
  const rate = await proxy('--max-rate', 'fast')
  t.is(rate.code, 2)
  t.regex(rate.stderr, /^mproxy-proxy: --max-rate: "fast" is not a rate in bytes per second/)
  const tcpOnly = await runToEnd('reverseproxy', ['--multicast-addr', '239.255.0.9:9999', '--tcp-output-addr', '127.0.0.1:0', '--one-line-per-datagram'])
  t.is(tcpOnly.code, 2)
  t.regex(tcpOnly.stderr, /^mproxy-reverseproxy: --one-line-per-datagram applies to UDP outputs \(--udp-output-addr\), and none is given/)
})

test('the command line: --strip-tag-blocks and --one-line-per-datagram apply to every output', async (t) => {
  const [a, b] = await Promise.all([receiver(), receiver()])
  const sender = dgram.createSocket('udp4')
  t.teardown(() => {
    for (const s of [a.socket, b.socket, sender]) s.close()
  })
  const proxy = runProgram(
    'proxy',
    ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', a.addr, '--udp-downstream-addr', b.addr, '--strip-tag-blocks', '--one-line-per-datagram'],
    {
      listeners: 1,
    },
  )
  const [listen] = await proxy.listening
  const [host, port] = listen.split(':')
  await new Promise((r, j) => sender.send(`${tagged(1)}${gga(2)}`, Number(port), host, (e) => (e ? j(e) : r())))
  await waitFor(() => a.got.length === 2 && b.got.length === 2, 20_000, 'both outputs served')
  stoppedCleanly(t, await stop(proxy))
  t.deepEqual(a.got, [clean(1), gga(2)])
  t.deepEqual(b.got, [clean(1), gga(2)])
})
