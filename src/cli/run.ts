/**
 * What every program does around its `create…()` call: flags in, one-line errors out,
 * exit codes (0 done or stopped by a signal, 1 the system refused or failed, 2 usage),
 * logs on stderr only (stdout belongs to --tee and `--path -`), clean stop on signals.
 */
import { MproxyError, usageError } from '../errors'
import type { Handle, LogEntry, Stats } from '../handle'
import { registerMetrics, serveMetricsAt, type MetricsServer } from '../metrics'
import { labelOf, type Labels } from '../options'
import { processSchema } from '../schema/config'
import { parseWith } from '../schema/issues'
import { helpText, labelsFor, parseArgs, type ParsedValues, type ProgramSpec } from './args'
import { announceAddresses, defaultTimestamps, makeLogger } from './log'
import { lossLine, StatsLine } from './stats-line'

type ProcessSettings = ReturnType<typeof processSchema.parse>

export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

export interface Program {
  spec: ProgramSpec
  /** Starts the program from parsed flag values. */
  start(values: ParsedValues, labels: Labels, onLog: (entry: LogEntry) => void): Promise<Handle>
  /** Clients end when their input ends; servers and proxies run until stopped. */
  finite: boolean
}

/** The package's version, as `--version` prints it. */
export function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../package.json') as { version: string }).version
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

function describeStats(stats: Stats): string {
  return stats.endpoints
    .map((e) => {
      // A TCP output writes bytes to each of its clients: its out is in bytes.
      const out = e.kind === 'tcp-output' ? `out ${e.bytesOut} bytes to its clients` : `out ${e.datagramsOut} datagrams/${e.bytesOut} bytes`
      const parts = [`in ${e.datagramsIn} datagrams/${e.bytesIn} bytes`, out]
      for (const [key, value] of Object.entries(e)) {
        if (typeof value === 'number' && value > 0 && !/^(datagrams|bytes)(In|Out)$/.test(key) && key !== 'bufferBytes') parts.push(`${key} ${value}`)
      }
      return `  ${e.kind} ${e.name}: ${parts.join(', ')}`
    })
    .join('\n')
}

/** What a service does on each signal (see the README's signal table). */
export interface SignalHandlers {
  /** SIGINT/SIGTERM: stop cleanly; resolves with the exit code. A second one exits at once (1). */
  stop(): Promise<number>
  /** SIGHUP. */
  hangup(): void | Promise<void>
  /** SIGUSR1 (a listener also keeps Node's inspector from opening on it). */
  counters(): void
}

/**
 * Until the real handlers are in place (starting may take a while: names resolve), SIGHUP
 * must not kill the process and SIGUSR1 must not open Node's inspector: both are ignored.
 */
export function holdSignals(): () => void {
  const ignore = () => undefined
  process.on('SIGHUP', ignore)
  process.on('SIGUSR1', ignore)
  return () => {
    process.off('SIGHUP', ignore)
    process.off('SIGUSR1', ignore)
  }
}

export function installSignals(h: SignalHandlers): void {
  let stopping = false
  const stop = () => {
    if (stopping) process.exit(EXIT_RUNTIME)
    stopping = true
    h.stop().then(
      (code) => process.exit(code),
      () => process.exit(EXIT_RUNTIME),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  process.on('SIGHUP', () => void h.hangup())
  process.on('SIGUSR1', () => h.counters())
}

export async function runProgram(program: Program, argv: readonly string[]): Promise<void> {
  const name = program.spec.name
  const fail = (err: unknown): never => {
    const usage = err instanceof MproxyError ? err.usage : false
    const message = err instanceof Error ? err.message : String(err)
    process.stderr.write(`${name}: ${oneLine(message)}\n`)
    process.exit(usage ? EXIT_USAGE : EXIT_RUNTIME)
  }
  let values: ParsedValues
  try {
    values = parseArgs(argv, program.spec)
  } catch (err) {
    return fail(err)
  }
  if (values.help) {
    process.stdout.write(helpText(program.spec))
    return
  }
  if (values.version) {
    process.stdout.write(`${name} ${version()}\n`)
    return
  }
  const quiet = values.quiet === true
  const verbose = values.verbose === true
  const labels = labelsFor(program.spec)
  let settings: ProcessSettings
  try {
    settings = parseWith(processSchema, { metricsAddr: values.metricsAddr, statsInterval: values.statsInterval, logFormat: values.logFormat }, labels)
    if (values.timestamps && values.noTimestamps) throw usageError('--timestamps and --no-timestamps cannot both be given')
  } catch (err) {
    return fail(err)
  }
  const log = makeLogger(name, {
    format: settings.logFormat ?? 'text',
    timestamps: values.noTimestamps ? false : values.timestamps ? true : defaultTimestamps(),
    quiet,
  })

  const release = holdSignals()
  let handle: Handle
  let metrics: MetricsServer | undefined
  try {
    handle = await program.start(values, labels, log)
  } catch (err) {
    return fail(err)
  }
  try {
    if (settings.metricsAddr) metrics = await serveMetricsAt(settings.metricsAddr, registerMetrics(() => [{ route: name, handle }]), labelOf(labels, 'metricsAddr'))
  } catch (err) {
    await handle.close()
    return fail(err)
  }
  release()
  let statsTimer: NodeJS.Timeout | undefined
  if (settings.statsInterval) {
    const line = new StatsLine(handle.stats().totals)
    statsTimer = setInterval(() => log({ level: 'info', message: `stats: ${line.next(handle.stats().totals)}` }), settings.statsInterval * 1000)
    statsTimer.unref()
  }
  let stopping = false
  const stop = async (reason: string, code = 0) => {
    if (stopping) {
      // A second signal while stopping (say, a stuck stdout): leave now.
      if (reason.startsWith('SIG')) process.exit(EXIT_RUNTIME)
      return
    }
    stopping = true
    if (verbose) log({ level: 'info', message: `stopping (${reason})` })
    if (statsTimer) clearInterval(statsTimer)
    await metrics?.close()
    const stats = await handle.close()
    if (verbose) process.stderr.write(`${name}: counters\n${describeStats(stats)}\n`)
    const lost = lossLine(stats.totals)
    if (lost) log({ level: 'warn', message: lost })
    process.exit(code)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  // SIGHUP (logrotate's postrotate): reopen output files instead of dying.
  process.on('SIGHUP', () => {
    handle.reopenOutputs()
    if (verbose) log({ level: 'info', message: 'output files reopened (SIGHUP)' })
  })
  // SIGUSR1 prints the counters; a listener also keeps Node's inspector from opening on it.
  process.on('SIGUSR1', () => process.stderr.write(`${name}: counters\n${describeStats(handle.stats())}\n`))
  // Announced only now: whoever waits for these lines may signal at once, and gets a clean stop.
  announceAddresses(log, handle)
  if (metrics) log({ level: 'info', message: `metrics at http://${metrics.address}/metrics` })
  if (settings.statsInterval) log({ level: 'info', message: `stats: every ${settings.statsInterval} s from now` })
  if (program.finite) {
    const outcome = await handle.finished
    // A failed read was already reported on stderr; the exit code says it too.
    await stop(`input ${outcome}`, outcome === 'failed' ? EXIT_RUNTIME : 0)
  }
}
