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
import { withOptionNames, type Labels } from './options'
import { native, type NativeEndpointStats, type NativeRoute, type RouteEvent, type RouteOptions } from './native'
import { Sender, type Datagrams } from './send'

/** How serious a log entry is. */
export type LogLevel = 'info' | 'warn' | 'error'

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
 * was given, or one routing rule of an output (named `OUTPUT RULE`, e.g.
 * `127.0.0.1:9921 prefix !AIVDM`).
 */
export type EndpointKind = 'udp-listener' | 'udp-destination' | 'input' | 'file' | 'tee' | 'copy' | 'tcp-connection' | 'tcp-listener' | 'tcp-output' | 'tap' | 'send' | 'rule'

/** Counters of one endpoint. Numbers are doubles: exact up to 2^53, far beyond any count. */
export interface EndpointStats extends Omit<NativeEndpointStats, 'kind' | 'kernelDrops'> {
  /** What the endpoint is. */
  kind: EndpointKind
  /** Its address, path or URL, e.g. `127.0.0.1:9920`, `ais.log`, `tls://host:443`. */
  name: string
  /** The receive buffer the kernel granted a listener, in bytes. */
  bufferBytes?: number
  /** Datagrams into this endpoint: received by a listener, or handed to an output. */
  datagramsIn: number
  /** Bytes that arrived or were read. */
  bytesIn: number
  /** Datagrams out of this endpoint: sent, written, or framed from an input's bytes. */
  datagramsOut: number
  /** Bytes sent on or written. */
  bytesOut: number
  /** Datagrams a destination refused (no route, port unreachable, ...). */
  sendErrors: number
  /**
   * Datagrams the kernel dropped because a socket's receive buffer was full; `null` where the
   * OS does not count them (macOS, Windows: see `Stats.unknownCounters`), never a made-up 0.
   */
  kernelDrops: number | null
  /** Datagrams larger than the receive buffer, cut short. */
  truncated: number
  /** Datagrams dropped because the queue in front of a slow writer was full. */
  queueDrops: number
  /** Writes to a file, stdout or TCP client that failed. */
  writeErrors: number
  /** Bytes lost with dropped datagrams and failed writes. */
  bytesDropped: number
  /** TCP connections made (kept connections) or accepted (listeners). */
  connects: number
  /** TCP connections that ended. */
  disconnects: number
  /** TCP clients refused at the client limit. */
  refused: number
  /** TCP clients disconnected for falling behind. */
  evicted: number
  /** ICMP errors (port or host unreachable) about datagrams sent to this destination. */
  icmpErrors: number
  /** Listeners with a bus key: datagrams dropped for not verifying (plain, another key, damaged). */
  authFailures: number
  /** Listeners with a bus key: verified datagrams dropped as replays (seen before, or too old). */
  replays: number
  /** TCP clients refused because their address is not in the listener's allow list (`allow`). */
  refusedNotAllowed: number
  /** TCP clients refused because their address already had `maxClientsPerAddress` clients. */
  refusedPerAddress: number
  /** TCP input clients closed because they sent nothing for `idleTimeout` seconds. */
  idleTimeouts: number
  /** TLS clients whose handshake failed: no or a refused certificate, not TLS, or not done within 10 s. */
  tlsFailures: number
  /**
   * Outputs: datagrams their routing rules kept from them (not for balance-group members:
   * see the group's rules). Rules: datagrams this rule dropped.
   */
  filtered: number
  /** Rules: datagrams the rule's test held for (a rule's `datagramsIn` is what reached it). */
  matched: number
  /** Rules: datagrams that went on to the next rule or the output(s). */
  passed: number
  /** Destinations: datagrams sent there were refused or lost recently (no quiet second since). */
  unreachable: boolean
  /** Datagrams `messages()` iterators missed because JavaScript fell behind (their queue was full). */
  tapDrops: number
}

/** The sum of every endpoint's counters, the way a person reads a transfer. */
export interface Totals {
  /** Datagrams received by listeners, or framed from inputs. */
  datagramsIn: number
  /** Bytes received by listeners or read from inputs. */
  bytesIn: number
  /** Datagrams delivered to destinations and outputs. */
  datagramsOut: number
  /** Bytes delivered to destinations and outputs. */
  bytesOut: number
  /** Datagrams destinations refused. */
  sendErrors: number
  /** Datagrams a destination's host (or a router) refused with an ICMP error. */
  icmpErrors: number
  /** Datagrams the kernel dropped on full receive buffers; `null` where the OS does not count them. */
  kernelDrops: number | null
  /** Datagrams cut short. */
  truncated: number
  /** Datagrams dropped in front of slow writers. */
  queueDrops: number
  /** Writes that failed. */
  writeErrors: number
  /** Bytes lost. */
  bytesDropped: number
  /** Datagrams `messages()` iterators missed because JavaScript fell behind. */
  tapDrops: number
  /** Datagrams refused by the bus key check (not mproxy's data: nothing of the stream is lost). */
  authFailures: number
  /** Replayed datagrams refused by the bus key check. */
  replays: number
  /** Datagrams routing rules kept from an output (or a balance group): chosen, not lost. */
  filtered: number
}

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

/** A counter some OS cannot tell. */
export type UnknownCounter = 'kernelDrops'

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

const SOURCE_KINDS: readonly EndpointKind[] = ['udp-listener', 'input', 'tcp-connection', 'tcp-listener', 'send']
const SINK_KINDS: readonly EndpointKind[] = ['udp-destination', 'file', 'tcp-output', 'tap']

/**
 * The sums of `endpoints`: in counts their sources, out their sinks. A reverse proxy is two
 * routes joined by the group; `inSources` and `outSinks` say which endpoints to count so a
 * datagram is counted in once (where it entered the process) and out once (where it left).
 */
function total(endpoints: EndpointStats[], inSources = endpoints, outSinks = endpoints): Totals {
  const sum = (list: EndpointStats[], pick: (e: EndpointStats) => number, kinds?: readonly EndpointKind[]) =>
    list.filter((e) => !kinds || kinds.includes(e.kind)).reduce((n, e) => n + pick(e), 0)
  return {
    datagramsIn: sum(inSources, (e) => (e.kind === 'input' || e.kind.startsWith('tcp-') ? e.datagramsOut : e.datagramsIn), SOURCE_KINDS),
    bytesIn: sum(inSources, (e) => e.bytesIn, SOURCE_KINDS),
    // Files and TCP outputs count what was handed to them in datagrams and what was written in bytes.
    datagramsOut: sum(outSinks, (e) => (e.kind === 'file' || e.kind === 'tcp-output' ? e.datagramsIn : e.datagramsOut), SINK_KINDS),
    bytesOut: sum(outSinks, (e) => e.bytesOut, SINK_KINDS),
    sendErrors: sum(endpoints, (e) => e.sendErrors),
    icmpErrors: sum(endpoints, (e) => e.icmpErrors),
    kernelDrops: unknownCounters().includes('kernelDrops') ? null : sum(endpoints, (e) => e.kernelDrops ?? 0),
    truncated: sum(endpoints, (e) => e.truncated),
    queueDrops: sum(endpoints, (e) => e.queueDrops),
    writeErrors: sum(endpoints, (e) => e.writeErrors),
    bytesDropped: sum(endpoints, (e) => e.bytesDropped),
    tapDrops: sum(endpoints, (e) => e.tapDrops),
    authFailures: sum(endpoints, (e) => e.authFailures),
    replays: sum(endpoints, (e) => e.replays),
    filtered: sum(endpoints, (e) => e.filtered, ['rule']),
  }
}

function fromNativeStats(e: NativeEndpointStats): EndpointStats {
  // The core registers exactly the kinds EndpointKind lists (see its test).
  return { ...e, kind: e.kind as EndpointKind, kernelDrops: e.kernelDrops ?? null }
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
export type InputOutcome = 'complete' | 'stopped' | 'failed'

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
export type ClientAction = 'joined' | 'left' | 'evicted' | 'refused'

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
    const halves = state.routes.map((r, i) => ({ role: state.roles[i], endpoints: r.stats().map(fromNativeStats) }))
    const endpoints = halves.flatMap((h) => h.endpoints)
    const inputs = halves.find((h) => h.role === 'inputs')?.endpoints
    const outputs = halves.find((h) => h.role === 'outputs')?.endpoints
    if (!inputs && !outputs) return { endpoints, totals: total(endpoints), unknownCounters: unknownCounters() }
    return {
      endpoints,
      totals: total(endpoints, inputs ?? outputs, outputs ?? inputs),
      routes: { ...(inputs ? { inputs: total(inputs) } : {}), ...(outputs ? { outputs: total(outputs) } : {}) },
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
  if (event.kind === 'finished') {
    state.pendingFinishes--
    if (state.pendingFinishes === 0) {
      const outcome = (event.message ?? 'complete') as InputOutcome
      state.markFinished(outcome)
      handle.emit('finished', outcome)
    }
    return
  }
  switch (event.kind) {
    case 'log':
      handle.emit('log', { level: (event.level ?? 'info') as LogLevel, message: withOptionNames(event.message ?? '', state.labels) })
      return
    case 'connect':
      handle.emit('connect', { address: event.address ?? '', ...(event.peer ? { peer: event.peer } : {}) })
      return
    case 'disconnect':
      handle.emit('disconnect', { address: event.address ?? '', reason: withOptionNames(event.reason ?? '', state.labels) })
      return
    case 'client':
      handle.emit('client', { listener: event.listener ?? '', peer: event.peer ?? '', action: (event.action ?? 'joined') as ClientAction, ...(event.reason ? { reason: withOptionNames(event.reason, state.labels) } : {}) })
      return
    case 'unreachable':
      handle.emit('unreachable', { address: event.address ?? '', reason: withOptionNames(event.reason ?? '', state.labels) })
      return
    case 'reachable':
      handle.emit('reachable', { address: event.address ?? '' })
      return
  }
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
      const e = fromNative(err)
      throw new MproxyError(e.code, withOptionNames(e.message, state.labels), e.usage)
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
    const e = fromNative(err)
    throw new MproxyError(e.code, withOptionNames(e.message, state.labels), e.usage)
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
