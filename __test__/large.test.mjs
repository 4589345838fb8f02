// The bar of the foundation: a 100 MiB file crosses loopback, over IPv4 and over IPv6,
// with default settings, and arrives byte-identical with nothing dropped.
import test from 'ava'
import { createHash } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { makeText, requireIsolation, runProgram, runToEnd, stop, tempDir, waitFor, waitForSize, writeTemp } from './helpers.mjs'

const SIZE = 100 * 1024 * 1024

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject)
  })
}

const dir = tempDir()
const data = makeText(SIZE, 99)
const input = writeTemp(dir, 'in-100MiB.txt', data)
const expected = createHash('sha256').update(data).digest('hex')

for (const [family, listen] of [
  ['IPv4', '127.0.0.1:0'],
  ['IPv6', '[::1]:0'],
]) {
  test.serial(`${family}: a 100 MiB file arrives byte-identical with default settings`, async (t) => {
    const out = path.join(dir, `out-${family}.txt`)
    const server = runProgram('server', ['--path', out, '--listen-addr', listen, '--verbose'], { listeners: 1 })
    t.teardown(() => server.child.kill('SIGKILL'))
    const [addr] = await server.listening
    const client = await runToEnd('client', ['--path', input, '--server-addr', addr])
    t.is(client.code, 0, client.stderr)
    await waitForSize(out, SIZE, 60_000)
    const r = await stop(server)
    t.is(r.code, 0)
    t.notRegex(r.stderr, /kernelDrops [1-9]/)
    t.is(await sha256(out), expected)
    rmSync(out)
  })
}

test.serial('the whole chain: client -> proxy -> reverse proxy (multicast) -> TCP output -> reader, 100 MiB byte-identical', async (t) => {
  requireIsolation()
  // The reader is this test process, which a busy machine may leave behind the 50 MB/s the
  // chain carries: its queue at the reverse proxy holds the whole file, so a late reader is
  // not disconnected (eviction has its own test in tcp.test.mjs).
  const rp = runProgram(
    'reverseproxy',
    [
      '--udp-listen-addr',
      '127.0.0.1:0',
      '--multicast-addr',
      '239.88.9.1:29918',
      '--multicast-interface',
      'lo',
      '--tcp-output-addr',
      '127.0.0.1:0',
      '--tcp-client-queue',
      String(2 * SIZE),
      '--verbose',
    ],
    { listeners: 2 },
  )
  const [rpInput, rpOutput] = await rp.listening
  const proxy = runProgram('proxy', ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', rpInput, '--verbose'], { listeners: 1 })
  // Whatever happens, no program outlives the test.
  t.teardown(() => {
    rp.child.kill('SIGKILL')
    proxy.child.kill('SIGKILL')
  })
  const [proxyInput] = await proxy.listening
  const reader = net.connect({ host: '127.0.0.1', port: Number(rpOutput.split(':')[1]) })
  t.teardown(() => reader.destroy())
  const hash = createHash('sha256')
  let received = 0
  reader.on('data', (d) => {
    hash.update(d)
    received += d.length
  })
  await new Promise((r) => reader.on('connect', r))
  // The output has accepted the reader before the first byte is published: its counters
  // (SIGUSR1) say so.
  await waitFor(
    () => {
      rp.child.kill('SIGUSR1')
      return /tcp-output \S+: .*\bconnects 1\b/.test(rp.stderr())
    },
    10_000,
    'the reverse proxy to count the reader',
  )
  const started = process.hrtime.bigint()
  const client = await runToEnd('client', ['--path', input, '--server-addr', proxyInput])
  t.is(client.code, 0, client.stderr)
  await waitFor(
    () => received >= SIZE,
    60_000,
    () => `the reader to get ${SIZE} bytes (has ${received})`,
  ).catch(async (err) => {
    // Where the bytes stopped: each hop's counters (drops, evictions) as it stops.
    const [p, r] = await Promise.all([stop(proxy), stop(rp)])
    t.log(`proxy:\n${p.stderr}\nreverse proxy:\n${r.stderr.replace(/^(?:.*\n)*?(?=.*counters\n)/, '')}`)
    throw err
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  reader.destroy()
  const [p, r] = await Promise.all([stop(proxy), stop(rp)])
  t.is(p.code, 0)
  t.is(r.code, 0)
  t.is(received, SIZE)
  t.is(hash.digest('hex'), expected)
  t.log(
    `100 MiB through client -> proxy -> reverse proxy -> TCP reader in ${seconds.toFixed(2)} s: ${(SIZE / seconds / 1e6).toFixed(1)} MB/s (client paced at its default 50 MB/s)`,
  )
})

test.after.always(() => rmSync(dir, { recursive: true, force: true }))
