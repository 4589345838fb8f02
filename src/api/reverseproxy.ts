/**
 * `createReverseProxy()`: inputs (UDP listeners, TCP listeners) publish into a multicast
 * group; outputs (UDP destinations, TCP listening addresses) subscribe to it. The group is
 * the only link between the two halves, so outputs can run in other processes and on other
 * hosts: each half is its own route, and a process may run either or both.
 */
import type { ReverseProxyOptions } from './option-types'
import { usageError } from '../errors'
import { abort, logTo, newHandle, ready, setGroup, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema, reverseProxyCliSchema } from '../schema/programs'
import { resolveEndpoint, resolveEndpoints, type Endpoint } from '../resolve'
import { boundListener, ownListener, refuseDuplicates, refuseLoops } from './checks'
import { shapingOptions, udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'
import { udpListenerAddrs, udpListenerWires } from '../schema/wire'
import { withWires } from './wire'
import { connectTargets } from './tcp'
import { keepAliveOf, preambleOf } from '../schema/link'
import { checkCommon, defaultMaxDatagram, destinationOptions, listenOptions } from './common'
import { inputStages } from './feed'

const TLS_PREFIX = 'tls://'

/** The groups every host of a link receives: anyone there reads what is published to them. */
const ALL_HOSTS_GROUPS = ['ff02::1', '224.0.0.1']

/**
 * @internal The start-up note for a group every host of the link receives. Returns undefined when there
 * is nothing to say: a dedicated group, or (once the bus key exists) a bus key is set, which
 * makes what is published unreadable to hosts without the key — pass `keyed: true` then.
 */
export function allHostsGroupNote(group: Endpoint, keyed = false): string | undefined {
  if (keyed || !ALL_HOSTS_GROUPS.includes(group.ip.toLowerCase())) return undefined
  return `note: the group ${group.text} is received by every host on the link (all-${group.family === 6 ? 'nodes' : 'hosts'}): any of them can read the stream and send into it; use a dedicated group (e.g. [ff02::4d50%IFACE]:9918 or 239.x.y.z) and a bus key`
}

/** Resolves `HOST:PORT` / `tls://HOST:PORT` listeners; `text` keeps the scheme for messages. */
async function listeners(texts: readonly string[], label: string): Promise<Array<Endpoint & { tls: boolean }>> {
  return Promise.all(
    texts.map(async (text) => {
      const tls = text.startsWith(TLS_PREFIX)
      const endpoint = await resolveEndpoint(tls ? text.slice(TLS_PREFIX.length) : text, label, { allowPortZero: true })
      return { ...endpoint, text, tls }
    }),
  )
}

/** @internal The function behind createReverseProxy(), with the CLI's flag names for messages. */
export async function startReverseProxy(input: ReverseProxyOptions, labels?: Labels): Promise<Handle> {
  const L = (field: string) => labelOf(labels, field)
  if (labels?.flags) parseWith(reverseProxyCliSchema, input, labels)
  const o = parseWith(apiSchema('reverseproxy'), input, labels)
  const udpIn = udpListenerAddrs(o.udpListenAddrs ?? [])
  const udpInWires = udpListenerWires(o.udpListenAddrs ?? [])
  const tcpInItems = o.tcpListenAddrs ?? []
  const tcpIn = outputAddrs(tcpInItems)
  const tcpOut = outputAddrs(o.tcpOutputAddrs ?? [])
  const connectOutItems = o.tcpConnectOutputAddrs ?? []
  const udpOut = outputAddrs(o.udpOutputAddrs ?? [])
  const { tee, framing, lingerMs, maxTcpClients: maxClients, tcpClientQueue: clientQueueBytes } = o
  const common = checkCommon(o, labels)
  const groupText = o.multicastAddr
  const group = await resolveEndpoint(groupText, L('multicastAddr'), { allowPortZero: false, kind: 'group', multicastInterface: common.multicastInterface })
  const rules = { multicastInterface: common.multicastInterface }
  const [udpListeners, tcpListeners, tcpOutputs, udpOutputEndpoints] = await Promise.all([
    resolveEndpoints(udpIn, L('udpListenAddrs'), { ...rules, allowPortZero: true }),
    listeners(tcpIn, L('tcpListenAddrs')),
    listeners(tcpOut, L('tcpOutputAddrs')),
    resolveEndpoints(udpOut, L('udpOutputAddrs'), { ...rules, allowPortZero: false }),
  ])
  for (const t of [...tcpListeners, ...tcpOutputs]) {
    if (t.multicast)
      throw usageError(`${tcpListeners.includes(t) ? L('tcpListenAddrs') : L('tcpOutputAddrs')}: ${t.text} is a multicast address; TCP needs a unicast one`)
  }
  refuseDuplicates(udpListeners, L('udpListenAddrs'))
  refuseDuplicates(tcpListeners, L('tcpListenAddrs'))
  refuseDuplicates(tcpOutputs, L('tcpOutputAddrs'))
  refuseDuplicates(udpOutputEndpoints, L('udpOutputAddrs'))
  // Inputs publish to the group and outputs read it: an input listening on the group, or an
  // output sending to the group or to an input, would feed itself forever.
  const inputs = udpListeners.map((l) => ownListener(l, L('udpListenAddrs')))
  const hasOutputs = tcpOut.length + udpOut.length + connectOutItems.length > 0 || o.subscribe === true
  const connectOut = await connectTargets(outputAddrs(connectOutItems), o, L('tcpConnectOutputAddrs'), false)
  const hasInputs = udpIn.length + tcpIn.length > 0 || o.publish === true
  const groupListener = hasOutputs ? [ownListener(group, L('multicastAddr'))] : []
  if (hasInputs) refuseLoops([group], L('multicastAddr'), inputs, common.multicastLoop)
  refuseLoops(udpOutputEndpoints, L('udpOutputAddrs'), [...groupListener, ...inputs], common.multicastLoop)
  const maxDatagram = o.maxDatagram ?? defaultMaxDatagram([group], common)
  const framingOptions = { framing, maxDatagram, lingerMs }
  const tlsFiles = o.tlsCert !== undefined && o.tlsKey !== undefined ? { certFile: o.tlsCert, keyFile: o.tlsKey, clientCaFile: o.tlsClientCa } : undefined
  const access = { allow: o.allow, maxClientsPerAddress: o.maxClientsPerAddress }
  // A listener's own access settings replace the route's.
  const accessOf = (item: unknown) => {
    const own = typeof item === 'object' && item !== null ? (item as { allow?: string[]; maxClientsPerAddress?: number }) : {}
    return { allow: own.allow ?? access.allow, maxClientsPerAddress: own.maxClientsPerAddress ?? access.maxClientsPerAddress }
  }
  const idleTimeoutMs = o.idleTimeout === undefined ? undefined : Math.max(1, Math.round(o.idleTimeout * 1000))

  const handle = newHandle(o.onLog, labels)
  setGroup(handle, group.text)
  if (connectOut.insecure) logTo(handle, 'warn', `TLS certificate verification is off (${L('tlsInsecure')}): the aggregators' identity is not checked`)
  try {
    // Outputs first, so that the group already has its subscribers when inputs start.
    if (hasOutputs) {
      startRoute(
        handle,
        {
          udpListeners: [listenOptions(group, common)],
          ...udpOutputs(o.udpOutputAddrs ?? [], udpOutputEndpoints, (d) => destinationOptions(d, common), o),
          tcpOutputs: tcpOutputs.map((t, i) => ({
            address: t.address,
            interface: t.interface,
            maxClients,
            clientQueueBytes,
            tls: t.tls ? tlsFiles : undefined,
            ...accessOf((o.tcpOutputAddrs ?? [])[i]),
            shaping: shapingOptions((o.tcpOutputAddrs ?? [])[i]),
            keepAlive: keepAliveOf((o.tcpOutputAddrs ?? [])[i], o),
            preamble: preambleOf((o.tcpOutputAddrs ?? [])[i], o),
          })),
          tcpConnectOutputs: connectOut.targets.map((t, i) => ({
            ...t,
            queueBytes: o.tcpConnectOutputQueue,
            shaping: shapingOptions(connectOutItems[i]),
            keepAlive: keepAliveOf(connectOutItems[i], o),
            preamble: preambleOf(connectOutItems[i], o),
          })),
          sendBuffer: common.sendBuffer,
          busKey: common.busKey,
          // The stages run where datagrams enter: on the inputs when this process has them,
          // else on what the outputs read of the group (copies that several input hosts
          // published are deduplicated here, then).
          inputStages: hasInputs ? undefined : inputStages(o),
        },
        false,
        'outputs',
      )
    }
    if (hasInputs) {
      startRoute(
        handle,
        {
          udpListeners: withWires(
            udpListeners.map((l) => listenOptions(l, common)),
            udpInWires,
          ),
          tcpListeners: tcpListeners.map((t, i) => {
            const item = tcpInItems[i]
            const idle = typeof item === 'object' && item.idleTimeout !== undefined ? Math.max(1, Math.round(item.idleTimeout * 1000)) : idleTimeoutMs
            return {
              address: t.address,
              interface: t.interface,
              framing: framingOptions,
              maxClients,
              tls: t.tls ? tlsFiles : undefined,
              ...accessOf(item),
              idleTimeoutMs: idle,
            }
          }),
          udpDestinations: [destinationOptions(group, common)],
          tee: tee ? { path: '-' } : undefined,
          sendBuffer: common.sendBuffer,
          busKey: common.busKey,
          inputStages: inputStages(o),
        },
        false,
        'inputs',
      )
    }
    // An input on port 0 got its port only now; no output may send to it.
    const bound = inputs.flatMap((l, i) => (l.port === 0 ? [boundListener(l, handle.addresses.listen[i])] : []))
    refuseLoops(udpOutputEndpoints, L('udpOutputAddrs'), bound, common.multicastLoop)
    // Once started (a failed start says only why it failed); a keyed group is not readable.
    const note = allHostsGroupNote(group, o.busKey !== undefined)
    if (note) logTo(handle, 'info', note)
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
