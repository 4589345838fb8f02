/**
 * Routing rules and stages per output, as the API takes them (the types only: they are part of the
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
 * What is done to the stream on its way to one output: TAG blocks stripped before its rules,
 * a rate cap after them. (UDP outputs also have `oneLinePerDatagram`.)
 */
export interface OutputStages {
  /** Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that drop tagged lines. */
  stripTagBlocks?: boolean
  /** Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of `rateQueue` bytes, then is dropped and counted (`capped`). */
  maxRate?: number | string
  /** Most datagrams per second this output gets; more waits in the queue, then is dropped and counted (`capped`). */
  maxDatagramRate?: number | string
  /** After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a cap. */
  rateBurst?: number | string
  /** Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap. */
  rateQueue?: number | string
}

/** Stages only UDP outputs have. */
export interface UdpOutputStages extends OutputStages {
  /** Send each line as a datagram of its own (Signal K, OpenCPN): a datagram of several lines becomes several. */
  oneLinePerDatagram?: boolean
}

/** One output that gets only what its rules keep, shaped by its stages. */
export interface RuledOutput extends OutputRules, UdpOutputStages {
  /** `HOST:PORT`, as a plain output. */
  addr: string
}

/** UDP outputs that share the datagrams the rules keep: each goes to exactly one of them. */
export interface BalanceGroup extends OutputRules, UdpOutputStages {
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

/** A TCP output listener: `[tls://]HOST:PORT`, or one with rules, stages and access settings of its own. */
export type TcpOutput = string | ({ addr: string } & OutputRules & OutputStages & ListenerAccess)
