/**
 * `createReverseProxy()`: inputs (UDP listeners, TCP listeners) publish into a multicast
 * group; outputs (UDP destinations, TCP listening addresses) subscribe to it. The group is
 * the only link between the two halves, so outputs can run in other processes and on other
 * hosts: each half is its own route, and a process may run either or both.
 */
import { usageError } from '../errors'
import { abort, newHandle, ready, setGroup, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema } from '../schema/programs'
import { resolveEndpoint, resolveEndpoints } from '../resolve'
import { boundListener, ownListener, refuseDuplicates, refuseLoops } from './checks'
import type { TcpOutput, UdpOutput } from './rules'
import { ruleOptions, udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'
import { checkCommon, defaultMaxDatagram, destinationOptions, listenOptions, type CommonOptions, type Framing } from './common'

export const DEFAULT_MULTICAST_ADDR = '[ff02::1]:9918'

export interface ReverseProxyOptions extends CommonOptions {
  /** UDP inputs: each datagram is published unchanged. */
  udpListenAddrs?: string | readonly string[]
  /** TCP inputs: any number of clients; each client's stream is framed on its own. */
  tcpListenAddrs?: string | readonly string[]
  /** The group inputs publish to and outputs subscribe to; default `[ff02::1]:9918`. */
  multicastAddr?: string
  /** TCP outputs: addresses to LISTEN on; every client receives the group's stream (an object: only what its routing rules keep). */
  tcpOutputAddrs?: TcpOutput | readonly TcpOutput[]
  /** UDP outputs: every group datagram is sent to each (objects: routing rules, balance groups). */
  udpOutputAddrs?: UdpOutput | readonly UdpOutput[]
  /** Print what the inputs publish to stdout. */
  tee?: boolean
  /** Most TCP clients per TCP listener (inputs and outputs); default 1024. */
  maxTcpClients?: number
  /** Bytes a TCP output client may fall behind before it is disconnected; default 64 MiB. */
  tcpClientQueue?: number
  /** Framing of TCP input streams (as the client's): `packed` (default), `line` or `raw`. */
  framing?: Framing
  /** Largest datagram made from a TCP input stream; default 1472 (IPv4 group) or 1452 (IPv6 group). */
  maxDatagram?: number
  /** How long a partial line from a TCP input waits for its end before it is sent anyway; default 20 ms. */
  lingerMs?: number
}

/** @internal The function behind createReverseProxy(), with the CLI's flag names for messages. */
export async function startReverseProxy(input: ReverseProxyOptions, labels?: Labels): Promise<Handle> {
  const L = (field: string) => labelOf(labels, field)
  const o = parseWith(apiSchema('reverseproxy'), input, labels)
  const udpIn = o.udpListenAddrs ?? []
  const tcpIn = o.tcpListenAddrs ?? []
  const tcpOut = outputAddrs(o.tcpOutputAddrs ?? [])
  const udpOut = outputAddrs(o.udpOutputAddrs ?? [])
  const tee = o.tee ?? false
  const maxClients = o.maxTcpClients ?? 1024
  const clientQueueBytes = o.tcpClientQueue
  const framing = o.framing ?? 'packed'
  const { lingerMs } = o
  const common = checkCommon(o, labels)
  const groupText = o.multicastAddr ?? DEFAULT_MULTICAST_ADDR
  const group = await resolveEndpoint(groupText, L('multicastAddr'), { allowPortZero: false, kind: 'group', multicastInterface: common.multicastInterface })
  const rules = { multicastInterface: common.multicastInterface }
  const [udpListeners, tcpListeners, tcpOutputs, udpOutputEndpoints] = await Promise.all([
    resolveEndpoints(udpIn, L('udpListenAddrs'), { ...rules, allowPortZero: true }),
    resolveEndpoints(tcpIn, L('tcpListenAddrs'), { allowPortZero: true }),
    resolveEndpoints(tcpOut, L('tcpOutputAddrs'), { allowPortZero: true }),
    resolveEndpoints(udpOut, L('udpOutputAddrs'), { ...rules, allowPortZero: false }),
  ])
  for (const t of [...tcpListeners, ...tcpOutputs]) {
    if (t.multicast) throw usageError(`${tcpListeners.includes(t) ? L('tcpListenAddrs') : L('tcpOutputAddrs')}: ${t.text} is a multicast address; TCP needs a unicast one`)
  }
  refuseDuplicates(udpListeners, L('udpListenAddrs'))
  refuseDuplicates(tcpListeners, L('tcpListenAddrs'))
  refuseDuplicates(tcpOutputs, L('tcpOutputAddrs'))
  refuseDuplicates(udpOutputEndpoints, L('udpOutputAddrs'))
  // Inputs publish to the group and outputs read it: an input listening on the group, or an
  // output sending to the group or to an input, would feed itself forever.
  const inputs = udpListeners.map((l) => ownListener(l, L('udpListenAddrs')))
  const hasOutputs = tcpOut.length + udpOut.length > 0
  const groupListener = hasOutputs ? [ownListener(group, L('multicastAddr'))] : []
  if (udpIn.length + tcpIn.length > 0) refuseLoops([group], L('multicastAddr'), inputs, common.multicastLoop)
  refuseLoops(udpOutputEndpoints, L('udpOutputAddrs'), [...groupListener, ...inputs], common.multicastLoop)
  const maxDatagram = o.maxDatagram ?? defaultMaxDatagram([group])
  const framingOptions = { framing, maxDatagram, lingerMs }

  const handle = newHandle(o.onLog)
  setGroup(handle, group.text)
  try {
    // Outputs first, so that the group already has its subscribers when inputs start.
    if (hasOutputs) {
      startRoute(
        handle,
        {
          udpListeners: [listenOptions(group, common)],
          ...udpOutputs(o.udpOutputAddrs ?? [], udpOutputEndpoints, (d) => destinationOptions(d, common)),
          tcpOutputs: tcpOutputs.map((t, i) => ({ address: t.address, interface: t.interface, maxClients, clientQueueBytes, rules: ruleOptions((o.tcpOutputAddrs ?? [])[i]) })),
          sendBuffer: common.sendBuffer,
        },
        false,
        'outputs',
      )
    }
    if (udpIn.length + tcpIn.length > 0) {
      startRoute(
        handle,
        {
          udpListeners: udpListeners.map((l) => listenOptions(l, common)),
          tcpListeners: tcpListeners.map((t) => ({ address: t.address, interface: t.interface, framing: framingOptions, maxClients })),
          udpDestinations: [destinationOptions(group, common)],
          tee: tee ? { path: '-' } : undefined,
          sendBuffer: common.sendBuffer,
        },
        false,
        'inputs',
      )
    }
    // An input on port 0 got its port only now; no output may send to it.
    const bound = inputs.flatMap((l, i) => (l.port === 0 ? [boundListener(l, handle.addresses.listen[i])] : []))
    refuseLoops(udpOutputEndpoints, L('udpOutputAddrs'), bound, common.multicastLoop)
  } catch (err) {
    return abort(handle, err)
  }
  return ready(handle, o)
}

/**
 * Inputs (`udpListenAddrs`, `tcpListenAddrs`) publish into the multicast group
 * `multicastAddr`; outputs (`udpOutputAddrs`, `tcpOutputAddrs` listeners) subscribe to it.
 * Either half may be empty. Runs until `close()`. Rejects with an MproxyError.
 */
export function createReverseProxy(options: ReverseProxyOptions): Promise<Handle> {
  return startReverseProxy(options)
}
