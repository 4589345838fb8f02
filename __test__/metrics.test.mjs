// Prometheus metrics scraped with a real HTTP client match stats(): every counter of every
// endpoint, labelled by route, kind and endpoint, plus destination states and TCP clients.
import test from 'ava'
import dgram from 'node:dgram'
import http from 'node:http'
import net from 'node:net'
import { mproxy, requireIsolation, sleep, waitFor } from './helpers.mjs'

const { createProxy, createReverseProxy, registerMetrics, serveMetrics } = mproxy

function scrape(address, path = '/metrics') {
  const port = Number(address.slice(address.lastIndexOf(':') + 1))
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }))
      })
      .on('error', reject)
  })
}

/** `name{labels} value` lines as { name, labels: {..}, value }. */
function samples(text) {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l)
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
      return { name: m[1], labels, value: Number(m[3]) }
    })
}

test('a scrape shows every counter of every endpoint, as stats() does', async (t) => {
  const sink = dgram.createSocket('udp4')
  let got = 0
  sink.on('message', () => got++)
  await new Promise((r) => sink.bind(0, '127.0.0.1', r))
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: `127.0.0.1:${sink.address().port}` })
  t.teardown(() => proxy.close())
  const registry = registerMetrics(() => [{ route: 'feed', handle: proxy }])
  const server = await serveMetrics('127.0.0.1', 0, registry)
  const tx = dgram.createSocket('udp4')
  const port = Number(proxy.addresses.listen[0].split(':')[1])
  for (let i = 0; i < 50; i++) tx.send(Buffer.from(`line ${i}\n`), port, '127.0.0.1')
  await waitFor(() => got === 50, 5_000, '50 datagrams at the sink')
  const res = await scrape(server.address)
  t.is(res.status, 200)
  t.regex(res.type, /^text\/plain; version=0\.0\.4/)
  const all = samples(res.body)
  const stats = proxy.stats()
  for (const e of stats.endpoints) {
    const of = (name) => all.find((s) => s.name === name && s.labels.route === 'feed' && s.labels.kind === e.kind && s.labels.endpoint === e.name)?.value ?? 0
    t.is(of('mproxy_datagrams_in_total'), e.datagramsIn, `${e.kind} ${e.name} datagrams in`)
    t.is(of('mproxy_bytes_in_total'), e.bytesIn, `${e.kind} ${e.name} bytes in`)
    t.is(of('mproxy_datagrams_out_total'), e.datagramsOut, `${e.kind} ${e.name} datagrams out`)
    t.is(of('mproxy_bytes_out_total'), e.bytesOut, `${e.kind} ${e.name} bytes out`)
  }
  const listener = stats.endpoints.find((e) => e.kind === 'udp-listener')
  t.is(listener.datagramsIn, 50)
  t.is(all.find((s) => s.name === 'mproxy_socket_buffer_bytes' && s.labels.endpoint === listener.name).value, listener.bufferBytes)
  t.is(all.find((s) => s.name === 'mproxy_destination_unreachable').value, 0)
  t.is((await scrape(server.address, '/other')).status, 404)
  await server.close()
  await proxy.close()
  tx.close()
  sink.close()
})

test('TCP output clients show as a gauge, and a Node service can use its own registry', async (t) => {
  requireIsolation() // the reverse proxy joins a multicast group
  const { Registry, Counter } = (await import('prom-client')).default
  const own = new Registry()
  new Counter({ name: 'service_requests_total', help: 'the service own counter', registers: [own] }).inc(3)
  const rp = await createReverseProxy({ multicastAddr: '239.77.1.1:29700', multicastInterface: 'lo', tcpOutputAddrs: '127.0.0.1:0' })
  t.teardown(() => rp.close())
  registerMetrics(() => [{ route: 'bus', handle: rp }], own)
  const port = Number(rp.addresses.tcpOutput[0].split(':')[1])
  const clients = await Promise.all(
    [1, 2].map(
      () =>
        new Promise((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => resolve(c))
        }),
    ),
  )
  await waitFor(() => rp.stats().endpoints.find((e) => e.kind === 'tcp-output').connects === 2, 5_000, 'two TCP clients')
  const text = await own.metrics()
  t.regex(text, /^service_requests_total 3$/m)
  const gauge = samples(text).find((s) => s.name === 'mproxy_tcp_clients' && s.labels.kind === 'tcp-output')
  t.is(gauge.value, 2)
  t.is(gauge.labels.route, 'bus')
  for (const c of clients) c.destroy()
  await sleep(100)
  await rp.close()
})
