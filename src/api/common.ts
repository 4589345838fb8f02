/** Options and steps shared by the programs: multicast settings, buffers, destinations. */
import { native } from '../native'
import { fromNative } from '../errors'
import type { BusKeyOptions, DestinationOptions, ListenOptions, OutputOptions } from '../native'
import type { Retention, Rotation } from '../rotation'
import type { LogEntry } from '../handle'
import { labelOf, type Labels } from '../options'
import type { Endpoint } from '../resolve'
import type { FeedOptions } from './feed'

export type Framing = 'packed' | 'line' | 'raw'
export const FRAMINGS: readonly Framing[] = ['packed', 'line', 'raw']

/** Largest UDP payload over IPv4; also the largest `maxDatagram` accepted. */
export const MAX_DATAGRAM = 65507
/** Payload that fits a 1500-byte path without fragmenting: 1500 - 20 (IPv4) - 8 (UDP). */
export const SAFE_DATAGRAM_V4 = 1472
/** 1500 - 40 (IPv6) - 8 (UDP). */
export const SAFE_DATAGRAM_V6 = 1452

export interface CommonOptions extends FeedOptions {
  /** Interface for multicast groups that carry no `%scope`: name, IPv4 address or index. */
  multicastInterface?: string
  /** TTL / hop limit of multicast sent; default 1 (this link only). */
  multicastTtl?: number
  /** Whether multicast we send is looped back to listeners on this host; default true. */
  multicastLoop?: boolean
  /** Receive buffer to ask for per listening socket, in bytes (default 8 MiB). */
  recvBuffer?: number
  /** Send buffer to ask for per sending socket, in bytes (default 8 MiB). */
  sendBuffer?: number
  /**
   * Bus key file (64 hex digits, e.g. from `openssl rand -hex 32`; not readable by group or
   * others): every UDP datagram sent is sealed (authenticated and encrypted, 30 bytes more),
   * and UDP listeners deliver only datagrams sealed with `busKey` or `busKeyNext`, once.
   */
  busKey?: string
  /** A second key file UDP listeners also accept, for a rotation; needs `busKey`. */
  busKeyNext?: string
  /** Called for every state change and survived fault (also emitted as 'log'). */
  onLog?: (entry: LogEntry) => void
  /** Aborting it closes the handle (as `close()` does); aborted while starting, create…() rejects. */
  signal?: AbortSignal
  /** Emit `'stats'` with the counters every this many seconds. */
  statsInterval?: number
}

/** The common options as the schema returns them (with its defaults filled in). */
export interface CheckedOptions {
  multicastInterface?: string
  multicastTtl: number
  multicastLoop: boolean
  recvBuffer: number
  sendBuffer: number
  busKey?: string
  busKeyNext?: string
}

export interface CheckedCommon {
  multicastInterface?: string
  multicastTtl: number
  multicastLoop: boolean
  recvBuffer: number
  sendBuffer: number
  /** Bus key files, checked already (readable, private, a key). */
  busKey?: BusKeyOptions
}

/** The common options (checked, and their defaults filled in, by the schema), with the interface looked up and the key files checked. */
export function checkCommon(o: CheckedOptions, labels?: Labels): CheckedCommon {
  const iface = o.multicastInterface
  if (iface !== undefined) {
    try {
      native().resolveInterface(iface)
    } catch (err) {
      throw fromNative(err, labelOf(labels, 'multicastInterface'))
    }
  }
  let busKey: BusKeyOptions | undefined
  if (o.busKey !== undefined) {
    for (const field of ['busKey', 'busKeyNext'] as const) {
      const file = o[field]
      if (file === undefined) continue
      try {
        native().checkBusKey(file)
      } catch (err) {
        throw fromNative(err, labelOf(labels, field))
      }
    }
    busKey = { path: o.busKey, nextPath: o.busKeyNext }
  }
  return {
    busKey,
    multicastInterface: iface,
    multicastTtl: o.multicastTtl,
    multicastLoop: o.multicastLoop,
    recvBuffer: o.recvBuffer,
    sendBuffer: o.sendBuffer,
  }
}

export function destinationOptions(e: Endpoint, c: CheckedCommon): DestinationOptions {
  return { address: e.address, interface: e.interface, ttl: c.multicastTtl, multicastLoop: c.multicastLoop }
}

export function listenOptions(e: Endpoint, c: CheckedCommon): ListenOptions {
  return { address: e.address, interface: e.interface, recvBuffer: c.recvBuffer }
}

/** Bytes a datagram sealed with the bus key is longer than the plain one (`bus_key::OVERHEAD`). */
export const BUS_KEY_OVERHEAD = 30

/**
 * The default datagram size: the safe one for the smallest path among the destinations,
 * less the bus key's overhead when datagrams are sealed, so sealed ones still fit.
 */
export function defaultMaxDatagram(destinations: Endpoint[], common?: CheckedCommon): number {
  const safe = destinations.some((d) => d.family === 6) ? SAFE_DATAGRAM_V6 : SAFE_DATAGRAM_V4
  return common?.busKey ? safe - BUS_KEY_OVERHEAD : safe
}

/** How a file output rotates: `'hourly'`, `'daily'`, or a size (`'100M'`; k, M, G are 1024-based). */
export type RotateOption = 'hourly' | 'daily' | number | string
/** Rotated files to keep: the newest N (`30`), or those younger than an age (`'7d'`, `'12h'`). */
export type KeepOption = number | string

/** A file output with the rotation and retention the schema checked. */
export function fileOutput(path: string, rotate: Rotation | undefined, keep: Retention | undefined, extra: Partial<OutputOptions> = {}): OutputOptions {
  return {
    ...extra,
    path,
    rotate: rotate === undefined ? undefined : typeof rotate === 'string' ? { every: rotate } : { every: 'size', bytes: rotate.bytes },
    keep: keep === undefined ? undefined : 'files' in keep ? { keep: 'files', count: keep.files } : { keep: 'age', seconds: keep.ageSeconds },
  }
}
