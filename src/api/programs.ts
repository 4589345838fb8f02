/** The four programs by kind, for callers that pick one at run time (config files, the CLI). */
import type { Handle } from '../handle'
import type { Naming } from '../schema/issues'
import type { ProgramKind } from '../schema/programs'
import type { ClientOptions, ProxyOptions, ReverseProxyOptions, ServerOptions } from './option-types'
import { startClient } from './client'
import { startProxy } from './proxy'
import { startReverseProxy } from './reverseproxy'
import { startServer } from './server'

/**
 * Starts a program of `kind` with options of any shape: each program checks them against its
 * schema first (unknown options and wrong values are usage errors); `naming` says how
 * messages name them.
 */
export function startProgram(kind: ProgramKind, options: Record<string, unknown>, naming: Naming): Promise<Handle> {
  switch (kind) {
    case 'client':
      return startClient(options as unknown as ClientOptions, naming)
    case 'server':
      return startServer(options as unknown as ServerOptions, naming)
    case 'proxy':
      return startProxy(options as unknown as ProxyOptions, naming)
    case 'reverseproxy':
      return startReverseProxy(options as unknown as ReverseProxyOptions, naming)
  }
}
