/**
 * Outputs with routing rules and stages: an output option (`udpDownstreamAddrs`,
 * `udpOutputAddrs`, `tcpOutputAddrs`) takes plain `HOST:PORT` strings as before, and also
 * objects:
 *
 * - `{ addr, from?, prefix?, match?, sample?, ...stages }`: one output that gets only what its
 *   rules keep, shaped by its stages;
 * - `{ balance: 'round-robin' | 'source-hash', addrs, ...rules, ...stages }` (UDP outputs):
 *   each datagram the rules keep goes to exactly one of `addrs`.
 *
 * The stages (`stageShape`) run per output in the core (output.rs): TAG blocks stripped and
 * one line per datagram (UDP outputs only: a file or a TCP stream is the same bytes either
 * way) before the rules, a rate cap after them.
 *
 * Each item is checked against the one form its shape says it is (a string, an object with
 * `balance`, another object), so a problem is named by its full path
 * (`udpDownstreamAddrs[1].match: ...`), not by "matches none of the forms". The rules run in
 * the Rust core (sink/rules.rs); the pattern is compiled there too, to check it here with
 * the same regular-expression dialect.
 */
import { z } from 'zod'
import { native } from '../native'
import { address, addressList, cidr, flag, isObject, itemList, listOf, named, rate, seconds, text, wholeNumber, type TypeName } from './values'

export const BALANCES = ['round-robin', 'source-hash'] as const
export type BalanceMode = (typeof BALANCES)[number]

/** A regular expression in the core's dialect (Rust `regex`), within its size limit. */
export const pattern = text('a regular expression').check((ctx) => {
  const problem = native().rulePatternProblem(ctx.value)
  if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem })
})

export const ruleShape = {
  /** Keep only datagrams sent from these addresses or CIDR blocks (IPv4 or IPv6). */
  from: listOf(cidr, 'an IP address or CIDR block', 1)
    .optional()
    .describe(
      'Keep only datagrams sent from these addresses or CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`). Files and stdin have no sender and never match.',
    ),
  /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
  prefix: text('text').optional().describe('Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`.'),
  /** Keep only datagrams this regular expression matches (Rust regex syntax, over the bytes). */
  match: pattern
    .optional()
    .describe('Keep only datagrams this regular expression (Rust `regex` syntax, over the bytes) matches, e.g. `^!AIVDM,1,1,,[AB],[1-3]`.'),
  /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
  sample: wholeNumber(1, 2 ** 32 - 1)
    .optional()
    .describe('Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all.'),
}

/** Seconds' worth of its cap an output may get at once after a quiet time, unless `rateBurst` says. */
export const DEFAULT_RATE_BURST = 1
/** Bytes that may wait for an output's rate cap, unless `rateQueue` says. */
export const DEFAULT_RATE_QUEUE = 1024 * 1024

/** Dedup: the route's input stage (`dedup`), and an output's own (`{ addr, dedup }`). */
export const dedupOption = named(
  z.strictObject({ window: seconds(0.001, 86_400).describe('Seconds a message is remembered for (from its first copy).') }),
  'DedupOption',
  'The dedup stage: a message seen within `window` seconds is dropped (AIS: channel A and B alike, multipart messages whole).',
)

/** Stages of one output, before (tag strip, one line per datagram) and after (rate cap) its rules. */
export const stageShape = {
  /** This output's own dedup (a table of its own): a message it got within the window is not sent to it again. */
  dedup: dedupOption.optional(),
  /** Remove NMEA 4.10 TAG blocks (`\s:rcv1,c:1700000000*5A\`) from every line, for consumers that drop tagged lines. */
  stripTagBlocks: flag.optional().describe('Remove NMEA 4.10 TAG blocks (`\\s:rcv1,c:1700000000*5A\\`) from every line, for consumers that drop tagged lines.'),
  /** Most bytes per second this output gets (a number, or text like `50k`); more waits in a queue of `rateQueue` bytes, then is dropped and counted (`capped`). */
  maxRate: rate
    .optional()
    .describe(
      "Most bytes per second this output gets (`50000` or `'50k'`); more waits in a queue of `rateQueue` bytes, then is dropped and counted (`capped`).",
    ),
  /** Most datagrams per second this output gets; more waits in the queue, then is dropped and counted. */
  maxDatagramRate: wholeNumber(1, 100_000_000)
    .optional()
    .describe('Most datagrams per second this output gets; more waits in the queue, then is dropped and counted (`capped`).'),
  /** After a quiet time, this many seconds' worth of the caps may go at once (default 1). */
  rateBurst: seconds(0, 3600).optional().describe("After a quiet time, this many seconds' worth of the caps may go at once. Default 1. Needs a cap."),
  /** Bytes that may wait for the caps before datagrams are dropped (default 1048576). */
  rateQueue: wholeNumber(1, 2 ** 30)
    .optional()
    .describe('Bytes that may wait for the caps before datagrams are dropped. Default 1048576. Needs a cap.'),
}

/** Stages only UDP outputs have. */
export const udpStageShape = {
  /** Send each line as a datagram of its own (Signal K, OpenCPN); a datagram of several lines becomes several. */
  oneLinePerDatagram: flag.optional().describe('Send each line as a datagram of its own (Signal K, OpenCPN): a datagram of several lines becomes several.'),
}

/** `rateBurst` and `rateQueue` shape a cap: without one they would silently do nothing. */
function capChecks(ctx: z.core.ParsePayload<Record<string, unknown>>) {
  const o = ctx.value
  const capped = (typeof o.maxRate === 'number' && o.maxRate > 0) || o.maxDatagramRate !== undefined
  for (const key of ['rateBurst', 'rateQueue']) {
    if (o[key] !== undefined && !capped)
      ctx.issues.push({ code: 'custom', input: o[key], path: [key], message: 'needs {maxRate} or {maxDatagramRate}: it shapes a rate cap' })
  }
}

const balance = z
  .enum(BALANCES, { error: (iss) => `${JSON.stringify(iss.input)} is not one of ${BALANCES.join(', ')}` })
  .describe("`round-robin`: in turn (an exact share each); `source-hash`: by the sender's IP address, so one sender always reaches the same output.")

function forms(portZero: boolean, udp: boolean, plainAddr: z.ZodType<string> = address(portZero), extra: z.ZodRawShape = {}) {
  const addr = plainAddr.describe('Its address, as a plain output of the list gives it (`HOST:PORT`, or `tls://HOST:PORT` where the list takes TLS).')
  const stages = udp ? { ...stageShape, ...udpStageShape } : stageShape
  return {
    addr,
    // The UDP forms have names in the published types; a TCP output's carry listener settings too.
    one: udp
      ? named(z.strictObject({ addr, ...ruleShape, ...stages, ...extra }).check(capChecks), 'RuledOutput', 'One output that gets only what its rules keep.')
      : z.strictObject({ addr, ...ruleShape, ...stages, ...extra }).check(capChecks),
    group: named(
      z.strictObject({ balance, addrs: addressList(portZero, 1).describe('The members.'), ...ruleShape, ...stages, ...extra }).check(capChecks),
      'BalanceGroup',
      'UDP outputs that share the datagrams the rules keep: each goes to exactly one of them.',
    ),
  }
}

/** An output as checked: plain, with rules, or a balance group with rules. */
export type OutputItem =
  | string
  | ({ addr: string } & Shaping & LinkFields & { allow?: string[]; maxClientsPerAddress?: number; idleTimeout?: number })
  | ({ balance: BalanceMode; addrs: string[] } & Shaping & LinkFields)

/** An output's own keep-alive and preamble (schema/link.ts). */
export interface LinkFields {
  keepAliveLine?: string
  keepAliveAfter?: number
  preamble?: string
}

export interface Rules {
  from?: string[]
  prefix?: string
  match?: string
  sample?: number
}

/** Rules and stages of one output, as checked. */
export interface Shaping extends Rules {
  dedup?: { window: number }
  stripTagBlocks?: boolean
  oneLinePerDatagram?: boolean
  maxRate?: number
  maxDatagramRate?: number
  rateBurst?: number
  rateQueue?: number
}

/**
 * One output or a list of them, each `HOST:PORT` or an object with rules and stages;
 * `withBalance`: UDP outputs (balance groups and one line per datagram are allowed).
 */
export function outputList(portZero: boolean, withBalance: boolean, min = 0, addr?: z.ZodType<string>, extra: z.ZodRawShape = {}, name?: TypeName) {
  const f = forms(portZero, withBalance, addr, extra)
  const what = withBalance ? 'HOST:PORT, { addr, ...rules } or { balance, addrs, ...rules }' : 'HOST:PORT or { addr, ...rules }'
  const pick = (value: unknown) => (!isObject(value) ? f.addr : withBalance && 'balance' in value ? f.group : f.one)
  const typeName =
    name ??
    (withBalance
      ? { name: 'UdpOutput', doc: 'A UDP output: `HOST:PORT`, one with rules, or a balance group.' }
      : { name: 'TcpOutput', doc: 'A TCP output listener: `[tls://]HOST:PORT`, or one with rules and access settings of its own.' })
  return itemList<OutputItem>(pick, what, withBalance ? [f.addr, f.one, f.group] : [f.addr, f.one], min, typeName)
}

/** The addresses of an output list, in order (each member of a balance group). */
export function outputAddrs(items: readonly OutputItem[]): string[] {
  return items.flatMap((i) => (typeof i === 'string' ? [i] : 'addr' in i ? [i.addr] : i.addrs))
}
