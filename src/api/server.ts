/** `createServer()`: listen on addresses (unicast or groups) and append what arrives to a file. */
import { newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { refuseDuplicates } from './checks'
import type { OutputRules } from './rules'
import { shapingOptions } from './outputs'
import { checkCommon, fileOutput, listenOptions, type CommonOptions, type KeepOption, type RotateOption } from './common'

export interface ServerOptions extends CommonOptions {
  /** File to append every datagram's bytes to, unchanged; `-` for stdout. */
  path: string
  /** `HOST:PORT` to listen on (port 0 picks one); a multicast group is joined. */
  listenAddrs: string | readonly string[]
  /** Also copy what arrives to stdout (ignored when `path` is already `-`). */
  tee?: boolean
  /**
   * Rotate the file: `'hourly'`, `'daily'` (UTC) or before it grows past a size (`'100M'`,
   * or a number of bytes). The active file stays at `path`; rotated ones get the UTC time
   * their data begins: `path.2026-11-27T17`, `path.2026-11-27`, `path.2026-11-27T17-42-10`.
   */
  rotate?: RotateOption
  /** Rotated files to keep: the newest N (`30`) or those younger than an age (`'7d'`). Needs `rotate`. */
  keep?: KeepOption
  /** Routing rules of `path`: it gets only the datagrams they keep (`{ prefix: '!AIVDM', sample: 10 }`). The tee copy gets everything. */
  rules?: OutputRules
  /** Remove NMEA 4.10 TAG blocks from every line before it is written (the tee copy keeps them). */
  stripTagBlocks?: boolean
}

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
