/** TCP/TLS options shared by the forward proxy's sources: `HOST:PORT` or `tls://HOST:PORT`. */
import type { FramingOptions, TcpConnectOptions } from '../native'
import type { TlsOptions } from './option-types'
import { labelOf, type Labels } from '../options'
import { resolveEndpoint, type Endpoint } from '../resolve'
import { refuseDuplicates } from './checks'

const TLS_PREFIX = 'tls://'

/** Resolves every TCP source (checked already by the schema) and refuses duplicates. */
export async function tcpConnects(
  texts: string[],
  o: TlsOptions,
  framing: FramingOptions,
  labels: Labels | undefined,
): Promise<{ connects: TcpConnectOptions[]; insecure: boolean }> {
  const label = labelOf(labels, 'tcpConnectAddrs')
  const { tlsCa: ca, tlsCert: cert, tlsKey: key } = o
  const insecure = o.tlsInsecure ?? false
  const anyTls = texts.some((t) => t.startsWith(TLS_PREFIX))
  const resolved = await Promise.all(
    texts.map(async (text) => {
      const tls = text.startsWith(TLS_PREFIX)
      const bare = tls ? text.slice(TLS_PREFIX.length) : text
      const endpoint = await resolveEndpoint(bare, label, { allowPortZero: false })
      const host = bare.startsWith('[') ? bare.slice(1, bare.indexOf(']')).split('%')[0] : bare.slice(0, bare.lastIndexOf(':'))
      const connect: TcpConnectOptions = {
        host,
        port: endpoint.port,
        address: endpoint.address,
        interface: endpoint.interface,
        tls: tls ? { serverName: host, caFile: ca, certFile: cert, keyFile: key, insecure } : undefined,
        framing,
      }
      return { connect, endpoint: { ...endpoint, text }, tls }
    }),
  )
  // The same server twice would send its stream twice.
  const tlsOf = new Map<Endpoint, boolean>(resolved.map((r) => [r.endpoint, r.tls]))
  refuseDuplicates(
    resolved.map((r) => r.endpoint),
    label,
    (e) => (tlsOf.get(e) ? TLS_PREFIX : ''),
  )
  const connects = resolved.map((r) => r.connect)
  return { connects, insecure: insecure && anyTls }
}
