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
import { dedupOption, outputAddrs, outputList, ruleShape, type OutputItem } from './rules'
import { keepAliveShape, linkChecks, linkFields, preambleShape } from './link'
import { option, required } from './option'
import { udpListenerList, wireChecks } from './wire'
import {
  address,
  addressList,
  cidr,
  factor,
  filePath,
  isObject,
  itemList,
  named,
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

/** Where a replayed line's time is (the client's `replay`). */
export const REPLAY_TIMES = ['tag', 'iso', 'unix'] as const
export const CHECKSUM_MODES = ['drop', 'count'] as const
export const TAG_TIMES = ['s', 'ms'] as const
export const THROTTLE_KEYS = ['mmsi', 'sentence', 'line'] as const
export const THROTTLE_KEEPS = ['first', 'latest'] as const

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (iss) => `${show(iss.input)} is not one of ${values.join(', ')}` })

/**
 * A TAG block's station name: printable ASCII without `,` `*` `\` (they end a field, the
 * block's checksum, the block), 1 to 64 characters (core: `TagSpec::station_problem`).
 */
export const station = text('a station name').check((ctx) => {
  const bad = [...ctx.value].find((c) => c < '!' || c > '~' || c === ',' || c === '*' || c === '\\')
  if (ctx.value.length > 64) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${JSON.stringify(ctx.value)} is longer than 64 characters` })
  else if (bad !== undefined)
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `${JSON.stringify(ctx.value)} has ${JSON.stringify(bad)}; a station name is printable ASCII without , * \\ or spaces`,
    })
})

/** The parts of the input stages' options, for the flags that set them (cli/flags.ts). */
export const stageValues = {
  checksum: oneOf(CHECKSUM_MODES),
  station,
  tagTime: oneOf(TAG_TIMES),
  window: seconds(0.001, 86_400),
  throttleKey: oneOf(THROTTLE_KEYS),
  interval: seconds(0.001, 86_400),
  keep: oneOf(THROTTLE_KEEPS),
}

const tagBlockObject = named(
  z
    .strictObject({
      station: stageValues.station.optional().describe("`s:` field: this station's name (printable ASCII without `,` `*` `\\` or spaces, at most 64)."),
      time: stageValues.tagTime.optional().describe("`c:` field: the receive time in UNIX seconds (`'s'`) or milliseconds (`'ms'`)."),
    })
    .refine((t) => t.station !== undefined || t.time !== undefined, { error: 'needs station and/or time' }),
  'TagBlockOption',
  'The TAG block the tag stage adds to every sentence (fields a line already has are kept).',
)

/**
 * Input stages for NMEA 0183 / AIS feeds (docs/sensor-feeds.md): run on every input of the
 * program, before its outputs, in this order.
 */
export const feedShape = {
  /** Check NMEA checksums: `drop` (and count) lines whose checksum is wrong or missing, or `count` them only. */
  checksum: option(stageValues.checksum, {
    flag: 'checksum',
    value: 'drop|count',
    help: 'Check NMEA checksums (sentences, TAG blocks): drop and count lines with a wrong or missing one, or only count them',
    doc: 'Check NMEA checksums (sentences and TAG blocks): `drop` (and count, in `badChecksum`) lines with a wrong or missing one, or `count` them only.',
  }),
  /** Add a TAG block with `s:` (this station) and/or `c:` (receive time) to every sentence. */
  tagBlock: option(tagBlockObject, {
    flag: false,
    help: 'Add a TAG block with s: (station) and/or c: (receive time, s or ms) to every sentence (the --tag-* flags)',
    doc: "Add a TAG block with `s:` and/or `c:` to every sentence (fields a line's TAG block has are kept).",
  }),
  /** Drop a message seen within `window` seconds, across every input (AIS: channel A and B alike; multipart reassembled). */
  dedup: option(dedupOption, {
    flag: false,
    help: 'Drop a message seen within window seconds, across every input (AIS multipart messages judged whole; the --dedup flag)',
    doc: 'Drop a message seen within the window, across every input (AIS: channel A and B alike, multipart messages whole); counted in `duplicates`.',
  }),
  /** At most one line per key (`mmsi`, `sentence`, `line`) per `interval` seconds: the first, or the latest at the interval's end. */
  throttle: option(
    named(
      z.strictObject({
        key: stageValues.throttleKey.describe('`mmsi` (AIS position reports: types 1, 2, 3, 18, 19, 27), `sentence` (talker and type, `GPGGA`), or `line`.'),
        interval: stageValues.interval.describe('Seconds per key.'),
        keep: stageValues.keep.optional().describe("`first` (default): the first line of each interval; `latest`: the newest, sent at the interval's end."),
        others: z
          .enum(['pass', 'drop'], { error: (iss) => `${show(iss.input)} is not one of pass, drop` })
          .optional()
          .describe(
            'Lines the key does not apply to (other AIS types, other sentences, multipart fragments): `pass` (default) or `drop` (counted in `throttled`).',
          ),
      }),
      'ThrottleOption',
      'The throttle stage: at most one line per key per interval.',
    ),
    {
      flag: false,
      help: 'At most one line per key per interval: the first, or the latest at its end (the --throttle-* flags)',
      doc: 'At most one line per key per interval (counted in `throttled`).',
    },
  ),
}

/** Options every program has. */
export const commonShape = {
  multicastInterface: option(text('an interface name, address or index'), {
    flag: 'multicast-interface',
    value: 'NAME|ADDRESS|INDEX',
    help: 'Interface for multicast groups without a %scope (join and send)',
    doc: 'Interface for multicast groups that carry no `%scope`: name, IPv4 address or index.',
  }),
  multicastTtl: option(wholeNumber(0, 255), {
    flag: 'multicast-ttl',
    value: 'N',
    help: 'TTL / hop limit of multicast sent',
    default: 1,
    doc: 'TTL / hop limit of multicast sent; default 1 (this link only).',
  }),
  multicastLoop: option(flag, {
    flag: false,
    help: 'Whether multicast sent is looped back to listeners on this host',
    default: true,
    doc: 'Whether multicast we send is looped back to listeners on this host; default true.',
  }),
  recvBuffer: option(BUFFER, {
    flag: 'recv-buffer',
    value: 'BYTES',
    help: 'Receive buffer per listening socket',
    default: DEFAULT_SOCKET_BUFFER,
    doc: 'Receive buffer to ask for per listening socket, in bytes (default 8 MiB).',
  }),
  sendBuffer: option(BUFFER, {
    flag: 'send-buffer',
    value: 'BYTES',
    help: 'Send buffer per sending socket',
    default: DEFAULT_SOCKET_BUFFER,
    doc: 'Send buffer to ask for per sending socket, in bytes (default 8 MiB).',
  }),
  busKey: option(filePath, {
    flag: 'bus-key',
    value: 'FILE',
    help: 'Seal every UDP datagram sent and accept only sealed ones (key: 64 hex digits, mode 600)',
    doc: 'Bus key file (64 hex digits, e.g. from `openssl rand -hex 32`; not readable by group or others): every UDP datagram sent is sealed (authenticated and encrypted, 30 bytes more), and UDP listeners deliver only datagrams sealed with `busKey` or `busKeyNext`, once.',
  }),
  busKeyNext: option(filePath, {
    flag: 'bus-key-next',
    value: 'FILE',
    help: 'Also accept datagrams sealed with this key (rotation); needs --bus-key',
    doc: 'A second key file UDP listeners also accept, for a rotation; needs `busKey`.',
  }),
  ...feedShape,
}

/** How byte streams become datagrams: the client's input, or (`of`) the TCP streams of a proxy. */
function framingShape(of?: string) {
  return {
    framing: option(framing, {
      doc: `${of ? `How ${of} become datagrams: ` : ''}\`packed\`: whole lines packed per datagram; \`line\`: one line each; \`raw\`: fixed chunks.`,
      flag: 'framing',
      value: 'packed|line|raw',
      help: `${of ? `How ${of} become datagrams: ` : ''}packed: whole lines per datagram, line: one line each, raw: fixed chunks`,
      default: 'packed',
    }),
    maxDatagram: option(wholeNumber(1, MAX_DATAGRAM), {
      doc: `Largest datagram payload${of ? ` made from ${of}` : ''}; by default the safe size for the destinations' family.`,
      flag: 'max-datagram',
      value: 'BYTES',
      help: of ? `Largest datagram made from ${of}` : 'Largest datagram',
      defaultText: DATAGRAM_DEFAULT,
    }),
    lingerMs: option(wholeNumber(0, 60_000), {
      doc: `How long a partial line${of ? ` from ${of}` : ''} waits for its end before it is sent anyway, in milliseconds.`,
      flag: 'linger-ms',
      value: 'MS',
      help: of ? `How long a partial line from ${of} waits before it is sent anyway` : 'How long a partial line waits before it is sent anyway',
      default: 20,
    }),
  }
}

/** Rotation and retention of a file output (the server's file, the client's copy). */
function rotationShape(file: string, docFile = file) {
  return {
    rotate: option(rotation, {
      doc: `Rotate ${docFile}: \`'hourly'\`, \`'daily'\` (UTC) or before it grows past a size (\`'100M'\`, or a number of bytes). The active file stays at its path (\`path\`, \`copyPath\`); rotated ones get the UTC time their data begins: \`path.2026-11-27T17\`, \`path.2026-11-27\`, \`path.2026-11-27T17-42-10\`.`,
      flag: 'rotate',
      value: 'hourly|daily|SIZE',
      help: `Rotate ${file} each UTC hour or day, or before it passes SIZE (e.g. 100M); old ones get dated names`,
    }),
    keep: option(retention, {
      doc: "Rotated files to keep: the newest N (`30`) or those younger than an age (`'7d'`, `'12h'`). Needs `rotate`.",
      flag: 'keep',
      value: 'N|AGE',
      help: 'Keep the newest N rotated files, or remove those older than AGE (e.g. 7d, 12h)',
    }),
  }
}

const tee = (help: string, doc: string) => option(flag, { flag: 'tee', aliases: ['-t'], help, doc, default: false })

export const clientShape = {
  path: required(filePath, {
    flag: 'path',
    value: 'FILE|DEVICE|-',
    help: 'Filepath, device, or "-" for stdin; read until its end',
    doc: 'File, FIFO, device (e.g. `/dev/ttyACM0`), or `-` for stdin. Read until its end.',
  }),
  serverAddrs: required(outputList(false, true, 1, undefined, linkFields(false)), {
    flag: 'server-addr',
    aliases: ['--server_addr'],
    value: 'HOST:PORT',
    help: 'Downstream UDP server address (unicast or multicast). May be repeated',
    doc: "Where every datagram goes: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`; unicast or group. An object gives a server routing rules (`{ addr, prefix: '!AIVDM' }`) or spreads datagrams over a balance group (`{ balance: 'round-robin', addrs: [...] }`).",
  }),
  tee: tee('Copy input to stdout', 'Copy the input to stdout, exactly.'),
  ...framingShape(),
  rate: option(rate, {
    flag: 'rate',
    value: 'BYTES/S',
    help: 'Most bytes per second to send, e.g. 20M; 0 = unlimited',
    default: DEFAULT_RATE,
    defaultText: '80M',
    doc: 'Most bytes per second to send (a number, or text like `50M`); 0 = as fast as the input is read. UDP has no flow control, so the default keeps a file transfer within what a proxy and a server on an ordinary host take without loss.',
  }),
  datagramRate: option(wholeNumber(0, 100_000_000), {
    flag: 'datagram-rate',
    value: 'N',
    help: 'Most datagrams per second to send; 0 = unlimited',
    defaultText: `${LINE_DATAGRAM_RATE} with --framing line, else unlimited`,
    doc: 'Most datagrams per second to send; 0 = no limit. By default 100,000 in line framing (one datagram per line: short datagrams cost a receiver per datagram), no limit otherwise.',
  }),
  replay: option(z.enum(REPLAY_TIMES, { error: (iss) => `${show(iss.input)} is not one of ${REPLAY_TIMES.join(', ')}` }), {
    flag: 'replay',
    value: 'tag|iso|unix',
    help: 'Send each line at its recorded time: its TAG block c: field, or a leading ISO 8601 or UNIX-seconds field (removed)',
    doc: "Replay a recorded log at its recorded timing: each line is sent at its time, taken from its TAG block's `c:` field (`'tag'`: UNIX seconds, or milliseconds), or from a leading field ended by a space, tab or `;` (`'iso'`: ISO 8601 such as `2024-05-01T12:00:00.250Z`; `'unix'`: UNIX seconds such as `1714564800.25`), which is removed before sending. The first line goes at once, each later one no earlier than its offset over `replaySpeed`, never before the line ahead of it; a line without a time goes right after the line before it. `rate` and `datagramRate` still cap it. Needs `framing` line or packed (packed: lines due together share datagrams). A bad time field ends the input with one line naming `replay`.",
  }),
  replaySpeed: option(factor(0.001, 1_000_000), {
    flag: 'replay-speed',
    value: 'FACTOR',
    help: 'How many times faster than recorded to replay, e.g. 10; needs --replay',
    defaultText: '1 (as recorded)',
    doc: 'How many times faster than recorded to replay (`10`, `0.5`); default 1. Needs `replay`.',
  }),
  baud: option(wholeNumber(1, 4_000_000), {
    flag: 'baud',
    value: 'N',
    help: 'Serial device speed to set, e.g. 38400',
    defaultText: 'as the device is',
    doc: 'Serial device speed to set (e.g. 38400 for AIS receivers); kept as it is when not given.',
  }),
  follow: option(flag, {
    flag: 'follow',
    aliases: ['-F'],
    help: 'Keep reading the file as it grows and across rotation, like tail -F',
    default: false,
    doc: 'Keep reading a file as it grows, and across its rotation (renamed or truncated), like `tail -F`; the client then runs until closed.',
  }),
  copyPath: option(filePath, {
    flag: 'copy-path',
    value: 'FILE',
    help: 'Also write what is sent to this local file (see --rotate, --keep)',
    doc: 'Also write what is sent to this local file, exactly (rotated and pruned with `rotate`, `keep`).',
  }),
  ...rotationShape('the --copy-path file', 'the copy (`copyPath`)'),
  ...keepAliveShape,
  ...commonShape,
}

export const serverShape = {
  path: required(filePath, {
    flag: 'path',
    value: 'FILE|-',
    help: 'File to append every datagram to, unchanged; "-" for stdout',
    doc: "File to append every datagram's bytes to, unchanged; `-` for stdout.",
  }),
  listenAddrs: required(addressList(true, 1), {
    flag: 'listen-addr',
    aliases: ['--listen_addr'],
    value: 'HOST:PORT',
    help: 'Upstream UDP listening address (unicast or multicast group). May be repeated',
    doc: '`HOST:PORT` to listen on (port 0 picks one); a multicast group is joined.',
  }),
  tee: tee('Copy input to stdout', 'Also copy what arrives to stdout (ignored when `path` is already `-`).'),
  ...rotationShape('the file'),
  rules: option(
    named(z.strictObject(ruleShape), 'OutputRules', 'Which datagrams an output gets. Every rule given must keep a datagram; absent ones keep all.'),
    {
      flag: false,
      help: 'Routing rules of the path output: it gets only the datagrams they keep (the --filter-* flags)',
      doc: "Routing rules of `path`: it gets only the datagrams they keep (`{ prefix: '!AIVDM', sample: 10 }`). The tee copy gets everything.",
    },
  ),
  stripTagBlocks: option(flag, {
    flag: 'strip-tag-blocks',
    help: 'Remove NMEA 4.10 TAG blocks from every line before writing it',
    default: false,
    doc: 'Remove NMEA 4.10 TAG blocks from every line before it is written (the tee copy keeps them).',
  }),
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

/** Kept connections: `[tls://]HOST:PORT`, or `{ addr, preamble, keepAliveLine, keepAliveAfter }`. */
const tcpConnectObject = z.strictObject({ addr: connectAddress, ...linkFields(true) })
const tcpConnectList = itemList<string | { addr: string; preamble?: string; keepAliveLine?: string; keepAliveAfter?: number }>(
  (value) => (isObject(value) ? tcpConnectObject : connectAddress),
  '[tls://]HOST:PORT, { addr, preamble, keepAliveLine, keepAliveAfter }',
  [connectAddress, tcpConnectObject],
  0,
  { name: 'TcpConnection', doc: "A kept connection (the forward proxy's source): `[tls://]HOST:PORT`, or one with a preamble and keep-alive of its own." },
)

export const proxyShape = {
  udpListenAddrs: option(udpListenerList(), {
    flag: 'udp-listen-addr',
    aliases: ['--udp_listen_addr'],
    value: 'HOST:PORT',
    help: 'UDP listening socket address (unicast or group). May be repeated',
    doc: "UDP addresses to listen on (port 0 picks one); a multicast group is joined. With `busKey`, `{ addr, wire: 'plain' }` is a sensor input: it takes unsealed datagrams.",
  }),
  udpDownstreamAddrs: required(outputList(false, true, 1, undefined, linkFields(false)), {
    flag: 'udp-downstream-addr',
    aliases: ['--udp_downstream_addr', '--downstream_addr'],
    value: 'HOST:PORT',
    help: 'UDP downstream socket address. May be repeated',
    doc: "Every datagram goes, unchanged, to each of these. An object gives one output routing rules (`{ addr, prefix: '!AIVDM' }`) or spreads datagrams over a balance group (`{ balance: 'round-robin', addrs: [...] }`).",
  }),
  tcpConnectAddrs: option(tcpConnectList, {
    flag: 'tcp-connect-addr',
    aliases: ['--tcp_connect_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Connect to TCP (or TLS) host, forwarding stream; reconnects. May be repeated',
    doc: 'TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS.',
  }),
  tlsCa: option(filePath, {
    flag: 'tls-ca',
    value: 'FILE',
    help: 'Also trust the CA certificates in this PEM file',
    doc: "PEM file of extra CA certificates to trust (besides the system's roots). A certificate in it that a server presents as its own (a self-signed one) is pinned: accepted within its validity dates. At most 1 MiB, a regular file.",
  }),
  tlsCert: option(filePath, {
    flag: 'tls-cert',
    value: 'FILE',
    help: 'Client certificate (PEM) for servers that require one',
    doc: 'PEM client certificate (chain), for servers that require one; needs `tlsKey`.',
  }),
  tlsKey: option(filePath, { flag: 'tls-key', value: 'FILE', help: 'Key (PEM) of --tls-cert', doc: 'PEM private key of `tlsCert`.' }),
  tlsInsecure: option(flag, {
    flag: 'tls-insecure',
    help: 'Do not verify server certificates (says so on stderr)',
    default: false,
    doc: 'Accept any server certificate. Says so on the log.',
  }),
  ...framingShape('TCP streams'),
  tee: tee('Copy input to stdout', 'Copy what the sources bring to stdout.'),
  ...keepAliveShape,
  ...preambleShape('to each --tcp-connect-addr server at every (re)connect'),
  ...commonShape,
}

/** Access settings a single TCP listener may have (they replace the route's for it). */
export const listenerAccessShape = {
  allow: listOf(cidr, 'CIDR').optional().describe('Networks its clients may connect from, e.g. `10.0.0.0/8`; others are refused.'),
  maxClientsPerAddress: wholeNumber(1, 1_000_000).optional().describe('Most clients at once from one address on it.'),
}
/** TCP input listeners: `[tls://]HOST:PORT`, or `{ addr, allow, maxClientsPerAddress, idleTimeout }`. */
const tcpInputObject = named(
  z.strictObject({
    addr: listenAddress.describe('`[tls://]HOST:PORT`, as a plain listener.'),
    ...listenerAccessShape,
    idleTimeout: seconds(0.001, 86_400).optional().describe('Close a client that sent nothing for this many seconds.'),
  }),
  'TcpListener',
  'A TCP input listener with settings of its own.',
)
const tcpInputList = itemList<string | { addr: string; allow?: string[]; maxClientsPerAddress?: number; idleTimeout?: number }>(
  (value) => (isObject(value) ? tcpInputObject : listenAddress),
  '[tls://]HOST:PORT, { addr, allow, maxClientsPerAddress, idleTimeout }',
  [listenAddress, tcpInputObject],
)

export const reverseProxyShape = {
  udpListenAddrs: option(udpListenerList(), {
    flag: 'udp-listen-addr',
    aliases: ['--udp_listen_addr'],
    value: 'HOST:PORT',
    help: 'Input: a UDP listener whose datagrams go to --multicast-addr. May be repeated',
    doc: "UDP inputs: each datagram is published unchanged. With `busKey`, `{ addr, wire: 'plain' }` is a sensor input: it takes unsealed datagrams (what it publishes is sealed still).",
  }),
  tcpListenAddrs: option(tcpInputList, {
    flag: 'tcp-listen-addr',
    aliases: ['--tcp_listen_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Input: accept TCP (or TLS) clients; their streams go to --multicast-addr. May be repeated',
    doc: "TCP inputs: any number of clients; each client's stream is framed on its own. `tls://HOST:PORT` listens with TLS (needs `tlsCert` and `tlsKey`); plain and TLS may be mixed.",
  }),
  multicastAddr: option(address(false), {
    flag: 'multicast-addr',
    aliases: ['--multicast_addr'],
    value: 'MULTICAST_IP:PORT',
    help: 'The group inputs publish to and outputs read',
    default: DEFAULT_MULTICAST_ADDR,
    doc: 'The group inputs publish to and outputs subscribe to; default `[ff02::1]:9918`.',
  }),
  tcpOutputAddrs: option(outputList(true, false, 0, listenAddress, { ...listenerAccessShape, ...linkFields(true) }), {
    flag: 'tcp-output-addr',
    aliases: ['--tcp_output_addr'],
    value: '[tls://]HOST:PORT',
    help: 'Output: LISTEN here (TCP or TLS); every client that connects receives the group stream. May be repeated',
    doc: "TCP outputs: addresses to LISTEN on; every client receives the group's stream (an object: only what its routing rules keep). `tls://HOST:PORT` listens with TLS (needs `tlsCert` and `tlsKey`); plain and TLS may be mixed.",
  }),
  tcpConnectOutputAddrs: option(
    outputList(false, false, 0, connectAddress, linkFields(true), {
      name: 'TcpConnectOutput',
      doc: 'A TCP output that connects out to an aggregator: `[tls://]HOST:PORT`, or one with rules, keep-alive and preamble of its own.',
    }),
    {
      flag: 'tcp-connect-output-addr',
      value: '[tls://]HOST:PORT',
      help: 'Output: CONNECT to this aggregator (TCP or TLS) and send it the group stream; reconnects. May be repeated',
      doc: 'TCP outputs that CONNECT to an aggregator that listens and stay connected (reconnecting with backoff); `tls://HOST:PORT` for TLS (trust: `tlsCa`, `tlsInsecure`).',
    },
  ),
  udpOutputAddrs: option(outputList(false, true, 0, undefined, linkFields(false)), {
    flag: 'udp-output-addr',
    aliases: ['--udp_output_addr'],
    value: 'HOST:PORT',
    help: 'Output: send every group datagram to this UDP address. May be repeated',
    doc: 'UDP outputs: every group datagram is sent to each (objects: routing rules, balance groups).',
  }),
  maxTcpClients: option(wholeNumber(1, 1_000_000), {
    flag: 'max-tcp-clients',
    value: 'N',
    help: 'Most clients per TCP listener; more are refused',
    default: 1024,
    doc: 'Most TCP clients per TCP listener (inputs and outputs); default 1024.',
  }),
  tcpClientQueue: option(wholeNumber(1_048_576, 2 ** 32 - 1), {
    flag: 'tcp-client-queue',
    value: 'BYTES',
    help: 'How far a TCP output client may fall behind before it is disconnected',
    default: 64 * 1024 * 1024,
    doc: 'Bytes a TCP output client may fall behind before it is disconnected; default 64 MiB.',
  }),
  tlsCert: option(filePath, {
    flag: 'tls-cert',
    value: 'FILE',
    help: 'Certificate (PEM) the tls:// listeners present',
    doc: 'PEM certificate (chain) the `tls://` listeners present; needs `tlsKey`. At most 1 MiB, a regular file.',
  }),
  tlsKey: option(filePath, { flag: 'tls-key', value: 'FILE', help: 'Key (PEM) of --tls-cert', doc: 'PEM private key of `tlsCert`.' }),
  tlsClientCa: option(filePath, {
    flag: 'tls-client-ca',
    value: 'FILE',
    help: 'Require client certificates signed by a CA in this PEM file (mutual TLS)',
    doc: 'PEM CA certificates: the `tls://` listeners then require every client to present a certificate signed by one of them (mutual TLS); others fail the handshake (counted in `tlsFailures`).',
  }),
  tcpConnectOutputQueue: option(wholeNumber(65_536, 2 ** 32 - 1), {
    flag: 'tcp-connect-output-queue',
    value: 'BYTES',
    help: 'How much a --tcp-connect-output-addr queues while its aggregator is down or slow; more is dropped',
    default: 64 * 1024 * 1024,
    doc: 'Bytes a connect-out output queues while its aggregator is down or slow; what does not fit is dropped (counted in `queueDrops`).',
  }),
  tlsCa: option(filePath, {
    flag: 'tls-ca',
    value: 'FILE',
    help: 'Also trust the CA certificates in this PEM file (tls:// connect-out outputs)',
    doc: "PEM file of extra CA certificates to trust for `tls://` connect-out outputs (besides the system's roots), or a certificate to pin.",
  }),
  tlsInsecure: option(flag, {
    flag: 'tls-insecure',
    help: 'Do not verify the certificates of tls:// connect-out outputs (says so on stderr)',
    default: false,
    doc: "Accept any aggregator's certificate (`tls://` connect-out outputs). Says so on the log.",
  }),
  allow: option(listOf(cidr, 'CIDR'), {
    flag: 'allow',
    value: 'CIDR',
    help: 'Let TCP clients in only from this network (e.g. 10.0.0.0/8) or address. May be repeated',
    defaultText: 'any address',
    doc: 'Networks TCP clients may connect from, e.g. `10.0.0.0/8`, `2001:db8::/32` or one address; applies to every TCP listener of this reverse proxy (inputs and outputs). Others are refused (counted in `refusedNotAllowed`). Default: any address.',
  }),
  maxClientsPerAddress: option(wholeNumber(1, 1_000_000), {
    flag: 'max-clients-per-address',
    value: 'N',
    help: 'Most clients at once from one address, per TCP listener',
    defaultText: 'no cap but --max-tcp-clients',
    doc: 'Most clients at once from one address, per TCP listener; more are refused (counted in `refusedPerAddress`).',
  }),
  idleTimeout: option(seconds(0.001, 86_400), {
    flag: 'idle-timeout',
    value: 'SECONDS',
    help: 'Close TCP input clients that send nothing for this long',
    defaultText: 'never',
    doc: 'Close a TCP input client that sent nothing for this many seconds (counted in `idleTimeouts`). Default: never.',
  }),
  ...framingShape('TCP streams'),
  tee: tee('Print what the inputs publish to stdout', 'Print what the inputs publish to stdout.'),
  ...keepAliveShape,
  ...preambleShape('at every (re)connect of a --tcp-connect-output-addr and to every new --tcp-output-addr client'),
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
      const tls = Array.isArray(o.tcpConnectAddrs) && outputAddrs(o.tcpConnectAddrs as OutputItem[]).some((t) => t.startsWith(TLS_PREFIX))
      const tlsOption = ['tlsCa', 'tlsCert', 'tlsInsecure'].find((k) => o[k] !== undefined && o[k] !== false)
      if (tlsOption && !tls) ctx.addIssue({ code: 'custom', path: [tlsOption], message: 'needs a {tcpConnectAddrs} of the form tls://HOST:PORT' })
      if (o.preamble !== undefined && empty('tcpConnectAddrs'))
        ctx.addIssue({ code: 'custom', path: ['preamble'], message: 'needs a {tcpConnectAddrs}: the preamble is sent to its server at every connect' })
    }
    if (kind !== 'server') {
      const outputs = {
        client: ['serverAddrs'],
        proxy: ['udpDownstreamAddrs', 'tcpConnectAddrs'],
        reverseproxy: ['udpOutputAddrs', 'tcpOutputAddrs', 'tcpConnectOutputAddrs'],
      }[kind]
      linkChecks(o, ctx, outputs)
    }
    if (kind === 'proxy' || kind === 'reverseproxy') wireChecks(o, 'udpListenAddrs', ctx)
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
      if (o.replaySpeed !== undefined && o.replay === undefined)
        ctx.addIssue({ code: 'custom', path: ['replaySpeed'], message: 'needs {replay} (where the recorded times are)' })
      if (o.replay !== undefined && o.framing === 'raw')
        ctx.addIssue({ code: 'custom', path: ['replay'], message: 'needs {framing} line or packed: raw has no lines to time' })
    }
    if (kind === 'reverseproxy' && ['udpListenAddrs', 'tcpListenAddrs', 'tcpOutputAddrs', 'tcpConnectOutputAddrs', 'udpOutputAddrs'].every(empty)) {
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
      for (const field of ['udpOutputAddrs', 'tcpOutputAddrs', 'tcpConnectOutputAddrs']) {
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
  // The connect-out outputs are TLS clients: their trust is tlsCa / tlsInsecure.
  const connectTls = (Array.isArray(o.tcpConnectOutputAddrs) ? outputAddrs(o.tcpConnectOutputAddrs as OutputItem[]) : []).some((t) => t.startsWith(TLS_PREFIX))
  const trustOption = ['tlsCa', 'tlsInsecure'].find((k) => o[k] !== undefined && o[k] !== false)
  if (trustOption && !connectTls) issue(trustOption, 'needs a {tcpConnectOutputAddrs} of the form tls://HOST:PORT')
  if (o.preamble !== undefined && empty('tcpOutputAddrs') && empty('tcpConnectOutputAddrs'))
    issue('preamble', 'needs a TCP output ({tcpConnectOutputAddrs} or {tcpOutputAddrs}) to send it on')
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
  onLog: option(
    z.custom<(entry: LogEntry) => void>((v) => typeof v === 'function', { error: 'must be a function' }),
    {
      flag: false,
      help: 'Called for every state change and survived fault (also emitted as log)',
      doc: "Called for every state change and survived fault (also emitted as 'log').",
    },
  ),
  signal: option(
    z.custom<AbortSignal>((v) => v instanceof AbortSignal, { error: 'must be an AbortSignal' }),
    {
      flag: false,
      help: 'Aborting it closes the handle',
      doc: 'Aborting it closes the handle (as `close()` does); aborted while starting, create…() rejects.',
    },
  ),
  statsInterval: option(wholeNumber(1, 86_400), {
    flag: false,
    help: "Emit 'stats' with the counters every this many seconds",
    doc: "Emit `'stats'` with the counters every this many seconds.",
  }),
}

/** API-only options of the reverse proxy: JavaScript as an input or an output. */
export const reverseProxyApiShape = {
  publish: option(flag, {
    flag: false,
    help: 'JavaScript publishes into the group with handle.send() (no socket input needed)',
    doc: 'JavaScript publishes into the group: `handle.send()` works even with no socket input (it works whenever there are inputs).',
  }),
  subscribe: option(flag, {
    flag: false,
    help: 'JavaScript receives the group with handle.messages() (no socket output needed)',
    doc: 'JavaScript receives the group: `handle.messages()` works even with no socket output (it works whenever there are outputs).',
  }),
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
