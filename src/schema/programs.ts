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
import { option, required } from './option'
import {
  address,
  addressList,
  cidr,
  filePath,
  isObject,
  itemList,
  flag,
  framing,
  listOf,
  MAX_DATAGRAM,
  rate,
  retention,
  rotation,
  seconds,
  show,
  text,
  wholeNumber,
} from './values'

const BUFFER = wholeNumber(1024, 2 ** 31 - 1)
/** The core's socket buffer size when none is asked for (`socket::DEFAULT_SOCKET_BUFFER`). */
export const DEFAULT_SOCKET_BUFFER = 8 * 1024 * 1024
/** The group of the original mproxy, kept for compatibility (the start-up note says what it means). */
export const DEFAULT_MULTICAST_ADDR = '[ff02::1]:9918'
/** Default pacing of the client, in bytes per second. */
export const DEFAULT_RATE = 80_000_000
/**
 * The client's datagrams per second in line framing when `datagramRate` is not given: one
 * datagram per line makes the byte rate about 800,000 short datagrams a second, more than a
 * Node or Python receiver takes. Packed and raw framing are paced by their bytes only.
 */
export const LINE_DATAGRAM_RATE = 100_000
const DATAGRAM_DEFAULT = '1472 IPv4, 1452 IPv6, 30 less with --bus-key'

/** Options every program has. */
export const commonShape = {
  /** Interface for multicast groups that carry no `%scope`: name, IPv4 address or index. */
  multicastInterface: option(text('an interface name, address or index'), {
    flag: 'multicast-interface',
    value: 'NAME|ADDRESS|INDEX',
    help: 'Interface for multicast groups without a %scope (join and send)',
  }),
  /** TTL / hop limit of multicast sent (1: this link only). */
  multicastTtl: option(wholeNumber(0, 255), { flag: 'multicast-ttl', value: 'N', help: 'TTL / hop limit of multicast sent', default: 1 }),
  /** Whether multicast we send is looped back to listeners on this host. */
  multicastLoop: option(flag, { flag: false, help: 'Whether multicast sent is looped back to listeners on this host', default: true }),
  /** Receive buffer to ask for per listening socket, in bytes. */
  recvBuffer: option(BUFFER, { flag: 'recv-buffer', value: 'BYTES', help: 'Receive buffer per listening socket', default: DEFAULT_SOCKET_BUFFER }),
  /** Send buffer to ask for per sending socket, in bytes. */
  sendBuffer: option(BUFFER, { flag: 'send-buffer', value: 'BYTES', help: 'Send buffer per sending socket', default: DEFAULT_SOCKET_BUFFER }),
  /** Bus key file: seal every UDP datagram sent, and accept only sealed ones on UDP listeners. */
  busKey: option(filePath, { flag: 'bus-key', value: 'FILE', help: 'Seal every UDP datagram sent and accept only sealed ones (key: 64 hex digits, mode 600)' }),
  /** A second key file also accepted on UDP listeners (key rotation); needs `busKey`. */
  busKeyNext: option(filePath, { flag: 'bus-key-next', value: 'FILE', help: 'Also accept datagrams sealed with this key (rotation); needs --bus-key' }),
}

/** How byte streams become datagrams: the client's input, or (`of`) the TCP streams of a proxy. */
function framingShape(of?: string) {
  return {
    /** `packed`: whole lines packed per datagram; `line`: one line each; `raw`: fixed chunks. */
    framing: option(framing, {
      flag: 'framing',
      value: 'packed|line|raw',
      help: `${of ? `How ${of} become datagrams: ` : ''}packed: whole lines per datagram, line: one line each, raw: fixed chunks`,
      default: 'packed',
    }),
    /** Largest datagram payload; by default the safe size for the destinations' family. */
    maxDatagram: option(wholeNumber(1, MAX_DATAGRAM), {
      flag: 'max-datagram',
      value: 'BYTES',
      help: of ? `Largest datagram made from ${of}` : 'Largest datagram',
      defaultText: DATAGRAM_DEFAULT,
    }),
    /** How long a partial line waits for its end before it is sent anyway, in milliseconds. */
    lingerMs: option(wholeNumber(0, 60_000), {
      flag: 'linger-ms',
      value: 'MS',
      help: of ? `How long a partial line from ${of} waits before it is sent anyway` : 'How long a partial line waits before it is sent anyway',
      default: 20,
    }),
  }
}

/** Rotation and retention of a file output (the server's file, the client's copy). */
function rotationShape(file: string) {
  return {
    /** Start a new file at each UTC `hourly` or `daily` boundary, or before it grows past a size (`100M`). */
    rotate: option(rotation, {
      flag: 'rotate',
      value: 'hourly|daily|SIZE',
      help: `Rotate ${file} each UTC hour or day, or before it passes SIZE (e.g. 100M); old ones get dated names`,
    }),
    /** Keep the newest N rotated files (`30`), or remove those older than an age (`7d`, `12h`). Needs `rotate`. */
    keep: option(retention, { flag: 'keep', value: 'N|AGE', help: 'Keep the newest N rotated files, or remove those older than AGE (e.g. 7d, 12h)' }),
  }
}

const tee = (help: string) => option(flag, { flag: 'tee', aliases: ['-t'], help, default: false })

export const clientShape = {
  /** File, FIFO, device (e.g. `/dev/ttyACM0`), or `-` for stdin. Read until its end. */
  path: required(filePath, { flag: 'path', value: 'FILE|DEVICE|-', help: 'Filepath, device, or "-" for stdin; read until its end' }),
  /** Where every datagram goes: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`; unicast or group (objects: with routing rules, or a balance group). */
  serverAddrs: required(outputList(false, true, 1), {
    flag: 'server-addr',
    aliases: ['--server_addr'],
    value: 'HOST:PORT',
    help: 'Downstream UDP server address (unicast or multicast). May be repeated',
  }),
  /** Copy the input to stdout, exactly. */
  tee: tee('Copy input to stdout'),
  ...framingShape(),
  /** Most bytes per second to send (a number, or text like `50M`); 0 = as fast as the input is read. */
  rate: option(rate, {
    flag: 'rate',
    value: 'BYTES/S',
    help: 'Most bytes per second to send, e.g. 20M; 0 = unlimited',
    default: DEFAULT_RATE,
    defaultText: '80M',
  }),
  /** Most datagrams per second to send; 0 = no limit. By default 100,000 in line framing, no limit otherwise. */
  datagramRate: option(wholeNumber(0, 100_000_000), {
    flag: 'datagram-rate',
    value: 'N',
    help: 'Most datagrams per second to send; 0 = unlimited',
    defaultText: `${LINE_DATAGRAM_RATE} with --framing line, else unlimited`,
  }),
  /** Serial device speed to set (e.g. 38400 for AIS receivers); kept as it is when not given. */
  baud: option(wholeNumber(1, 4_000_000), { flag: 'baud', value: 'N', help: 'Serial device speed to set, e.g. 38400', defaultText: 'as the device is' }),
  /** Keep reading a file as it grows, and across its rotation, like `tail -F`. */
  follow: option(flag, { flag: 'follow', aliases: ['-F'], help: 'Keep reading the file as it grows and across rotation, like tail -F', default: false }),
  /** Also write what is sent to this local file (rotated and pruned with `rotate` and `keep`). */
  copyPath: option(filePath, { flag: 'copy-path', value: 'FILE', help: 'Also write what is sent to this local file (see --rotate, --keep)' }),
  ...rotationShape('the --copy-path file'),
  ...commonShape,
}

export const serverShape = {
  /** File to append every datagram's bytes to, unchanged; `-` for stdout. */
  path: required(filePath, { flag: 'path', value: 'FILE|-', help: 'File to append every datagram to, unchanged; "-" for stdout' }),
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  listenAddrs: required(addressList(true, 1), {
    flag: 'listen-addr',
    aliases: ['--listen_addr'],
    value: 'HOST:PORT',
    help: 'Upstream UDP listening address (unicast or multicast group). May be repeated',
  }),
  /** Also copy what arrives to stdout (ignored when `path` is already `-`). */
  tee: tee('Copy input to stdout'),
  ...rotationShape('the file'),
  /** Routing rules of the `path` output: it gets only the datagrams they keep. */
  rules: option(z.strictObject(ruleShape), {
    flag: false,
    help: 'Routing rules of the path output: it gets only the datagrams they keep (the --filter-* flags)',
  }),
  /** Remove NMEA 4.10 TAG blocks from every line before it is written (the tee copy keeps them). */
  stripTagBlocks: option(flag, { flag: 'strip-tag-blocks', help: 'Remove NMEA 4.10 TAG blocks from every line before writing it', default: false }),
  ...commonShape,
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
  /** UDP addresses to listen on (port 0 picks one); a multicast group is joined. */
  udpListenAddrs: option(addressList(true), {
    flag: 'udp-listen-addr',
    aliases: ['--udp_listen_addr'],
    value: 'HOST:PORT',
    help: 'UDP listening socket address (unicast or group). May be repeated',
  }),
  /** Every datagram goes, unchanged, to each of these (objects: with routing rules, or a balance group). */
  udpDownstreamAddrs: required(outputList(false, true, 1), {
    flag: 'udp-downstream-addr',
    aliases: ['--udp_downstream_addr', '--downstream_addr'],
    value: 'HOST:PORT',
    help: 'UDP downstream socket address. May be repeated',
  }),
  /** TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS. */
  tcpConnectAddrs: option(listOf(connectAddress, '[tls://]HOST:PORT'), {
    flag: 'tcp-connect-addr',
    aliases: ['--tcp_connect_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Connect to TCP (or TLS) host, forwarding stream; reconnects. May be repeated',
  }),
  /** PEM file of extra CA certificates to trust (besides the system's roots), or a certificate to pin. */
  tlsCa: option(filePath, { flag: 'tls-ca', value: 'FILE', help: 'Also trust the CA certificates in this PEM file' }),
  /** PEM client certificate (chain), for servers that require one; needs `tlsKey`. */
  tlsCert: option(filePath, { flag: 'tls-cert', value: 'FILE', help: 'Client certificate (PEM) for servers that require one' }),
  /** PEM key of `tlsCert`. */
  tlsKey: option(filePath, { flag: 'tls-key', value: 'FILE', help: 'Key (PEM) of --tls-cert' }),
  /** Accept any server certificate. Says so on the log. */
  tlsInsecure: option(flag, { flag: 'tls-insecure', help: 'Do not verify server certificates (says so on stderr)', default: false }),
  ...framingShape('TCP streams'),
  /** Copy what the sources bring to stdout. */
  tee: tee('Copy input to stdout'),
  ...commonShape,
}

/** Access settings a single TCP listener may have (they replace the route's for it). */
const listenerAccessShape = {
  allow: listOf(cidr, 'CIDR').optional().describe('Networks its clients may connect from'),
  maxClientsPerAddress: wholeNumber(1, 1_000_000).optional().describe('Most clients at once from one address'),
}
/** TCP input listeners: `[tls://]HOST:PORT`, or `{ addr, allow, maxClientsPerAddress, idleTimeout }`. */
const tcpInputObject = z.strictObject({ addr: listenAddress, ...listenerAccessShape, idleTimeout: seconds(0.001, 86_400).optional() })
const tcpInputList = itemList<string | { addr: string; allow?: string[]; maxClientsPerAddress?: number; idleTimeout?: number }>(
  (value) => (isObject(value) ? tcpInputObject : listenAddress),
  '[tls://]HOST:PORT, { addr, allow, maxClientsPerAddress, idleTimeout }',
  [listenAddress, tcpInputObject],
)

export const reverseProxyShape = {
  /** UDP inputs: each datagram is published unchanged. */
  udpListenAddrs: option(addressList(true), {
    flag: 'udp-listen-addr',
    aliases: ['--udp_listen_addr'],
    value: 'HOST:PORT',
    help: 'Input: a UDP listener whose datagrams go to --multicast-addr. May be repeated',
  }),
  /** TCP inputs: any number of clients; each client's stream is framed on its own. `tls://HOST:PORT` for TLS. */
  tcpListenAddrs: option(tcpInputList, {
    flag: 'tcp-listen-addr',
    aliases: ['--tcp_listen_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Input: accept TCP (or TLS) clients; their streams go to --multicast-addr. May be repeated',
  }),
  /** The group inputs publish to and outputs subscribe to. */
  multicastAddr: option(address(false), {
    flag: 'multicast-addr',
    aliases: ['--multicast_addr'],
    value: 'MULTICAST_IP:PORT',
    help: 'The group inputs publish to and outputs read',
    default: DEFAULT_MULTICAST_ADDR,
  }),
  /**
   * TCP outputs: addresses to LISTEN on; every client receives the group's stream (an object:
   * only what its routing rules keep). `tls://HOST:PORT` for TLS.
   */
  tcpOutputAddrs: option(outputList(true, false, 0, listenAddress, listenerAccessShape), {
    flag: 'tcp-output-addr',
    aliases: ['--tcp_output_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Output: LISTEN here (TCP or TLS); every client that connects receives the group stream. May be repeated',
  }),
  /** UDP outputs: every group datagram is sent to each. */
  udpOutputAddrs: option(outputList(false, true), {
    flag: 'udp-output-addr',
    aliases: ['--udp_output_addr'],
    value: 'HOST:PORT',
    help: 'Output: send every group datagram to this UDP address. May be repeated',
  }),
  /** Most TCP clients per TCP listener (inputs and outputs). */
  maxTcpClients: option(wholeNumber(1, 1_000_000), {
    flag: 'max-tcp-clients',
    value: 'N',
    help: 'Most clients per TCP listener; more are refused',
    default: 1024,
  }),
  /** Bytes a TCP output client may fall behind before it is disconnected. */
  tcpClientQueue: option(wholeNumber(1_048_576, 2 ** 32 - 1), {
    flag: 'tcp-client-queue',
    value: 'BYTES',
    help: 'How far a TCP output client may fall behind before it is disconnected',
    default: 64 * 1024 * 1024,
  }),
  /** PEM certificate (chain) the `tls://` listeners present; needs `tlsKey`. */
  tlsCert: option(filePath, { flag: 'tls-cert', value: 'FILE', help: 'Certificate (PEM) the tls:// listeners present' }),
  /** PEM private key of `tlsCert`. */
  tlsKey: option(filePath, { flag: 'tls-key', value: 'FILE', help: 'Key (PEM) of --tls-cert' }),
  /** PEM CA certificates: `tls://` listeners then require a client certificate signed by one of them (mutual TLS). */
  tlsClientCa: option(filePath, { flag: 'tls-client-ca', value: 'FILE', help: 'Require client certificates signed by a CA in this PEM file (mutual TLS)' }),
  /** Networks TCP clients may connect from (every TCP listener of the route), e.g. `10.0.0.0/8`; others are refused. Default: any. */
  allow: option(listOf(cidr, 'CIDR'), {
    flag: 'allow',
    value: 'CIDR',
    help: 'Let TCP clients in only from this network (e.g. 10.0.0.0/8) or address. May be repeated',
    defaultText: 'any address',
  }),
  /** Most clients at once from one address, per TCP listener; more are refused. Default: no cap but `maxTcpClients`. */
  maxClientsPerAddress: option(wholeNumber(1, 1_000_000), {
    flag: 'max-clients-per-address',
    value: 'N',
    help: 'Most clients at once from one address, per TCP listener',
    defaultText: 'no cap but --max-tcp-clients',
  }),
  /** Close a TCP input client that sent nothing for this many seconds. Default: never. */
  idleTimeout: option(seconds(0.001, 86_400), {
    flag: 'idle-timeout',
    value: 'SECONDS',
    help: 'Close TCP input clients that send nothing for this long',
    defaultText: 'never',
  }),
  ...framingShape('TCP streams'),
  /** Print what the inputs publish to stdout. */
  tee: tee('Print what the inputs publish to stdout'),
  ...commonShape,
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
      if (o.keep !== undefined && o.rotate === undefined)
        ctx.addIssue({ code: 'custom', path: ['keep'], message: 'needs {rotate}: only rotated files are kept or removed' })
      if (o.rotate !== undefined && (o[file] === undefined || o[file] === '-')) {
        ctx.addIssue({
          code: 'custom',
          path: ['rotate'],
          message: kind === 'client' ? 'needs {copyPath}: the client rotates only its local copy' : 'needs a file {path}, not - (stdout)',
        })
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
          ctx.addIssue({
            code: 'custom',
            path: [],
            message:
              'nothing to do: give inputs ({udpListenAddrs}, {tcpListenAddrs}, {publish}) and/or outputs ({tcpOutputAddrs}, {udpOutputAddrs}, {subscribe})',
          })
        }
      } else {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'nothing to do: give inputs ({udpListenAddrs}, {tcpListenAddrs}) and/or outputs ({tcpOutputAddrs}, {udpOutputAddrs})',
        })
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
          if (item.from !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [field, i, 'from'],
              message:
                "cannot apply to a reverse proxy's outputs: they read the group, where every datagram comes from the host that published it; filter by source where datagrams enter (a forward proxy's outputs)",
            })
          if ('balance' in item && item.balance === 'source-hash')
            ctx.addIssue({
              code: 'custom',
              path: [field, i, 'balance'],
              message: "source-hash cannot spread a reverse proxy's outputs: every group datagram comes from the publishing host; use round-robin",
            })
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
  if (o.idleTimeout !== undefined && empty('tcpListenAddrs'))
    issue('idleTimeout', 'needs a TCP input ({tcpListenAddrs}); output clients are not expected to send')
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
  onLog: option(
    z.custom<(entry: LogEntry) => void>((v) => typeof v === 'function', { error: 'must be a function' }),
    { flag: false, help: 'Called for every state change and survived fault (also emitted as log)' },
  ),
  /** Aborting it closes the handle. */
  signal: option(
    z.custom<AbortSignal>((v) => v instanceof AbortSignal, { error: 'must be an AbortSignal' }),
    { flag: false, help: 'Aborting it closes the handle' },
  ),
  /** Emit 'stats' with the counters every this many seconds. */
  statsInterval: option(wholeNumber(1, 86_400), { flag: false, help: "Emit 'stats' with the counters every this many seconds" }),
}

/** API-only options of the reverse proxy: JavaScript as an input or an output. */
export const reverseProxyApiShape = {
  /** JavaScript publishes into the group with `handle.send()` (no socket input needed). */
  publish: option(flag, { flag: false, help: 'JavaScript publishes into the group with handle.send() (no socket input needed)' }),
  /** JavaScript receives the group with `handle.messages()` (no socket output needed). */
  subscribe: option(flag, { flag: false, help: 'JavaScript receives the group with handle.messages() (no socket output needed)' }),
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
