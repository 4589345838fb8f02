/**
 * UDP listeners with a wire form of their own: a keyed program's sensor inputs. With
 * `busKey` every UDP listener takes only sealed datagrams; `{ addr, wire: 'plain' }` takes
 * them as sensors send them, while everything the program sends stays sealed.
 */
import type { ListenOptions } from '../native'

/**
 * The wire form a UDP listener accepts: `'sealed'` (only datagrams sealed with `busKey`; the
 * default with a key, and refused without one) or `'plain'` (as received, e.g. from an AIS
 * receiver or gps2udp; anyone who can reach the port can send into the route).
 */
export type Wire = 'sealed' | 'plain'

/** A UDP listener with settings of its own. */
export interface UdpListener {
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  addr: string
  /** Its wire form; default `'sealed'` with `busKey` (plain without one). */
  wire?: Wire
}

/** A UDP listener option's item: `HOST:PORT`, or one with a wire form of its own. */
export type UdpListenerItem = string | UdpListener

/** The native listen options of `listeners`, each with its item's wire form. */
export function withWires(listeners: ListenOptions[], wires: ReadonlyArray<Wire | undefined>): ListenOptions[] {
  return listeners.map((l, i) => (wires[i] === undefined ? l : { ...l, wire: wires[i] as ListenOptions['wire'] }))
}
