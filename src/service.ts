/**
 * A whole config in one process: `start(config)` runs every route of it and returns one
 * handle. `reload(config)` applies a new config without touching what did not change:
 * routes whose options are the same keep running (no datagram of theirs is lost), changed
 * routes restart, removed ones stop, new ones start. Removed and changed routes stop before
 * any starts, so ports may move between routes (a swap, a port handed from one route to
 * another). A config that fails validation changes nothing; one with a route that cannot
 * start changes nothing either: the routes it started stop and the old ones run again.
 */
import { EventEmitter } from 'node:events'
import { isDeepStrictEqual } from 'node:util'
import type { Registry } from 'prom-client'
import { MproxyError } from './errors'
import type { Handle, LogEntry, Stats } from './handle'
import { registerMetrics, serveMetricsAt, type MetricsServer } from './metrics'
import { parseConfig, type LoadedConfig, type RouteInput } from './schema/config'
import { startProgram } from './api/programs'

/** A log entry of one route (or of the service itself, without a route). */
export interface ServiceLogEntry extends LogEntry {
  route?: string
}

export interface ServiceEvents {
  log: [ServiceLogEntry]
  /** Every `statsInterval` seconds: each route's counters. */
  stats: [Record<string, Stats>]
}

/** What a reload did, by route name. */
export interface ReloadResult {
  kept: string[]
  restarted: string[]
  started: string[]
  stopped: string[]
  /**
   * The route that could not start with its new options. The reload is then not applied:
   * `restarted` and `started` are empty and the old routes run again; `stopped` lists any
   * old route that could not start again either (its error is logged).
   */
  failed: string[]
}

interface Running {
  config: RouteInput
  handle: Handle
}

export class Service extends EventEmitter<ServiceEvents> {
  private readonly running = new Map<string, Running>()
  private config: LoadedConfig
  private metricsServer?: MetricsServer
  private registry?: Registry
  private statsTimer?: NodeJS.Timeout
  private closing?: Promise<Record<string, Stats>>
  /** Reloads run one after the other (two SIGHUPs in a row must not race). */
  private reloading: Promise<unknown> = Promise.resolve()

  /** @internal Use start(). */
  constructor(config: LoadedConfig) {
    super()
    this.config = config
  }

  /** The running routes' handles, by name. */
  get routes(): ReadonlyMap<string, Handle> {
    return new Map([...this.running].map(([name, r]) => [name, r.handle]))
  }

  /** The metrics endpoint's address, when the config asks for one. */
  get metricsAddress(): string | undefined {
    return this.metricsServer?.address
  }

  /** Each route's counters, by name. */
  stats(): Record<string, Stats> {
    return Object.fromEntries([...this.running].map(([name, r]) => [name, r.handle.stats()]))
  }

  private async startRoute(route: RouteInput, index: number): Promise<Handle> {
    const onLog = (entry: LogEntry) => this.emit('log', { ...entry, route: route.name })
    return startProgram(route.kind, { ...route.options, onLog }, { prefix: ['routes', index] })
  }

  /** @internal Starts every route (all or nothing) and the process-wide settings. */
  async begin(): Promise<void> {
    try {
      for (const [i, route] of this.config.routes.entries()) {
        this.running.set(route.name, { config: route, handle: await this.startRoute(route, i) })
      }
      await this.applySettings(undefined)
    } catch (err) {
      await this.close()
      throw err
    }
  }

  /**
   * Starts, moves or stops the metrics endpoint and the stats timer as the config says. At
   * start a metrics port that cannot be bound is an error; on reload it is reported and the
   * endpoint stays where it was (the routes are already reloaded: nothing is half done).
   */
  private async applySettings(previous: LoadedConfig | undefined): Promise<void> {
    const metrics = this.config.metrics
    if (!isDeepStrictEqual(metrics, previous?.metrics)) {
      const old = this.metricsServer
      this.registry ??= registerMetrics(() => [...this.running].map(([route, r]) => ({ route, handle: r.handle })))
      const registry = this.registry
      const open = (addr: string) => serveMetricsAt(addr, registry, 'metrics.addr')
      try {
        if (!metrics) {
          this.metricsServer = undefined
        } else {
          // The new endpoint opens before the old one closes, unless it needs the old one's port.
          this.metricsServer = await open(metrics.addr).catch(async (err: unknown) => {
            if (!old || (err as MproxyError).code !== 'EMPROXY_ADDRESS_IN_USE') throw err
            await old.close()
            return open(metrics.addr).catch(async (again: unknown) => {
              this.metricsServer = previous?.metrics ? await open(previous.metrics.addr).catch(() => undefined) : undefined
              throw again
            })
          })
        }
        if (old && this.metricsServer !== old) await old.close()
      } catch (err) {
        if (!previous) throw err
        this.config = { ...this.config, metrics: this.metricsServer ? previous.metrics : undefined }
        this.emit('log', {
          level: 'error',
          message: `${(err as Error).message}; ${this.metricsServer ? `metrics stay at ${this.metricsServer.address}` : 'no metrics endpoint now'}`,
        })
      }
    }
    if (this.config.statsInterval !== previous?.statsInterval) {
      if (this.statsTimer) clearInterval(this.statsTimer)
      this.statsTimer = undefined
      if (this.config.statsInterval) {
        this.statsTimer = setInterval(() => this.emit('stats', this.stats()), this.config.statsInterval * 1000)
        this.statsTimer.unref()
      }
    }
  }

  /**
   * Applies a new config (checked first: if it is not valid, nothing changes and the error
   * is thrown). Unchanged routes keep running untouched.
   */
  reload(input: unknown): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.reloadNow(input))
    this.reloading = run.catch(() => undefined)
    return run
  }

  private async reloadNow(input: unknown): Promise<ReloadResult> {
    if (this.closing) throw new MproxyError('EMPROXY_INVALID_ARGUMENT', 'the service is closed', true)
    const next = parseConfig(input)
    const result: ReloadResult = { kept: [], restarted: [], started: [], stopped: [], failed: [] }
    const wanted = new Map(next.routes.map((r, i) => [r.name, { route: r, index: i }]))
    const before = [...this.running]
    const oldIndex = new Map(this.config.routes.map((r, i) => [r.name, i]))
    // Everything that goes away or changes stops first, so that the new routes find the ports
    // they want free even when two routes swap theirs or one takes over another's.
    const leaving = before.filter(([name, r]) => !wanted.has(name) || !isDeepStrictEqual(wanted.get(name)?.route, r.config))
    for (const [name] of before) if (!leaving.some(([n]) => n === name)) result.kept.push(name)
    // All at once: a moved port is without a listener for the longest close, not their sum.
    for (const [name] of leaving) this.running.delete(name)
    await Promise.all(leaving.map(([, r]) => r.handle.close()))
    const started: Array<[string, Running]> = []
    let failure: { name: string; err: unknown } | undefined
    for (const [name, { route, index }] of wanted) {
      if (this.running.has(name)) continue
      try {
        started.push([name, { config: route, handle: await this.startRoute(route, index) }])
      } catch (err) {
        failure = { name, err }
        break
      }
    }
    if (failure) {
      // All or nothing: what this reload started stops, and the routes it stopped run again.
      await Promise.all(started.map(([, r]) => r.handle.close()))
      result.failed.push(failure.name)
      this.emit('log', {
        level: 'error',
        route: failure.name,
        message: `cannot start with the new options: ${(failure.err as Error).message}; not reloaded, the old routes run again`,
      })
      for (const [name, r] of leaving) {
        try {
          this.running.set(name, { config: r.config, handle: await this.startRoute(r.config, oldIndex.get(name) ?? 0) })
        } catch (again) {
          // Lost: reported as stopped, so the caller does not claim it runs.
          result.stopped.push(name)
          this.emit('log', {
            level: 'error',
            route: name,
            message: `cannot start again with the old options either: ${(again as Error).message}; it stays stopped`,
          })
        }
      }
    } else {
      for (const [name, r] of started) this.running.set(name, r)
      for (const [name] of leaving) if (!wanted.has(name)) result.stopped.push(name)
      for (const [name] of started) (before.some(([n]) => n === name) ? result.restarted : result.started).push(name)
    }
    // The routes in the order the config (the new one, or the old one after a failure) gives them.
    const order = (failure ? this.config.routes : next.routes).map((r) => r.name)
    const sorted = [...this.running].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    this.running.clear()
    for (const [name, r] of sorted) this.running.set(name, r)
    if (failure) {
      // (Less any old route that could not start again.)
      this.config = { ...this.config, routes: [...this.running.values()].map((r) => r.config) }
      return result
    }
    const previous = this.config
    this.config = { ...next, routes: [...this.running.values()].map((r) => r.config) }
    await this.applySettings(previous)
    return result
  }

  /** Reopens every route's output files (see Handle.reopenOutputs). */
  reopenOutputs(): void {
    for (const r of this.running.values()) r.handle.reopenOutputs()
  }

  /** Stops every route and the metrics endpoint; resolves with each route's final counters. */
  close(): Promise<Record<string, Stats>> {
    this.closing ??= (async () => {
      await this.reloading
      if (this.statsTimer) clearInterval(this.statsTimer)
      await this.metricsServer?.close()
      const entries = [...this.running]
      const finals = await Promise.all(entries.map(async ([name, r]) => [name, await r.handle.close()] as const))
      return Object.fromEntries(finals)
    })()
    return this.closing
  }
}

/**
 * Runs a whole config (the object a config file holds): every route, metrics and periodic
 * stats. Rejects with an MproxyError naming the option's path (`routes[2].udpDownstreamAddrs`)
 * when the config is not valid or a route cannot start; nothing is left running then.
 */
export async function start(config: unknown, options: { onLog?: (entry: ServiceLogEntry) => void } = {}): Promise<Service> {
  const service = new Service(parseConfig(config))
  if (options.onLog) service.on('log', options.onLog)
  await service.begin()
  return service
}
