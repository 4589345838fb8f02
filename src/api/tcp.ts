/** TCP/TLS options shared by the forward proxy's sources: `HOST:PORT` or `tls://HOST:PORT`. */
import { usageError } from '../errors'
import type { FramingOptions, TcpConnectOptions } from '../native'
import { labelOf, optionalBoolean, type Labels } from '../options'
import { resolveEndpoint, type Endpoint } from '../resolve'
import { refuseDuplicates } from './checks'

export interface TlsOptions {
  /**
   * PEM file of extra CA certificates to trust (besides the system's roots). A certificate
   * in it that a server presents as its own (a self-signed one) is pinned: accepted within
   * its validity dates. At most 1 MiB, a regular file.
   */
  tlsCa?: string
  /** PEM client certificate (chain), for servers that require one; needs `tlsKey`. */
  tlsCert?: string
  /** PEM private key of `tlsCert`. */
  tlsKey?: string
  /** Accept any server certificate. Says so on the log. */
  tlsInsecure?: boolean
}

const TLS_PREFIX = 'tls://'

function optionalPath(value: unknown, label: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw usageError(`${label} needs a file path`)
  return value
}

/** Parses, resolves and checks every TCP source. */
export async function tcpConnects(
  texts: string[],
  o: TlsOptions,
  framing: FramingOptions,
  labels: Labels | undefined,
): Promise<{ connects: TcpConnectOptions[]; insecure: boolean }> {
  const label = labelOf(labels, 'tcpConnectAddrs')
  const ca = optionalPath(o.tlsCa, labelOf(labels, 'tlsCa'))
  const cert = optionalPath(o.tlsCert, labelOf(labels, 'tlsCert'))
  const key = optionalPath(o.tlsKey, labelOf(labels, 'tlsKey'))
  const insecure = optionalBoolean(o.tlsInsecure, labelOf(labels, 'tlsInsecure')) ?? false
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(`${labelOf(labels, cert ? 'tlsKey' : 'tlsCert')} is required with ${labelOf(labels, cert ? 'tlsCert' : 'tlsKey')}`)
  }
  const anyTls = texts.some((t) => t.startsWith(TLS_PREFIX))
  const tlsFlag = ca ? 'tlsCa' : cert ? 'tlsCert' : insecure ? 'tlsInsecure' : undefined
  if (tlsFlag && !anyTls) throw usageError(`${labelOf(labels, tlsFlag)} needs a ${label} of the form tls://HOST:PORT`)
  const resolved = await Promise.all(
    texts.map(async (text) => {
      const tls = text.startsWith(TLS_PREFIX)
      const bare = tls ? text.slice(TLS_PREFIX.length) : text
      if (/^[a-z]+:\/\//i.test(bare)) throw usageError(`${label}: ${JSON.stringify(text)} has an unknown scheme; use HOST:PORT or tls://HOST:PORT`)
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
