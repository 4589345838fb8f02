/**
 * Log lines on stderr: `text` (one line each, a timestamp first unless turned off) or `json`
 * (one object per line). Under systemd, journald stamps every line itself, so a timestamp is
 * left out by default when stderr goes to the journal (`JOURNAL_STREAM` is set).
 */
import type { Handle, LogEntry } from '../handle'

export type LogFormat = 'text' | 'json'

export interface LogSettings {
  format: LogFormat
  timestamps: boolean
  /** Errors only. */
  quiet: boolean
}

/** Whether lines carry a timestamp when nothing says: not when journald adds its own. */
export function defaultTimestamps(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.JOURNAL_STREAM
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/** A log entry, with the route it came from when a process runs several. */
export interface RoutedLogEntry extends LogEntry {
  route?: string
}

export function makeLogger(program: string, settings: LogSettings, write: (line: string) => void = (line) => process.stderr.write(line)) {
  return (entry: RoutedLogEntry): void => {
    if (settings.quiet && entry.level !== 'error') return
    const time = settings.timestamps ? new Date().toISOString() : undefined
    if (settings.format === 'json') {
      write(`${JSON.stringify({ time, level: entry.level, program, route: entry.route, message: oneLine(entry.message) })}\n`)
      return
    }
    const parts = [
      time,
      `${program}:`,
      entry.route ? `[${entry.route}]` : undefined,
      entry.level === 'info' ? undefined : `${entry.level}:`,
      oneLine(entry.message),
    ]
    write(`${parts.filter((p) => p !== undefined).join(' ')}\n`)
  }
}

/** Where a handle listens, one line each (what a person, or a test, waits for at start). */
export function announceAddresses(log: (entry: RoutedLogEntry) => void, handle: Handle, route?: string): void {
  const a = handle.addresses
  const say = (message: string) => log({ level: 'info', route, message })
  for (const address of a.listen) say(`listening on ${address} (udp)`)
  for (const address of a.tcpListen) say(`listening on ${address} (tcp input)`)
  for (const address of a.tcpOutput) say(`listening on ${address} (tcp output: clients receive the group stream)`)
  if (a.group) say(`multicast group ${a.group}`)
}
