/**
 * How outputs with routing rules become the native route's options: outputs without rules
 * stay plain destinations (one shared sink, the untouched fast path); each output with
 * rules, and each balance group, becomes a group of its own that the core filters once per
 * batch.
 */
import type { Endpoint } from '../resolve'
import type { OutputItem, Rules } from '../schema/rules'
import type { LinkFields } from '../schema/rules'
import type { DestinationOptions, KeepAliveOptions, RuleOptions, UdpOutputGroupOptions } from '../native'
import { keepAliveOf } from '../schema/link'

/** The native rule options of an item, or undefined for a plain one. */
export function ruleOptions(item: OutputItem | Rules): RuleOptions | undefined {
  if (typeof item === 'string') return undefined
  const { from, prefix, match, sample } = item
  return { from, prefix, match, sample }
}

/**
 * Splits checked UDP outputs, whose addresses were resolved in order (`outputAddrs`), into
 * plain destinations and groups with rules (each with its keep-alive; the plain ones share
 * the program's, `udpKeepAlive`).
 */
export function udpOutputs(
  items: readonly OutputItem[],
  resolved: readonly Endpoint[],
  destination: (e: Endpoint) => DestinationOptions,
  program: LinkFields = {},
): { udpDestinations: DestinationOptions[]; udpOutputGroups: UdpOutputGroupOptions[]; udpKeepAlive?: KeepAliveOptions } {
  const udpDestinations: DestinationOptions[] = []
  const udpOutputGroups: UdpOutputGroupOptions[] = []
  let next = 0
  for (const item of items) {
    if (typeof item === 'string') {
      udpDestinations.push(destination(resolved[next++]))
    } else if ('addr' in item) {
      udpOutputGroups.push({ destinations: [destination(resolved[next++])], rules: ruleOptions(item), keepAlive: keepAliveOf(item, program) })
    } else {
      const members = resolved.slice(next, next + item.addrs.length)
      next += item.addrs.length
      udpOutputGroups.push({ destinations: members.map(destination), rules: ruleOptions(item), balance: item.balance, keepAlive: keepAliveOf(item, program) })
    }
  }
  return { udpDestinations, udpOutputGroups, udpKeepAlive: udpDestinations.length > 0 ? keepAliveOf(undefined, program) : undefined }
}
