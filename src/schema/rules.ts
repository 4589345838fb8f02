/**
 * Outputs with routing rules: an output option (`udpDownstreamAddrs`, `udpOutputAddrs`,
 * `tcpOutputAddrs`) takes plain `HOST:PORT` strings as before, and also objects:
 *
 * - `{ addr, from?, prefix?, match?, sample? }`: one output that gets only what its rules keep;
 * - `{ balance: 'round-robin' | 'source-hash', addrs, ...rules }` (UDP outputs): each
 *   datagram the rules keep goes to exactly one of `addrs`.
 *
 * Each item is checked against the one form its shape says it is (a string, an object with
 * `balance`, another object), so a problem is named by its full path
 * (`udpDownstreamAddrs[1].match: ...`), not by "matches none of the forms". The rules run in
 * the Rust core (sink/rules.rs); the pattern is compiled there too, to check it here with
 * the same regular-expression dialect.
 */
import { z } from 'zod'
import { native } from '../native'
import { address, addressList, cidr, isObject, itemList, listOf, named, text, wholeNumber, type TypeName } from './values'

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

const balance = z
  .enum(BALANCES, { error: (iss) => `${JSON.stringify(iss.input)} is not one of ${BALANCES.join(', ')}` })
  .describe("`round-robin`: in turn (an exact share each); `source-hash`: by the sender's IP address, so one sender always reaches the same output.")

function forms(portZero: boolean, plainAddr: z.ZodType<string> = address(portZero), extra: z.ZodRawShape = {}, names?: { one: string }) {
  const addr = plainAddr.describe('`HOST:PORT`, as a plain output.')
  return {
    addr,
    // The UDP forms have names in the published types; a TCP output's carry listener settings too.
    one: names
      ? named(z.strictObject({ addr, ...ruleShape, ...extra }), names.one, 'One output that gets only what its rules keep.')
      : z.strictObject({ addr, ...ruleShape, ...extra }),
    group: named(
      z.strictObject({ balance, addrs: addressList(portZero, 1).describe('The members.'), ...ruleShape, ...extra }),
      'BalanceGroup',
      'UDP outputs that share the datagrams the rules keep: each goes to exactly one of them.',
    ),
  }
}

/** An output as checked: plain, with rules, or a balance group with rules. */
export type OutputItem =
  | string
  | ({ addr: string } & Rules & LinkFields & { allow?: string[]; maxClientsPerAddress?: number; idleTimeout?: number })
  | ({ balance: BalanceMode; addrs: string[] } & Rules & LinkFields)

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

/**
 * One output or a list of them, each `HOST:PORT` or an object with rules; `balance`: balance
 * groups are allowed (UDP outputs).
 */
export function outputList(portZero: boolean, withBalance: boolean, min = 0, addr?: z.ZodType<string>, extra: z.ZodRawShape = {}, name?: TypeName) {
  const f = forms(portZero, addr, extra, withBalance ? { one: 'RuledOutput' } : undefined)
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
