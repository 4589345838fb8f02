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
import { address, addressList, cidr, isObject, itemList, listOf, text, wholeNumber } from './values'

export const BALANCES = ['round-robin', 'source-hash'] as const
export type BalanceMode = (typeof BALANCES)[number]

/** A regular expression in the core's dialect (Rust `regex`), within its size limit. */
export const pattern = text('a regular expression').check((ctx) => {
  const problem = native().rulePatternProblem(ctx.value)
  if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem })
})

export const ruleShape = {
  /** Keep only datagrams sent from these addresses or CIDR blocks (IPv4 or IPv6). */
  from: listOf(cidr, 'an IP address or CIDR block', 1).optional().describe('Keep only datagrams from these addresses or CIDR blocks'),
  /** Keep only datagrams that start with this text (its UTF-8 bytes), e.g. `!AIVDM`. */
  prefix: text('text').optional().describe('Keep only datagrams starting with this text'),
  /** Keep only datagrams this regular expression matches (Rust regex syntax, over the bytes). */
  match: pattern.optional().describe('Keep only datagrams this regular expression (Rust regex syntax) matches'),
  /** Keep 1 datagram in this many (the 1st, the N+1th, ...); 1 keeps all. */
  sample: wholeNumber(1, 2 ** 32 - 1)
    .optional()
    .describe('Keep 1 datagram in this many'),
}

const balance = z.enum(BALANCES, { error: (iss) => `${JSON.stringify(iss.input)} is not one of ${BALANCES.join(', ')}` })

function forms(portZero: boolean, addr: z.ZodType<string> = address(portZero), extra: z.ZodRawShape = {}) {
  return {
    addr,
    one: z.strictObject({ addr, ...ruleShape, ...extra }),
    group: z.strictObject({ balance, addrs: addressList(portZero, 1), ...ruleShape, ...extra }),
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
export function outputList(portZero: boolean, withBalance: boolean, min = 0, addr?: z.ZodType<string>, extra: z.ZodRawShape = {}) {
  const f = forms(portZero, addr, extra)
  const what = withBalance ? 'HOST:PORT, { addr, ...rules } or { balance, addrs, ...rules }' : 'HOST:PORT or { addr, ...rules }'
  const pick = (value: unknown) => (!isObject(value) ? f.addr : withBalance && 'balance' in value ? f.group : f.one)
  return itemList<OutputItem>(pick, what, withBalance ? [f.addr, f.one, f.group] : [f.addr, f.one], min)
}

/** The addresses of an output list, in order (each member of a balance group). */
export function outputAddrs(items: readonly OutputItem[]): string[] {
  return items.flatMap((i) => (typeof i === 'string' ? [i] : 'addr' in i ? [i.addr] : i.addrs))
}
