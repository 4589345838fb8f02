/**
 * UDP listeners with a wire form of their own: a keyed program's sensor inputs. With
 * `busKey` every UDP listener takes only sealed datagrams; `{ addr, wire: 'plain' }` takes
 * them as sensors send them, while everything the program sends stays sealed.
 */
import type { ListenOptions } from '../native'
import type { Wire } from './option-types'

/** The native listen options of `listeners`, each with its item's wire form. */
export function withWires(listeners: ListenOptions[], wires: ReadonlyArray<Wire | undefined>): ListenOptions[] {
  return listeners.map((l, i) => (wires[i] === undefined ? l : { ...l, wire: wires[i] as ListenOptions['wire'] }))
}
