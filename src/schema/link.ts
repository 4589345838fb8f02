/**
 * The lines an output sends that are not the stream (sink/keep_alive.rs in the core): a
 * keep-alive after a quiet time, for aggregators that mark a quiet feed offline or drop its
 * connection, and a preamble (a station key, a login) at every (re)connect and to every new
 * TCP output client, before any data.
 *
 * A line is UTF-8 text of one line; `\r\n` is added when it does not end with `\n`. With its
 * line ending it has at most MAX_LINE_BYTES bytes.
 *
 * The options are the program's (`keepAliveLine`, `keepAliveAfter`, `preamble`, each with a
 * flag); an output in the object form may have its own, field by field (`linkFields`).
 */
import { z } from 'zod'
import { option } from './option'
import { seconds, show } from './values'

/** The core's `keep_alive::MAX_LINE_BYTES`. */
export const MAX_LINE_BYTES = 1024

/** One line of text, at most MAX_LINE_BYTES bytes once its line ending is added. */
export const line = z
  .string({ error: (iss) => `must be one line of text, not ${show(iss.input)}` })
  .min(1, { error: 'is empty' })
  .max(MAX_LINE_BYTES, { error: `is longer than ${MAX_LINE_BYTES} bytes` })
  .check((ctx) => {
    const body = ctx.value.replace(/\r?\n$/, '')
    const fail = (message: string) => {
      ctx.issues.push({ code: 'custom', input: ctx.value, message })
    }
    const bytes = Buffer.byteLength(ctx.value) + (ctx.value.endsWith('\n') ? 0 : 2)
    if (/[\r\n]/.test(body)) fail('must be one line: it has a line break before its end')
    else if (body.includes('\0')) fail('holds a NUL byte (\\u0000)')
    else if (body.length === 0) fail('is empty')
    else if (bytes > MAX_LINE_BYTES) fail(`is ${bytes} bytes with its line ending; at most ${MAX_LINE_BYTES}`)
  })

/** The quiet time before a keep-alive: more than 0, at most a day. */
const after = seconds(0.001, 86_400)

/** Keep-alive options of a program (UDP outputs, TCP output clients, kept and connect-out connections). */
export const keepAliveShape = {
  /** Send this line on an output that sent nothing for `keepAliveAfter` seconds (needs it). */
  keepAliveLine: option(line, {
    flag: 'keep-alive-line',
    value: 'TEXT',
    help: 'Send this line (\\r\\n added) on an output that sent nothing for --keep-alive-after seconds',
    doc: 'A keep-alive: a line (UTF-8, one line; `\\r\\n` is added unless it ends with `\\n`; at most 1 KiB with it) sent on an output that sent nothing for `keepAliveAfter` seconds, for aggregators that mark a quiet feed offline or drop its connection: UDP outputs, TCP output clients, kept connections and connect-out outputs. An output in the object form may have its own. Counted in `keepAlives`. Needs `keepAliveAfter`.',
  }),
  /** The quiet time after which `keepAliveLine` is sent. */
  keepAliveAfter: option(after, {
    flag: 'keep-alive-after',
    value: 'SECONDS',
    help: 'How long an output is quiet before it sends --keep-alive-line',
    doc: 'The quiet time in seconds (more than 0, at most 86400) after which `keepAliveLine` is sent; needs `keepAliveLine`.',
  }),
}

/** The preamble option of a program with connections or TCP output clients. */
export function preambleShape(to: string) {
  return {
    /** Sent at every (re)connect, or to every new client, before any data. */
    preamble: option(line, {
      flag: 'preamble',
      value: 'TEXT',
      help: `Send this line (\\r\\n added) ${to}, before any data`,
      doc: 'A line (as `keepAliveLine`: a login, a station key) sent at every (re)connect of a kept connection or connect-out output, and to every new TCP output client, before any data. Counted in `preambles`.',
    }),
  }
}

/** An output's own keep-alive (and, for TCP outputs, preamble), in the object form. */
export function linkFields(withPreamble: boolean) {
  return {
    keepAliveLine: line.optional().describe("This output's keep-alive line (else the program's keepAliveLine)"),
    keepAliveAfter: after.optional().describe("This output's keep-alive quiet time in seconds (else the program's keepAliveAfter)"),
    ...(withPreamble ? { preamble: line.optional().describe("This output's preamble (else the program's preamble)") } : {}),
  }
}

/** An output's keep-alive as the route takes it, its own fields first, or undefined. */
export function keepAliveOf(item: unknown, program: { keepAliveLine?: string; keepAliveAfter?: number }): { line: string; afterMs: number } | undefined {
  const own = typeof item === 'object' && item !== null ? (item as { keepAliveLine?: string; keepAliveAfter?: number }) : {}
  const text = own.keepAliveLine ?? program.keepAliveLine
  const seconds = own.keepAliveAfter ?? program.keepAliveAfter
  if (text === undefined || seconds === undefined) return undefined
  return { line: text, afterMs: Math.max(1, Math.round(seconds * 1000)) }
}

/** An output's preamble, its own first. */
export function preambleOf(item: unknown, program: { preamble?: string }): string | undefined {
  const own = typeof item === 'object' && item !== null ? (item as { preamble?: string }).preamble : undefined
  return own ?? program.preamble
}

/**
 * The checks across fields: a keep-alive needs its line and its quiet time, from the output
 * or the program; a program's keep-alive or preamble needs something to send it on.
 */
export function linkChecks(o: Record<string, unknown>, ctx: z.core.$RefinementCtx, outputs: readonly string[]) {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message })
  const items = outputs.flatMap((f) => (Array.isArray(o[f]) ? (o[f] as unknown[]) : []))
  if ((o.keepAliveLine === undefined) !== (o.keepAliveAfter === undefined)) {
    // Half a keep-alive on the program is whole only on the outputs that give the other half.
    const [missing, given] = o.keepAliveLine === undefined ? ['keepAliveLine', 'keepAliveAfter'] : ['keepAliveAfter', 'keepAliveLine']
    const own = items.filter((i) => typeof i === 'object' && i !== null && (i as Record<string, unknown>)[missing] !== undefined).length
    if (own === 0) issue([given], `needs {${missing}}`)
    else if (own < items.length) issue([given], `needs {${missing}}: only ${own} of the ${items.length} outputs give their own`)
  } else if (o.keepAliveLine !== undefined && items.length === 0) {
    issue(['keepAliveLine'], `needs an output to send it on: {${outputs.join('}, {')}}`)
  }
  for (const field of outputs) {
    const list = Array.isArray(o[field]) ? (o[field] as unknown[]) : []
    list.forEach((item, i) => {
      if (typeof item !== 'object' || item === null) return
      const own = item as Record<string, unknown>
      const hasLine = own.keepAliveLine !== undefined || o.keepAliveLine !== undefined
      const hasAfter = own.keepAliveAfter !== undefined || o.keepAliveAfter !== undefined
      if (own.keepAliveLine !== undefined && !hasAfter) issue([field, i, 'keepAliveLine'], 'needs keepAliveAfter, on this output or for the whole program')
      if (own.keepAliveAfter !== undefined && !hasLine) issue([field, i, 'keepAliveAfter'], 'needs keepAliveLine, on this output or for the whole program')
    })
  }
}
