/** `createProxy()`: forward UDP listeners (unicast or groups) to every UDP downstream. */
import { usageError } from '../errors'
import { Handle } from '../handle'
import { labelOf, optionalBoolean, requireStringList, type Labels } from '../options'
import { resolveEndpoints } from '../resolve'
import { checkCommon, destinationOptions, listenOptions, type CommonOptions } from './common'

export interface ProxyOptions extends CommonOptions {
  /** UDP addresses to listen on (port 0 picks one); a multicast group is joined. */
  udpListenAddrs?: string | string[]
  /** Every datagram goes, unchanged, to each of these. */
  udpDownstreamAddrs: string | string[]
  /** TCP sources: arrive with TCP support. */
  tcpConnectAddrs?: string | string[]
  /** Copy what the sources bring to stdout. */
  tee?: boolean
}

export async function startProxy(o: ProxyOptions, labels?: Labels): Promise<Handle> {
  const tcp = requireStringList(o.tcpConnectAddrs, labelOf(labels, 'tcpConnectAddrs'), 0)
  if (tcp.length > 0) {
    throw usageError(`${labelOf(labels, 'tcpConnectAddrs')} is not available in this version yet (TCP sources arrive in the next release)`)
  }
  const listen = requireStringList(o.udpListenAddrs, labelOf(labels, 'udpListenAddrs'))
  const downstream = requireStringList(o.udpDownstreamAddrs, labelOf(labels, 'udpDownstreamAddrs'))
  const tee = optionalBoolean(o.tee, labelOf(labels, 'tee')) ?? false
  const common = checkCommon(o, labels)
  const rules = { multicastInterface: common.multicastInterface }
  const [listeners, destinations] = await Promise.all([
    resolveEndpoints(listen, labelOf(labels, 'udpListenAddrs'), { ...rules, allowPortZero: true }),
    resolveEndpoints(downstream, labelOf(labels, 'udpDownstreamAddrs'), { ...rules, allowPortZero: false }),
  ])
  const handle = new Handle(o.onLog)
  handle.startRoute(
    {
      udpListeners: listeners.map((l) => listenOptions(l, common)),
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
