/**
 * What every `create…()` returns: the bound addresses, counters, events and `close()`.
 * A handle may run several native routes (the reverse proxy runs two); they start and
 * stop together.
 */
import { EventEmitter } from 'node:events'
import { fromNative } from './errors'
import { native, type EndpointStats, type NativeRoute, type RouteEvent, type RouteOptions } from './native'

export type { EndpointStats }

export type LogLevel = 'info' | 'warn' | 'error'

export interface LogEntry {
  level: LogLevel
  message: string
}

export interface Totals {
  /** Datagrams received by listeners, or framed from inputs. */
  datagramsIn: number
  bytesIn: number
  /** Datagrams (or bytes) delivered to destinations and outputs. */
  datagramsOut: number
  bytesOut: number
  sendErrors: number
  /** Datagrams a destination's host (or a router) refused with an ICMP error. */
  icmpErrors: number
  kernelDrops: number
  truncated: number
  queueDrops: number
  writeErrors: number
  bytesDropped: number
}

export interface Stats {
  endpoints: EndpointStats[]
  totals: Totals
}

export interface Addresses {
  /** Every bound UDP listener, in the order given, with port 0 replaced by the real port. */
  listen: string[]
  /** Bound TCP listeners whose clients' streams are inputs (reverse proxy). */
  tcpListen: string[]
  /** Bound TCP output listeners whose clients receive the stream (reverse proxy). */
  tcpOutput: string[]
  /** The multicast group a reverse proxy publishes to / subscribes to. */
  group?: string
}

function total(endpoints: EndpointStats[]): Totals {
  const sum = (pick: (e: EndpointStats) => number, kinds?: string[]) =>
    endpoints.filter((e) => !kinds || kinds.includes(e.kind)).reduce((n, e) => n + pick(e), 0)
  const sources = ['udp-listener', 'input', 'tcp-connection', 'tcp-listener']
  const sinks = ['udp-destination', 'file', 'tcp-output']
  return {
    datagramsIn: sum((e) => (e.kind === 'input' || e.kind.startsWith('tcp-') ? e.datagramsOut : e.datagramsIn), sources),
    bytesIn: sum((e) => e.bytesIn, sources),
    datagramsOut: sum((e) => (e.kind === 'file' ? e.datagramsIn : e.datagramsOut), sinks),
    bytesOut: sum((e) => e.bytesOut, sinks),
    sendErrors: sum((e) => e.sendErrors),
    icmpErrors: sum((e) => e.icmpErrors),
    kernelDrops: sum((e) => e.kernelDrops),
    truncated: sum((e) => e.truncated),
    queueDrops: sum((e) => e.queueDrops),
    writeErrors: sum((e) => e.writeErrors),
    bytesDropped: sum((e) => e.bytesDropped),
  }
}

/**
 * How a client's input ended: `complete` (read to its end and sent), `stopped` (closed
 * before the end) or `failed` (a read failed; the error was logged).
 */
export type InputOutcome = 'complete' | 'stopped' | 'failed'

export interface HandleEvents {
  log: [LogEntry]
  /** Every finite input (file, stdin, device) ended. */
  finished: [InputOutcome]
}

export class Handle extends EventEmitter<HandleEvents> {
  readonly addresses: Addresses
  /** Resolves when every finite input has ended (clients), with how; never otherwise. */
  readonly finished: Promise<InputOutcome>
  private readonly routes: NativeRoute[] = []
  private closing?: Promise<Stats>
  private markFinished!: (outcome: InputOutcome) => void
  private pendingFinishes = 0

  /** @internal */
  constructor(onLog?: (entry: LogEntry) => void) {
    super()
    this.addresses = { listen: [], tcpListen: [], tcpOutput: [] }
    this.finished = new Promise((resolve) => {
      this.markFinished = resolve
    })
    if (onLog) this.on('log', onLog)
  }

  /**
   * @internal Starts one native route as part of this handle. A reverse proxy's 'outputs'
   * route listens on the group; that socket is not one of the handle's listen addresses.
   */
  startRoute(options: RouteOptions, finite: boolean, role?: 'inputs' | 'outputs'): NativeRoute {
    if (finite) this.pendingFinishes++
    let route: NativeRoute
    try {
      route = native.startRoute(options, (event: RouteEvent) => this.onEvent(event))
    } catch (err) {
      throw fromNative(err)
    }
    this.routes.push(route)
    if (role !== 'outputs') this.addresses.listen.push(...route.listenAddresses)
    this.addresses.tcpListen.push(...route.tcpListenAddresses)
    this.addresses.tcpOutput.push(...route.tcpOutputAddresses)
    return route
  }

  /** @internal Reports something on the handle's log. */
  log(level: LogLevel, message: string): void {
    this.emit('log', { level, message })
  }

  private onEvent(event: RouteEvent): void {
    if (event.kind === 'finished') {
      this.pendingFinishes--
      if (this.pendingFinishes === 0) {
        const outcome = (event.message ?? 'complete') as InputOutcome
        this.markFinished(outcome)
        this.emit('finished', outcome)
      }
      return
    }
    const level = (event.level ?? 'info') as LogLevel
    this.emit('log', { level, message: event.message ?? '' })
  }

  /** Counters of every socket, input and output, plus totals. Cheap: no I/O. */
  stats(): Stats {
    const endpoints = this.routes.flatMap((r) => r.stats())
    return { endpoints, totals: total(endpoints) }
  }

  /**
   * Stops every thread and socket of this handle. Listeners first read what the kernel
   * already holds, outputs write everything queued; when the promise resolves nothing of
   * this handle is left running. Resolves with the final counters. Safe to call twice.
   */
  close(): Promise<Stats> {
    this.closing ??= (async () => {
      // Later routes feed earlier ones (a reverse proxy starts its outputs first), so close
      // in reverse: inputs stop and flush before the outputs that carry their data do.
      for (const route of [...this.routes].reverse()) await route.close()
      return this.stats()
    })()
    return this.closing
  }

  /** @internal Closes what was started when a later step of creation failed. */
  async abort(err: unknown): Promise<never> {
    await this.close().catch(() => undefined)
    throw err
  }
}
