/**
 * What every program does around its `create…()` call: flags in, one-line errors out,
 * exit codes (0 done or stopped by a signal, 1 the system refused or failed, 2 usage),
 * logs on stderr only (stdout belongs to --tee and `--path -`), clean stop on signals.
 */
import { MproxyError, usageError } from '../errors'
import type { EndpointStats, Handle, LogEntry, Stats } from '../handle'
import { registerMetrics, serveMetricsAt, type MetricsServer } from '../metrics'
import { labelOf, type Labels } from '../options'
import { processSchema } from '../schema/config'
import { parseWith } from '../schema/issues'
import { helpText, labelsFor, parseArgs, type ParsedValues, type ProgramSpec } from './args'
import { announceAddresses, defaultTimestamps, makeLogger } from './log'
import { releaseSignals, takeSignals } from './early'
import { lossLine, StatsLine } from './stats-line'
import { notifySystemd } from './systemd'
import { withFix } from './hints'
import { bytes, count, everythingRefused, INPUT_STAGES, progressLine, seconds, summaryLine } from './transfer-report'
import { fstatSync, statSync } from 'node:fs'

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

/** `2,771 datagrams, 4,052,632 bytes (4.1 MB)`. */
function amount(datagrams: number, byteCount: number): string {
  return `${count(datagrams)} datagram${datagrams === 1 ? '' : 's'}, ${count(byteCount)} bytes${byteCount >= 1000 ? ` (${bytes(byteCount)})` : ''}`
}

/** What one endpoint did, in words: received, sent, read, wrote. */
function describeEndpoint(e: EndpointStats): string {
  switch (e.kind) {
    case 'udp-listener':
    case 'tap':
      return `received ${amount(e.datagramsIn, e.bytesIn)}`
    case 'udp-destination':
      return `sent ${amount(e.datagramsOut, e.bytesOut)}`
    case 'input':
    case 'tcp-connection':
    case 'tcp-listener':
      return `read ${count(e.bytesIn)} bytes${e.bytesIn >= 1000 ? ` (${bytes(e.bytesIn)})` : ''} into ${count(e.datagramsOut)} datagram${e.datagramsOut === 1 ? '' : 's'}`
    case 'send':
      return `took ${amount(e.datagramsIn, e.bytesIn)}`
    case 'rule':
      return `${count(e.datagramsIn)} reached it`
    case 'stage':
      // An input stage (named checksum, tag, dedup, throttle) and an output's own dedup
      // (`ADDR dedup`) count lines; an output's other stages (`ADDR strip-tag-blocks`) datagrams.
      if (INPUT_STAGES.includes(e.name) || e.name.endsWith(' dedup'))
        return `${count(e.datagramsIn)} line${e.datagramsIn === 1 ? '' : 's'} in, ${count(e.datagramsOut)} passed on`
      return `${count(e.datagramsIn)} reached it, ${count(e.datagramsOut)} went on`
    case 'tcp-output':
      // It writes a byte stream to each of its clients.
      return `got ${count(e.datagramsIn)} datagram${e.datagramsIn === 1 ? '' : 's'}, wrote ${count(e.bytesOut)} bytes${e.bytesOut >= 1000 ? ` (${bytes(e.bytesOut)})` : ''} to its clients`
    case 'tcp-connect-output':
      return `got ${count(e.datagramsIn)} datagram${e.datagramsIn === 1 ? '' : 's'}, wrote ${count(e.bytesOut)} bytes${e.bytesOut >= 1000 ? ` (${bytes(e.bytesOut)})` : ''} to its aggregator`
    default:
      return `wrote ${amount(e.datagramsIn, e.bytesOut)}`
  }
}

function describeStats(stats: Stats): string {
  return stats.endpoints
    .map((e) => {
      const parts = [describeEndpoint(e)]
      for (const [key, value] of Object.entries(e)) {
        if (typeof value === 'number' && value > 0 && !/^(datagrams|bytes)(In|Out)$/.test(key) && key !== 'bufferBytes') parts.push(`${key} ${count(value)}`)
      }
      return `  ${e.kind} ${e.name}: ${parts.join(', ')}`
    })
    .concat(stats.unknownCounters.length ? [`  not counted on this OS: ${stats.unknownCounters.join(', ')}`] : [])
    .join('\n')
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
  const typed: Record<string, string> = {}
  try {
    values = parseArgs(argv, program.spec, typed)
  } catch (err) {
    return fail(err)
  }
  if (values.help || values.version) {
    releaseSignals()
    process.stdout.write(values.help ? helpText(program.spec) : `${name} ${version()}\n`)
    return
  }
  const quiet = values.quiet === true
  const verbose = values.verbose === true
  const labels = labelsFor(program.spec, typed)
  let settings: ProcessSettings
  try {
    settings = parseWith(processSchema, { metricsAddr: values.metricsAddr, statsInterval: values.statsInterval, logFormat: values.logFormat }, labels)
    if (values.timestamps && values.noTimestamps) throw usageError('--timestamps and --no-timestamps cannot both be given')
  } catch (err) {
    return fail(err)
  }
  // On a terminal the client keeps a progress line at the bottom of stderr; log lines go above it.
  // (Not when --tee writes the data to the same terminal.)
  const progress =
    program.finite && process.stderr.isTTY === true && !quiet && !(values.tee === true && process.stdout.isTTY === true) ? new ProgressLine(name) : undefined
  const log = makeLogger(
    name,
    {
      format: settings.logFormat ?? 'text',
      timestamps: values.noTimestamps ? false : values.timestamps ? true : defaultTimestamps(),
      quiet,
    },
    (line) => (progress ? progress.print(line) : process.stderr.write(line)),
  )

  const size = program.finite ? knownSize(values) : undefined
  let handle: Handle
  let metrics: MetricsServer | undefined
  try {
    handle = await program.start(values, labels, (entry) => log({ ...entry, message: withFix(entry.message, labels) }))
  } catch (err) {
    return fail(err)
  }
  const startedAt = process.hrtime.bigint()
  const elapsed = () => Number(process.hrtime.bigint() - startedAt) / 1e9
  // When each destination was first refused, and which took datagrams again (see everythingRefused).
  const refusals = new Map<string, { at: number; reason: string }>()
  const recovered = new Set<string>()
  handle.on('unreachable', ({ address, reason }) => {
    if (!refusals.has(address)) refusals.set(address, { at: elapsed(), reason })
  })
  handle.on('reachable', ({ address }) => recovered.add(address))
  try {
    if (settings.metricsAddr)
      metrics = await serveMetricsAt(
        settings.metricsAddr,
        registerMetrics(() => [{ route: name, handle }]),
        labelOf(labels, 'metricsAddr'),
      )
  } catch (err) {
    await handle.close()
    return fail(err)
  }
  if (progress) progress.start(() => progressLine(handle.stats(), elapsed(), size))
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
    notifySystemd('STOPPING=1', (message) => log({ level: 'warn', message }))
    if (verbose) log({ level: 'info', message: `stopping (${reason})` })
    if (statsTimer) clearInterval(statsTimer)
    await metrics?.close()
    const stats = await handle.close()
    const took = elapsed()
    progress?.end()
    if (verbose) process.stderr.write(`${name}: counters after ${seconds(took)}\n${describeStats(stats)}\n`)
    // The client's summary: on a terminal, and elsewhere with --verbose.
    if (program.finite && (progress || verbose)) log({ level: 'info', message: summaryLine(stats, took) })
    const lost = lossLine(stats.totals)
    if (lost) log({ level: 'warn', message: lost })
    const refused = program.finite && reason === 'input complete' ? everythingRefused(stats, refusals, recovered) : undefined
    if (refused) {
      log({ level: 'error', message: refused })
      code = EXIT_RUNTIME
    }
    process.exit(code)
  }
  // Announced only now: whoever waits for these lines may signal at once, and gets a clean stop.
  announceAddresses(log, handle)
  if (metrics) log({ level: 'info', message: `metrics at http://${metrics.address}/metrics` })
  if (settings.statsInterval) log({ level: 'info', message: `stats: every ${settings.statsInterval} s from now` })
  notifySystemd('READY=1', (message) => log({ level: 'warn', message }))
  // Signals that came while starting are handled now (see early.ts).
  takeSignals((signal) => {
    if (signal === 'SIGINT' || signal === 'SIGTERM') return void stop(signal)
    if (signal === 'SIGHUP') {
      // logrotate's postrotate: reopen output files instead of dying.
      handle.reopenOutputs()
      if (verbose) log({ level: 'info', message: 'output files reopened (SIGHUP)' })
      return
    }
    // SIGUSR1: the counters (asked for: printed even with --quiet).
    const line = `${name}: counters after ${seconds(elapsed())}\n${describeStats(handle.stats())}\n`
    if (progress) progress.print(line)
    else process.stderr.write(line)
  })
  if (program.finite) {
    const outcome = await handle.finished
    // A failed read was already reported on stderr; the exit code says it too.
    await stop(`input ${outcome}`, outcome === 'failed' ? EXIT_RUNTIME : 0)
  }
}

/** The size of the client's input when it is known and fixed: a regular file, not followed. */
function knownSize(values: ParsedValues): number | undefined {
  if (values.follow === true) return undefined
  try {
    const st = values.path === '-' || values.path === undefined ? fstatSync(0) : statSync(String(values.path))
    return st.isFile() ? st.size : undefined
  } catch {
    return undefined
  }
}

/**
 * The progress line at the bottom of a terminal: redrawn four times a second in place
 * (carriage return, erase to the end of the line); other lines are printed above it.
 */
class ProgressLine {
  private timer?: NodeJS.Timeout
  private render?: () => string
  private shown = false

  constructor(private readonly program: string) {}

  start(render: () => string): void {
    this.render = render
    this.draw()
    this.timer = setInterval(() => this.draw(), 250)
    this.timer.unref()
  }

  private draw(): void {
    if (!this.render) return
    // One row only: a line wider than the terminal would wrap, and \r redraws only the last row.
    const line = `${this.program}: ${this.render()}`
    const width = process.stderr.columns
    process.stderr.write(`\r${width && line.length >= width ? line.slice(0, width - 1) : line}\x1b[K`)
    this.shown = true
  }

  /** Prints whole lines above the progress line. */
  print(text: string): void {
    if (this.shown) process.stderr.write('\r\x1b[K')
    process.stderr.write(text)
    this.shown = false
    if (this.timer) this.draw()
  }

  /** Takes the progress line away for good. */
  end(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.render = undefined
    if (this.shown) process.stderr.write('\r\x1b[K')
    this.shown = false
  }
}
