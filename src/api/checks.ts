/**
 * Checks across addresses that each look fine alone: the same address given twice (every
 * datagram would be received or sent twice), and a destination that reaches one of the
 * process's own listeners (every datagram would come back and go out again, forever).
 */
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { usageError } from '../errors'
import type { Endpoint } from '../resolve'

/**
 * Refuses an address given twice under one option. Two listeners on port 0 are two
 * different ports, so they are not duplicates; a group joined on two interfaces is two
 * memberships. `scheme` tells `tls://` from plain TCP for connections.
 */
export function refuseDuplicates(endpoints: readonly Endpoint[], label: string, scheme?: (e: Endpoint) => string): void {
  const seen = new Map<string, Endpoint>()
  for (const e of endpoints) {
    if (e.port === 0) continue
    const key = `${scheme?.(e) ?? ''}${e.address}%${e.interface ?? ''}`
    const first = seen.get(key)
    if (first) {
      throw usageError(
        first.text === e.text ? `${label}: ${e.text} is given twice` : `${label}: ${first.text} and ${e.text} are the same address (${e.address})`,
      )
    }
    seen.set(key, e)
  }
}

/** `::ffff:127.0.0.1` is 127.0.0.1 for this purpose; IPv6 without its %scope. */
function plainIp(ip: string): string {
  const bare = ip.split('%')[0].toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)
  return mapped ? mapped[1] : bare
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}

/** Whether a datagram sent to `ip` is delivered on this host. */
function isThisHost(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '::1' || isUnspecified(ip)) return true
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (plainIp(a.address) === ip) return true
  }
  return false
}

/** A listening socket of this process, as given and as bound. */
export interface OwnListener {
  /** As the user wrote it, for the message. */
  text: string
  /** The bound IP (a group for a multicast listener). */
  ip: string
  /** The bound port (never 0 once bound). */
  port: number
  /** The interface a group is joined on. */
  interface?: string
  /** The option or flag it was given with. */
  label: string
  /** The address the system bound when it differs from `text` (port 0). */
  bound?: string
}

export function ownListener(e: Endpoint, label: string): OwnListener {
  return { text: e.text, ip: e.ip, port: e.port, interface: e.interface, label }
}

/** The same listener once bound: its real port in place of 0. */
export function boundListener(given: OwnListener, bound: string): OwnListener {
  const port = Number(bound.slice(bound.lastIndexOf(':') + 1))
  return { ...given, port, bound }
}

/** Whether a datagram sent to `destination` arrives at `listener`. */
function reaches(destination: Endpoint, listener: OwnListener, multicastLoop: boolean): boolean {
  if (destination.port !== listener.port) return false
  const to = plainIp(destination.ip)
  const at = plainIp(listener.ip)
  if (isIP(to) !== isIP(at)) return false
  if (destination.multicast) {
    // Our own multicast comes back to this host only with loopback on, and only to a
    // membership on the interface it was sent on (no interface named: the system's choice,
    // the same for both).
    return multicastLoop && to === at && (destination.interface ?? '') === (listener.interface ?? '')
  }
  if (isUnspecified(at)) return isThisHost(to)
  return to === at || (isUnspecified(to) && isThisHost(at))
}

/**
 * Refuses a destination that reaches one of the process's own listeners. Listeners on
 * port 0 are checked once bound (`boundListener`), when their port is known.
 */
export function refuseLoops(destinations: readonly Endpoint[], destinationLabel: string, listeners: readonly OwnListener[], multicastLoop: boolean): void {
  for (const destination of destinations) {
    for (const listener of listeners) {
      if (listener.port === 0 || !reaches(destination, listener, multicastLoop)) continue
      const own = `${listener.label} ${listener.text}${listener.bound ? ` (bound to ${listener.bound})` : ''}`
      throw usageError(`${destinationLabel}: ${destination.text} reaches this process's own ${own}; every datagram would come back to it forever`)
    }
  }
}
