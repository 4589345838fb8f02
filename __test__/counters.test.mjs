// Counters an OS cannot tell are "unknown" (null), never a 0 that reads as "nothing lost":
// Linux counts the datagrams its kernel drops on a full receive buffer; macOS and Windows do
// not, and stats() says so (unknownCounters), as do the CLI's lines.
import test from 'ava'
import dgram from 'node:dgram'
import { createRequire } from 'node:module'
import path from 'node:path'
import { mproxy, root, tempDir, waitFor, fileSize } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { StatsLine, lossLine } = require(path.join(root, 'dist/cli/stats-line.js'))
const countsDrops = process.platform === 'linux'

test(`stats() says which counters this OS (${process.platform}) cannot tell, and reports them as null`, async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'out.txt')
  const server = await mproxy.createServer({ listenAddrs: ['127.0.0.1:0'], path: out })
  t.teardown(() => server.close())
  const port = Number(server.addresses.listen[0].split(':')[1])
  const tx = dgram.createSocket('udp4')
  t.teardown(() => tx.close())
  for (let i = 0; i < 10; i++) tx.send(`line ${i}\n`, port, '127.0.0.1')
  await waitFor(() => fileSize(out) === 70, 20_000, 'ten lines written')
  const stats = server.stats()
  t.deepEqual(stats.unknownCounters, countsDrops ? [] : ['kernelDrops'])
  const listener = stats.endpoints.find((e) => e.kind === 'udp-listener')
  t.is(listener.datagramsIn, 10)
  t.is(listener.kernelDrops, countsDrops ? 0 : null)
  t.is(stats.totals.kernelDrops, countsDrops ? 0 : null)
  for (const e of stats.endpoints) t.is(e.kernelDrops === null, !countsDrops, `${e.kind} ${e.name}`)
})

test('the stats line and the loss line say "unknown", not 0, for a counter the OS cannot tell', (t) => {
  const totals = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    icmpErrors: 0,
    kernelDrops: null,
    truncated: 0,
    queueDrops: 0,
    writeErrors: 0,
    bytesDropped: 0,
    tapDrops: 0,
    authFailures: 0,
    replays: 0,
    filtered: 0,
  }
  const line = new StatsLine(totals, 0)
  t.is(
    line.next({ ...totals, datagramsIn: 10, bytesIn: 1000, datagramsOut: 10, bytesOut: 1000 }, 1000),
    'in 10.0 datagrams/s 0.00 MB/s, out 10.0 datagrams/s 0.00 MB/s; no loss counted (this OS does not count datagrams its kernel drops)',
  )
  t.is(lossLine(totals), undefined)
  t.is(
    lossLine({ ...totals, queueDrops: 3 }),
    'some data was lost: kernelDrops unknown, queueDrops 3, truncated 0, sendErrors 0, icmpErrors 0, writeErrors 0, bytesDropped 0',
  )
  t.is(
    new StatsLine({ ...totals, kernelDrops: 0 }, 0).next({ ...totals, kernelDrops: 0 }, 1000),
    'in 0.0 datagrams/s 0.00 MB/s, out 0.0 datagrams/s 0.00 MB/s; no loss',
  )
})

test('every counter is declared once, in the core: endpoints, totals, metrics and unknowns all come from its table', async (t) => {
  const binding = require(path.join(root, 'index.js'))
  const table = binding.counters()
  const dir = tempDir(t)
  const server = await mproxy.createServer({ listenAddrs: ['127.0.0.1:0'], path: path.join(dir, 'out.txt') })
  t.teardown(() => server.close())
  const stats = server.stats()
  const [listener] = stats.endpoints
  // Each endpoint has exactly the table's counters, besides what names it and its states.
  t.deepEqual(Object.keys(listener).sort(), [...table.map((c) => c.field), 'kind', 'name', 'bufferBytes', 'unreachable', 'wire'].sort())
  // The totals are a part of them, each a number (or null where unknown).
  for (const key of Object.keys(stats.totals))
    t.true(
      table.some((c) => c.field === key),
      key,
    )
  t.true(Object.keys(stats.totals).length >= 10)
  // Unknown counters are the table's, and null where they are unknown.
  t.deepEqual(
    stats.unknownCounters,
    table.filter((c) => !c.known).map((c) => c.field),
  )
  // Metrics: one counter per entry, named after it.
  const metrics = require(path.join(root, 'dist/metrics.js'))
  const registry = metrics.registerMetrics(() => [{ route: 'r', handle: server }])
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.endsWith('_total'))
  t.deepEqual(
    names,
    table.map((c) => `mproxy_${c.metric}_total`),
  )
})
