/**
 * The wire form of a UDP listener: `sealed` (only datagrams sealed with the bus key) or
 * `plain` (as received: sensors such as AIS receivers and gps2udp cannot seal). A UDP
 * listener item is `HOST:PORT` or `{ addr, wire }`. The key protects the hops between
 * mproxies; `plain` opens one listener to sensors while everything the program sends stays
 * sealed. An enum, not a flag, so that later forms are one more value here and in the core
 * (`wire.rs`).
 */
import { z } from 'zod'
import { address, isObject, itemList, named, show } from './values'

export const WIRES = ['sealed', 'plain'] as const
export type Wire = (typeof WIRES)[number]

export const wire = named(
  z.enum(WIRES, { error: (iss) => `${show(iss.input)} is not one of ${WIRES.join(', ')}` }),
  'Wire',
  "The wire form a UDP listener accepts: `'sealed'` (only datagrams sealed with `busKey`; the default with a key, and refused without one) or `'plain'` (as received, e.g. from an AIS receiver or gps2udp; anyone who can reach the port can send into the route).",
)

/** A UDP listener as the schema returns it. */
export type UdpListenerItem = string | { addr: string; wire?: Wire }

const udpListenerObject = named(
  z.strictObject({
    addr: address(true).describe('`HOST:PORT` to listen on (port 0 picks one); a multicast group is joined.'),
    wire: wire.optional().describe("Its wire form; default `'sealed'` with `busKey` (plain without one)."),
  }),
  'UdpListener',
  'A UDP listener with settings of its own.',
)

/** UDP listeners: `HOST:PORT`, or `{ addr, wire }`. */
export function udpListenerList(min = 0) {
  return itemList<UdpListenerItem>(
    (value) => (isObject(value) ? udpListenerObject : address(true)),
    'HOST:PORT, { addr, wire }',
    [address(true), udpListenerObject],
    min,
    { name: 'UdpListenerItem', doc: "A UDP listener option's item: `HOST:PORT`, or one with a wire form of its own." },
  )
}

/** The listeners' addresses, in order. */
export function udpListenerAddrs(items: readonly UdpListenerItem[]): string[] {
  return items.map((i) => (typeof i === 'string' ? i : i.addr))
}

/** The listeners' wire forms, in order (undefined: the default, sealed with a key). */
export function udpListenerWires(items: readonly UdpListenerItem[]): Array<Wire | undefined> {
  return items.map((i) => (typeof i === 'string' ? undefined : i.wire))
}

/**
 * `wire: 'sealed'` needs a bus key: without one there is nothing to seal with, and `plain`
 * is the only form. Reported at the item's `wire`, the same line in `mproxy check` and the run.
 */
export function wireChecks(o: Record<string, unknown>, field: string, ctx: z.core.$RefinementCtx): void {
  const list = o[field]
  if (!Array.isArray(list) || o.busKey !== undefined) return
  list.forEach((item, i) => {
    if (isObject(item) && (item as { wire?: unknown }).wire === 'sealed')
      ctx.addIssue({
        code: 'custom',
        path: [field, i, 'wire'],
        message: "is 'sealed', which needs a bus key (busKey) and there is none: without a key every listener is plain; give busKey or leave wire out",
      })
  })
}
