/** `createProxy()`: forward UDP listeners and TCP/TLS connections to every UDP downstream. */
import { usageError } from '../errors'
import { abort, logTo, newHandle, startRoute, type Handle } from '../handle'
import { labelOf, optionalBoolean, optionalChoice, optionalInteger, requireStringList, type Labels } from '../options'
import { resolveEndpoints } from '../resolve'
import { checkCommon, checkMaxDatagram, destinationOptions, FRAMINGS, listenOptions, type CommonOptions, type Framing } from './common'
import { boundListener, ownListener, refuseDuplicates, refuseLoops } from './checks'
import { tcpConnects, type TlsOptions } from './tcp'

export interface ProxyOptions extends CommonOptions, TlsOptions {
  /** UDP addresses to listen on (port 0 picks one); a multicast group is joined. */
  udpListenAddrs?: string | string[]
  /** TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS. */
  tcpConnectAddrs?: string | string[]
  /** Every datagram goes, unchanged, to each of these. */
  udpDownstreamAddrs: string | string[]
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
export async function startProxy(o: ProxyOptions, labels?: Labels): Promise<Handle> {
  const listen = requireStringList(o.udpListenAddrs, labelOf(labels, 'udpListenAddrs'), 0)
  const tcp = requireStringList(o.tcpConnectAddrs, labelOf(labels, 'tcpConnectAddrs'), 0)
  if (listen.length + tcp.length === 0) {
    throw usageError(`a source is required: ${labelOf(labels, 'udpListenAddrs')} or ${labelOf(labels, 'tcpConnectAddrs')}`)
  }
  const downstream = requireStringList(o.udpDownstreamAddrs, labelOf(labels, 'udpDownstreamAddrs'))
  const tee = optionalBoolean(o.tee, labelOf(labels, 'tee')) ?? false
  const framing = optionalChoice(o.framing, labelOf(labels, 'framing'), FRAMINGS) ?? 'packed'
  const lingerMs = optionalInteger(o.lingerMs, labelOf(labels, 'lingerMs'), 0, 60_000)
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
  const maxDatagram = checkMaxDatagram(o.maxDatagram, labelOf(labels, 'maxDatagram'), destinations)
  const { connects, insecure } = await tcpConnects(tcp, o, { framing, maxDatagram, lingerMs }, labels)
  const handle = newHandle(o.onLog)
  if (insecure) logTo(handle, 'warn', `TLS certificate verification is off (${labelOf(labels, 'tlsInsecure')}): the server's identity is not checked`)
  startRoute(
    handle,
    {
      udpListeners: listeners.map((l) => listenOptions(l, common)),
      tcpConnects: connects,
      udpDestinations: destinations.map((d) => destinationOptions(d, common)),
      tee: tee ? { path: '-' } : undefined,
      sendBuffer: common.sendBuffer,
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
  return handle
}

/**
 * Forwards every datagram from `udpListenAddrs`, and the framed stream of every
 * `tcpConnectAddrs` connection (kept, with reconnects), to every `udpDownstreamAddrs`.
 * Runs until `close()`. Rejects with an MproxyError.
 */
export function createProxy(options: ProxyOptions): Promise<Handle> {
  return startProxy(options)
}
