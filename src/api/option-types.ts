// Written by scripts/write-option-types.js from the option schemas (src/schema/): do not
// edit. After a change to an option: npm run build:ts && node scripts/write-option-types.js
import type { LogEntry } from '../handle'

/** Options every program has (and the handle's, for the API). */
export interface CommonOptions {
  /** Interface for multicast groups that carry no `%scope`: name, IPv4 address or index. */
  multicastInterface?: string
  /** TTL / hop limit of multicast sent; default 1 (this link only). */
  multicastTtl?: number | string
  /** Whether multicast we send is looped back to listeners on this host; default true. */
  multicastLoop?: boolean
  /** Receive buffer to ask for per listening socket, in bytes (default 8 MiB). */
  recvBuffer?: number | string
  /** Send buffer to ask for per sending socket, in bytes (default 8 MiB). */
  sendBuffer?: number | string
  /**
   * Bus key file (64 hex digits, e.g. from `openssl rand -hex 32`; not readable by group or
   * others): every UDP datagram sent is sealed (authenticated and encrypted, 30 bytes more), and
   * UDP listeners deliver only datagrams sealed with `busKey` or `busKeyNext`, once.
   */
  busKey?: string
  /** A second key file UDP listeners also accept, for a rotation; needs `busKey`. */
  busKeyNext?: string
  /**
   * Check NMEA checksums (sentences and TAG blocks): `drop` (and count, in `badChecksum`) lines
   * with a wrong or missing one, or `count` them only.
   */
  checksum?: 'drop' | 'count'
  /**
   * Add a TAG block with `s:` and/or `c:` to every sentence (fields a line's TAG block has are
   * kept).
   */
  tagBlock?: TagBlockOption
  /**
   * Drop a message seen within the window, across every input (AIS: channel A and B alike,
   * multipart messages whole); counted in `duplicates`.
   */
  dedup?: DedupOption
  /** At most one line per key per interval (counted in `throttled`). */
  throttle?: ThrottleOption
  /** Called for every state change and survived fault (also emitted as 'log'). */
  onLog?: (entry: LogEntry) => void
  /**
   * Aborting it closes the handle (as `close()` does); aborted while starting, create…() rejects.
   */
  signal?: AbortSignal
  /** Emit `'stats'` with the counters every this many seconds. */
  statsInterval?: number | string
}

/** TLS options of the forward proxy's `tls://` connections. */
export interface TlsOptions {
  /**
   * PEM file of extra CA certificates to trust (besides the system's roots). A certificate in it
   * that a server presents as its own (a self-signed one) is pinned: accepted within its validity
   * dates. At most 1 MiB, a regular file.
   */
  tlsCa?: string
  /** PEM client certificate (chain), for servers that require one; needs `tlsKey`. */
  tlsCert?: string
  /** PEM private key of `tlsCert`. */
  tlsKey?: string
  /** Accept any server certificate. Says so on the log. Default: `false`. */
  tlsInsecure?: boolean
}

/** Options of `createClient()` and `mproxy-client`. */
export interface ClientOptions extends CommonOptions {
  /** File, FIFO, device (e.g. `/dev/ttyACM0`), or `-` for stdin. Read until its end. */
  path: string
  /**
   * Where every datagram goes: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`; unicast or group.
   * An object gives a server routing rules (`{ addr, prefix: '!AIVDM' }`) or spreads datagrams over
   * a balance group (`{ balance: 'round-robin', addrs: [...] }`).
   */
  serverAddrs: UdpOutput | readonly UdpOutput[]
  /** Copy the input to stdout, exactly. Default: `false`. */
  tee?: boolean
  /**
   * `packed`: whole lines packed per datagram; `line`: one line each; `raw`: fixed chunks. Default:
   * `'packed'`.
   */
  framing?: Framing
  /** Largest datagram payload; by default the safe size for the destinations' family. */
  maxDatagram?: number | string
  /**
   * How long a partial line waits for its end before it is sent anyway, in milliseconds. Default:
   * `20`.
   */
  lingerMs?: number | string
  /**
   * Most bytes per second to send (a number, or text like `50M`); 0 = as fast as the input is read.
   * UDP has no flow control, so the default keeps a file transfer within what a proxy and a server
   * on an ordinary host take without loss.
   */
  rate?: number | string
  /**
   * Most datagrams per second to send; 0 = no limit. By default 100,000 in line framing (one
   * datagram per line: short datagrams cost a receiver per datagram), no limit otherwise.
   */
  datagramRate?: number | string
  /**
   * Replay a recorded log at its recorded timing: each line is sent at its time, taken from its TAG
   * block's `c:` field (`'tag'`: UNIX seconds, or milliseconds), or from a leading field ended by a
   * space, tab or `;` (`'iso'`: ISO 8601 such as `2024-05-01T12:00:00.250Z`; `'unix'`: UNIX seconds
   * such as `1714564800.25`), which is removed before sending. The first line goes at once, each
   * later one no earlier than its offset over `replaySpeed`, never before the line ahead of it; a
   * line without a time goes right after the line before it. `rate` and `datagramRate` still cap
   * it. Needs `framing` line or packed (packed: lines due together share datagrams). A bad time
   * field ends the input with one line naming `replay`.
   */
  replay?: 'tag' | 'iso' | 'unix'
  /** How many times faster than recorded to replay (`10`, `0.5`); default 1. Needs `replay`. */
  replaySpeed?: number | string
  /**
   * Serial device speed to set (e.g. 38400 for AIS receivers); kept as it is when not given.
   * Default: as the device is.
   */
  baud?: number | string
  /**
   * Keep reading a file as it grows, and across its rotation (renamed or truncated), like
   * `tail -F`; the client then runs until closed. Default: `false`.
   */
  follow?: boolean
  /**
   * Also write what is sent to this local file, exactly (rotated and pruned with `rotate`, `keep`).
   */
  copyPath?: string
  /**
   * Rotate the copy (`copyPath`): `'hourly'`, `'daily'` (UTC) or before it grows past a size
   * (`'100M'`, or a number of bytes). The active file stays at its path (`path`, `copyPath`);
   * rotated ones get the UTC time their data begins: `path.2026-11-27T17`, `path.2026-11-27`,
   * `path.2026-11-27T17-42-10`.
   */
  rotate?: number | string
  /**
   * Rotated files to keep: the newest N (`30`) or those younger than an age (`'7d'`, `'12h'`).
   * Needs `rotate`.
   */
  keep?: number | string
  /**
   * A keep-alive: a line (UTF-8, one line; `\r\n` is added unless it ends with `\n`; at most 1 KiB
   * with it) sent on an output that sent nothing for `keepAliveAfter` seconds, for aggregators that
   * mark a quiet feed offline or drop its connection: UDP outputs, TCP output clients, kept
   * connections and connect-out outputs. An output in the object form may have its own. Counted in
   * `keepAlives`. Needs `keepAliveAfter`.
   */
  keepAliveLine?: string
  /**
   * The quiet time in seconds (more than 0, at most 86400) after which `keepAliveLine` is sent;
   * needs `keepAliveLine`.
   */
  keepAliveAfter?: number | string
}

/** Options of `createServer()` and `mproxy-server`. */
export interface ServerOptions extends CommonOptions {
  /** File to append every datagram's bytes to, unchanged; `-` for stdout. */
  path: string
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  listenAddrs: string | readonly string[]
  /** Also copy what arrives to stdout (ignored when `path` is already `-`). Default: `false`. */
  tee?: boolean
  /**
   * Rotate the file: `'hourly'`, `'daily'` (UTC) or before it grows past a size (`'100M'`, or a
   * number of bytes). The active file stays at its path (`path`, `copyPath`); rotated ones get the
   * UTC time their data begins: `path.2026-11-27T17`, `path.2026-11-27`,
   * `path.2026-11-27T17-42-10`.
   */
  rotate?: number | string
  /**
   * Rotated files to keep: the newest N (`30`) or those younger than an age (`'7d'`, `'12h'`).
   * Needs `rotate`.
   */
  keep?: number | string
  /**
   * Routing rules of `path`: it gets only the datagrams they keep
   * (`{ prefix: '!AIVDM', sample: 10 }`). The tee copy gets everything.
   */
  rules?: OutputRules
  /**
   * Remove NMEA 4.10 TAG blocks from every line before it is written (the tee copy keeps them).
   * Default: `false`.
   */
  stripTagBlocks?: boolean
}

/** Options of `createProxy()` and `mproxy-proxy`. */
export interface ProxyOptions extends CommonOptions, TlsOptions {
  /**
   * UDP addresses to listen on (port 0 picks one); a multicast group is joined. With `busKey`,
   * `{ addr, wire: 'plain' }` is a sensor input: it takes unsealed datagrams.
   */
  udpListenAddrs?: UdpListenerItem | readonly UdpListenerItem[]
  /**
   * Every datagram goes, unchanged, to each of these. An object gives one output routing rules
   * (`{ addr, prefix: '!AIVDM' }`) or spreads datagrams over a balance group
   * (`{ balance: 'round-robin', addrs: [...] }`).
   */
  udpDownstreamAddrs: UdpOutput | readonly UdpOutput[]
  /** TCP hosts to connect to and keep connected: `HOST:PORT`, or `tls://HOST:PORT` for TLS. */
  tcpConnectAddrs?: TcpConnection | readonly TcpConnection[]
  /**
   * How TCP streams become datagrams: `packed`: whole lines packed per datagram; `line`: one line
   * each; `raw`: fixed chunks. Default: `'packed'`.
   */
  framing?: Framing
  /**
   * Largest datagram payload made from TCP streams; by default the safe size for the destinations'
   * family.
   */
  maxDatagram?: number | string
  /**
   * How long a partial line from TCP streams waits for its end before it is sent anyway, in
   * milliseconds. Default: `20`.
   */
  lingerMs?: number | string
  /** Copy what the sources bring to stdout. Default: `false`. */
  tee?: boolean
  /**
   * A keep-alive: a line (UTF-8, one line; `\r\n` is added unless it ends with `\n`; at most 1 KiB
   * with it) sent on an output that sent nothing for `keepAliveAfter` seconds, for aggregators that
   * mark a quiet feed offline or drop its connection: UDP outputs, TCP output clients, kept
   * connections and connect-out outputs. An output in the object form may have its own. Counted in
   * `keepAlives`. Needs `keepAliveAfter`.
   */
  keepAliveLine?: string
  /**
   * The quiet time in seconds (more than 0, at most 86400) after which `keepAliveLine` is sent;
   * needs `keepAliveLine`.
   */
  keepAliveAfter?: number | string
  /**
   * A line (as `keepAliveLine`: a login, a station key) sent at every (re)connect of a kept
   * connection or connect-out output, and to every new TCP output client, before any data. Counted
   * in `preambles`.
   */
  preamble?: string
}

/** Options of `createReverseProxy()` and `mproxy-reverseproxy`. */
export interface ReverseProxyOptions extends CommonOptions {
  /**
   * UDP inputs: each datagram is published unchanged. With `busKey`, `{ addr, wire: 'plain' }` is a
   * sensor input: it takes unsealed datagrams (what it publishes is sealed still).
   */
  udpListenAddrs?: UdpListenerItem | readonly UdpListenerItem[]
  /**
   * TCP inputs: any number of clients; each client's stream is framed on its own. `tls://HOST:PORT`
   * listens with TLS (needs `tlsCert` and `tlsKey`); plain and TLS may be mixed.
   */
  tcpListenAddrs?: string | TcpListener | readonly (string | TcpListener)[]
  /** The group inputs publish to and outputs subscribe to; default `[ff02::1]:9918`. */
  multicastAddr?: string
  /**
   * TCP outputs: addresses to LISTEN on; every client receives the group's stream (an object: only
   * what its routing rules keep). `tls://HOST:PORT` listens with TLS (needs `tlsCert` and
   * `tlsKey`); plain and TLS may be mixed.
   */
  tcpOutputAddrs?: TcpOutput | readonly TcpOutput[]
  /**
   * TCP outputs that CONNECT to an aggregator that listens and stay connected (reconnecting with
   * backoff); `tls://HOST:PORT` for TLS (trust: `tlsCa`, `tlsInsecure`).
   */
  tcpConnectOutputAddrs?: TcpConnectOutput | readonly TcpConnectOutput[]
  /** UDP outputs: every group datagram is sent to each (objects: routing rules, balance groups). */
  udpOutputAddrs?: UdpOutput | readonly UdpOutput[]
  /** Most TCP clients per TCP listener (inputs and outputs); default 1024. */
  maxTcpClients?: number | string
  /** Bytes a TCP output client may fall behind before it is disconnected; default 64 MiB. */
  tcpClientQueue?: number | string
  /**
   * PEM certificate (chain) the `tls://` listeners present; needs `tlsKey`. At most 1 MiB, a
   * regular file.
   */
  tlsCert?: string
  /** PEM private key of `tlsCert`. */
  tlsKey?: string
  /**
   * PEM CA certificates: the `tls://` listeners then require every client to present a certificate
   * signed by one of them (mutual TLS); others fail the handshake (counted in `tlsFailures`).
   */
  tlsClientCa?: string
  /**
   * Bytes a connect-out output queues while its aggregator is down or slow; what does not fit is
   * dropped (counted in `queueDrops`). Default: `67108864`.
   */
  tcpConnectOutputQueue?: number | string
  /**
   * PEM file of extra CA certificates to trust for `tls://` connect-out outputs (besides the
   * system's roots), or a certificate to pin.
   */
  tlsCa?: string
  /**
   * Accept any aggregator's certificate (`tls://` connect-out outputs). Says so on the log.
   * Default: `false`.
   */
  tlsInsecure?: boolean
  /**
   * Networks TCP clients may connect from, e.g. `10.0.0.0/8`, `2001:db8::/32` or one address;
   * applies to every TCP listener of this reverse proxy (inputs and outputs). Others are refused
   * (counted in `refusedNotAllowed`). Default: any address.
   */
  allow?: string | readonly string[]
  /**
   * Most clients at once from one address, per TCP listener; more are refused (counted in
   * `refusedPerAddress`). Default: no cap but --max-tcp-clients.
   */
  maxClientsPerAddress?: number | string
  /**
   * Close a TCP input client that sent nothing for this many seconds (counted in `idleTimeouts`).
   * Default: never.
   */
  idleTimeout?: number | string
  /**
   * How TCP streams become datagrams: `packed`: whole lines packed per datagram; `line`: one line
   * each; `raw`: fixed chunks. Default: `'packed'`.
   */
  framing?: Framing
  /**
   * Largest datagram payload made from TCP streams; by default the safe size for the destinations'
   * family.
   */
  maxDatagram?: number | string
  /**
   * How long a partial line from TCP streams waits for its end before it is sent anyway, in
   * milliseconds. Default: `20`.
   */
  lingerMs?: number | string
  /** Print what the inputs publish to stdout. Default: `false`. */
  tee?: boolean
  /**
   * A keep-alive: a line (UTF-8, one line; `\r\n` is added unless it ends with `\n`; at most 1 KiB
   * with it) sent on an output that sent nothing for `keepAliveAfter` seconds, for aggregators that
   * mark a quiet feed offline or drop its connection: UDP outputs, TCP output clients, kept
   * connections and connect-out outputs. An output in the object form may have its own. Counted in
   * `keepAlives`. Needs `keepAliveAfter`.
   */
  keepAliveLine?: string
  /**
   * The quiet time in seconds (more than 0, at most 86400) after which `keepAliveLine` is sent;
   * needs `keepAliveLine`.
   */
  keepAliveAfter?: number | string
  /**
   * A line (as `keepAliveLine`: a login, a station key) sent at every (re)connect of a kept
   * connection or connect-out output, and to every new TCP output client, before any data. Counted
   * in `preambles`.
   */
  preamble?: string
  /**
   * JavaScript publishes into the group: `handle.send()` works even with no socket input (it works
   * whenever there are inputs).
   */
  publish?: boolean
  /**
   * JavaScript receives the group: `handle.messages()` works even with no socket output (it works
   * whenever there are outputs).
   */
  subscribe?: boolean
}

/** Who may connect to one TCP listener; given on it, these replace the route's own. */
export interface ListenerAccess {
  /** Networks its clients may connect from, e.g. `10.0.0.0/8`; others are refused. */
  allow?: string | readonly string[]
  /** Most clients at once from one address on it. */
  maxClientsPerAddress?: number | string
}

/**
 * An output's own keep-alive (the object form of an output): a line sent when it sent nothing for
 * `keepAliveAfter` seconds; field by field it replaces the program's.
 */
export interface KeepAlive {
  /** This output's keep-alive line (else the program's keepAliveLine) */
  keepAliveLine?: string
  /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
  keepAliveAfter?: number | string
}

/** An output's or connection's own preamble: a line sent first on every connection. */
export interface Preamble {
  /** This output's preamble (else the program's preamble) */
  preamble?: string
}

/** An output's stages (the object form of any output): TAG blocks stripped, a rate cap. */
export interface OutputStages {
  dedup?: DedupOption
  /**
   * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
   * drop tagged lines.
   */
  stripTagBlocks?: boolean
  /**
   * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
   * `rateQueue` bytes, then is dropped and counted (`capped`).
   */
  maxRate?: number | string
  /**
   * Most datagrams per second this output gets; more waits in the queue, then is dropped and
   * counted (`capped`).
   */
  maxDatagramRate?: number | string
  /**
   * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
   * cap.
   */
  rateBurst?: number | string
  /**
   * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
   */
  rateQueue?: number | string
}

/** A UDP output's stages: an output's, and one line per datagram. */
export interface UdpOutputStages {
  dedup?: DedupOption
  /**
   * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
   * drop tagged lines.
   */
  stripTagBlocks?: boolean
  /**
   * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
   * `rateQueue` bytes, then is dropped and counted (`capped`).
   */
  maxRate?: number | string
  /**
   * Most datagrams per second this output gets; more waits in the queue, then is dropped and
   * counted (`capped`).
   */
  maxDatagramRate?: number | string
  /**
   * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
   * cap.
   */
  rateBurst?: number | string
  /**
   * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
   */
  rateQueue?: number | string
  /**
   * Send each line as a datagram of its own (Signal K, OpenCPN): a datagram of several lines
   * becomes several.
   */
  oneLinePerDatagram?: boolean
}

/** Input stages (every program has them), in the order they run; each left out is off. */
export interface FeedOptions {
  /**
   * Check NMEA checksums (sentences and TAG blocks): `drop` (and count, in `badChecksum`) lines
   * with a wrong or missing one, or `count` them only.
   */
  checksum?: 'drop' | 'count'
  /**
   * Add a TAG block with `s:` and/or `c:` to every sentence (fields a line's TAG block has are
   * kept).
   */
  tagBlock?: TagBlockOption
  /**
   * Drop a message seen within the window, across every input (AIS: channel A and B alike,
   * multipart messages whole); counted in `duplicates`.
   */
  dedup?: DedupOption
  /** At most one line per key per interval (counted in `throttled`). */
  throttle?: ThrottleOption
}

/** UDP outputs that share the datagrams the rules keep: each goes to exactly one of them. */
export interface BalanceGroup {
  /**
   * `round-robin`: in turn (an exact share each); `source-hash`: by the sender's IP address, so one
   * sender always reaches the same output.
   */
  balance: 'round-robin' | 'source-hash'
  /** The members. */
  addrs: string | readonly string[]
  /**
   * Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`).
   * Files and stdin have no sender and never match.
   */
  from?: string | readonly string[]
  /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
  prefix?: string
  /**
   * Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g.
   * `^!AIVDM,1,1,,[AB],[1-3]`.
   */
  match?: string
  /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
  sample?: number | string
  dedup?: DedupOption
  /**
   * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
   * drop tagged lines.
   */
  stripTagBlocks?: boolean
  /**
   * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
   * `rateQueue` bytes, then is dropped and counted (`capped`).
   */
  maxRate?: number | string
  /**
   * Most datagrams per second this output gets; more waits in the queue, then is dropped and
   * counted (`capped`).
   */
  maxDatagramRate?: number | string
  /**
   * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
   * cap.
   */
  rateBurst?: number | string
  /**
   * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
   */
  rateQueue?: number | string
  /**
   * Send each line as a datagram of its own (Signal K, OpenCPN): a datagram of several lines
   * becomes several.
   */
  oneLinePerDatagram?: boolean
  /** This output's keep-alive line (else the program's keepAliveLine) */
  keepAliveLine?: string
  /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
  keepAliveAfter?: number | string
}

/**
 * The dedup stage: a message seen within `window` seconds is dropped (AIS: channel A and B alike,
 * multipart messages whole).
 */
export interface DedupOption {
  /** Seconds a message is remembered for (from its first copy). */
  window: number | string
}

/**
 * How a byte stream becomes datagrams: `packed` (whole lines packed per datagram), `line` (one line
 * each) or `raw` (fixed chunks).
 */
export type Framing = 'packed' | 'line' | 'raw'

/** Which datagrams an output gets. Every rule given must keep a datagram; absent ones keep all. */
export interface OutputRules {
  /**
   * Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`).
   * Files and stdin have no sender and never match.
   */
  from?: string | readonly string[]
  /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
  prefix?: string
  /**
   * Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g.
   * `^!AIVDM,1,1,,[AB],[1-3]`.
   */
  match?: string
  /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
  sample?: number | string
}

/** One output that gets only what its rules keep. */
export interface RuledOutput {
  /**
   * Its address, as a plain output of the list gives it (`HOST:PORT`, or `tls://HOST:PORT` where
   * the list takes TLS).
   */
  addr: string
  /**
   * Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`).
   * Files and stdin have no sender and never match.
   */
  from?: string | readonly string[]
  /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
  prefix?: string
  /**
   * Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g.
   * `^!AIVDM,1,1,,[AB],[1-3]`.
   */
  match?: string
  /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
  sample?: number | string
  dedup?: DedupOption
  /**
   * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
   * drop tagged lines.
   */
  stripTagBlocks?: boolean
  /**
   * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
   * `rateQueue` bytes, then is dropped and counted (`capped`).
   */
  maxRate?: number | string
  /**
   * Most datagrams per second this output gets; more waits in the queue, then is dropped and
   * counted (`capped`).
   */
  maxDatagramRate?: number | string
  /**
   * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
   * cap.
   */
  rateBurst?: number | string
  /**
   * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
   */
  rateQueue?: number | string
  /**
   * Send each line as a datagram of its own (Signal K, OpenCPN): a datagram of several lines
   * becomes several.
   */
  oneLinePerDatagram?: boolean
  /** This output's keep-alive line (else the program's keepAliveLine) */
  keepAliveLine?: string
  /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
  keepAliveAfter?: number | string
}

/** The TAG block the tag stage adds to every sentence (fields a line already has are kept). */
export interface TagBlockOption {
  /**
   * `s:` field: this station's name (printable ASCII without `,` `*` `\` or spaces, at most 64).
   */
  station?: string
  /** `c:` field: the receive time in UNIX seconds (`'s'`) or milliseconds (`'ms'`). */
  time?: 's' | 'ms'
}

/**
 * A kept connection (the forward proxy's source): `[tls://]HOST:PORT`, or one with a preamble and
 * keep-alive of its own.
 */
export type TcpConnection =
  | string
  | {
      addr: string
      /** This output's keep-alive line (else the program's keepAliveLine) */
      keepAliveLine?: string
      /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
      keepAliveAfter?: number | string
      /** This output's preamble (else the program's preamble) */
      preamble?: string
    }

/**
 * A TCP output that connects out to an aggregator: `[tls://]HOST:PORT`, or one with rules,
 * keep-alive and preamble of its own.
 */
export type TcpConnectOutput =
  | string
  | {
      /**
       * Its address, as a plain output of the list gives it (`HOST:PORT`, or `tls://HOST:PORT` where
       * the list takes TLS).
       */
      addr: string
      /**
       * Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`).
       * Files and stdin have no sender and never match.
       */
      from?: string | readonly string[]
      /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
      prefix?: string
      /**
       * Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g.
       * `^!AIVDM,1,1,,[AB],[1-3]`.
       */
      match?: string
      /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
      sample?: number | string
      dedup?: DedupOption
      /**
       * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
       * drop tagged lines.
       */
      stripTagBlocks?: boolean
      /**
       * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
       * `rateQueue` bytes, then is dropped and counted (`capped`).
       */
      maxRate?: number | string
      /**
       * Most datagrams per second this output gets; more waits in the queue, then is dropped and
       * counted (`capped`).
       */
      maxDatagramRate?: number | string
      /**
       * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
       * cap.
       */
      rateBurst?: number | string
      /**
       * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
       */
      rateQueue?: number | string
      /** This output's keep-alive line (else the program's keepAliveLine) */
      keepAliveLine?: string
      /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
      keepAliveAfter?: number | string
      /** This output's preamble (else the program's preamble) */
      preamble?: string
    }

/** A TCP input listener with settings of its own. */
export interface TcpListener {
  /** `[tls://]HOST:PORT`, as a plain listener. */
  addr: string
  /** Networks its clients may connect from, e.g. `10.0.0.0/8`; others are refused. */
  allow?: string | readonly string[]
  /** Most clients at once from one address on it. */
  maxClientsPerAddress?: number | string
  /** Close a client that sent nothing for this many seconds. */
  idleTimeout?: number | string
}

/** A TCP output listener: `[tls://]HOST:PORT`, or one with rules and access settings of its own. */
export type TcpOutput =
  | string
  | {
      /**
       * Its address, as a plain output of the list gives it (`HOST:PORT`, or `tls://HOST:PORT` where
       * the list takes TLS).
       */
      addr: string
      /**
       * Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`).
       * Files and stdin have no sender and never match.
       */
      from?: string | readonly string[]
      /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
      prefix?: string
      /**
       * Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g.
       * `^!AIVDM,1,1,,[AB],[1-3]`.
       */
      match?: string
      /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
      sample?: number | string
      dedup?: DedupOption
      /**
       * Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that
       * drop tagged lines.
       */
      stripTagBlocks?: boolean
      /**
       * Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of
       * `rateQueue` bytes, then is dropped and counted (`capped`).
       */
      maxRate?: number | string
      /**
       * Most datagrams per second this output gets; more waits in the queue, then is dropped and
       * counted (`capped`).
       */
      maxDatagramRate?: number | string
      /**
       * After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a
       * cap.
       */
      rateBurst?: number | string
      /**
       * Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.
       */
      rateQueue?: number | string
      /** Networks its clients may connect from, e.g. `10.0.0.0/8`; others are refused. */
      allow?: string | readonly string[]
      /** Most clients at once from one address on it. */
      maxClientsPerAddress?: number | string
      /** This output's keep-alive line (else the program's keepAliveLine) */
      keepAliveLine?: string
      /** This output's keep-alive quiet time in seconds (else the program's keepAliveAfter) */
      keepAliveAfter?: number | string
      /** This output's preamble (else the program's preamble) */
      preamble?: string
    }

/** The throttle stage: at most one line per key per interval. */
export interface ThrottleOption {
  /**
   * `mmsi` (AIS position reports: types 1, 2, 3, 18, 19, 27), `sentence` (talker and type,
   * `GPGGA`), or `line`.
   */
  key: 'mmsi' | 'sentence' | 'line'
  /** Seconds per key. */
  interval: number | string
  /**
   * `first` (default): the first line of each interval; `latest`: the newest, sent at the
   * interval's end.
   */
  keep?: 'first' | 'latest'
  /**
   * Lines the key does not apply to (other AIS types, other sentences, multipart fragments): `pass`
   * (default) or `drop` (counted in `throttled`).
   */
  others?: 'pass' | 'drop'
}

/** A UDP listener with settings of its own. */
export interface UdpListener {
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  addr: string
  /** Its wire form; default `'sealed'` with `busKey` (plain without one). */
  wire?: Wire
}

/** A UDP listener option's item: `HOST:PORT`, or one with a wire form of its own. */
export type UdpListenerItem = string | UdpListener

/** A UDP output: `HOST:PORT`, one with rules, or a balance group. */
export type UdpOutput = string | RuledOutput | BalanceGroup

/**
 * The wire form a UDP listener accepts: `'sealed'` (only datagrams sealed with `busKey`; the
 * default with a key, and refused without one) or `'plain'` (as received, e.g. from an AIS receiver
 * or gps2udp; anyone who can reach the port can send into the route).
 */
export type Wire = 'sealed' | 'plain'
