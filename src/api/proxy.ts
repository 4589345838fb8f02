/** `createProxy()`: forward UDP listeners and TCP/TLS connections to every UDP downstream. */
import { abort, logTo, newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { checkCommon, defaultMaxDatagram, destinationOptions, listenOptions, type CommonOptions, type Framing } from './common'
import { inputStages } from './feed'
import { boundListener, ownListener, refuseDuplicates, refuseLoops } from './checks'
import { tcpConnects, type TlsOptions } from './tcp'
import type { UdpOutput } from './rules'
import { udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'

export interface ProxyOptions extends CommonOptions, TlsOptions {
  /** UDP addresses to listen on (port 0 picks one); a multicast group is joined. */
  udpListenAddrs?: string | readonly string[]
  /** TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS. */
  tcpConnectAddrs?: string | readonly string[]
  /**
   * Every datagram goes, unchanged, to each of these. An object gives one output routing
   * rules (`{ addr, prefix: '!AIVDM' }`) or spreads datagrams over a balance group
   * (`{ balance: 'round-robin', addrs: [...] }`).
   */
  udpDownstreamAddrs: UdpOutput | readonly UdpOutput[]
  /** Copy what the sources bring to stdout. */
  tee?: boolean
  /** Framing of TCP streams into datagrams (as the client's): `packed` (default), `line` or `raw`. */
  framing?: Framing
  /** Largest datagram made from a TCP stream; default 1472 (IPv4 destinations) or 1452 (any IPv6). */
  maxDatagram?: number
  /** How long a partial line from a TCP stream waits for its end before it is sent anyway; default 20 ms. */
  lingerMs?: number
}

/** @internal The function behind createProxy(), with the CLI's flag names for messages. */
export async function startProxy(input: ProxyOptions, labels?: Labels): Promise<Handle> {
  const o = parseWith(apiSchema('proxy'), input, labels)
  const listen = o.udpListenAddrs ?? []
  const tcp = o.tcpConnectAddrs ?? []
  const downstream = outputAddrs(o.udpDownstreamAddrs)
  const { tee, framing, lingerMs } = o
  const common = checkCommon(o, labels)
  const rules = { multicastInterface: common.multicastInterface }
  const [listeners, destinations] = await Promise.all([
    resolveEndpoints(listen, labelOf(labels, 'udpListenAddrs'), { ...rules, allowPortZero: true }),
    resolveEndpoints(downstream, labelOf(labels, 'udpDownstreamAddrs'), { ...rules, allowPortZero: false }),
  ])
  refuseDuplicates(listeners, labelOf(labels, 'udpListenAddrs'))
  refuseDuplicates(destinations, labelOf(labels, 'udpDownstreamAddrs'))
  const own = listeners.map((l) => ownListener(l, labelOf(labels, 'udpListenAddrs')))
  refuseLoops(destinations, labelOf(labels, 'udpDownstreamAddrs'), own, common.multicastLoop)
  const maxDatagram = o.maxDatagram ?? defaultMaxDatagram(destinations, common)
  const { connects, insecure } = await tcpConnects(tcp, o, { framing, maxDatagram, lingerMs }, labels)
  const handle = newHandle(o.onLog, labels)
  if (insecure) logTo(handle, 'warn', `TLS certificate verification is off (${labelOf(labels, 'tlsInsecure')}): the server's identity is not checked`)
  startRoute(
    handle,
    {
      udpListeners: listeners.map((l) => listenOptions(l, common)),
      tcpConnects: connects,
      ...udpOutputs(o.udpDownstreamAddrs, destinations, (d) => destinationOptions(d, common)),
      tee: tee ? { path: '-' } : undefined,
      sendBuffer: common.sendBuffer,
      busKey: common.busKey,
      inputStages: inputStages(o),
    },
    false,
  )
  // A listener on port 0 got its port only now; it must not be a destination either.
  try {
    const bound = own.flatMap((l, i) => (l.port === 0 ? [boundListener(l, handle.addresses.listen[i])] : []))
    refuseLoops(destinations, labelOf(labels, 'udpDownstreamAddrs'), bound, common.multicastLoop)
  } catch (err) {
    return abort(handle, err)
  }
  return ready(handle, o)
}

/**
 * Forwards every datagram from `udpListenAddrs`, and the framed stream of every
 * `tcpConnectAddrs` connection (kept, with reconnects), to every `udpDownstreamAddrs`.
 * Runs until `close()`. Rejects with an MproxyError.
 */
export function createProxy(options: ProxyOptions): Promise<Handle> {
  return startProxy(options)
}
