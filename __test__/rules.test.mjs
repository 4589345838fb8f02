// Routing rules per output: source (CIDR), prefix, regular expression, 1-in-N sampling, and
// balance groups (round robin, source hash), with exact counts over a mixed AIS-like feed.
import test from 'ava'
import dgram from 'node:dgram'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { mproxy, runProgram, runToEnd, stop, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { notUnderWine, stoppedCleanly, WHY } from './platform.mjs'

const { createClient, createProxy, createReverseProxy, createServer } = mproxy

/** 200 lines: every other one `!AIVDM` of types 1, 2, 3, 5 in turn (channel A/B), the rest `$GPGGA`. */
function feed(n = 200) {
  const types = ['1', '2', '3', '5']
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? `!AIVDM,1,1,,${i % 4 === 0 ? 'A' : 'B'},${types[(i / 2) % 4]}3u?etPv2;0n:dDPwUM1U1Cb069D,0*${String(i).padStart(3, '0')}`
      : `$GPGGA,${String(i).padStart(6, '0')},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47`,
  )
}

async function receiver(address = '127.0.0.1') {
  const socket = dgram.createSocket('udp4')
  const got = []
  // The sender is the proxy; the datagrams of the source-hash test name their own sender.
  socket.on('message', (m) => got.push({ text: m.toString(), from: m.toString().split(',')[1] }))
  await new Promise((r) => socket.bind(0, address, r))
  return { socket, got, addr: `${address}:${socket.address().port}`, texts: () => got.map((g) => g.text) }
}

async function sender(address = '127.0.0.1') {
  const socket = dgram.createSocket('udp4')
  await new Promise((r) => socket.bind(0, address, r))
  return socket
}

/** Sends each line as one datagram, in order, pausing now and then so no buffer overflows. */
async function send(socket, lines, to) {
  const [host, port] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))]
  for (const [i, line] of lines.entries()) {
    await new Promise((r, j) => socket.send(line, port, host, (e) => (e ? j(e) : r())))
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5))
  }
}

const endpoint = (stats, kind, name) => stats.endpoints.find((e) => e.kind === kind && e.name === name)
const ruleCounts = (stats) => stats.endpoints.filter((e) => e.kind === 'rule').map((e) => [e.name, e.datagramsIn, e.matched, e.passed, e.filtered])

test('prefix, regex, sampling and a 50/50 round robin, each with exact counts and content', async (t) => {
  const sinks = await Promise.all(Array.from({ length: 7 }, () => receiver()))
  const [all, ais, types13, sampled, aisSampled, left, right] = sinks
  const pattern = '^!AIVDM,1,1,,[AB],[1-3]'
  const logs = []
  const proxy = await createProxy({
    onLog: (entry) => logs.push(`${entry.level} ${entry.message}`),
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: [
      all.addr,
      { addr: ais.addr, prefix: '!AIVDM' },
      { addr: types13.addr, match: pattern },
      { addr: sampled.addr, sample: 10 },
      { addr: aisSampled.addr, prefix: '!AIVDM', sample: 10 },
      { balance: 'round-robin', addrs: [left.addr, right.addr] },
    ],
  })
  const lines = feed()
  const s = await sender()
  await send(s, lines, proxy.addresses.listen[0])
  const expected = {
    all: lines,
    ais: lines.filter((l) => l.startsWith('!AIVDM')),
    types13: lines.filter((l) => new RegExp(pattern).test(l)),
    sampled: lines.filter((_, i) => i % 10 === 0),
    aisSampled: lines.filter((l) => l.startsWith('!AIVDM')).filter((_, i) => i % 10 === 0),
  }
  t.is(expected.ais.length, 100)
  t.is(expected.types13.length, 75)
  await waitFor(() => all.got.length === 200 && left.got.length + right.got.length === 200, 20_000, 'every datagram delivered')
  await new Promise((r) => setTimeout(r, 100))
  t.deepEqual(all.texts(), expected.all)
  t.deepEqual(ais.texts(), expected.ais)
  t.deepEqual(types13.texts(), expected.types13)
  t.deepEqual(sampled.texts(), expected.sampled)
  t.is(sampled.got.length, 20)
  t.deepEqual(aisSampled.texts(), expected.aisSampled)
  t.is(aisSampled.got.length, 10)
  // Round robin: the 1st, 3rd, ... to the first member, exactly half each.
  t.deepEqual(
    left.texts(),
    lines.filter((_, i) => i % 2 === 0),
  )
  t.deepEqual(
    right.texts(),
    lines.filter((_, i) => i % 2 === 1),
  )

  const stats = proxy.stats()
  const members = `${left.addr},${right.addr}`
  t.deepEqual(ruleCounts(stats), [
    [`${ais.addr} prefix !AIVDM`, 200, 100, 100, 100],
    [`${types13.addr} match ${pattern}`, 200, 75, 75, 125],
    [`${sampled.addr} sample 1/10`, 200, 20, 20, 180],
    [`${aisSampled.addr} prefix !AIVDM`, 200, 100, 100, 100],
    [`${aisSampled.addr} sample 1/10`, 100, 10, 10, 90],
    [`${members} round-robin`, 200, 200, 200, 0],
  ])
  const out = (addr) => endpoint(stats, 'udp-destination', addr)
  t.deepEqual(
    [all, ais, types13, sampled, aisSampled, left, right].map((r) => [out(r.addr).datagramsOut, out(r.addr).filtered]),
    [
      [200, 0],
      [100, 100],
      [75, 125],
      [20, 180],
      [10, 190],
      [100, 0],
      [100, 0],
    ],
  )
  t.is(stats.totals.filtered, 100 + 125 + 180 + 190)
  t.is(stats.totals.datagramsOut, 200 + 100 + 75 + 20 + 10 + 200)
  // One line per output whose rules started keeping datagrams from it; none for the group.
  t.deepEqual(
    logs.filter((l) => l.includes('routing rules')).sort(),
    [ais, types13, sampled, aisSampled].map((r) => `info routing rules of ${r.addr} keep datagrams from it (counted as filtered in the stats)`).sort(),
  )
  s.close()
  await proxy.close()
  for (const r of sinks) r.socket.close()
})

/** The core's source hash: FNV-1a over the IPv4 octets. */
function sourceHash(ip) {
  let h = 0xcbf29ce484222325n
  for (const octet of ip.split('.').map(BigInt)) {
    h ^= octet
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return h
}

notUnderWine(WHY.wineLoopbackSources)('a source-hash group keeps each sender on one output, and a CIDR rule keeps only its senders', async (t) => {
  const [first, second, picked] = await Promise.all([receiver(), receiver(), receiver()])
  const proxy = await createProxy({
    udpListenAddrs: '127.0.0.1:0',
    udpDownstreamAddrs: [
      { balance: 'source-hash', addrs: [first.addr, second.addr] },
      { addr: picked.addr, from: ['127.0.0.2', '127.0.0.4/31', '2001:db8::/32'] },
    ],
  })
  const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9']
  // Two sockets on the first host: different ports, the same exporter.
  const senders = await Promise.all([...hosts, hosts[0]].map((h) => sender(h)))
  for (const [k, s] of senders.entries()) {
    await send(
      s,
      Array.from({ length: 20 }, (_, i) => `!AIVDM,${s.address().address},${k},${i}`),
      proxy.addresses.listen[0],
    )
  }
  const total = senders.length * 20
  await waitFor(() => first.got.length + second.got.length === total && picked.got.length === 80, 20_000, 'every datagram delivered')
  await new Promise((r) => setTimeout(r, 100))
  const expectedMember = (ip) => Number(sourceHash(ip) % 2n)
  for (const [member, r] of [first, second].entries()) {
    const froms = new Set(r.got.map((g) => g.from))
    for (const ip of froms) t.is(expectedMember(ip), member, `${ip} reached member ${member}`)
    t.true(froms.size > 0, `member ${member} got some senders`)
  }
  for (const ip of hosts) {
    const n = (r) => r.got.filter((g) => g.from === ip).length
    t.is(n(first) + n(second), ip === hosts[0] ? 40 : 20, ip)
    t.true(n(first) === 0 || n(second) === 0, `${ip} always reaches the same output`)
  }
  t.deepEqual([...new Set(picked.got.map((g) => g.from))].sort(), ['127.0.0.2', '127.0.0.4', '127.0.0.5'])
  const stats = proxy.stats()
  t.deepEqual(ruleCounts(stats), [
    [`${first.addr},${second.addr} source-hash`, total, total, total, 0],
    [`${picked.addr} from 127.0.0.2/32,127.0.0.4/31,2001:db8::/32`, total, 80, 80, total - 80],
  ])
  t.is(endpoint(stats, 'udp-destination', picked.addr).filtered, total - 80)
  for (const s of senders) s.close()
  await proxy.close()
  for (const r of [first, second, picked]) r.socket.close()
})

test('reverse proxy: a UDP output and a TCP output with rules get only what they keep', async (t) => {
  const udp = await receiver()
  const rp = await createReverseProxy({
    udpListenAddrs: '127.0.0.1:0',
    multicastAddr: '239.77.9.1:29790',
    multicastInterface: 'lo',
    udpOutputAddrs: [{ addr: udp.addr, prefix: '$GPGGA' }],
    tcpOutputAddrs: [{ addr: '127.0.0.1:0', match: '^!AIVDM,1,1,,[AB],5' }],
  })
  const client = net.connect(Number(rp.addresses.tcpOutput[0].split(':')[1]), '127.0.0.1')
  let received = ''
  client.on('data', (d) => (received += d))
  await new Promise((r) => client.once('connect', r))
  await waitFor(() => rp.stats().endpoints.some((e) => e.kind === 'tcp-output' && e.connects === 1), 10_000, 'the TCP client is accepted')
  const lines = feed().map((l) => `${l}\n`)
  const s = await sender()
  await send(s, lines, rp.addresses.listen[0])
  const type5 = lines.filter((l) => /^!AIVDM,1,1,,[AB],5/.test(l))
  t.is(type5.length, 25)
  await waitFor(() => udp.got.length === 100 && received.length === type5.join('').length, 20_000, 'outputs filled')
  t.deepEqual(
    udp.texts(),
    lines.filter((l) => l.startsWith('$GPGGA')),
  )
  t.is(received, type5.join(''))
  const stats = rp.stats()
  const tcpName = rp.addresses.tcpOutput[0]
  t.deepEqual(ruleCounts(stats), [
    [`${udp.addr} prefix $GPGGA`, 200, 100, 100, 100],
    [`${tcpName} match ^!AIVDM,1,1,,[AB],5`, 200, 25, 25, 175],
  ])
  t.is(endpoint(stats, 'tcp-output', tcpName).filtered, 175)
  t.is(endpoint(stats, 'udp-destination', udp.addr).filtered, 100)
  client.destroy()
  s.close()
  await rp.close()
  udp.socket.close()
})

test('bad rule options: one line naming the path', async (t) => {
  const base = { udpListenAddrs: '127.0.0.1:0' }
  const cases = [
    [
      { udpDownstreamAddrs: ['127.0.0.1:9', { addr: '127.0.0.1:10', match: '([' }] },
      'udpDownstreamAddrs[1].match: not a valid regular expression (unclosed character class)',
    ],
    [
      { udpDownstreamAddrs: ['127.0.0.1:9', { addr: '127.0.0.1:10', match: 'a{1000}{1000}' }] },
      'udpDownstreamAddrs[1].match: the pattern is too large (over 1048576 bytes compiled)',
    ],
    [{ udpDownstreamAddrs: [{ addr: '127.0.0.1:10', from: '10.0.0.0/33' }] }, 'udpDownstreamAddrs[0].from: 10.0.0.0/33: the prefix length must be 0 to 32'],
    [
      { udpDownstreamAddrs: [{ addr: '127.0.0.1:10', from: ['10.0.0.0/8', 'example.com'] }] },
      'udpDownstreamAddrs[0].from[1]: example.com is not an IP address or CIDR block (192.0.2.0/24)',
    ],
    [
      { udpDownstreamAddrs: [{ addr: '127.0.0.1:10', from: ['2001:db8::/129'] }] },
      'udpDownstreamAddrs[0].from: 2001:db8::/129: the prefix length must be 0 to 128',
    ],
    [
      { udpDownstreamAddrs: [{ addr: '127.0.0.1:10', from: 'fe80::1%lo' }] },
      'udpDownstreamAddrs[0].from: fe80::1%lo is not an IP address or CIDR block (192.0.2.0/24)',
    ],
    [{ udpDownstreamAddrs: { addr: '127.0.0.1:10', sample: 0 } }, 'udpDownstreamAddrs[0].sample: 0 is not a whole number from 1 to 4294967295'],
    [{ udpDownstreamAddrs: [{ addr: '127.0.0.1:10', prefix: '' }] }, 'udpDownstreamAddrs[0].prefix is empty'],
    [{ udpDownstreamAddrs: [{ addr: '127.0.0.1:10', prefx: '!AIVDM' }] }, 'udpDownstreamAddrs[0].prefx: unknown option'],
    [{ udpDownstreamAddrs: [{ prefix: '!AIVDM' }] }, 'udpDownstreamAddrs[0].addr must be HOST:PORT, not undefined'],
    [
      { udpDownstreamAddrs: [{ balance: 'random', addrs: ['127.0.0.1:10'] }] },
      'udpDownstreamAddrs[0].balance: "random" is not one of round-robin, source-hash',
    ],
    [{ udpDownstreamAddrs: [{ balance: 'round-robin', addrs: [] }] }, 'udpDownstreamAddrs[0].addrs is required'],
    [
      { udpDownstreamAddrs: [{ balance: 'round-robin', addrs: ['127.0.0.1:10', 'nope'] }] },
      'udpDownstreamAddrs[0].addrs[1]: "nope" has no port; expected HOST:PORT',
    ],
    [{ udpDownstreamAddrs: [42] }, 'udpDownstreamAddrs[0] must be HOST:PORT, not 42'],
  ]
  for (const [options, message] of cases) {
    const err = await t.throwsAsync(createProxy({ ...base, ...options }))
    t.is(err.message, message)
    t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  }
  const err = await t.throwsAsync(
    createReverseProxy({ multicastAddr: '239.77.9.2:29791', multicastInterface: 'lo', tcpOutputAddrs: [{ balance: 'round-robin', addrs: ['127.0.0.1:0'] }] }),
  )
  t.is(err.message, 'tcpOutputAddrs[0].balance: unknown option; tcpOutputAddrs[0].addrs: unknown option')
})

test('a config file with rules passes mproxy check; a bad rule fails it with the path', async (t) => {
  const dir = tempDir()
  const good = writeTemp(
    dir,
    'good.yaml',
    [
      'routes:',
      '  - name: relay',
      '    kind: proxy',
      '    udpListenAddrs: 127.0.0.1:0',
      '    udpDownstreamAddrs:',
      '      - 127.0.0.1:9001',
      '      - { addr: 127.0.0.1:9002, from: [192.0.2.0/24], prefix: "!AIVDM", match: "^!AIVDM,1,1,,[AB],[1-3]", sample: 10 }',
      '      - { balance: source-hash, addrs: [127.0.0.1:9003, 127.0.0.1:9004] }',
      '  - name: bus',
      '    kind: reverseproxy',
      '    multicastAddr: 239.77.9.3:29792',
      '    multicastInterface: lo',
      '    tcpOutputAddrs: [{ addr: 127.0.0.1:0, prefix: $GPGGA }]',
      '',
    ].join('\n'),
  )
  const ok = await runToEnd('mproxy', ['check', '--config', good])
  t.is(ok.code, 0, ok.stderr)
  const bad = writeTemp(
    dir,
    'bad.yaml',
    'routes:\n  - { name: relay, kind: proxy, udpListenAddrs: 127.0.0.1:0, udpDownstreamAddrs: [127.0.0.1:9001, { addr: 127.0.0.1:9002, match: "(?<", sample: 0 }] }\n',
  )
  const r = await runToEnd('mproxy', ['check', '--config', bad])
  t.is(r.code, 2)
  t.is(r.stderr, 'mproxy: routes[0].udpDownstreamAddrs[1].match: not a valid regular expression (unclosed capture group name)\n')
})

test('the command line: --filter-prefix and --sample apply to every output; bad filter flags are named', async (t) => {
  const [a, b] = await Promise.all([receiver(), receiver()])
  const proxy = runProgram(
    'proxy',
    ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', a.addr, '--udp-downstream-addr', b.addr, '--filter-prefix', '!AIVDM', '--sample', '10'],
    { listeners: 1 },
  )
  const [listen] = await proxy.listening
  const lines = feed()
  const s = await sender()
  await send(s, lines, listen)
  const expected = lines.filter((l) => l.startsWith('!AIVDM')).filter((_, i) => i % 10 === 0)
  await waitFor(() => a.got.length === 10 && b.got.length === 10, 20_000, 'both outputs filled')
  await new Promise((r) => setTimeout(r, 100))
  t.deepEqual(a.texts(), expected)
  t.deepEqual(b.texts(), expected)
  stoppedCleanly(t, await stop(proxy))
  s.close()
  for (const x of [a, b]) x.socket.close()
  const bad = [
    [['--filter-match', '(['], 'mproxy-proxy: --filter-match: not a valid regular expression (unclosed character class)'],
    [['--sample', '0'], 'mproxy-proxy: --sample: "0" is not a whole number from 1 to 4294967295'],
    [['--filter-from', '1.2.3.4/40'], 'mproxy-proxy: --filter-from: 1.2.3.4/40: the prefix length must be 0 to 32'],
  ]
  for (const [flags, message] of bad) {
    const e = await runToEnd('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9', ...flags])
    t.is(e.code, 2)
    t.is(e.stderr, `${message}\n`)
  }
  const rp = await runToEnd('reverseproxy', [
    '--tcp-output-addr',
    '127.0.0.1:0',
    '--multicast-addr',
    '239.77.9.4:29793',
    '--multicast-interface',
    'lo',
    '--filter-match',
    '[nope',
  ])
  t.is(rp.code, 2)
  t.regex(rp.stderr, /^mproxy-reverseproxy: --filter-match: .+\n$/)
})

test('a client: a server with a regex rule and a round-robin pair of servers; a file has no sender, so a source rule keeps nothing', async (t) => {
  const sinks = await Promise.all(Array.from({ length: 4 }, () => receiver()))
  const [types5, even, odd, fromNet] = sinks
  const lines = feed()
  const dir = tempDir()
  const file = writeTemp(dir, 'feed.txt', lines.map((l) => `${l}\n`).join(''))
  const client = await createClient({
    path: file,
    framing: 'line',
    serverAddrs: [
      { addr: types5.addr, match: '^!AIVDM,1,1,,[AB],5' },
      { balance: 'round-robin', addrs: [even.addr, odd.addr] },
      { addr: fromNet.addr, from: '0.0.0.0/0' },
    ],
  })
  t.is(await client.finished, 'complete')
  await waitFor(() => types5.got.length === 25 && even.got.length + odd.got.length === 200, 20_000, 'servers filled')
  await new Promise((r) => setTimeout(r, 100))
  const withEnd = lines.map((l) => `${l}\n`)
  t.deepEqual(
    types5.texts(),
    withEnd.filter((l) => /^!AIVDM,1,1,,[AB],5/.test(l)),
  )
  t.deepEqual(
    even.texts(),
    withEnd.filter((_, i) => i % 2 === 0),
  )
  t.deepEqual(
    odd.texts(),
    withEnd.filter((_, i) => i % 2 === 1),
  )
  t.is(fromNet.got.length, 0)
  const stats = client.stats()
  t.deepEqual(ruleCounts(stats), [
    [`${types5.addr} match ^!AIVDM,1,1,,[AB],5`, 200, 25, 25, 175],
    [`${even.addr},${odd.addr} round-robin`, 200, 200, 200, 0],
    [`${fromNet.addr} from 0.0.0.0/0`, 200, 0, 0, 200],
  ])
  t.is(stats.totals.filtered, 375)
  await client.close()
  for (const r of sinks) r.socket.close()
})

test('a server: its file gets only what its rules keep; --filter-match and --sample on its command line', async (t) => {
  const dir = tempDir()
  const file = path.join(dir, 'ais.log')
  const server = await createServer({ path: file, listenAddrs: '127.0.0.1:0', rules: { prefix: '!AIVDM', sample: 10 } })
  const lines = feed().map((l) => `${l}\n`)
  const s = await sender()
  await send(s, lines, server.addresses.listen[0])
  const expected = lines.filter((l) => l.startsWith('!AIVDM')).filter((_, i) => i % 10 === 0)
  await waitFor(() => server.stats().endpoints.find((e) => e.kind === 'udp-listener').datagramsIn === 200, 20_000, 'all received')
  await server.close()
  t.is(readFileSync(file, 'utf8'), expected.join(''))
  t.deepEqual(ruleCounts(server.stats()), [
    [`${file} prefix !AIVDM`, 200, 100, 100, 100],
    [`${file} sample 1/10`, 100, 10, 10, 90],
  ])
  t.is(server.stats().endpoints.find((e) => e.kind === 'file').filtered, 190)

  const cliFile = path.join(dir, 'cli.log')
  const program = runProgram('server', ['--path', cliFile, '--listen-addr', '127.0.0.1:0', '--filter-match', '^\\$GPGGA', '--sample', '20'], { listeners: 1 })
  const [listen] = await program.listening
  await send(s, lines, listen)
  const gga = lines.filter((l) => l.startsWith('$GPGGA')).filter((_, i) => i % 20 === 0)
  await waitFor(() => existsSync(cliFile) && readFileSync(cliFile, 'utf8') === gga.join(''), 20_000, 'the file written')
  stoppedCleanly(t, await stop(program))
  t.is(readFileSync(cliFile, 'utf8'), gga.join(''))
  s.close()
})

test('rules a reverse proxy cannot honour are refused: by source on outputs, filters without outputs', async (t) => {
  const err = await t.throwsAsync(
    mproxy.createReverseProxy({ multicastAddr: '239.1.2.3:9918', multicastInterface: 'lo', udpOutputAddrs: [{ addr: '127.0.0.1:9', from: '10.0.0.0/8' }] }),
  )
  t.is(
    err.message,
    "udpOutputAddrs[0].from: cannot apply to a reverse proxy's outputs: they read the group, where every datagram comes from the host that published it; filter by source where datagrams enter (a forward proxy's outputs)",
  )
  const hash = await t.throwsAsync(
    mproxy.createReverseProxy({
      multicastAddr: '239.1.2.3:9918',
      multicastInterface: 'lo',
      udpOutputAddrs: [{ balance: 'source-hash', addrs: ['127.0.0.1:9', '127.0.0.1:10'] }],
    }),
  )
  t.is(
    hash.message,
    "udpOutputAddrs[0].balance: source-hash cannot spread a reverse proxy's outputs: every group datagram comes from the publishing host; use round-robin",
  )
  const noOutputs = await runToEnd('reverseproxy', [
    '--udp-listen-addr',
    '127.0.0.1:0',
    '--multicast-addr',
    '239.1.2.3:9918',
    '--multicast-interface',
    'lo',
    '--filter-prefix',
    '!AIVDM',
  ])
  t.is(noOutputs.code, 2)
  t.is(noOutputs.stderr, 'mproxy-reverseproxy: --filter-prefix filters outputs, and this program has none (filters apply to every output given)\n')
  const fromFlag = await runToEnd('reverseproxy', ['--udp-output-addr', '127.0.0.1:9', '--filter-from', '10.0.0.0/8'])
  t.is(fromFlag.code, 2)
  t.is(fromFlag.stderr, 'mproxy-reverseproxy: unknown flag --filter-from (see --help)\n')
  const zone = await runToEnd('reverseproxy', ['--tcp-output-addr', '127.0.0.1:0', '--multicast-addr', '239.1.2.3:9918', '--allow', 'fe80::1%lo'])
  t.is(zone.code, 2)
  t.is(zone.stderr, 'mproxy-reverseproxy: --allow: fe80::1%lo is not an IP address or CIDR block (192.0.2.0/24)\n')
})
