/**
 * What every `create…()` returns: the bound addresses, counters, events and `close()`.
 * A handle may run several native routes (the reverse proxy runs two); they start and
 * stop together.
 *
 * The class shows users only what they may use. Its state lives in a module-private
 * WeakMap, and what the `create…()` functions need besides (starting routes, logging,
 * aborting a half-made handle) are module functions that the published type definitions
 * leave out (they are marked internal, and tsconfig has stripInternal).
 */
import { EventEmitter } from 'node:events'
import { AsyncLocalStorage } from 'node:async_hooks'
import { fromNative, MproxyError, usageError } from './errors'
import { MessageIterator, messagesOptions, type Message, type MessagesOptions } from './messages'
import { labelOf, withOptionNames, type Labels } from './options'
import {
  native,
  type NativeClientAction,
  type NativeEndpointKind,
  type NativeEndpointStats,
  type NativeInputOutcome,
  type NativeLogLevel,
  type NativeRoute,
  type NativeTotals,
  type RouteEvent,
  type RouteOptions,
} from './native'
import { Sender, type Datagrams } from './send'

/** How serious a log entry is: `'info'`, `'warn'` or `'error'`. */
export type LogLevel = NativeLogLevel

/** One line of what a handle reports: state changes and faults it survived. */
export interface LogEntry {
  /** How serious it is. */
  level: LogLevel
  /** One line, naming the address, file or connection concerned. */
  message: string
}

/**
 * What an endpoint is: a UDP listening socket, a UDP destination, an input read from a
 * file, device or stdin, the output file (or stdout), the `--tee` copy, a client's local copy
 * of what it sent, a kept TCP/TLS connection, a TCP listener whose clients are inputs, a
 * TCP output listener, the taps of `messages()` (all of a route's together), what `send()`
 * was given, one routing rule of an output (named `OUTPUT RULE`, e.g.
 * `127.0.0.1:9921 prefix !AIVDM`), or one stage of an output (`OUTPUT STAGE`: a TAG block
 * strip, one line per datagram, a rate cap; e.g. `127.0.0.1:9921 strip-tag-blocks`).
 */
export type EndpointKind = NativeEndpointKind

/**
 * Counters of one endpoint. Numbers are doubles: exact up to 2^53, far beyond any count.
 * Declared once, in the Rust core's table of counters (`counter_table!` in
 * crates/mproxy-core/src/stats.rs), with their docs.
 */
export type EndpointStats = NativeEndpointStats

/**
 * The sum of every endpoint's counters, the way a person reads a transfer: datagrams in
 * where they entered the handle, out where they left it, losses wherever they happened
 * (the rule of each sum is in the core's table of counters).
 */
export type Totals = NativeTotals

/** Counters: every endpoint's, and their totals. */
export interface Stats {
  /** One entry per socket, input, output and connection, in the order they were made. */
  endpoints: EndpointStats[]
  /**
   * The sums a person reads first: datagrams in where they entered this handle, out where
   * they left it, losses wherever they happened.
   */
  totals: Totals
  /**
   * A reverse proxy's two halves, each on its own: `inputs` (listeners → the group; out is
   * what was published) and `outputs` (the group → outputs; in is what came from the group,
   * from this process or another). Only the halves it runs are there.
   */
  routes?: { inputs?: Totals; outputs?: Totals }
  /**
   * The counters this OS cannot tell, which are `null` in `endpoints` and `totals` (and
   * absent from the metrics): `['kernelDrops']` on macOS and Windows, `[]` on Linux.
   */
  unknownCounters: readonly UnknownCounter[]
}

/** A counter some OS cannot tell: the counters that may be `null`. */
export type UnknownCounter = {
  [K in keyof EndpointStats]-?: null extends EndpointStats[K] ? (K extends 'bufferBytes' | 'wire' ? never : K) : never
}[keyof EndpointStats]

/** Where a handle listens, with port 0 replaced by the port the system picked. */
export interface Addresses {
  /** Every bound UDP listener, in the order given, with port 0 replaced by the real port. */
  readonly listen: readonly string[]
  /** Bound TCP listeners whose clients' streams are inputs (reverse proxy). */
  readonly tcpListen: readonly string[]
  /** Bound TCP output listeners whose clients receive the stream (reverse proxy). */
  readonly tcpOutput: readonly string[]
  /** The multicast group a reverse proxy publishes to / subscribes to. */
  readonly group?: string
}

interface MutableAddresses {
  listen: string[]
  tcpListen: string[]
  tcpOutput: string[]
  group?: string
}

let unknownOnThisOs: readonly UnknownCounter[] | undefined
/** The counters this OS cannot tell, as the core says (asked once). */
function unknownCounters(): readonly UnknownCounter[] {
  unknownOnThisOs ??= Object.freeze(native().unknownCounters() as UnknownCounter[])
  return unknownOnThisOs
}

/**
 * How a client's input ended: `complete` (read to its end and sent), `stopped` (closed
 * before the end) or `failed` (a read failed; the error was logged).
 */
export type InputOutcome = NativeInputOutcome

/** A kept TCP or TLS connection (forward proxy) was made. */
export interface ConnectEvent {
  /** What it connects to, as given: `host:port` or `tls://host:port`. */
  address: string
  /** The address it reached. */
  peer?: string
}

/** A kept connection was lost, or could not be made (it is tried again). */
export interface DisconnectEvent {
  address: string
  /** Why, in words: `closed by the peer`, `connection refused`, `TLS handshake failed: ...`. */
  reason: string
}

/** What happened to a client of a TCP listener. */
export type ClientAction = NativeClientAction

/** A client of a TCP input or TCP output listener joined, left, was evicted or refused. */
export interface ClientEvent {
  /** The listener's bound address. */
  listener: string
  /** The client's address. */
  peer: string
  action: ClientAction
  /** Why it left (when not simply closed), was evicted or refused. */
  reason?: string
}

/** Datagrams to a destination are being refused (see `icmpErrors` and `sendErrors`). */
export interface UnreachableEvent {
  /** The destination. */
  address: string
  reason: string
}

/** A destination takes datagrams again (no error for a second). */
export interface ReachableEvent {
  address: string
}

/** The events a handle emits, with their arguments. */
export interface HandleEvents {
  /** A state change or a survived fault (also passed to the `onLog` option). */
  log: [LogEntry]
  /** Every finite input (file, stdin, device) ended. */
  finished: [InputOutcome]
  /** A kept TCP/TLS connection was made. */
  connect: [ConnectEvent]
  /** A kept connection was lost or could not be made. */
  disconnect: [DisconnectEvent]
  /** A TCP client joined, left, was evicted or refused. */
  client: [ClientEvent]
  /** A destination refuses datagrams. */
  unreachable: [UnreachableEvent]
  /** A destination takes datagrams again. */
  reachable: [ReachableEvent]
  /** The counters, every `statsInterval` seconds (when that option is given). */
  stats: [Stats]
}

/** @internal Which half of a reverse proxy a route is: its listeners count as the handle's only for inputs. */
export type RouteRole = 'inputs' | 'outputs'

interface HandleState {
  addresses: MutableAddresses
  routes: NativeRoute[]
  /** Which half of a reverse proxy each route is (undefined for the other programs). */
  roles: Array<RouteRole | undefined>
  /** The route whose outputs `messages()` taps (a reverse proxy's outputs half). */
  tapRoute?: NativeRoute
  /** The route `send()` feeds (a reverse proxy's inputs half), and its sender. */
  sendRoute?: NativeRoute
  sender?: Sender
  closing?: Promise<Stats>
  markFinished: (outcome: InputOutcome) => void
  pendingFinishes: number
  /** Undone at close: signal listeners, timers. */
  cleanups: Array<() => void>
  /** How the core's messages name options (flags for the CLI). */
  labels?: Labels
}

/** Every handle's state, out of reach of its users. */
const states = new WeakMap<Handle, HandleState>()

function stateOf(handle: Handle): HandleState {
  const state = states.get(handle)
  if (!state) throw new TypeError('not a handle made by createClient(), createServer(), createProxy() or createReverseProxy()')
  return state
}

let create: (onLog?: (entry: LogEntry) => void, labels?: Labels) => Handle

/**
 * A running client, server, proxy or reverse proxy. Made by `createClient()` & co.; it
 * keeps the process alive, like a `net.Server`, until `close()`.
 */
export class Handle extends EventEmitter<HandleEvents> {
  /** Resolves when every finite input has ended (clients), with how; never otherwise. */
  readonly finished: Promise<InputOutcome>

  static {
    // The one way to construct a handle, for newHandle() below.
    create = (onLog, labels) => new Handle(onLog, labels)
  }

  private constructor(onLog?: (entry: LogEntry) => void, labels?: Labels) {
    super()
    let markFinished: (outcome: InputOutcome) => void = () => undefined
    this.finished = new Promise((resolve) => {
      markFinished = resolve
    })
    states.set(this, { addresses: { listen: [], tcpListen: [], tcpOutput: [] }, routes: [], roles: [], markFinished, pendingFinishes: 0, cleanups: [], labels })
    if (onLog) this.on('log', onLog)
  }

  /** Where this handle listens. */
  get addresses(): Addresses {
    return stateOf(this).addresses
  }

  /** Counters of every socket, input and output, plus totals. Cheap: no I/O. */
  stats(): Stats {
    const state = stateOf(this)
    const halves = state.routes.map((r, i) => ({ role: state.roles[i], endpoints: r.stats() }))
    const endpoints = halves.flatMap((h) => h.endpoints)
    const inputs = halves.find((h) => h.role === 'inputs')?.endpoints
    const outputs = halves.find((h) => h.role === 'outputs')?.endpoints
    // The sums are the core's (what counts toward which total is decided there).
    const { totals } = native()
    if (!inputs && !outputs) return { endpoints, totals: totals(endpoints), unknownCounters: unknownCounters() }
    return {
      endpoints,
      totals: totals(endpoints, inputs ?? outputs, outputs ?? inputs),
      routes: { ...(inputs ? { inputs: totals(inputs) } : {}), ...(outputs ? { outputs: totals(outputs) } : {}) },
      unknownCounters: unknownCounters(),
    }
  }

  /**
   * Closes and reopens every output file (server files, copies) before its next write, for
   * logrotate's `postrotate` (what SIGHUP does to the programs). Nothing queued is lost.
   */
  reopenOutputs(): void {
    for (const route of stateOf(this).routes) route.reopenOutputs()
  }

  /**
   * Every datagram the handle carries, as its outputs see it: what a client sends, what a
   * server receives, what a proxy sends downstream, what a reverse proxy's outputs receive
   * from the group. Each iterator has its own bounded queue: when the loop falls behind,
   * datagrams are dropped for it alone and counted in `tapDrops` (the sockets and outputs
   * never wait). Data is handed over a batch at a time. `break`, `options.signal` or
   * `close()` ends the loop; a loop on a closed handle ends at once.
   */
  messages(options?: MessagesOptions): AsyncIterableIterator<Message> & { readonly drops: number } {
    const state = stateOf(this)
    const { highWaterMark, signal } = messagesOptions(options)
    if (state.closing) return new MessageIterator(undefined, highWaterMark)
    if (!state.tapRoute) throw usageError('messages(): this reverse proxy does not subscribe to its group: give it outputs or subscribe: true')
    return new MessageIterator(state.tapRoute, highWaterMark, signal)
  }

  /**
   * Hands datagrams to the handle's outputs as if its sockets had received them: a
   * client's servers, a server's file, a proxy's downstream, a reverse proxy's group. One
   * array is one batch. Resolves once they are queued; waits while the queue is full, so
   * await it (or the next call waits behind it) and nothing is dropped. Rejects with an
   * MproxyError on a closed handle or a reverse proxy that does not publish.
   */
  send(data: Datagrams): Promise<void> {
    const state = stateOf(this)
    if (state.closing) return Promise.reject(usageError('send(): the handle is closed'))
    if (!state.sendRoute) return Promise.reject(usageError('send(): this reverse proxy does not publish to its group: give it inputs or publish: true'))
    state.sender ??= new Sender(state.sendRoute)
    return state.sender.send(data)
  }

  /**
   * Stops every thread and socket of this handle. Listeners first read what the kernel
   * already holds, outputs write everything queued; when the promise resolves nothing of
   * this handle is left running. Resolves with the final counters. Safe to call twice.
   */
  close(): Promise<Stats> {
    const state = stateOf(this)
    state.closing ??= (async () => {
      for (const undo of state.cleanups.splice(0)) undo()
      // Later routes feed earlier ones (a reverse proxy starts its outputs first), so close
      // in reverse: inputs stop and flush before the outputs that carry their data do.
      for (const route of [...state.routes].reverse()) await route.close()
      return this.stats()
    })()
    return state.closing
  }

  /** `await using handle = await createServer(...)`: closed when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function onEvent(handle: Handle, event: RouteEvent): void {
  const state = stateOf(handle)
  switch (event.kind) {
    case 'finished':
      state.pendingFinishes--
      if (state.pendingFinishes === 0) {
        state.markFinished(event.outcome)
        handle.emit('finished', event.outcome)
      }
      return
    case 'log':
      handle.emit('log', { level: event.level, message: withOptionNames(event.message, state.labels) })
      return
    case 'connect':
      handle.emit('connect', { address: event.address, ...(event.peer ? { peer: event.peer } : {}) })
      return
    case 'disconnect':
      handle.emit('disconnect', { address: event.address, reason: withOptionNames(event.reason, state.labels) })
      return
    case 'client':
      handle.emit('client', {
        listener: event.listener,
        peer: event.peer,
        action: event.action,
        ...(event.reason ? { reason: withOptionNames(event.reason, state.labels) } : {}),
      })
      return
    case 'unreachable':
      handle.emit('unreachable', { address: event.address, reason: withOptionNames(event.reason, state.labels) })
      return
    case 'reachable':
      handle.emit('reachable', { address: event.address })
      return
  }
}

/** A native error with its options named as the caller names them. */
function named(err: unknown, labels: Labels | undefined): MproxyError {
  const e = fromNative(err, undefined, (option) => labelOf(labels, option))
  return new MproxyError(e.code, withOptionNames(e.message, labels), e)
}

/** @internal What every create…() takes besides its program's options. */
export interface HandleSettings {
  signal?: AbortSignal
  statsInterval?: number
}

/**
 * @internal The last step of every create…(): an AbortSignal closes the handle (at once if
 * it is already aborted: then this rejects), and `statsInterval` starts the 'stats' event.
 */
export async function ready(handle: Handle, settings: HandleSettings): Promise<Handle> {
  const state = stateOf(handle)
  const { signal, statsInterval } = settings
  if (signal?.aborted) {
    await handle.close()
    throw new MproxyError('EMPROXY_ABORTED', 'aborted (the signal was aborted while it started); nothing is left running', false)
  }
  if (signal) {
    const onAbort = () => void handle.close()
    signal.addEventListener('abort', onAbort, { once: true })
    state.cleanups.push(() => signal.removeEventListener('abort', onAbort))
  }
  if (statsInterval) {
    const timer = setInterval(() => handle.emit('stats', handle.stats()), statsInterval * 1000)
    // The routes keep the process alive, not the timer.
    timer.unref()
    state.cleanups.push(() => clearInterval(timer))
  }
  return handle
}

const checking = new AsyncLocalStorage<true>()

/**
 * @internal Runs `start` (a create…() of the programs) as `mproxy check` does: every step of
 * the real start (the schema, resolution, the checks across options, the binding's own
 * conversion), but no socket or data file is opened. Resolves with the handle, which has no
 * routes; close it.
 */
export function checkOnly<T>(start: () => Promise<T>): Promise<T> {
  return checking.run(true, start)
}

/** @internal A new handle, with nothing running yet; `labels`: how its messages name options. */
export function newHandle(onLog?: (entry: LogEntry) => void, labels?: Labels): Handle {
  return create(onLog, labels)
}

/**
 * @internal Starts one native route as part of `handle`. A reverse proxy's 'outputs' route
 * listens on the group; that socket is not one of the handle's listen addresses.
 */
export function startRoute(handle: Handle, options: RouteOptions, finite: boolean, role?: RouteRole): NativeRoute | undefined {
  const state = stateOf(handle)
  if (checking.getStore()) {
    // `mproxy check`: the binding converts and checks the options as it would to start, but
    // opens nothing. Listeners count as bound where they were asked for (port 0 stays 0, which
    // the checks after a start skip).
    try {
      native().checkRoute(options)
    } catch (err) {
      throw named(err, state.labels)
    }
    if (role !== 'outputs') state.addresses.listen.push(...(options.udpListeners ?? []).map((l) => l.address))
    return undefined
  }
  if (finite) state.pendingFinishes++
  let route: NativeRoute
  try {
    route = native().startRoute(options, (event: RouteEvent) => onEvent(handle, event))
  } catch (err) {
    if (finite) state.pendingFinishes--
    throw named(err, state.labels)
  }
  state.routes.push(route)
  state.roles.push(role)
  if (role !== 'inputs') state.tapRoute ??= route
  if (role !== 'outputs') state.sendRoute ??= route
  if (role !== 'outputs') state.addresses.listen.push(...route.listenAddresses)
  state.addresses.tcpListen.push(...route.tcpListenAddresses)
  state.addresses.tcpOutput.push(...route.tcpOutputAddresses)
  return route
}

/** @internal Reports something on the handle's log. */
export function logTo(handle: Handle, level: LogLevel, message: string): void {
  handle.emit('log', { level, message })
}

/** @internal Records the reverse proxy's group in `handle.addresses`. */
export function setGroup(handle: Handle, group: string): void {
  stateOf(handle).addresses.group = group
}

/** @internal Closes what was started when a later step of creation failed, then throws `err`. */
export async function abort(handle: Handle, err: unknown): Promise<never> {
  await handle.close().catch(() => undefined)
  throw err
}
