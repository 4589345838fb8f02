#!/usr/bin/env node
'use strict'
/**
 * `npm run bench [-- --only relay|transfer|taps|buskey|filter|replay|stages|instructions] [-- --baseline REV]`
 *
 * Three sections, all on 127.0.0.1 inside a private network namespace when we can make one
 * (the bench re-executes itself under `unshare`), so no datagram can leave the machine:
 *
 *  relay     how fast does mproxy's forward proxy relay UDP, next to socat and a plain Node
 *            `dgram` relay (and, with --baseline, the proxy of another git revision), for
 *            100-byte and 1400-byte datagrams:
 *              mproxy-loadgen blast --UDP--> relay under test --UDP--> mproxy-loadgen sink
 *  transfer  how fast a 200 MB text file gets through at the programs' default settings
 *            (client -> server, and client -> proxy -> reverse proxy -> TCP reader), and
 *            whether it arrives whole.
 *  taps      datagrams per second into JavaScript through handle.messages() and out of it
 *            through handle.send(), next to a plain Node dgram socket ('message', send()).
 *  buskey    what the bus key costs: the transfer paths unpaced, without and with --bus-key
 *            on every program (bench/lib/buskey.js).
 *  filter    the forward proxy with and without a routing rule (a prefix filter that checks
 *            and keeps every datagram), same load, same run: what a rule costs.
 *  instructions  (only with --only) instruction counts of the hot paths under Callgrind
 *            (crates/mproxy-bench): framing, seal/open, rules, fan-out and the relay, and
 *            with --baseline the change since REV (bench/lib/instructions.js).
 *  replay    how late the client's replay sends lines, from their recorded offsets
 *            (bench/lib/replay.js).
 *  stages    the forward proxy with and without an input stage (checksum, tag), same load,
 *            same run: what a stage costs per datagram (bench/lib/stages.js).
 *
 * This file is the entry point and the orchestration; the pieces are in bench/lib:
 *   settings.js   sizes, durations, quick mode      namespace.js  unshare re-exec, loopback
 *   loadgen.js    generator and sink (Rust)         relays.js     how each relay is started
 *   baseline.js   building another revision         measure.js    overload and lossless search
 *   transfer.js   the file transfer section         report.js     tables, ratios, bar, JSON
 *   procfs.js     CPU, memory, drops from /proc     processes.js  child tracking and cleanup
 *   taps.js       the taps section
 *   filter.js     the filter section             stages.js     the input stages section
 */
const fs = require('node:fs')
const path = require('node:path')
const { REPO } = require('./lib/settings')
const { note } = require('./lib/log')
const { killChildren } = require('./lib/processes')
const { namespaceFlags, runInNamespace, bringUpLoopback } = require('./lib/namespace')
const { ensureLoadgen } = require('./lib/loadgen')
const { ensureSocat, relayBuffer, createRelays } = require('./lib/relays')
const { resolveBaseline, buildBaseline } = require('./lib/baseline')
const { benchRelay } = require('./lib/measure')
const { benchTransfer, TRANSFER_BUDGET_MS } = require('./lib/transfer')
const { printReport, printTransferReport } = require('./lib/report')
const { benchTaps, printTapsReport, TAPS_BUDGET_MS } = require('./lib/taps')
const { benchBusKey, printBusKeyReport, BUSKEY_BUDGET_MS } = require('./lib/buskey')
const { benchFilter, printFilterReport } = require('./lib/filter')
const { benchInstructions } = require('./lib/instructions')
const { benchReplay, printReplayReport, REPLAY_BUDGET_MS } = require('./lib/replay')
const { benchStages, printStagesReport } = require('./lib/stages')

const SECTIONS = ['relay', 'transfer', 'taps', 'buskey', 'filter', 'replay', 'stages']
/** Sections run only when asked for by name: not part of the default run. */
const ON_REQUEST = ['instructions']
/**
 * Hard stop for the inner run, whatever happens: this much per relay measured (all sizes),
 * plus the transfer section's own bound. Every wait inside is bounded too; this is the net.
 */
const WATCHDOG_PER_RELAY_MS = 80_000
/** The outer process hands the inner one its plan (JSON) in this variable. */
const PLAN_ENV = 'MPROXY_BENCH_PLAN'

const USAGE = `usage: npm run bench -- [--only relay|transfer|taps|buskey|filter|replay|stages|instructions] [--baseline REV]
  --only relay      only the relay comparison (mproxy's forward proxy, socat, a Node dgram relay)
  --only transfer   only the file transfer at the programs' default settings
  --only taps       only datagrams into and out of JavaScript (messages(), send()) next to Node dgram
  --only buskey     only the bus key's cost: the transfer paths unpaced, without and with --bus-key
  --only filter     only the forward proxy with and without a prefix filter
  --only stages     only the forward proxy with and without an input stage (checksum, tag)
  --only replay     only how late the client's replay sends lines (mean, p99, max)
  --only instructions  instruction counts of the hot paths under Callgrind (needs valgrind and
                    iai-callgrind-runner 0.16.1); with --baseline, the change since REV
  --baseline REV    also measure the forward proxy of git revision REV (a branch, tag or commit),
                    built once into .bench/baseline-<sha>/ and reused by later runs
environment: MPROXY_BENCH_QUICK=1 runs a short smoke version (numbers not comparable)
`

function usageError(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}`)
  process.exit(2)
}

function parseArgs(argv) {
  const options = { sections: [...SECTIONS], baseline: null }
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined]
    const value = () => {
      const v = inline !== undefined ? inline : argv[++i]
      if (v === undefined || v === '') usageError(`${flag} needs a value`)
      return v
    }
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(USAGE)
      process.exit(0)
    } else if (flag === '--only') {
      const section = value()
      if (![...SECTIONS, ...ON_REQUEST].includes(section))
        usageError(`--only takes ${[...SECTIONS, ...ON_REQUEST].join(' or ')}, not ${JSON.stringify(section)}`)
      options.sections = [section]
    } else if (flag === '--baseline') {
      options.baseline = value()
    } else {
      usageError(`unknown argument ${JSON.stringify(argv[i])}`)
    }
  }
  return options
}

// ---------------------------------------------------------------------------------------
// Outer phase: everything that may need the real network (apt, cargo, npm) happens here,
// before we move into a namespace that has only a loopback interface.
// ---------------------------------------------------------------------------------------

async function outer(options) {
  if (options.sections[0] === 'instructions') process.exit(benchInstructions(options) ? 0 : 1)
  const needed = options.sections.includes('transfer') || options.sections.includes('buskey') ? ['proxy', 'client', 'server', 'reverseproxy'] : ['proxy']
  for (const cli of needed.map((name) => path.join(REPO, 'dist', 'cli', `${name}.js`))) {
    if (!fs.existsSync(cli)) {
      note(`${path.relative(REPO, cli)} is missing: run npm install first`)
      process.exit(1)
    }
  }
  const plan = { sections: options.sections, socat: null, baseline: null }
  if (['taps', 'filter', 'stages'].some((s) => options.sections.includes(s)) && !options.sections.includes('relay')) ensureLoadgen()
  if (options.sections.includes('relay')) {
    plan.socat = ensureSocat()
    ensureLoadgen()
    if (options.baseline) {
      let baseline
      try {
        baseline = resolveBaseline(options.baseline)
      } catch (err) {
        usageError(err.message)
      }
      try {
        await buildBaseline(baseline)
        plan.baseline = baseline
      } catch (err) {
        // The rest of the bench is still worth running: the report says what is missing.
        note(`baseline ${options.baseline} not measured: ${err.message}`)
        plan.baseline = { label: baseline.label, rev: baseline.rev, sha: baseline.sha, short: baseline.short, skipped: `build failed: ${err.message}` }
      }
    }
  } else if (options.baseline) {
    note(`--baseline compares relays: it has no effect with --only ${options.sections[0]}`)
  }
  const flags = namespaceFlags()
  if (flags) {
    process.exit(runInNamespace(flags, __filename, [], { ...process.env, [PLAN_ENV]: JSON.stringify({ ...plan, network: 'netns' }) }))
  }
  note('cannot create a private network namespace (unshare/ip unavailable or not permitted); using the host loopback')
  return inner({ ...plan, network: 'loopback' })
}

// ---------------------------------------------------------------------------------------
// Inner phase: the measurements.
// ---------------------------------------------------------------------------------------

async function relaySection(plan, netns) {
  const buffer = relayBuffer()
  const { relays, skipped } = createRelays({ buffer, socat: plan.socat || { skipped: 'unknown' }, baseline: plan.baseline })
  for (const [key, why] of Object.entries(skipped)) note(`${key} skipped: ${why}`)

  const relayNotes = {}
  const relayRuns = []
  const started = Date.now()
  for (const [key, spec] of Object.entries(relays)) {
    relayNotes[key] = spec.describe()
    try {
      relayRuns.push(await benchRelay(key, spec))
    } catch (err) {
      skipped[key] = `failed: ${err.message}`
      note(`${key} failed: ${err.message}`)
    }
  }
  for (const [key, why] of Object.entries(skipped)) relayNotes[key] = `SKIPPED: ${why}`
  note(`measurements took ${((Date.now() - started) / 1000).toFixed(0)} s`)
  const pass = printReport({ netns, skipped, relayBuffer: buffer, relays, baseline: plan.baseline }, relayRuns, relayNotes)
  // Whether the section ran, not whether the bar was met: PASS/FAIL is in the output for
  // people and tooling to read.
  return relayRuns.length > 0 || pass
}

async function transferSection(netns) {
  const transfer = await benchTransfer({ netns })
  printTransferReport({ netns }, transfer)
  return transfer.runs.length > 0
}

async function filterSection() {
  const result = await benchFilter({ buffer: relayBuffer() })
  printFilterReport(result)
  return Object.keys(result.runs).length > 0
}

async function stagesSection() {
  const result = await benchStages({ buffer: relayBuffer() })
  printStagesReport(result)
  return Object.keys(result.runs).length > 0
}

async function tapsSection() {
  const taps = await benchTaps()
  printTapsReport(taps)
  return true
}

async function inner(plan) {
  const netns = plan.network === 'netns'
  // Relays measured: this build, the baseline, socat, node (the upper bound; skipped ones cost nothing).
  const relayCount = 3 + (plan.baseline ? 1 : 0)
  const budgetMs =
    (plan.sections.includes('relay') ? relayCount * WATCHDOG_PER_RELAY_MS : 0) +
    (plan.sections.includes('transfer') ? TRANSFER_BUDGET_MS : 0) +
    (plan.sections.includes('taps') ? TAPS_BUDGET_MS : 0) +
    (plan.sections.includes('buskey') ? BUSKEY_BUDGET_MS : 0) +
    (plan.sections.includes('filter') ? 2 * WATCHDOG_PER_RELAY_MS : 0) +
    (plan.sections.includes('replay') ? REPLAY_BUDGET_MS : 0) +
    (plan.sections.includes('stages') ? 3 * WATCHDOG_PER_RELAY_MS : 0)
  const watchdog = setTimeout(() => {
    note(`the bench took longer than ${budgetMs / 1000} s; stopping`)
    killChildren()
    process.exit(1)
  }, budgetMs)
  watchdog.unref()
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      killChildren()
      process.exit(130)
    })
  }
  if (netns) bringUpLoopback()
  let ran = true
  if (plan.sections.includes('relay')) ran = (await relaySection(plan, netns)) && ran
  if (plan.sections.includes('transfer')) ran = (await transferSection(netns)) && ran
  if (plan.sections.includes('taps')) ran = (await tapsSection()) && ran
  if (plan.sections.includes('filter')) ran = (await filterSection()) && ran
  if (plan.sections.includes('stages')) ran = (await stagesSection()) && ran
  if (plan.sections.includes('buskey')) {
    const result = await benchBusKey({ netns })
    printBusKeyReport(result)
    ran = result.runs.length > 0 && ran
  }
  if (plan.sections.includes('replay')) {
    const result = await benchReplay()
    printReplayReport(result)
    ran = result.runs.length > 0 && ran
  }
  clearTimeout(watchdog)
  process.exit(ran ? 0 : 1)
}

if (process.env[PLAN_ENV]) {
  inner(JSON.parse(process.env[PLAN_ENV])).catch((err) => {
    note(err.stack || err.message)
    killChildren()
    process.exit(1)
  })
} else {
  outer(parseArgs(process.argv.slice(2))).catch((err) => {
    note(err.stack || err.message)
    killChildren()
    process.exit(1)
  })
}
