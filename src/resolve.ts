/**
 * Host names to IP addresses through the system resolver (`getaddrinfo`, as every other
 * program on the host would see them), and addresses into what the native layer takes.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { MproxyError } from './errors'
import { isMulticastIp, joinHostPort, parseAddress, type ParsedAddress } from './address'

export interface Endpoint {
  /** As the user wrote it. */
  text: string
  ip: string
  port: number
  family: 4 | 6
  multicast: boolean
  /** Interface for a group or a link-local address: the `%scope`, else the default given. */
  interface?: string
  /** `ip:port` for the native layer. */
  address: string
}

export async function resolveHost(parsed: ParsedAddress, label: string): Promise<string> {
  if (isIP(parsed.host)) return parsed.host
  try {
    const found = await lookup(parsed.host)
    return found.address
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new MproxyError('EMPROXY_RESOLVE', `${label}: host ${JSON.stringify(parsed.host)} does not resolve (${code ?? String(err)})`)
  }
}

export interface EndpointRules {
  allowPortZero: boolean
  /** Interface for multicast addresses that do not carry a %scope. */
  multicastInterface?: string
  /** 'group': must be multicast; 'any': unicast or multicast. */
  kind?: 'group' | 'any'
}

export async function resolveEndpoint(text: string, label: string, rules: EndpointRules): Promise<Endpoint> {
  const parsed = parseAddress(text, label, rules.allowPortZero)
  const ip = await resolveHost(parsed, label)
  const multicast = isMulticastIp(ip)
  if (rules.kind === 'group' && !multicast) {
    throw new MproxyError('EMPROXY_INVALID_ARGUMENT', `${label}: ${parsed.text} is not a multicast group (224.0.0.0/4 or ff00::/8)`, true)
  }
  const family = isIP(ip) === 6 ? 6 : 4
  const iface = parsed.scope ?? (multicast ? rules.multicastInterface : undefined)
  return { text: parsed.text, ip, port: parsed.port, family, multicast, interface: iface, address: joinHostPort(ip, parsed.port) }
}

export function resolveEndpoints(texts: readonly string[], label: string, rules: EndpointRules): Promise<Endpoint[]> {
  return Promise.all(texts.map((t) => resolveEndpoint(t, label, rules)))
}
