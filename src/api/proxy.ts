/** `createProxy()`: forward UDP listeners and TCP/TLS connections to every UDP downstream. */
import { usageError } from '../errors'
import { Handle } from '../handle'
import { labelOf, optionalBoolean, optionalChoice, optionalInteger, requireStringList, type Labels } from '../options'
import { resolveEndpoints } from '../resolve'
import { checkCommon, checkMaxDatagram, destinationOptions, FRAMINGS, listenOptions, type CommonOptions, type Framing } from './common'
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
  /** Framing of TCP streams into datagrams (as the client's). */
  framing?: Framing
  maxDatagram?: number
  lingerMs?: number
}

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
  const maxDatagram = checkMaxDatagram(o.maxDatagram, labelOf(labels, 'maxDatagram'), destinations)
  const { connects, insecure } = await tcpConnects(tcp, o, { framing, maxDatagram, lingerMs }, labels)
  const handle = new Handle(o.onLog)
  if (insecure) handle.log('warn', `TLS certificate verification is off (${labelOf(labels, 'tlsInsecure')}): the server's identity is not checked`)
  handle.startRoute(
    {
      udpListeners: listeners.map((l) => listenOptions(l, common)),
      tcpConnects: connects,
      udpDestinations: destinations.map((d) => destinationOptions(d, common)),
      tee: tee ? { path: '-' } : undefined,
      sendBuffer: common.sendBuffer,
    },
    false,
  )
  return handle
}

export function createProxy(options: ProxyOptions): Promise<Handle> {
  return startProxy(options)
}
