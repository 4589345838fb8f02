/**
 * The input stages' options (docs/sensor-feeds.md): checksum, tag add, dedup, throttle, run
 * in the core on every input of a program before its outputs. The schema
 * (`feedShape` in schema/programs.ts) checks them; this turns them into the binding's form.
 */
import type { InputStagesOptions } from '../native'

export interface TagBlockOption {
  /** `s:` field: this station's name (printable ASCII without `,` `*` `\` or spaces, at most 64). */
  station?: string
  /** `c:` field: the receive time in UNIX seconds (`'s'`) or milliseconds (`'ms'`). */
  time?: 's' | 'ms'
}

export interface DedupOption {
  /** Seconds a message is remembered for (from its first copy). */
  window: number | string
}

export interface ThrottleOption {
  /** `mmsi` (AIS position reports: types 1, 2, 3, 18, 19, 27), `sentence` (talker and type, `GPGGA`), or `line`. */
  key: 'mmsi' | 'sentence' | 'line'
  /** Seconds per key. */
  interval: number | string
  /** `first` (default): the first line of each interval; `latest`: the newest, sent at the interval's end. */
  keep?: 'first' | 'latest'
}

/** Input stages, in the order they run; each left out is off. */
export interface FeedOptions {
  /** Check NMEA checksums (sentences and TAG blocks): `drop` (and count) lines with a wrong or missing one, or `count` them only. */
  checksum?: 'drop' | 'count'
  /** Add a TAG block with `s:` and/or `c:` to every sentence (fields a line's TAG block has are kept). */
  tagBlock?: TagBlockOption
  /** Drop a message seen within the window, across every input (AIS: channel A and B alike, multipart messages whole). */
  dedup?: DedupOption
  /** At most one line per key per interval. */
  throttle?: ThrottleOption
}

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
