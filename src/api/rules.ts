/**
 * Routing rules per output, as the API takes them, and how outputs with rules become the
 * native route's options: outputs without rules stay plain destinations (one shared sink,
 * untouched fast path); each output with rules, and each balance group, becomes a group of
 * its own that the core filters once per batch.
 */
import type { Endpoint } from '../resolve'
import type { OutputItem } from '../schema/rules'
import type { DestinationOptions, RuleOptions, UdpOutputGroupOptions } from '../native'

/** Which datagrams an output gets. Every rule given must keep a datagram; absent ones keep all. */
export interface OutputRules {
  /** Only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`). Files and stdin have no sender and never match. */
  from?: string | string[]
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
  addrs: string | string[]
}

/** A UDP output: `HOST:PORT`, one with rules, or a balance group. */
export type UdpOutput = string | RuledOutput | BalanceGroup
/** A TCP output listener: `HOST:PORT`, or one with rules. */
export type TcpOutput = string | RuledOutput

/** The native rule options of an item, or undefined for a plain one. */
export function ruleOptions(item: OutputItem): RuleOptions | undefined {
  if (typeof item === 'string') return undefined
  const { from, prefix, match, sample } = item
  return { from, prefix, match, sample }
}

/**
 * Splits checked UDP outputs, whose addresses were resolved in order (`outputAddrs`), into
 * plain destinations and groups with rules.
 */
export function udpOutputs(
  items: readonly OutputItem[],
  resolved: readonly Endpoint[],
  destination: (e: Endpoint) => DestinationOptions,
): { udpDestinations: DestinationOptions[]; udpOutputGroups: UdpOutputGroupOptions[] } {
  const udpDestinations: DestinationOptions[] = []
  const udpOutputGroups: UdpOutputGroupOptions[] = []
  let next = 0
  for (const item of items) {
    if (typeof item === 'string') {
      udpDestinations.push(destination(resolved[next++]))
    } else if ('addr' in item) {
      udpOutputGroups.push({ destinations: [destination(resolved[next++])], rules: ruleOptions(item) })
    } else {
      const members = resolved.slice(next, next + item.addrs.length)
      next += item.addrs.length
      udpOutputGroups.push({ destinations: members.map(destination), rules: ruleOptions(item), balance: item.balance })
    }
  }
  return { udpDestinations, udpOutputGroups }
}
