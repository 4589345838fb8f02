// Listeners are cheap: a server listens on a thousand addresses (a socket and a registration
// each, served by a few receive threads) and every one of them receives.
import test from 'ava'
import dgram from 'node:dgram'
import path from 'node:path'
import { rmSync } from 'node:fs'
import { mproxy, readFile, tempDir, waitFor, fileSize } from './helpers.mjs'

const { createServer } = mproxy

test('a server with 1000 listeners receives on each of them', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: Array.from({ length: 1000 }, () => '127.0.0.1:0') })
  const addrs = server.addresses.listen
  t.is(addrs.length, 1000)
  t.is(new Set(addrs).size, 1000)
  const tx = dgram.createSocket('udp4')
  const expected = addrs.map((a, i) => `listener ${i} at ${a}\n`)
  for (const [i, a] of addrs.entries()) tx.send(expected[i], Number(a.split(':')[1]), '127.0.0.1')
  const bytes = expected.reduce((n, line) => n + line.length, 0)
  await waitFor(() => fileSize(out) === bytes, 10_000, `${bytes} bytes in the output`)
  tx.close()
  const stats = await server.close()
  const lines = readFile(out)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => `${l}\n`)
  t.deepEqual([...lines].sort(), [...expected].sort())
  const listeners = stats.endpoints.filter((e) => e.kind === 'udp-listener')
  t.is(listeners.length, 1000)
  for (const [i, a] of addrs.entries()) {
    const l = listeners.find((e) => e.name === a)
    t.is(l.datagramsIn, 1, `listener ${i}`)
    t.is(l.bytesIn, expected[i].length, `listener ${i}`)
  }
})
