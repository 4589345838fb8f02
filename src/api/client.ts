/** `createClient()`: read a file, device or stdin and send it as datagrams to servers. */
import { newHandle, ready, startRoute, type Handle } from '../handle'
import { labelOf, type Labels } from '../options'
import { parseWith } from '../schema/issues'
import { apiSchema, LINE_DATAGRAM_RATE } from '../schema/programs'
import { resolveEndpoints } from '../resolve'
import { refuseDuplicates } from './checks'
import type { UdpOutput } from './rules'
import { udpOutputs } from './outputs'
import { outputAddrs } from '../schema/rules'
import { checkCommon, defaultMaxDatagram, destinationOptions, fileOutput, type CommonOptions, type Framing, type KeepOption, type RotateOption } from './common'
import { inputStages } from './feed'

export interface ClientOptions extends CommonOptions {
  /** File, FIFO, device (e.g. `/dev/ttyACM0`), or `-` for stdin. Read until its end. */
  path: string
  /**
   * Where every datagram goes: `HOST:PORT`, `[IPv6]:PORT`, `[IPv6%iface]:PORT`; unicast or
   * group. An object gives a server routing rules (`{ addr, prefix: '!AIVDM' }`) or spreads
   * datagrams over a balance group (`{ balance: 'round-robin', addrs: [...] }`).
   */
  serverAddrs: UdpOutput | readonly UdpOutput[]
  /** Copy the input to stdout, exactly. */
  tee?: boolean
  /** `packed` (default): whole lines packed per datagram; `line`: one line each; `raw`: fixed chunks. */
  framing?: Framing
  /** Largest datagram payload; default 1472 (IPv4 destinations) or 1452 (any IPv6). */
  maxDatagram?: number
  /** How long a partial line waits for its end before it is sent anyway; default 20 ms. */
  lingerMs?: number
  /**
   * Most bytes per second to send (a number, or text like `50M`); 0 = as fast as the input
   * is read. UDP has no flow control, so the default keeps a file transfer within what a
   * proxy and a server on an ordinary host take without loss.
   */
  rate?: number | string
  /**
   * Most datagrams per second to send; 0 = no limit. By default 100,000 in line framing (one
   * datagram per line: short datagrams cost a receiver per datagram), no limit otherwise.
   */
  datagramRate?: number
  /** Serial device speed to set (e.g. 38400 for AIS receivers); kept as it is when not given. */
  baud?: number
  /**
   * Keep reading a file as it grows, and across its rotation (renamed or truncated), like
   * `tail -F`; the client then runs until closed.
   */
  follow?: boolean
  /** Also write what is sent to this local file, exactly (rotated and pruned with `rotate`, `keep`). */
  copyPath?: string
  /** Rotate the copy: `'hourly'`, `'daily'` (UTC) or a size (`'100M'`). Needs `copyPath`. */
  rotate?: RotateOption
  /** Rotated copies to keep: the newest N (`30`) or those younger than an age (`'7d'`). Needs `rotate`. */
  keep?: KeepOption
}

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
        },
      ],
      ...udpOutputs(o.serverAddrs, destinations, (d) => destinationOptions(d, common)),
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
