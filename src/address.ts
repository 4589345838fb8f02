/**
 * Socket address text as people write it: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`.
 * Parsing is pure; turning a host name into an IP is in `resolve.ts`.
 */
import { isIP } from 'node:net'
import { usageError } from './errors'

export interface ParsedAddress {
  /** As written, for messages. */
  text: string
  /** Host name or IP literal, without brackets or scope. */
  host: string
  port: number
  /** The `%iface` scope of an IPv6 literal, if any. */
  scope?: string
}

/**
 * Parses `text` given for `label` (an option or flag name, used in the message).
 * `allowPortZero`: listeners may ask for an ephemeral port; destinations may not.
 */
export function parseAddress(text: string, label: string, allowPortZero: boolean): ParsedAddress {
  const result = inspect(text, allowPortZero)
  if (typeof result === 'string') throw usageError(`${label}: ${JSON.stringify(text)} ${result}`)
  return result
}

/** What is wrong with `text` as an address (for example "has no port; expected HOST:PORT"), if anything. */
export function addressProblem(text: string, allowPortZero: boolean): string | undefined {
  const result = inspect(text, allowPortZero)
  return typeof result === 'string' ? result : undefined
}

/** The parsed address, or what is wrong with it. */
function inspect(text: string, allowPortZero: boolean): ParsedAddress | string {
  if (typeof text !== 'string' || text.trim() === '') return 'is empty; expected HOST:PORT'
  const trimmed = text.trim()
  let host: string
  let portText: string
  let scope: string | undefined
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']')
    if (close < 0) return 'has no closing ]; expected [IPv6]:PORT'
    host = trimmed.slice(1, close)
    const rest = trimmed.slice(close + 1)
    if (!rest.startsWith(':')) return 'has no :PORT after the ]'
    portText = rest.slice(1)
    const percent = host.indexOf('%')
    if (percent >= 0) {
      scope = host.slice(percent + 1)
      host = host.slice(0, percent)
      if (scope === '') return 'has an empty %interface'
    }
    if (isIP(host) !== 6) return 'does not hold an IPv6 address inside [ ]'
  } else {
    const colon = trimmed.lastIndexOf(':')
    if (colon < 0) return 'has no port; expected HOST:PORT'
    host = trimmed.slice(0, colon)
    portText = trimmed.slice(colon + 1)
    if (host.includes(':')) return 'looks like an IPv6 address; write it as [IPv6]:PORT'
    if (host === '') return 'has no host; expected HOST:PORT'
    if (!/^[A-Za-z0-9.\-_]+$/.test(host)) return 'has a host name with characters a host name cannot have'
  }
  if (!/^\d+$/.test(portText)) return 'has no valid port number after the colon'
  const port = Number(portText)
  if (port > 65535) return 'has a port above 65535'
  if (port === 0 && !allowPortZero) return 'has port 0, which cannot be sent to'
  return { text: trimmed, host, port, scope }
}

export function isMulticastIp(ip: string): boolean {
  const family = isIP(ip)
  if (family === 4) {
    const first = Number(ip.split('.')[0])
    return first >= 224 && first <= 239
  }
  if (family === 6) return ip.toLowerCase().startsWith('ff')
  return false
}

/** `ip:port` with brackets for IPv6, as the native layer expects. */
export function joinHostPort(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`
}
