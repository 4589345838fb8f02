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

/** One output that gets only what its rules keep. */
export interface RuledOutput extends OutputRules {
  /** `HOST:PORT`, as a plain output. */
  addr: string
}

/** UDP outputs that share the datagrams the rules keep: each goes to exactly one of them. */
export interface BalanceGroup extends OutputRules {
  /** `round-robin`: in turn (an exact share each); `source-hash`: by the sender's IP address, so one sender always reaches the same output. */
  balance: 'round-robin' | 'source-hash'
  /** The members. */
  addrs: string | readonly string[]
}

/** A UDP output: `HOST:PORT`, one with rules, or a balance group. */
export type UdpOutput = string | RuledOutput | BalanceGroup
/** A TCP output listener: `HOST:PORT`, or one with rules. */
export type TcpOutput = string | RuledOutput
