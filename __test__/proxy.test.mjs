// The forward proxy: every datagram, unchanged and with its boundaries, to every downstream.
import test from 'ava'
import dgram from 'node:dgram'
import path from 'node:path'
import { makeText, readFile, runProgram, runToEnd, stop, tempDir, waitFor, waitForSize, writeTemp } from './helpers.mjs'
import { bulk, stoppedCleanly } from './platform.mjs'

async function startServer(dir, name) {
  const out = path.join(dir, name)
  const p = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  const [addr] = await p.listening
  return { p, out, addr }
}

test('fan-out to three downstreams: each gets the whole file, byte for byte', async (t) => {
  const dir = tempDir()
  const data = makeText(bulk(10_000_000), 11)
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => startServer(dir, `${n}.txt`)))
  const proxy = runProgram('proxy', ['--udp-listen-addr', '127.0.0.1:0', ...servers.flatMap((s) => ['--udp-downstream-addr', s.addr])], { listeners: 1 })
  const [proxyAddr] = await proxy.listening
  const c = await runToEnd('client', ['--path', writeTemp(dir, 'in.txt', data), '--server-addr', proxyAddr])
  t.is(c.code, 0, c.stderr)
  for (const s of servers) {
    await waitForSize(s.out, data.length)
    await stop(s.p)
    t.true(readFile(s.out).equals(data), `${s.out} differs`)
  }
  stoppedCleanly(t, await stop(proxy))
})

test('one unreachable downstream does not hold up the others', async (t) => {
  const dir = tempDir()
  const data = makeText(bulk(5_000_000), 12)
  const good = await Promise.all(['a', 'b'].map((n) => startServer(dir, `${n}.txt`)))
  // A port nobody listens on: the kernel answers with ICMP port unreachable.
  const dead = dgram.createSocket('udp4')
  await new Promise((r) => dead.bind(0, '127.0.0.1', r))
  const deadAddr = `127.0.0.1:${dead.address().port}`
  dead.close()
  const proxy = runProgram(
    'proxy',
    [
      '--udp-listen-addr',
      '127.0.0.1:0',
      '--udp-downstream-addr',
      good[0].addr,
      '--udp-downstream-addr',
      deadAddr,
      '--udp-downstream-addr',
      good[1].addr,
      '--verbose',
    ],
    { listeners: 1 },
  )
  const [proxyAddr] = await proxy.listening
  const c = await runToEnd('client', ['--path', writeTemp(dir, 'in.txt', data), '--server-addr', proxyAddr, '--server-addr', deadAddr])
  t.is(c.code, 0, c.stderr)
  for (const s of good) {
    await waitForSize(s.out, data.length)
    await stop(s.p)
    t.true(readFile(s.out).equals(data))
  }
  stoppedCleanly(t, await stop(proxy))
})

test('datagram boundaries survive the proxy', async (t) => {
  const sink = dgram.createSocket('udp4')
  const got = []
  sink.on('message', (m) => got.push(m))
  await new Promise((r) => sink.bind(0, '127.0.0.1', r))
  const proxy = runProgram('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', `127.0.0.1:${sink.address().port}`], { listeners: 1 })
  const [proxyAddr] = await proxy.listening
  const sender = dgram.createSocket('udp4')
  const sent = [Buffer.alloc(0), Buffer.from('one'), Buffer.alloc(1400, 7), Buffer.alloc(65_000, 9), Buffer.from('last\n')]
  const port = Number(proxyAddr.split(':')[1])
  for (const m of sent) await new Promise((r) => sender.send(m, port, '127.0.0.1', r))
  await waitFor(() => got.length === sent.length, 10_000, 'all datagrams')
  t.deepEqual(
    got.map((m) => m.toString('hex')),
    sent.map((m) => m.toString('hex')),
  )
  sender.close()
  sink.close()
  await stop(proxy)
})
