/** `createProxy()`: forward UDP listeners and TCP/TLS connections to every UDP downstream. */
import type { ProxyOptions } from './option-types'
import { abort, logTo, newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { checkCommon, defaultMaxDatagram, destinationOptions, listenOptions } from './common'
import { inputStages } from './feed'
import { boundListener, ownListener, refuseDuplicates, refuseLoops } from './checks'
import { tcpConnects } from './tcp'
import { udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'
import { udpListenerAddrs, udpListenerWires } from '../schema/wire'
import { withWires } from './wire'

/** @internal The function behind createProxy(), with the CLI's flag names for messages. */
export async function startProxy(input: ProxyOptions, labels?: Labels): Promise<Handle> {
  const o = parseWith(apiSchema('proxy'), input, labels)
  const listen = udpListenerAddrs(o.udpListenAddrs ?? [])
  const wires = udpListenerWires(o.udpListenAddrs ?? [])
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
      udpListeners: withWires(
        listeners.map((l) => listenOptions(l, common)),
        wires,
      ),
      tcpConnects: connects,
      ...udpOutputs(o.udpDownstreamAddrs, destinations, (d) => destinationOptions(d, common), o),
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
