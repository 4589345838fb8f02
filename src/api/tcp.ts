/** TCP/TLS options shared by the forward proxy's sources: `HOST:PORT` or `tls://HOST:PORT`. */
import type { FramingOptions, TcpConnectOptions } from '../native'
import type { TlsOptions } from './option-types'
import { labelOf, type Labels } from '../options'
import { resolveEndpoint, type Endpoint } from '../resolve'
import { refuseDuplicates } from './checks'
import { keepAliveOf, preambleOf } from '../schema/link'
import type { LinkFields } from '../schema/rules'

const TLS_PREFIX = 'tls://'

/** A host to connect to, resolved, with its TLS settings. */
export type ConnectTarget = Pick<TcpConnectOptions, 'host' | 'port' | 'address' | 'interface' | 'tls'>

/**
 * Resolves `HOST:PORT` / `tls://HOST:PORT` targets (checked already by the schema) and
 * refuses duplicates; `label` names the option. `clientCert`: whether `tlsCert`/`tlsKey` are
 * a client certificate (the forward proxy's; the reverse proxy's are its listeners').
 */
export async function connectTargets(
  texts: readonly string[],
  o: TlsOptions,
  label: string,
  clientCert: boolean,
): Promise<{ targets: ConnectTarget[]; insecure: boolean }> {
  const { tlsCa: ca } = o
  const [cert, key] = clientCert ? [o.tlsCert, o.tlsKey] : [undefined, undefined]
  const insecure = o.tlsInsecure ?? false
  const anyTls = texts.some((t) => t.startsWith(TLS_PREFIX))
  const resolved = await Promise.all(
    texts.map(async (text) => {
      const tls = text.startsWith(TLS_PREFIX)
      const bare = tls ? text.slice(TLS_PREFIX.length) : text
      const endpoint = await resolveEndpoint(bare, label, { allowPortZero: false })
      const host = bare.startsWith('[') ? bare.slice(1, bare.indexOf(']')).split('%')[0] : bare.slice(0, bare.lastIndexOf(':'))
      const target: ConnectTarget = {
        host,
        port: endpoint.port,
        address: endpoint.address,
        interface: endpoint.interface,
        tls: tls ? { serverName: host, caFile: ca, certFile: cert, keyFile: key, insecure } : undefined,
      }
      return { target, endpoint: { ...endpoint, text }, tls }
    }),
  )
  // The same server twice would get (or send) the stream twice.
  const tlsOf = new Map<Endpoint, boolean>(resolved.map((r) => [r.endpoint, r.tls]))
  refuseDuplicates(
    resolved.map((r) => r.endpoint),
    label,
    (e) => (tlsOf.get(e) ? TLS_PREFIX : ''),
  )
  return { targets: resolved.map((r) => r.target), insecure: insecure && anyTls }
}

/** The forward proxy's kept connections: every TCP source, resolved, with its framing and lines. */
export async function tcpConnects(
  items: ReadonlyArray<string | ({ addr: string } & LinkFields)>,
  o: TlsOptions & LinkFields,
  framing: FramingOptions,
  labels: Labels | undefined,
): Promise<{ connects: TcpConnectOptions[]; insecure: boolean }> {
  const texts = items.map((i) => (typeof i === 'string' ? i : i.addr))
  const { targets, insecure } = await connectTargets(texts, o, labelOf(labels, 'tcpConnectAddrs'), true)
  const connects = targets.map((t, i) => ({ ...t, framing, keepAlive: keepAliveOf(items[i], o), preamble: preambleOf(items[i], o) }))
  return { connects, insecure }
}
