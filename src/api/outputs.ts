/**
 * How outputs with routing rules and stages become the native route's options: outputs
 * without any stay plain destinations (one shared sink, the untouched fast path); each output
 * with rules or stages, and each balance group, becomes a group of its own that the core
 * shapes once per batch. Every kind of output (UDP, file, TCP) gets its rules and stages in
 * one form, `OutputShapingOptions`, made here; the defaults of the rate cap are applied here,
 * once.
 */
import type { Endpoint } from '../resolve'
import { DEFAULT_RATE_BURST, DEFAULT_RATE_QUEUE, type LinkFields, type OutputItem, type Shaping } from '../schema/rules'
import type { DestinationOptions, KeepAliveOptions, OutputShapingOptions, UdpOutputGroupOptions } from '../native'
import { keepAliveOf } from '../schema/link'

/** The native shaping of an item (rules, stages), or undefined for a plain one. */
export function shapingOptions(item: OutputItem | Shaping | undefined): OutputShapingOptions | undefined {
  if (item === undefined || typeof item === 'string') return undefined
  const { from, prefix, match, sample, dedup, stripTagBlocks, oneLinePerDatagram, maxRate, maxDatagramRate, rateBurst, rateQueue } = item
  const capped = (maxRate !== undefined && maxRate > 0) || maxDatagramRate !== undefined
  return {
    rules: { from, prefix, match, sample },
    dedup,
    stripTagBlocks,
    oneLinePerDatagram,
    rateCap: capped
      ? {
          bytesPerSecond: maxRate ?? 0,
          datagramsPerSecond: maxDatagramRate ?? 0,
          burstSeconds: rateBurst ?? DEFAULT_RATE_BURST,
          queueBytes: rateQueue ?? DEFAULT_RATE_QUEUE,
        }
      : undefined,
  }
}

/**
 * Splits checked UDP outputs, whose addresses were resolved in order (`outputAddrs`), into
 * plain destinations and groups with rules or stages (each with its keep-alive; the plain
 * ones share the program's, `udpKeepAlive`).
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
      udpOutputGroups.push({ destinations: [destination(resolved[next++])], shaping: shapingOptions(item), keepAlive: keepAliveOf(item, program) })
    } else {
      const members = resolved.slice(next, next + item.addrs.length)
      next += item.addrs.length
      udpOutputGroups.push({
        destinations: members.map(destination),
        shaping: shapingOptions(item),
        balance: item.balance,
        keepAlive: keepAliveOf(item, program),
      })
    }
  }
  return { udpDestinations, udpOutputGroups, udpKeepAlive: udpDestinations.length > 0 ? keepAliveOf(undefined, program) : undefined }
}
