/**
 * Prometheus metrics for running handles, through prom-client: every counter of every
 * endpoint, labelled by route, endpoint kind and endpoint name, plus gauges for socket
 * buffers, destination states and TCP clients. Values are read from `handle.stats()` when
 * scraped (no timers, nothing on the data path), so a scrape always matches `stats()`.
 *
 * `registerMetrics()` puts them into any registry (a Node service's own one, beside its other
 * metrics); `serveMetrics()` serves a registry as Prometheus text at `/metrics`.
 */
import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import { MproxyError } from './errors'
import type { EndpointStats, Handle } from './handle'
import { native } from './native'

/** A handle and the route name its metrics carry. */
export interface MetricsSource {
  route: string
  handle: Handle
}

type CounterField = {
  [K in keyof EndpointStats]-?: EndpointStats[K] extends number | null ? K : never
}[keyof EndpointStats]

/**
 * Endpoint counters and how they are exported (all as `mproxy_<metric>_total`): the Rust
 * core's table of counters, where each is declared once.
 */
function counterTable(): ReadonlyArray<{ field: CounterField; metric: string; help: string }> {
  // The core's fields are EndpointStats' own (the binding generates both from one table).
  return native().counters() as ReadonlyArray<{ field: CounterField; metric: string; help: string }>
}

const LABELS = ['route', 'kind', 'endpoint'] as const

function labelsOf(route: string, e: EndpointStats) {
  return { route, kind: e.kind, endpoint: e.name }
}

/**
 * Registers mproxy's metrics for `sources` (read again at every scrape, so routes may come
 * and go) in `registry`, and returns it.
 */
export function registerMetrics(sources: () => readonly MetricsSource[], registry: Registry = new Registry()): Registry {
  // One snapshot per scrape, not one per metric: a scrape collects every metric in the same
  // turn of the event loop, and the snapshot is dropped at the next.
  let snapshot: Array<[string, EndpointStats]> | undefined
  const each = (visit: (route: string, e: EndpointStats) => void) => {
    if (!snapshot) {
      snapshot = sources().flatMap(({ route, handle }) => handle.stats().endpoints.map((e): [string, EndpointStats] => [route, e]))
      setImmediate(() => {
        snapshot = undefined
      })
    }
    for (const [route, e] of snapshot) visit(route, e)
  }
  for (const { field, metric, help } of counterTable()) {
    new Counter({
      name: `mproxy_${metric}_total`,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset()
        each((route, e) => {
          // A counter this OS cannot tell (null) is absent, never a 0.
          const value = e[field]
          if (value !== null && value > 0) this.inc(labelsOf(route, e), value)
        })
      },
    })
  }
  new Gauge({
    name: 'mproxy_socket_buffer_bytes',
    help: 'Socket buffer the kernel granted a listener',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset()
      each((route, e) => {
        if (e.bufferBytes !== undefined && e.bufferBytes !== null) this.set(labelsOf(route, e), e.bufferBytes)
      })
    },
  })
  new Gauge({
    name: 'mproxy_destination_unreachable',
    help: '1 while datagrams sent to a destination are refused or lost (no quiet second since), else 0',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset()
      each((route, e) => {
        if (e.kind === 'udp-destination') this.set(labelsOf(route, e), e.unreachable ? 1 : 0)
      })
    },
  })
  new Gauge({
    name: 'mproxy_tcp_clients',
    help: 'TCP clients connected now (TCP inputs and outputs) or connections up (kept TCP/TLS connections)',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset()
      each((route, e) => {
        if (e.kind.startsWith('tcp-')) this.set(labelsOf(route, e), Math.max(0, e.connects - e.disconnects))
      })
    },
  })
  return registry
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `HOST:PORT` it listens on (port 0 resolved). */
  address: string
  close(): Promise<void>
}

/** Serves `registry` as Prometheus text at `GET /metrics` on `host:port`. */
export async function serveMetrics(host: string, port: number, registry: Registry): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n')
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // A failed accept (out of descriptors) must not become an uncaught 'error'.
  server.on('error', () => undefined)
  // A scrape must never keep the process alive on its own.
  server.unref()
  const bound = server.address()
  const address =
    typeof bound === 'object' && bound ? (bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`) : `${host}:${port}`
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * Serves `registry` at `HOST:PORT` (an address the schema checked); a port that cannot be
 * bound is an MproxyError naming `label` (the flag or config path).
 */
export async function serveMetricsAt(addr: string, registry: Registry, label: string): Promise<MetricsServer> {
  const at = addr.lastIndexOf(':')
  const host = addr.slice(0, at).replace(/^\[(.*)\]$/, '$1')
  try {
    return await serveMetrics(host, Number(addr.slice(at + 1)), registry)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'EADDRINUSE'
        ? 'address already in use'
        : code === 'EADDRNOTAVAIL'
          ? 'address not available'
          : code === 'EACCES'
            ? 'permission denied'
            : (code ?? String(err))
    const kind = code === 'EADDRINUSE' ? 'EMPROXY_ADDRESS_IN_USE' : code === 'EADDRNOTAVAIL' ? 'EMPROXY_ADDRESS_NOT_AVAILABLE' : 'EMPROXY_IO'
    throw new MproxyError(kind, `${label}: cannot listen on ${addr}: ${why}`)
  }
}
