/** `createServer()`: listen on addresses (unicast or groups) and append what arrives to a file. */
import type { ServerOptions } from './option-types'
import { newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { refuseDuplicates } from './checks'
import { shapingOptions } from './outputs'
import { checkCommon, fileOutput, listenOptions } from './common'
import { inputStages } from './feed'

/** @internal The function behind createServer(), with the CLI's flag names for messages. */
export async function startServer(input: ServerOptions, labels?: Labels): Promise<Handle> {
  const o = parseWith(apiSchema('server'), input, labels)
  const { path } = o
  const listen = o.listenAddrs
  const { tee } = o
  const common = checkCommon(o, labels)
  const listeners = await resolveEndpoints(listen, labelOf(labels, 'listenAddrs'), {
    allowPortZero: true,
    multicastInterface: common.multicastInterface,
  })
  refuseDuplicates(listeners, labelOf(labels, 'listenAddrs'))
  const handle = newHandle(o.onLog, labels)
  startRoute(
    handle,
    {
      udpListeners: listeners.map((l) => listenOptions(l, common)),
      outputs: [{ ...fileOutput(path, o.rotate, o.keep), shaping: shapingOptions({ ...o.rules, stripTagBlocks: o.stripTagBlocks }) }],
      tee: tee && path !== '-' ? { path: '-' } : undefined,
      busKey: common.busKey,
      inputStages: inputStages(o),
    },
    false,
  )
  return ready(handle, o)
}

/**
 * Listens on every `listenAddrs` (joining groups) and appends every datagram's bytes to
 * `path`, unchanged. Runs until `close()`. Rejects with an MproxyError.
 */
export function createServer(options: ServerOptions): Promise<Handle> {
  return startServer(options)
}
