/** The four programs by kind, for callers that pick one at run time (config files, the CLI). */
import type { Handle } from '../handle'
import { renderPath, type Naming } from '../schema/issues'
import type { ProgramKind } from '../schema/programs'
import { startClient } from './client'
import { startProxy } from './proxy'
import { startReverseProxy } from './reverseproxy'
import { startServer } from './server'

/** Starts a program of `kind`; `naming` says how messages name its options. */
export function startProgram(kind: ProgramKind, options: Record<string, unknown>, naming: Naming): Promise<Handle> {
  const labels = Object.fromEntries(Object.keys(options).map((k) => [k, naming.flags?.[k] ?? renderPath([...(naming.prefix ?? []), k])]))
  const o = options as never
  switch (kind) {
    case 'client':
      return startClient(o, labels)
    case 'server':
      return startServer(o, labels)
    case 'proxy':
      return startProxy(o, labels)
    case 'reverseproxy':
      return startReverseProxy(o, labels)
  }
}
