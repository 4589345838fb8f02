/**
 * The input stages' options (docs/sensor-feeds.md): checksum, tag add, dedup, throttle, run
 * in the core on every input of a program before its outputs. The schema
 * (`feedShape` in schema/programs.ts) checks them; this turns them into the binding's form.
 */
import type { InputStagesOptions } from '../native'

/** The stages as the schema returns them (seconds as numbers). */
export interface CheckedFeed {
  checksum?: 'drop' | 'count'
  tagBlock?: { station?: string; time?: 's' | 'ms' }
  dedup?: { window: number }
  throttle?: { key: 'mmsi' | 'sentence' | 'line'; interval: number; keep?: 'first' | 'latest' }
}

/** The binding's form of the stages; `undefined` when none is on (the route pays nothing). */
export function inputStages(o: CheckedFeed): InputStagesOptions | undefined {
  if (o.checksum === undefined && o.tagBlock === undefined && o.dedup === undefined && o.throttle === undefined) return undefined
  return {
    checksum: o.checksum,
    tagBlock: o.tagBlock,
    dedup: o.dedup && { windowSeconds: o.dedup.window },
    throttle: o.throttle && { key: o.throttle.key, intervalSeconds: o.throttle.interval, keep: o.throttle.keep ?? 'first' },
  }
}
