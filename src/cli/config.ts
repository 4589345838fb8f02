/**
 * `mproxy --config FILE` (run every route of a config file in this process) and
 * `mproxy check --config FILE` (validate it without starting anything). Exit codes as for the
 * programs: 2 for a config that is not valid, 1 for what the system refused.
 */
import { access, constants } from 'node:fs/promises'
import path from 'node:path'
import { readConfigData } from '../config/file'
import { MproxyError } from '../errors'
import { checkOnly } from '../handle'
import { startProgram } from '../api/programs'
import { parseConfig, type LoadedConfig, type RouteInput } from '../schema/config'
import { nameOf } from '../naming'
import { start, type Service } from '../service'
import { withFix } from './hints'
import { announceAddresses, defaultTimestamps, makeLogger, type LogFormat } from './log'
import { EXIT_RUNTIME, EXIT_USAGE } from './run'
import { takeSignals } from './early'
import { notifySystemd } from './systemd'
import { count } from './transfer-report'
import { lossLine, StatsLine } from './stats-line'

export interface ConfigFlags {
  config: string
  logFormat?: LogFormat
  timestamps?: boolean
  quiet: boolean
}

const NAME = 'mproxy'

function fail(err: unknown): never {
  const usage = err instanceof MproxyError ? err.usage : false
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`${NAME}: ${message.replace(/\s*\n\s*/g, ' ')}\n`)
  process.exit(usage ? EXIT_USAGE : EXIT_RUNTIME)
}

/**
 * Files a route would open, which `check` tries without opening them for good (the binding's
 * check opens no file): inputs and certificates readable, outputs' directories writable.
 * The run refuses the same files (exit 1), when it opens them.
 */
async function checkFiles(route: RouteInput, index: number): Promise<void> {
  const naming = { prefix: ['routes', index] as const }
  const options = route.options
  const file = typeof options.path === 'string' ? options.path : '-'
  const readable = route.kind === 'client' && file !== '-' ? [['path', file]] : []
  for (const field of ['tlsCa', 'tlsCert', 'tlsKey', 'tlsClientCa']) if (typeof options[field] === 'string') readable.push([field, options[field] as string])
  for (const [field, file] of readable) {
    await access(file, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
      throw new MproxyError('EMPROXY_FILE', `${nameOf(naming, field)}: cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code}`)
    })
  }
  const written: Array<[string, string]> = []
  if (route.kind === 'server' && file !== '-') written.push(['path', file])
  if (typeof options.copyPath === 'string') written.push(['copyPath', options.copyPath])
  for (const [field, target] of written) {
    const dir = path.dirname(path.resolve(target))
    await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
      throw new MproxyError('EMPROXY_FILE', `${nameOf(naming, field)}: cannot write in ${dir}: ${e.code === 'ENOENT' ? 'no such directory' : e.code}`)
    })
  }
}

/**
 * `mproxy check --config FILE`: 0 valid, 2 not valid, 1 the system would refuse it. Each
 * route goes through its program's real start (the same checks, resolution and conversion,
 * in the same order, with the same messages as `mproxy --config`), but opens no socket.
 */
export async function checkConfig(file: string): Promise<void> {
  let config: LoadedConfig
  try {
    const data = await readConfigData(file)
    config = parseConfig(data)
    for (const [i, route] of config.routes.entries()) {
      const handle = await checkOnly(() => startProgram(route.kind, route.options, { prefix: ['routes', i] }))
      await handle.close()
      await checkFiles(route, i)
    }
  } catch (err) {
    return fail(err)
  }
  process.stdout.write(
    `${file}: ${config.routes.length} route${config.routes.length === 1 ? '' : 's'} (${config.routes.map((r) => `${r.name}: ${r.kind}`).join(', ')}): ok\n`,
  )
}

/** `mproxy --config FILE`: runs every route until SIGINT/SIGTERM; SIGHUP reloads the file. */
export async function runConfig(flags: ConfigFlags): Promise<void> {
  let config: LoadedConfig
  let data: unknown
  try {
    data = await readConfigData(flags.config)
    config = parseConfig(data)
  } catch (err) {
    return fail(err)
  }
  const log = makeLogger(NAME, {
    format: flags.logFormat ?? config.log?.format ?? 'text',
    timestamps: flags.timestamps ?? config.log?.timestamps ?? defaultTimestamps(),
    quiet: flags.quiet,
  })
  let service: Service
  try {
    service = await start(data, { onLog: (entry) => log({ ...entry, message: withFix(entry.message, undefined) }) })
  } catch (err) {
    return fail(err)
  }
  const warn = (message: string) => log({ level: 'warn', message })
  const lines = new Map<string, StatsLine>()
  service.on('stats', (all) => {
    for (const [route, stats] of Object.entries(all)) {
      const line = lines.get(route)
      if (line) log({ level: 'info', route, message: `stats: ${line.next(stats.totals)}` })
      lines.set(route, line ?? new StatsLine(stats.totals))
      if (!line) log({ level: 'info', route, message: `stats: every ${config.statsInterval} s from now` })
    }
  })
  let stopping = false
  const stop = async () => {
    if (stopping) process.exit(EXIT_RUNTIME)
    stopping = true
    notifySystemd('STOPPING=1', warn)
    const finals = await service.close()
    for (const [route, stats] of Object.entries(finals)) {
      const lost = lossLine(stats.totals)
      if (lost) log({ level: 'warn', route, message: lost })
    }
    process.exit(0)
  }
  const hangup = async () => {
    // A stop came first: nothing to reload, and systemd was told STOPPING=1 already.
    if (stopping) return
    notifySystemd('RELOADING=1', warn)
    try {
      const nextData = await readConfigData(flags.config)
      const next = parseConfig(nextData)
      const r = await service.reload(nextData)
      if (r.failed.length) {
        // An old route that could not start again is in `stopped` (its error was logged).
        const lost = r.stopped.length ? `; ${r.stopped.join(', ')} could not start again and stays stopped` : ''
        log({ level: 'error', message: `not reloaded ${flags.config}: ${r.failed.join(', ')} cannot start (see above); the old routes run again${lost}` })
      } else {
        config = next
        log({
          level: 'info',
          message: `reloaded ${flags.config}: kept ${r.kept.length}, restarted ${r.restarted.length}, started ${r.started.length}, stopped ${r.stopped.length}; output files reopened`,
        })
        for (const name of [...r.restarted, ...r.started]) {
          const handle = service.routes.get(name)
          if (handle) announceAddresses(log, handle, name)
        }
      }
    } catch (err) {
      log({ level: 'error', message: `not reloaded, the running config stays: ${(err as Error).message}` })
    } finally {
      // logrotate moved the files away: reopen them whatever became of the reload.
      service.reopenOutputs()
      if (!stopping) notifySystemd('READY=1', warn)
    }
  }
  const counters = () => {
    for (const [route, stats] of Object.entries(service.stats())) {
      const t = stats.totals
      // Asked for: printed even with --quiet.
      process.stderr.write(
        `${NAME}: [${route}] counters: in ${count(t.datagramsIn)} datagrams, ${count(t.bytesIn)} bytes; out ${count(t.datagramsOut)} datagrams, ${count(t.bytesOut)} bytes${lossLine(t) ? `; ${lossLine(t)}` : ''}\n`,
      )
    }
  }
  if (service.metricsAddress) log({ level: 'info', message: `metrics at http://${service.metricsAddress}/metrics` })
  for (const [name, handle] of service.routes) announceAddresses(log, handle, name)
  notifySystemd('READY=1', warn)
  // From here on signals act; those that came while the routes started act now (see early.ts).
  // Reloads run one after the other, each between its RELOADING=1 and READY=1.
  let reloads = Promise.resolve()
  takeSignals((signal) => {
    if (signal === 'SIGINT' || signal === 'SIGTERM') void stop()
    else if (signal === 'SIGHUP' && !stopping) reloads = reloads.then(hangup)
    else counters()
  })
}
