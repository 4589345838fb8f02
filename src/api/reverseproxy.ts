/** `createReverseProxy()`: arrives with TCP support; until then it says so. */
import { MproxyError } from '../errors'
import type { CommonOptions } from './common'
import type { Handle } from '../handle'

export interface ReverseProxyOptions extends CommonOptions {
  udpListenAddrs?: string | string[]
  tcpListenAddrs?: string | string[]
  multicastAddr?: string
  tcpOutputAddrs?: string | string[]
  udpOutputAddrs?: string | string[]
  tee?: boolean
}

export async function startReverseProxy(_o: ReverseProxyOptions): Promise<Handle> {
  throw new MproxyError('EMPROXY_NOT_AVAILABLE', 'the reverse proxy is not yet available in this version (it arrives with TCP support)')
}

export function createReverseProxy(options: ReverseProxyOptions): Promise<Handle> {
  return startReverseProxy(options)
}
