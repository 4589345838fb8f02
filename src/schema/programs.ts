/**
 * The options of the four programs, one schema each: the single source of truth for what
 * `create…()`, the command line and config files accept. Unknown options are errors (with a
 * suggestion), every value is checked here, and every message names the option.
 *
 * The API-only options (`onLog`, JavaScript callbacks) are added by `apiSchema()`; a config
 * file's route takes the same options without them, plus `name` and `kind`.
 */
import { z } from 'zod'
import type { LogEntry } from '../handle'
import { outputAddrs, outputList, ruleShape, type OutputItem } from './rules'
import { address, addressList, cidr, filePath, isObject, itemList, flag, framing, listOf, MAX_DATAGRAM, rate, retention, rotation, seconds, show, text, wholeNumber } from './values'

const BUFFER = wholeNumber(1024, 2 ** 31 - 1)

/** Options every program has. */
export const commonShape = {
  /** Interface for multicast groups that carry no `%scope`: name, IPv4 address or index. */
  multicastInterface: text('an interface name, address or index').optional(),
  /** TTL / hop limit of multicast sent; default 1 (this link only). */
  multicastTtl: wholeNumber(0, 255).optional(),
  /** Whether multicast we send is looped back to listeners on this host; default true. */
  multicastLoop: flag.optional(),
  /** Receive buffer to ask for per listening socket, in bytes (default 8 MiB). */
  recvBuffer: BUFFER.optional(),
  /** Send buffer to ask for per sending socket, in bytes (default 8 MiB). */
  sendBuffer: BUFFER.optional(),
  /** Bus key file: seal every UDP datagram sent, and accept only sealed ones on UDP listeners. */
  busKey: filePath.optional(),
  /** A second key file also accepted on UDP listeners (key rotation); needs `busKey`. */
  busKeyNext: filePath.optional(),
}

/** How byte streams become datagrams (the client's input, TCP streams). */
const framingShape = {
  /** `packed` (default): whole lines packed per datagram; `line`: one line each; `raw`: fixed chunks. */
  framing: framing.optional(),
  /** Largest datagram payload; default 1472 (IPv4 destinations) or 1452 (any IPv6). */
  maxDatagram: wholeNumber(1, MAX_DATAGRAM).optional(),
  /** How long a partial line waits for its end before it is sent anyway; default 20 ms. */
  lingerMs: wholeNumber(0, 60_000).optional(),
}

/** Rotation and retention of a file output (the server's file, the client's copy). */
const rotationShape = {
  /** Start a new file at each UTC `hourly` or `daily` boundary, or before it grows past a size (`100M`). */
  rotate: rotation.optional(),
  /** Keep the newest N rotated files (`30`), or remove those older than an age (`7d`, `12h`). Needs `rotate`. */
  keep: retention.optional(),
}

export const clientShape = {
  ...commonShape,
  ...framingShape,
  /** File, FIFO, device (e.g. `/dev/ttyACM0`), or `-` for stdin. Read until its end. */
  path: filePath,
  /** Where every datagram goes: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`; unicast or group (objects: with routing rules, or a balance group). */
  serverAddrs: outputList(false, true, 1),
  /** Copy the input to stdout, exactly. */
  tee: flag.optional(),
  /** Most bytes per second to send (a number, or text like `50M`); 0 = as fast as the input is read. */
  rate: rate.optional(),
  /** Serial device speed to set (e.g. 38400 for AIS receivers); kept as it is when not given. */
  baud: wholeNumber(1, 4_000_000).optional(),
  /** Keep reading a file as it grows, and across its rotation, like `tail -F`. */
  follow: flag.optional(),
  /** Also write what is sent to this local file (rotated and pruned with `rotate` and `keep`). */
  copyPath: filePath.optional(),
  ...rotationShape,
}

export const serverShape = {
  ...commonShape,
  /** File to append every datagram's bytes to, unchanged; `-` for stdout. */
  path: filePath,
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  listenAddrs: addressList(true, 1),
  /** Also copy what arrives to stdout (ignored when `path` is already `-`). */
  tee: flag.optional(),
  ...rotationShape,
  /** Routing rules of the `path` output: it gets only the datagrams they keep. */
  rules: z.strictObject(ruleShape).optional(),
}

const TLS_PREFIX = 'tls://'

/** `HOST:PORT` or `tls://HOST:PORT`. */
const connectAddress = z.string({ error: (iss) => `must be [tls://]HOST:PORT, not ${show(iss.input)}` }).check((ctx) => {
  const bare = ctx.value.startsWith(TLS_PREFIX) ? ctx.value.slice(TLS_PREFIX.length) : ctx.value
  const fail = (message: string) => ctx.issues.push({ code: 'custom', input: ctx.value, message })
  if (/^[a-z]+:\/\//i.test(bare)) {
    fail(`${JSON.stringify(ctx.value)} has an unknown scheme; use HOST:PORT or tls://HOST:PORT`)
    return
  }
  const problem = address(false).safeParse(bare)
  if (!problem.success) fail(problem.error.issues[0].message)
})

/** A listening `HOST:PORT` (port 0 picks one), or `tls://HOST:PORT` for TLS. */
const listenAddress = z.string({ error: (iss) => `must be [tls://]HOST:PORT, not ${String(iss.input)}` }).check((ctx) => {
  const bare = ctx.value.startsWith(TLS_PREFIX) ? ctx.value.slice(TLS_PREFIX.length) : ctx.value
  const fail = (message: string) => ctx.issues.push({ code: 'custom', input: ctx.value, message })
  if (/^[a-z]+:\/\//i.test(bare)) {
    fail(`${JSON.stringify(ctx.value)} has an unknown scheme; use HOST:PORT or tls://HOST:PORT`)
    return
  }
  const problem = address(true).safeParse(bare)
  if (!problem.success) fail(problem.error.issues[0].message)
})

export const proxyShape = {
  ...commonShape,
  ...framingShape,
  /** UDP addresses to listen on (port 0 picks one); a multicast group is joined. */
  udpListenAddrs: addressList(true).optional(),
  /** TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS. */
  tcpConnectAddrs: listOf(connectAddress, '[tls://]HOST:PORT').optional(),
  /** Every datagram goes, unchanged, to each of these (objects: with routing rules, or a balance group). */
  udpDownstreamAddrs: outputList(false, true, 1),
  /** Copy what the sources bring to stdout. */
  tee: flag.optional(),
  /** PEM file of extra CA certificates to trust (besides the system's roots), or a certificate to pin. */
  tlsCa: filePath.optional(),
  /** PEM client certificate (chain), for servers that require one; needs `tlsKey`. */
  tlsCert: filePath.optional(),
  /** PEM key of `tlsCert`. */
  tlsKey: filePath.optional(),
  /** Accept any server certificate. Says so on the log. */
  tlsInsecure: flag.optional(),
}

/** Access settings a single TCP listener may have (they replace the route's for it). */
const listenerAccessShape = {
  allow: listOf(cidr, 'CIDR').optional(),
  maxClientsPerAddress: wholeNumber(1, 1_000_000).optional(),
}
const LISTENER_ACCESS_JSON = {
  allow: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }], description: 'Networks its clients may connect from' },
  maxClientsPerAddress: { type: 'integer', minimum: 1, description: 'Most clients at once from one address' },
}

/** TCP input listeners: `[tls://]HOST:PORT`, or `{ addr, allow, maxClientsPerAddress, idleTimeout }`. */
const tcpInputObject = z.strictObject({ addr: listenAddress, ...listenerAccessShape, idleTimeout: seconds(0.001, 86_400).optional() })
const tcpInputList = itemList<string | { addr: string; allow?: string[]; maxClientsPerAddress?: number; idleTimeout?: number }>(
  (value) => (isObject(value) ? tcpInputObject : listenAddress),
  '[tls://]HOST:PORT, { addr, allow, maxClientsPerAddress, idleTimeout }',
  {
    anyOf: [
      { type: 'string', description: '[tls://]HOST:PORT' },
      { type: 'object', additionalProperties: false, required: ['addr'], properties: { addr: { type: 'string' }, ...LISTENER_ACCESS_JSON, idleTimeout: { type: 'number', exclusiveMinimum: 0 } } },
    ],
  },
)

export const reverseProxyShape = {
  ...commonShape,
  ...framingShape,
  /** UDP inputs: each datagram is published unchanged. */
  udpListenAddrs: addressList(true).optional(),
  /** TCP inputs: any number of clients; each client's stream is framed on its own. `tls://HOST:PORT` for TLS. */
  tcpListenAddrs: tcpInputList.optional(),
  /** The group inputs publish to and outputs subscribe to; default `[ff02::1]:9918`. */
  multicastAddr: address(false).optional(),
  /**
   * TCP outputs: addresses to LISTEN on; every client receives the group's stream (an object:
   * only what its routing rules keep). `tls://HOST:PORT` for TLS.
   */
  tcpOutputAddrs: outputList(true, false, 0, listenAddress, listenerAccessShape, LISTENER_ACCESS_JSON).optional(),
  /** UDP outputs: every group datagram is sent to each. */
  udpOutputAddrs: outputList(false, true).optional(),
  /** Print what the inputs publish to stdout. */
  tee: flag.optional(),
  /** Most TCP clients per TCP listener (inputs and outputs); default 1024. */
  maxTcpClients: wholeNumber(1, 1_000_000).optional(),
  /** Bytes a TCP output client may fall behind before it is disconnected; default 64 MiB. */
  tcpClientQueue: wholeNumber(1_048_576, 2 ** 32 - 1).optional(),
  /** PEM certificate (chain) the `tls://` listeners present; needs `tlsKey`. */
  tlsCert: filePath.optional(),
  /** PEM private key of `tlsCert`. */
  tlsKey: filePath.optional(),
  /** PEM CA certificates: `tls://` listeners then require a client certificate signed by one of them (mutual TLS). */
  tlsClientCa: filePath.optional(),
  /** Networks TCP clients may connect from (every TCP listener of the route), e.g. `10.0.0.0/8`; others are refused. Default: any. */
  allow: listOf(cidr, 'CIDR').optional(),
  /** Most clients at once from one address, per TCP listener; more are refused. Default: no cap but `maxTcpClients`. */
  maxClientsPerAddress: wholeNumber(1, 1_000_000).optional(),
  /** Close a TCP input client that sent nothing for this many seconds. Default: never. */
  idleTimeout: seconds(0.001, 86_400).optional(),
}

/** Checks that span options, with the path of the option they are about (`api`: the create…() functions'). */
function crossChecks(kind: ProgramKind, api = false) {
  return (o: Record<string, unknown>, ctx: z.core.$RefinementCtx) => {
    const empty = (key: string) => !Array.isArray(o[key]) || (o[key] as unknown[]).length === 0
    if (kind === 'proxy') {
      if (empty('udpListenAddrs') && empty('tcpConnectAddrs')) {
        ctx.addIssue({ code: 'custom', path: [], message: 'a source is required: {udpListenAddrs} or {tcpConnectAddrs}' })
      }
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
        const [missing, given] = o.tlsCert === undefined ? ['tlsCert', 'tlsKey'] : ['tlsKey', 'tlsCert']
        ctx.addIssue({ code: 'custom', path: [missing], message: `is required with {${given}}` })
      }
      const tls = Array.isArray(o.tcpConnectAddrs) && (o.tcpConnectAddrs as string[]).some((t) => t.startsWith(TLS_PREFIX))
      const tlsOption = ['tlsCa', 'tlsCert', 'tlsInsecure'].find((k) => o[k] !== undefined && o[k] !== false)
      if (tlsOption && !tls) ctx.addIssue({ code: 'custom', path: [tlsOption], message: 'needs a {tcpConnectAddrs} of the form tls://HOST:PORT' })
    }
    if (o.busKeyNext !== undefined && o.busKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['busKeyNext'], message: 'needs {busKey} (the key to send with)' })
    }
    // A sealed datagram is 30 bytes longer (bus_key::OVERHEAD) and must still be a UDP payload.
    if (o.busKey !== undefined && typeof o.maxDatagram === 'number' && o.maxDatagram > MAX_DATAGRAM - 30) {
      ctx.addIssue({ code: 'custom', path: ['maxDatagram'], message: `is at most ${MAX_DATAGRAM - 30} with {busKey}: a sealed datagram is 30 bytes longer` })
    }
    if (kind === 'client' || kind === 'server') {
      const file = kind === 'client' ? 'copyPath' : 'path'
      if (o.keep !== undefined && o.rotate === undefined) ctx.addIssue({ code: 'custom', path: ['keep'], message: 'needs {rotate}: only rotated files are kept or removed' })
      if (o.rotate !== undefined && (o[file] === undefined || o[file] === '-')) {
        ctx.addIssue({ code: 'custom', path: ['rotate'], message: kind === 'client' ? 'needs {copyPath}: the client rotates only its local copy' : 'needs a file {path}, not - (stdout)' })
      }
    }
    if (kind === 'client') {
      if (o.path === '-' && o.baud !== undefined) ctx.addIssue({ code: 'custom', path: ['baud'], message: 'needs a serial device {path}, not - (stdin)' })
      if (o.path === '-' && o.follow === true) ctx.addIssue({ code: 'custom', path: ['follow'], message: 'needs a file {path}, not - (stdin)' })
      if (o.copyPath === '-') ctx.addIssue({ code: 'custom', path: ['copyPath'], message: 'must be a file; use {tee} to copy to stdout' })
    }
    if (kind === 'reverseproxy' && ['udpListenAddrs', 'tcpListenAddrs', 'tcpOutputAddrs', 'udpOutputAddrs'].every(empty)) {
      // The API may have JavaScript as the only input or output; the CLI and config cannot.
      if (api) {
        if (o.publish !== true && o.subscribe !== true) {
          ctx.addIssue({ code: 'custom', path: [], message: 'nothing to do: give inputs ({udpListenAddrs}, {tcpListenAddrs}, {publish}) and/or outputs ({tcpOutputAddrs}, {udpOutputAddrs}, {subscribe})' })
        }
      } else {
        ctx.addIssue({ code: 'custom', path: [], message: 'nothing to do: give inputs ({udpListenAddrs}, {tcpListenAddrs}) and/or outputs ({tcpOutputAddrs}, {udpOutputAddrs})' })
      }
    }
    if (kind === 'reverseproxy') {
      listenerChecks(o, ctx, empty)
      // The outputs read the group: every datagram there comes from the host that published
      // it, so a rule by source would keep all or nothing and a source hash one member.
      for (const field of ['udpOutputAddrs', 'tcpOutputAddrs']) {
        const list = Array.isArray(o[field]) ? (o[field] as OutputItem[]) : []
        list.forEach((item, i) => {
          if (typeof item !== 'object') return
          if (item.from !== undefined) ctx.addIssue({ code: 'custom', path: [field, i, 'from'], message: "cannot apply to a reverse proxy's outputs: they read the group, where every datagram comes from the host that published it; filter by source where datagrams enter (a forward proxy's outputs)" })
          if ('balance' in item && item.balance === 'source-hash') ctx.addIssue({ code: 'custom', path: [field, i, 'balance'], message: "source-hash cannot spread a reverse proxy's outputs: every group datagram comes from the publishing host; use round-robin" })
        })
      }
    }
  }
}

/** The reverse proxy's TLS and access options need the listeners they are about. */
function listenerChecks(o: Record<string, unknown>, ctx: z.core.$RefinementCtx, empty: (key: string) => boolean) {
  const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message })
  // TCP outputs may be objects with routing rules: their `addr` is the listener.
  const listeners = ['tcpListenAddrs', 'tcpOutputAddrs'].flatMap((k) => (Array.isArray(o[k]) ? outputAddrs(o[k] as OutputItem[]) : []))
  const tls = listeners.some((t) => t.startsWith(TLS_PREFIX))
  if (tls) {
    for (const key of ['tlsCert', 'tlsKey']) if (o[key] === undefined) issue(key, 'is required with a tls:// listener ({tcpListenAddrs} or {tcpOutputAddrs})')
  } else {
    const tlsOption = ['tlsCert', 'tlsKey', 'tlsClientCa'].find((k) => o[k] !== undefined)
    if (tlsOption) issue(tlsOption, 'needs a {tcpListenAddrs} or {tcpOutputAddrs} of the form tls://HOST:PORT')
  }
  if (Array.isArray(o.allow) && o.allow.length === 0) issue('allow', 'is empty: give at least one network, or leave it out to let any address in')
  const accessOption = ['allow', 'maxClientsPerAddress'].find((k) => o[k] !== undefined)
  if (accessOption && listeners.length === 0) issue(accessOption, 'needs a TCP listener ({tcpListenAddrs} or {tcpOutputAddrs})')
  if (o.idleTimeout !== undefined && empty('tcpListenAddrs')) issue('idleTimeout', 'needs a TCP input ({tcpListenAddrs}); output clients are not expected to send')
}

export type ProgramKind = 'client' | 'server' | 'proxy' | 'reverseproxy'

export const SHAPES = {
  client: clientShape,
  server: serverShape,
  proxy: proxyShape,
  reverseproxy: reverseProxyShape,
} as const satisfies Record<ProgramKind, Record<string, z.ZodType>>

/** API-only options, beside a program's own. */
export const apiShape = {
  /** Called for every state change and survived fault (also emitted as 'log'). */
  onLog: z.custom<(entry: LogEntry) => void>((v) => typeof v === 'function', { error: 'must be a function' }).optional(),
  /** Aborting it closes the handle. */
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  /** Emit 'stats' with the counters every this many seconds. */
  statsInterval: wholeNumber(1, 86_400).optional(),
}

/** API-only options of the reverse proxy: JavaScript as an input or an output. */
export const reverseProxyApiShape = {
  /** JavaScript publishes into the group with `handle.send()` (no socket input needed). */
  publish: flag.optional(),
  /** JavaScript receives the group with `handle.messages()` (no socket output needed). */
  subscribe: flag.optional(),
}

const API = {
  client: z.strictObject({ ...clientShape, ...apiShape }).superRefine(crossChecks('client')),
  server: z.strictObject({ ...serverShape, ...apiShape }).superRefine(crossChecks('server')),
  proxy: z.strictObject({ ...proxyShape, ...apiShape }).superRefine(crossChecks('proxy')),
  reverseproxy: z.strictObject({ ...reverseProxyShape, ...reverseProxyApiShape, ...apiShape }).superRefine(crossChecks('reverseproxy', true)),
}

/**
 * The reverse proxy's options as the command line gives them: there JavaScript cannot be an
 * input or an output, so "nothing to do" does not suggest publish or subscribe.
 */
export const reverseProxyCliSchema = z.strictObject({ ...reverseProxyShape, ...apiShape }).superRefine(crossChecks('reverseproxy'))

/** The schema `create…()` of `kind` checks its options with. */
export function apiSchema<K extends ProgramKind>(kind: K): (typeof API)[K] {
  return API[kind]
}

export { crossChecks }
