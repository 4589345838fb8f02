/**
 * What the client says about a transfer, like a file-transfer tool: on a terminal a progress
 * line on stderr, redrawn a few times a second (bytes, percent, rate, time left and losses
 * for an input of known size; bytes, rate and time elapsed for stdin, FIFOs, devices and
 * followed files), and one summary line at the end. Units: B, kB, MB, GB are powers of 1000
 * (as `--rate 80M` is), everywhere.
 */
import type { EndpointStats, Stats } from '../handle'

/** The input stages' endpoint names (the core's `feed` module); an output's stages carry its name too. */
export const INPUT_STAGES = ['checksum', 'tag', 'dedup', 'throttle']

/** `1,234,567`. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** `512 B`, `1.5 kB`, `20.0 MB`, `1.2 GB` (powers of 1000). */
export function bytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = n / 1000
  let i = 0
  while (value >= 999.95 && i < units.length - 1) {
    value /= 1000
    i++
  }
  return `${value.toFixed(1)} ${units[i]}`
}

/** `0.25 s`, `12.5 s`, `2:05`, `1:02:05`. */
export function seconds(s: number): string {
  if (s < 10) return `${s.toFixed(2)} s`
  if (s < 60) return `${s.toFixed(1)} s`
  return clock(s)
}

/** `0:02`, `12:34`, `1:02:05`. */
export function clock(s: number): string {
  const whole = Math.max(0, Math.round(s))
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const sec = String(whole % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

const of = (stats: Stats, kind: EndpointStats['kind']) => stats.endpoints.filter((e) => e.kind === kind)

/** What the client read and framed, what its destinations refused, what else it lost. */
export function transferCounts(stats: Stats) {
  const inputs = of(stats, 'input')
  const destinations = of(stats, 'udp-destination')
  const sum = (list: EndpointStats[], pick: (e: EndpointStats) => number) => list.reduce((n, e) => n + pick(e), 0)
  return {
    bytes: sum(inputs, (e) => e.bytesIn),
    datagrams: sum(inputs, (e) => e.datagramsOut),
    destinations: destinations.length,
    refused: sum(destinations, (e) => e.sendErrors + e.icmpErrors),
    lost: sum(stats.endpoints, (e) => (e.kernelDrops ?? 0) + e.queueDrops + e.truncated + e.writeErrors),
    filtered: stats.totals.filtered,
    // Lines the input stages took out before sending: chosen, not lost. An output's own stages
    // (named after it: `ADDR one-line-per-datagram`) change datagrams, not lines, and are not
    // counted here; what a rate cap drops is `capped`.
    staged: sum(
      of(stats, 'stage').filter((e) => INPUT_STAGES.includes(e.name)),
      (e) => e.datagramsIn - e.datagramsOut,
    ),
    capped: stats.totals.capped,
  }
}

function losses(c: ReturnType<typeof transferCounts>): string {
  const staged = c.staged ? `, ${count(c.staged)} line${c.staged === 1 ? '' : 's'} dropped by input stages` : ''
  const capped = c.capped ? `, ${count(c.capped)} dropped by rate caps` : ''
  return `refused ${count(c.refused)}${c.lost ? `, lost ${count(c.lost)}` : ''}${c.filtered ? `, filtered ${count(c.filtered)}` : ''}${staged}${capped}`
}

/** The progress line (without the program's name). `size`: the input's size when known. */
export function progressLine(stats: Stats, elapsed: number, size: number | undefined): string {
  const c = transferCounts(stats)
  const rate = elapsed > 0 ? c.bytes / elapsed : 0
  if (size === undefined) return `${bytes(c.bytes)}, ${bytes(rate)}/s, ${clock(elapsed)} elapsed; ${losses(c)}`
  const percent = size > 0 ? Math.min(100, Math.floor((c.bytes / size) * 100)) : 100
  const left = rate > 0 ? clock((size - c.bytes) / rate) : '-:--'
  return `${percent}% ${bytes(c.bytes)} of ${bytes(size)}, ${bytes(rate)}/s, ${left} left; ${losses(c)}`
}

/** `sent 13,889 datagrams, 20.0 MB in 0.25 s (80.0 MB/s); refused 0`. */
export function summaryLine(stats: Stats, elapsed: number): string {
  const c = transferCounts(stats)
  const rate = elapsed > 0 ? c.bytes / elapsed : 0
  const to = c.destinations > 1 ? ` to each of ${c.destinations} destinations` : ''
  return `sent ${count(c.datagrams)} datagram${c.datagrams === 1 ? '' : 's'}, ${bytes(c.bytes)}${to} in ${seconds(elapsed)} (${bytes(rate)}/s); ${losses(c)}`
}

const MULTICAST = /^(2(2[4-9]|3\d)\.|\[ff)/i

/**
 * Whether every destination refused every datagram: each one is unicast, was refused (a local
 * error or ICMP) from its first second on and never took datagrams again. Counts alone cannot
 * say it: hosts rate-limit ICMP errors, so `icmpErrors` stays below what was sent. A multicast
 * destination, or one that never answered, is never taken as refusing.
 */
export function everythingRefused(
  stats: Stats,
  refusals: ReadonlyMap<string, { at: number; reason: string }>,
  recovered: ReadonlySet<string>,
): string | undefined {
  const destinations = of(stats, 'udp-destination')
  if (destinations.length === 0 || transferCounts(stats).datagrams === 0) return undefined
  const reasons: string[] = []
  for (const d of destinations) {
    const refusal = refusals.get(d.name)
    if (MULTICAST.test(d.name) || !refusal || refusal.at > 1 || recovered.has(d.name) || !d.unreachable) return undefined
    reasons.push(`${d.name}: ${refusal.reason}`)
  }
  return `nothing was delivered: every datagram was refused (${reasons.join('; ')})`
}
