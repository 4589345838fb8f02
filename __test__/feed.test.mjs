// Input stages for NMEA/AIS feeds (checksum, tag add, dedup, throttle) over a feed built like
// a real one: several receivers hearing the same ships (channel A and B), multipart messages
// split across datagrams, bad checksums, tag blocks from one source, many MMSIs. Real
// sockets; exact lines in order and exact counts per stage endpoint. The reverse proxy's test
// joins a multicast group on lo: it runs in a network namespace (`npm test` makes one).
import test from 'ava'
import dgram from 'node:dgram'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import net from 'node:net'
import { mproxy, requireIsolation, runProgram, runToEnd, stop, tempDir, waitFor } from './helpers.mjs'
import { stoppedCleanly, unixOnly, WHY } from './platform.mjs'

const { createProxy } = mproxy

// --- NMEA and AIS, written the way receivers write them ---------------------------------

const xor = (text) => [...Buffer.from(text)].reduce((a, b) => a ^ b, 0)
const hex = (n) => n.toString(16).toUpperCase().padStart(2, '0')
/** `!BODY*hh` (or `$BODY*hh`) with its right checksum. */
const sentence = (body, start = '!') => `${start}${body}*${hex(xor(body))}`
/** A TAG block with its right checksum. */
const tag = (fields) => `\\${fields}*${hex(xor(fields))}\\`
const bits = (value, width) => value.toString(2).padStart(width, '0')
/** 6-bit ASCII armouring (ITU-R M.1371 / IEC 61162-1). */
function armour(bitText) {
  let out = ''
  for (let i = 0; i < bitText.length; i += 6) {
    const v = Number.parseInt(bitText.slice(i, i + 6).padEnd(6, '0'), 2)
    out += String.fromCharCode(v < 40 ? v + 48 : v + 56)
  }
  return out
}
/** A class A position report (type 1) of `mmsi`; `variant` changes the rest of it (another position). */
const positionPayload = (mmsi, variant) => armour(bits(1, 6) + bits(0, 2) + bits(mmsi, 30) + bits(variant, 20) + '0'.repeat(110))
const position = (mmsi, variant, channel) => sentence(`AIVDM,1,1,,${channel},${positionPayload(mmsi, variant)},0`)
// gpsd's type 5 example (static and voyage data, MMSI 351759000), in two fragments.
const STATIC_1 = '55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8'
const STATIC_2 = '88888888880'
const fragment = (n, seq, channel, payload, fill) => sentence(`AIVDM,2,${n},${seq},${channel},${payload},${fill}`)
const gga = (time) => sentence(`GPGGA,${time},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`, '$')

const SHIPS = Array.from({ length: 20 }, (_, i) => 211_000_000 + i * 1111)

// --- sockets ------------------------------------------------------------------------------

async function receiver() {
  const socket = dgram.createSocket('udp4')
  const got = []
  socket.on('message', (m) => got.push(m.toString()))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return { socket, got, addr: `127.0.0.1:${socket.address().port}` }
}

async function sender() {
  const socket = dgram.createSocket('udp4')
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  return socket
}

let sent = 0
/** One datagram, awaited (so datagrams from several senders arrive in the order sent). */
async function send(socket, text, to) {
  const port = Number(to.slice(to.lastIndexOf(':') + 1))
  await new Promise((r, j) => socket.send(text, port, '127.0.0.1', (e) => (e ? j(e) : r())))
  // A pause now and then, so no receive buffer overflows on a loaded machine.
  if (++sent % 50 === 0) await new Promise((r) => setTimeout(r, 5))
}

const stages = (stats) =>
  stats.endpoints
    .filter((e) => e.kind === 'stage')
    .map((e) => [e.name, e.datagramsIn, e.datagramsOut, e.badChecksum, e.duplicates, e.multipartIncomplete, e.throttled, e.evicted])

function closeAll(t, ...sockets) {
  t.teardown(() => {
    for (const s of sockets) s.close()
  })
}

test('a proxy with every input stage: three receivers into one clean feed, exact lines and counts', async (t) => {
  const out = await receiver()
  const [r1, r2, r3] = await Promise.all([sender(), sender(), sender()])
  closeAll(t, out.socket, r1, r2, r3)
  const logs = []
  const proxy = await createProxy({
    onLog: (e) => logs.push(`${e.level} ${e.message}`),
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: out.addr,
    checksum: 'drop',
    tagBlock: { station: 'hub' },
    dedup: { window: 60 },
    throttle: { key: 'mmsi', interval: 3600 },
  })
  t.teardown(() => proxy.close())
  const to = proxy.addresses.listen[0]
  const hub = tag('s:hub')
  const expected = []
  // Receiver 1 packs five ships a datagram (\r\n); receiver 2 hears the same on channel B,
  // one line a datagram (\n): every copy of receiver 2 is a duplicate.
  for (let b = 0; b < 4; b++) {
    const ships = SHIPS.slice(b * 5, b * 5 + 5)
    await send(r1, ships.map((m) => `${position(m, 0, 'A')}\r\n`).join(''), to)
    expected.push(ships.map((m) => `${hub}${position(m, 0, 'A')}\r\n`).join(''))
    for (const m of ships) await send(r2, `${position(m, 0, 'B')}\n`, to)
  }
  // A multipart message split across two datagrams: sent whole when its last fragment comes.
  await send(r1, `${fragment(1, 1, 'A', STATIC_1, 0)}\r\n`, to)
  await send(r1, `${fragment(2, 1, 'A', STATIC_2, 2)}\r\n`, to)
  expected.push(`${hub}${fragment(1, 1, 'A', STATIC_1, 0)}\r\n${hub}${fragment(2, 1, 'A', STATIC_2, 2)}\r\n`)
  // Receiver 2's copy (its own sequential id, channel B) in one datagram: a duplicate, whole;
  // then a second fragment whose first never came: incomplete.
  await send(r2, `${fragment(1, 7, 'B', STATIC_1, 0)}\r\n${fragment(2, 7, 'B', STATIC_2, 2)}\r\n`, to)
  await send(r2, `${fragment(2, 9, 'B', STATIC_2, 2)}\n`, to)
  // Receiver 3 tags its lines itself (kept as they are); one TAG block and one sentence
  // have a wrong checksum, one line is not NMEA at all.
  const own = `${tag('s:rcvC,c:1700000000')}${gga('123519')}`
  await send(r3, `${own}\r\n\\s:rcvC*00\\${gga('123520')}\r\n$GPRMC,123519,A*00\r\nhello\r\n`, to)
  expected.push(`${own}\r\n`)
  // New positions of ten ships within the interval: throttled, so these datagrams go empty.
  for (let b = 0; b < 2; b++)
    await send(
      r1,
      SHIPS.slice(b * 5, b * 5 + 5)
        .map((m) => `${position(m, 1, 'A')}\r\n`)
        .join(''),
      to,
    )
  const later = `${tag('s:rcvC,c:1700000001')}${gga('123520')}`
  await send(r3, `${later}\n`, to)
  expected.push(`${later}\n`)

  await waitFor(() => proxy.stats().endpoints.find((e) => e.kind === 'stage' && e.name === 'checksum').datagramsIn === 60, 20_000, 'every line judged')
  await waitFor(() => out.got.length === expected.length, 20_000, 'the clean feed delivered')
  t.deepEqual(out.got, expected)
  const stats = proxy.stats()
  t.deepEqual(stages(stats), [
    ['checksum', 60, 57, 3, 0, 0, 0, 0],
    ['tag', 57, 57, 0, 0, 0, 0, 0],
    ['dedup', 57, 34, 0, 22, 1, 0, 0],
    ['throttle', 34, 24, 0, 0, 0, 10, 0],
  ])
  const listener = stats.endpoints.find((e) => e.kind === 'udp-listener')
  const destination = stats.endpoints.find((e) => e.kind === 'udp-destination')
  t.is(listener.datagramsIn, 4 + 20 + 2 + 2 + 1 + 2 + 1)
  t.is(destination.datagramsOut, expected.length)
  t.is(destination.bytesOut, Buffer.byteLength(expected.join('')))
  // Chosen, not lost: in the totals, and no loss.
  t.deepEqual([stats.totals.badChecksum, stats.totals.duplicates, stats.totals.throttled, stats.totals.multipartIncomplete], [3, 22, 10, 1])
  t.is(stats.totals.queueDrops + stats.totals.sendErrors, 0)
  t.deepEqual(logs.filter((l) => l.includes('stage')).sort(), [
    'info checksum stage: lines with a wrong or missing NMEA checksum are dropped (counted as badChecksum in the stats)',
    'info dedup stage: messages seen within the window are dropped (counted as duplicates), and so are incomplete AIS multipart messages (multipartIncomplete)',
    'info throttle stage: lines past one per key per interval are dropped (counted as throttled)',
  ])
})

test('throttle latest: the newest line per ship at the end of each interval, in the order they came', async (t) => {
  const out = await receiver()
  const r1 = await sender()
  closeAll(t, out.socket, r1)
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: out.addr,
    throttle: { key: 'mmsi', interval: 0.3, keep: 'latest' },
  })
  t.teardown(() => proxy.close())
  const [a, b] = SHIPS
  // One datagram, so that no interval ends inside it; the GGA has no MMSI and passes at once.
  const lines = [position(a, 0, 'A'), position(b, 0, 'A'), position(a, 1, 'B'), gga('1'), position(a, 2, 'A')]
  await send(r1, lines.map((l) => `${l}\n`).join(''), proxy.addresses.listen[0])
  await waitFor(() => out.got.length === 3, 20_000, 'the held lines sent')
  t.deepEqual(out.got, [`${gga('1')}\n`, `${position(b, 0, 'A')}\n`, `${position(a, 2, 'A')}\n`])
  t.deepEqual(stages(proxy.stats()), [['throttle', 5, 3, 0, 0, 0, 2, 0]])
})

test("throttle others: 'drop' keeps only the position reports the key names", async (t) => {
  const out = await receiver()
  const r1 = await sender()
  closeAll(t, out.socket, r1)
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: out.addr,
    throttle: { key: 'mmsi', interval: 3600, others: 'drop' },
  })
  t.teardown(() => proxy.close())
  const [a, b] = SHIPS
  const lines = [position(a, 0, 'A'), gga('1'), fragment(1, 3, 'A', STATIC_1, 0), position(b, 0, 'B'), 'not a sentence', position(a, 1, 'A')]
  await send(r1, lines.map((l) => `${l}\n`).join(''), proxy.addresses.listen[0])
  await waitFor(() => stages(proxy.stats())[0]?.[1] === 6, 20_000, 'the lines judged')
  await waitFor(() => out.got.length === 1, 20_000, 'the datagram sent')
  t.deepEqual(out.got, [`${position(a, 0, 'A')}\n${position(b, 0, 'B')}\n`])
  // GGA, the fragment and the text dropped as others; a's second report within the interval.
  t.deepEqual(stages(proxy.stats()), [['throttle', 6, 2, 0, 0, 0, 4, 0]])
})

test('a flood of distinct keys stays within the tables, evictions counted', async (t) => {
  const out = await receiver()
  const r1 = await sender()
  closeAll(t, out.socket, r1)
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: out.addr,
    dedup: { window: 600 },
    throttle: { key: 'line', interval: 600 },
  })
  t.teardown(() => proxy.close())
  const N = 70_000
  const to = proxy.addresses.listen[0]
  for (let i = 0; i < N; i += 40) {
    const lines = []
    for (let j = i; j < Math.min(N, i + 40); j++) lines.push(`${sentence(`GPTXT,${j}`, '$')}\n`)
    await send(r1, lines.join(''), to)
  }
  const dedupIn = () => proxy.stats().endpoints.find((e) => e.name === 'throttle').datagramsIn
  await waitFor(() => dedupIn() === N, 60_000, 'every line through both stages')
  // Both tables hold at most 65,536 keys: the rest evicted (oldest first), nothing dropped.
  const evicted = N - 65_536
  t.deepEqual(stages(proxy.stats()), [
    ['dedup', N, N, 0, 0, 0, 0, evicted],
    ['throttle', N, N, 0, 0, 0, 0, evicted],
  ])
})

// --- the command line and config files -------------------------------------------------------

// The stages' counters are printed when the program stops on a signal, which Windows has not.
unixOnly(WHY.signals)('the CLI flags set the stages; a throttle key without an interval is refused as a usage error', async (t) => {
  const out = await receiver()
  const r1 = await sender()
  closeAll(t, out.socket, r1)
  const proxy = runProgram(
    'proxy',
    [
      '--verbose',
      '--udp-listen-addr',
      '127.0.0.1:0',
      '--udp-downstream-addr',
      out.addr,
      '--checksum',
      'drop',
      '--tag-station',
      'cli',
      '--dedup',
      '30',
      '--throttle-key',
      'sentence',
      '--throttle-interval',
      '3600',
    ],
    { listeners: 1 },
  )
  t.teardown(() => stop(proxy))
  const [to] = await proxy.listening
  const cli = tag('s:cli')
  await send(r1, `${gga('1')}\r\n${gga('1')}\r\n${gga('2')}\r\n${position(SHIPS[0], 0, 'A')}\r\n$GPGGA,x*00\r\n`, to)
  await waitFor(() => out.got.length === 1, 20_000, 'the datagram')
  t.deepEqual(out.got, [`${cli}${gga('1')}\r\n${cli}${position(SHIPS[0], 0, 'A')}\r\n`])
  const r = await stop(proxy)
  t.is(r.code, 0, r.stderr)
  // --verbose: each stage's counters on exit, in lines.
  for (const line of [
    'stage checksum: 5 lines in, 4 passed on, badChecksum 1',
    'stage tag: 4 lines in, 4 passed on',
    'stage dedup: 4 lines in, 3 passed on, duplicates 1',
    'stage throttle: 3 lines in, 2 passed on, throttled 1',
  ])
    t.true(r.stderr.includes(`  ${line}\n`), `${line} in ${r.stderr}`)

  const bad = await runToEnd('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9', '--throttle-key', 'mmsi'])
  t.is(bad.code, 2)
  t.is(bad.stderr, 'mproxy-proxy: --throttle-interval is required with --throttle-key\n')
  const station = await runToEnd('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9', '--tag-station', 'a,b'])
  t.is(station.code, 2)
  t.is(station.stderr, 'mproxy-proxy: --tag-station: "a,b" has ","; a station name is printable ASCII without , * \\ or spaces\n')
})

test('a config file route: tag blocks with the receive time, and check refusing a bad stage option as the run does', async (t) => {
  const dir = tempDir(t)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'feed.log')
  const config = path.join(dir, 'feed.yaml')
  writeFileSync(
    config,
    `routes:\n  - name: ais\n    kind: server\n    path: ${JSON.stringify(file)}\n    listenAddrs: "127.0.0.1:0"\n    checksum: count\n    tagBlock: { station: cfg, time: ms }\n    dedup: { window: 30 }\n`,
  )
  const server = runProgram('mproxy', ['--config', config], { listeners: 1 })
  t.teardown(() => stop(server))
  const [to] = await server.listening
  const r1 = await sender()
  closeAll(t, r1)
  const before = Date.now()
  const bad = '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*00'
  await send(r1, `${position(SHIPS[0], 0, 'A')}\n${position(SHIPS[0], 0, 'B')}\n${bad}\n`, to)
  await waitFor(() => readFileSync(file, 'utf8').split('\n').length === 3, 20_000, 'two lines written')
  const after = Date.now()
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, 2)
  const times = lines.map((l) => Number(/^\\s:cfg,c:(\d+)\*/.exec(l)?.[1]))
  for (const ms of times) t.true(ms >= before - 1 && ms <= after + 1, `c:${ms} within the run`)
  t.deepEqual(lines, [`${tag(`s:cfg,c:${times[0]}`)}${position(SHIPS[0], 0, 'A')}`, `${tag(`s:cfg,c:${times[1]}`)}${bad}`])
  stoppedCleanly(t, await stop(server))

  const wrong = path.join(dir, 'wrong.yaml')
  writeFileSync(
    wrong,
    'routes:\n  - name: ais\n    kind: proxy\n    udpListenAddrs: "127.0.0.1:0"\n    udpDownstreamAddrs: "127.0.0.1:9"\n    throttle: { key: mmsi, keep: latest }\n',
  )
  const checked = await runToEnd('mproxy', ['check', wrong])
  const run = await runToEnd('mproxy', ['--config', wrong])
  t.is(checked.code, 2)
  t.is(run.code, 2)
  t.is(checked.stderr, 'mproxy: routes[0].throttle.interval is required\n')
  t.is(run.stderr, checked.stderr)
})

test("the client's file goes through the stages too (framed lines, before sending)", async (t) => {
  const out = await receiver()
  closeAll(t, out.socket)
  const dir = tempDir(t)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'recorded.nmea')
  const good = [position(SHIPS[0], 0, 'A'), position(SHIPS[1], 0, 'B'), gga('1')]
  writeFileSync(file, `${good[0]}\r\n${position(SHIPS[0], 0, 'B')}\r\n$GPGGA,1*00\r\n${good[1]}\r\n${good[2]}\r\n`)
  const client = await mproxy.createClient({ path: file, serverAddrs: out.addr, framing: 'line', checksum: 'drop', dedup: { window: 60 } })
  await client.finished
  await waitFor(() => out.got.length === 3, 20_000, 'the clean lines')
  t.deepEqual(
    out.got,
    good.map((l) => `${l}\r\n`),
  )
  t.deepEqual(stages(client.stats()), [
    ['checksum', 5, 4, 1, 0, 0, 0, 0],
    ['dedup', 4, 3, 0, 1, 0, 0, 0],
  ])
  await client.close()
})

test('a reverse proxy: a TCP sensor and a UDP receiver into the group, deduplicated before it (needs a namespace)', async (t) => {
  requireIsolation()
  const udpIn = await sender()
  closeAll(t, udpIn)
  const rp = await mproxy.createReverseProxy({
    udpListenAddrs: '127.0.0.1:0',
    tcpListenAddrs: '127.0.0.1:0',
    multicastAddr: '239.77.9.17:29817',
    multicastInterface: 'lo',
    tcpOutputAddrs: '127.0.0.1:0',
    checksum: 'drop',
    tagBlock: { station: 'rp' },
    dedup: { window: 60 },
  })
  t.teardown(() => rp.close())
  const reader = net.connect(Number(rp.addresses.tcpOutput[0].split(':')[1]), '127.0.0.1')
  t.teardown(() => reader.destroy())
  let received = ''
  reader.on('data', (d) => {
    received += d
  })
  await new Promise((r) => reader.once('connect', r))
  await waitFor(() => rp.stats().endpoints.some((e) => e.kind === 'tcp-output' && e.connects === 1), 20_000, 'the reader connected')
  const sensor = net.connect(Number(rp.addresses.tcpListen[0].split(':')[1]), '127.0.0.1')
  t.teardown(() => sensor.destroy())
  await new Promise((r) => sensor.once('connect', r))
  sensor.write(`${position(SHIPS[0], 0, 'A')}\r\n${position(SHIPS[1], 0, 'A').slice(0, -2)}00\r\n`)
  const checked = () => rp.stats().endpoints.find((e) => e.kind === 'stage' && e.name === 'checksum')?.datagramsIn
  await waitFor(() => checked() === 2, 20_000, 'the TCP lines judged')
  await send(udpIn, `${position(SHIPS[0], 0, 'B')}\n${position(SHIPS[2], 0, 'B')}\n`, rp.addresses.listen[0])
  const rpTag = tag('s:rp')
  const expected = `${rpTag}${position(SHIPS[0], 0, 'A')}\r\n${rpTag}${position(SHIPS[2], 0, 'B')}\n`
  await waitFor(() => received.length >= expected.length, 20_000, 'the group stream at the reader')
  t.is(received, expected)
  t.deepEqual(stages(rp.stats()), [
    ['checksum', 4, 3, 1, 0, 0, 0, 0],
    ['tag', 3, 3, 0, 0, 0, 0, 0],
    ['dedup', 3, 2, 0, 1, 0, 0, 0],
  ])
})

test('a reverse proxy with outputs only runs the stages on what it reads of the group (needs a namespace)', async (t) => {
  requireIsolation()
  const out = await receiver()
  const udpIn = await sender()
  closeAll(t, out.socket, udpIn)
  const group = { multicastAddr: '239.77.9.18:29818', multicastInterface: 'lo' }
  const outputs = await mproxy.createReverseProxy({ ...group, udpOutputAddrs: out.addr, dedup: { window: 60 } })
  t.teardown(() => outputs.close())
  // The input host has no stages: it publishes both copies of each message into the group.
  const inputs = await mproxy.createReverseProxy({ ...group, udpListenAddrs: '127.0.0.1:0' })
  t.teardown(() => inputs.close())
  const copies = [position(SHIPS[0], 0, 'A'), position(SHIPS[0], 0, 'B'), position(SHIPS[1], 0, 'B'), position(SHIPS[1], 0, 'A')]
  for (const line of copies) await send(udpIn, `${line}\n`, inputs.addresses.listen[0])
  const judged = () => outputs.stats().endpoints.find((e) => e.kind === 'stage' && e.name === 'dedup')?.datagramsIn
  await waitFor(() => judged() === 4, 20_000, 'the group datagrams judged')
  await waitFor(() => out.got.length === 2, 20_000, 'each message once')
  t.deepEqual(out.got, [`${copies[0]}\n`, `${copies[2]}\n`])
  t.deepEqual(stages(outputs.stats()), [['dedup', 4, 2, 0, 2, 0, 0, 0]])
  t.deepEqual(stages(inputs.stats()), [])
})
