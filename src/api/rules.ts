/**
 * Routing rules per output, as the API takes them (the types only: they are part of the
 * published options, so nothing here may reach zod's types; see outputs.ts for how they
 * become the route's options).
 */

/** Which datagrams an output gets. Every rule given must keep a datagram; absent ones keep all. */
export interface OutputRules {
  /** Only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`). Files and stdin have no sender and never match. */
  from?: string | readonly string[]
  /** Only datagrams that start with this text, e.g. `!AIVDM`. */
  prefix?: string
  /** Only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g. `^!AIVDM,1,1,,[AB],[1-3]`. */
  match?: string
  /** Only 1 datagram in this many (the 1st, the N+1th, ...). */
  sample?: number
}

/**
 * A keep-alive: a line (UTF-8, one line; `\r\n` is added unless it ends with `\n`; at most
 * 1 KiB with it) sent on an output that sent nothing for `keepAliveAfter` seconds, for
 * aggregators that mark a quiet feed offline or drop its connection. Given on a program, it
 * applies to its outputs; given on an output (the object form), field by field it replaces
 * the program's for that output. Counted in `keepAlives`.
 */
export interface KeepAlive {
  /** The line; needs `keepAliveAfter` (its own or the program's). */
  keepAliveLine?: string
  /** The quiet time in seconds (more than 0, at most 86400); needs `keepAliveLine`. */
  keepAliveAfter?: number
}

/** A line sent first on every connection: a station key, a login. */
export interface Preamble {
  /**
   * A line (as `keepAliveLine`) sent at every (re)connect of a connection or connect-out
   * output, or to every new TCP output client, before any data. Counted in `preambles`.
   */
  preamble?: string
}

/** One output that gets only what its rules keep. */
export interface RuledOutput extends OutputRules, KeepAlive {
  /** `HOST:PORT`, as a plain output. */
  addr: string
}

/** UDP outputs that share the datagrams the rules keep: each goes to exactly one of them. */
export interface BalanceGroup extends OutputRules, KeepAlive {
  /** `round-robin`: in turn (an exact share each); `source-hash`: by the sender's IP address, so one sender always reaches the same output. */
  balance: 'round-robin' | 'source-hash'
  /** The members. */
  addrs: string | readonly string[]
}

/** A UDP output: `HOST:PORT`, one with rules, or a balance group. */
export type UdpOutput = string | RuledOutput | BalanceGroup
/** Who may connect to one TCP listener; given on it, these replace the route's own. */
export interface ListenerAccess {
  /** Networks its clients may connect from, e.g. `10.0.0.0/8`; others are refused. */
  allow?: string | readonly string[]
  /** Most clients at once from one address on it. */
  maxClientsPerAddress?: number
}

/** A TCP input listener with settings of its own. */
export interface TcpListener extends ListenerAccess {
  /** `[tls://]HOST:PORT`, as a plain listener. */
  addr: string
  /** Close a client that sent nothing for this many seconds. */
  idleTimeout?: number
}

/** A TCP output listener: `[tls://]HOST:PORT`, or one with rules, access settings, keep-alive and preamble of its own. */
export type TcpOutput = string | (RuledOutput & ListenerAccess & Preamble)

/** A kept connection (the forward proxy's source): `[tls://]HOST:PORT`, or one with a preamble and keep-alive of its own. */
export type TcpConnection = string | ({ addr: string } & KeepAlive & Preamble)

/** A TCP output that connects out to an aggregator: `[tls://]HOST:PORT`, or one with rules, keep-alive and preamble of its own. */
export type TcpConnectOutput = string | (RuledOutput & Preamble)
