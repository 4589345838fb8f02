/** `createClient()`: read a file, device or stdin and send it as datagrams to servers. */
import type { ClientOptions } from './option-types'
import { newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema, LINE_DATAGRAM_RATE } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { refuseDuplicates } from './checks'
import { udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'
import { checkCommon, defaultMaxDatagram, destinationOptions, fileOutput } from './common'
import { inputStages } from './feed'

/** @internal The function behind createClient(), with the CLI's flag names for messages. */
export async function startClient(input: ClientOptions, labels?: Labels): Promise<Handle> {
  const o = parseWith(apiSchema('client'), input, labels)
  const { path, lingerMs } = o
  const servers = outputAddrs(o.serverAddrs)
  const { framing, rate, tee } = o
  const common = checkCommon(o, labels)
  const destinations = await resolveEndpoints(servers, labelOf(labels, 'serverAddrs'), {
    allowPortZero: false,
    multicastInterface: common.multicastInterface,
  })
  refuseDuplicates(destinations, labelOf(labels, 'serverAddrs'))
  const maxDatagram = o.maxDatagram ?? defaultMaxDatagram(destinations, common)
  const handle = newHandle(o.onLog, labels)
  startRoute(
    handle,
    {
      inputs: [
        {
          path,
          framing: { framing, maxDatagram, lingerMs },
          rate,
          datagramRate: o.datagramRate ?? (framing === 'line' ? LINE_DATAGRAM_RATE : 0),
          baud: o.baud,
          follow: o.follow,
          replay: o.replay === undefined ? undefined : { times: o.replay, speed: o.replaySpeed ?? 1 },
        },
      ],
      ...udpOutputs(o.serverAddrs, destinations, (d) => destinationOptions(d, common), o),
      // The input can be paced by stdout (or the disk), so tee and the copy wait rather than drop.
      tee: tee ? { path: '-', waitWhenFull: true } : undefined,
      copy: o.copyPath === undefined ? undefined : fileOutput(o.copyPath, o.rotate, o.keep, { waitWhenFull: true }),
      sendBuffer: common.sendBuffer,
      busKey: common.busKey,
      inputStages: inputStages(o),
    },
    // A followed file never ends: the client runs until closed.
    o.follow !== true,
  )
  return ready(handle, o)
}

/**
 * Reads `path` to its end and sends it, framed into datagrams, to every `serverAddrs`.
 * Resolves once every address is checked and sending has started; `handle.finished` says
 * how the input ended. Rejects with an MproxyError (one line naming the option).
 */
export function createClient(options: ClientOptions): Promise<Handle> {
  return startClient(options)
}
