/**
 * The periodic stats line (`--stats-interval`): rates since the last line and any loss since
 * then, one line per route, so a person watching a service sees at a glance whether data
 * flows and whether any was lost.
 */
import type { Totals } from '../handle'

const LOSSES = ['kernelDrops', 'queueDrops', 'truncated', 'sendErrors', 'icmpErrors', 'writeErrors', 'bytesDropped'] as const

function perSecond(n: number, seconds: number): string {
  const rate = n / seconds
  return rate >= 100 ? Math.round(rate).toString() : rate.toFixed(1)
}

function megabytes(bytes: number, seconds: number): string {
  return (bytes / seconds / 1e6).toFixed(2)
}

/** Remembers the last totals and describes what changed since. */
export class StatsLine {
  private last: Totals
  private at: number

  constructor(first: Totals, now = Date.now()) {
    this.last = first
    this.at = now
  }

  next(totals: Totals, now = Date.now()): string {
    const seconds = Math.max((now - this.at) / 1000, 1e-3)
    const d = (k: keyof Totals) => (totals[k] ?? 0) - (this.last[k] ?? 0)
    const lost = LOSSES.filter((k) => d(k) > 0).map((k) => `${k} ${d(k)}`)
    const line =
      `in ${perSecond(d('datagramsIn'), seconds)} datagrams/s ${megabytes(d('bytesIn'), seconds)} MB/s, ` +
      `out ${perSecond(d('datagramsOut'), seconds)} datagrams/s ${megabytes(d('bytesOut'), seconds)} MB/s; ` +
      (lost.length ? `lost since last: ${lost.join(', ')}` : totals.kernelDrops === null ? `no loss counted (${KERNEL_DROPS_UNKNOWN})` : 'no loss')
    this.last = totals
    this.at = now
    return line
  }
}

/** The line a stop prints when anything was lost over a run (undefined when nothing was). */
export function lossLine(totals: Totals): string | undefined {
  if (!LOSSES.some((k) => (totals[k] ?? 0) > 0)) return undefined
  return `some data was lost: ${LOSSES.map((k) => `${k} ${totals[k] ?? 'unknown'}`).join(', ')}`
}

/** Said wherever "no loss" would otherwise claim more than this OS can tell. */
export const KERNEL_DROPS_UNKNOWN = 'this OS does not count datagrams its kernel drops'
