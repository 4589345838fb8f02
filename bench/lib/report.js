'use strict'
/**
 * The relay report: what was measured (header), the table, the ratios, the bar, memory,
 * problems, and one JSON line at the end for tooling.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { QUICK, SIZES, OVERLOAD_SECONDS, OVERLOAD_WINDOW, OVERLOAD_REPEATS, LOSSLESS_TRIAL_SECONDS, LOSSLESS_STEPS, BAR } = require('./settings')
const { log } = require('./log')
const { kilo, fmt, pad, padEnd } = require('./format')
const { addonFile } = require('./relays')
const { GROUP, QUIET_MS, POLL_MS } = require('./transfer')

/** Relay CPU time per delivered datagram over the overload window, in microseconds. */
function cpuPerDatagram(o) {
  return o.relayCpuPercent === null || !(o.deliveredPerSecond > 0) ? null : (o.relayCpuPercent / 100 / o.deliveredPerSecond) * 1e6
}

function ratio(a, b) {
  return a > 0 && b > 0 ? a / b : null
}

/**
 * Current build against the baseline revision, per size: overload and lossless ratios.
 * A lossless number marked ">=" was the generator's limit, not the relay's, so a ratio
 * involving one is a bound; `bounded` says so.
 */
function baselineRatios(find, label) {
  const out = {}
  for (const size of SIZES) {
    const m = find('mproxy', size)
    const b = find(label, size)
    out[size] = {
      overload: m && b ? ratio(m.overload.deliveredPerSecond, b.overload.deliveredPerSecond) : null,
      lossless: m && b ? ratio(m.lossless.perSecond, b.lossless.perSecond) : null,
      bounded: Boolean(m && b && (m.lossless.generatorLimited || b.lossless.generatorLimited)),
    }
  }
  return out
}

/**
 * `context`: { netns, skipped, relayBuffer, relays, baseline }. Returns whether the bar was met.
 */
function printReport(context, relayRuns, relayNotes) {
  const { relays, baseline } = context
  const all = relayRuns.flatMap((r) => r.results)
  const find = (relay, size) => all.find((r) => r.relay === relay && r.size === size)
  // Relay names are 7 wide unless a baseline ("mproxy@main") needs more.
  const W = Math.max(7, ...Object.keys(relayNotes).map((k) => k.length))

  log('')
  log(`mproxy forward-proxy benchmark${QUICK ? ' (QUICK smoke run, MPROXY_BENCH_QUICK=1: numbers not comparable)' : ''}`)
  log(`  network: ${context.netns ? 'private network namespace (unshare), loopback only' : 'host loopback (127.0.0.1 only)'}`)
  log(`  machine: ${os.cpus().length} CPUs (${os.cpus()[0] ? os.cpus()[0].model.trim() : '?'}), Linux ${os.release()}, Node ${process.version}`)
  log('  path:    mproxy-loadgen blast -> relay -> mproxy-loadgen sink (all on 127.0.0.1; generator, relay and sink share the CPUs)')
  for (const [key, run] of Object.entries(relayNotes)) log(`  ${padEnd(key, W)}  ${run}`)
  log('')
  log(`  A. overload: generator sends flat out ("offered/s") for ${OVERLOAD_SECONDS} s; "delivered/s" = datagrams counted at the sink per`)
  log(`     second over ${OVERLOAD_WINDOW[0]}-${OVERLOAD_WINDOW[1]} s of the blast. loss% and drops are over the whole blast.`)
  log(`  B. lossless: highest paced rate (offered, as achieved by the generator) at which a ${LOSSLESS_TRIAL_SECONDS}-s trial delivered`)
  log(`     every datagram (sink count == sent count); binary search, ${LOSSLESS_STEPS} trials between 0 and the highest flat-out`)
  log('     rate the generator reached in A, first probe at A\'s delivered/s. ">=": every trial passed, the generator was the limit.')
  log('')
  log(
    `  ${padEnd('relay', W)} ${pad('size', 5)} | ${pad('offered/s', 10)} ${pad('delivered/s', 11)} ${pad('(min-max)', 13)} ${pad('loss%', 6)} ${pad('in-drops', 9)} ${pad('sinkdrop', 8)} ${pad('CPU%', 5)} ${pad('us/dgram', 8)} | ${pad('lossless/s', 11)}`,
  )
  log(`  ${'-'.repeat(W)} ${'-'.repeat(5)}-+-${'-'.repeat(78)}-+-${'-'.repeat(11)}`)
  for (const size of SIZES) {
    for (const relay of Object.keys(relays)) {
      const r = find(relay, size)
      if (!r) continue
      const o = r.overload
      log(
        `  ${padEnd(relay, W)} ${pad(size, 5)} | ${pad(fmt(o.medianRunOfferedPerSecond), 10)} ${pad(fmt(o.deliveredPerSecond), 11)} ${pad(`(${kilo(o.deliveredMin)}-${kilo(o.deliveredMax)})`, 13)} ${pad(o.lossPercent.toFixed(1), 6)} ${pad(fmt(o.relayInputDrops), 9)} ${pad(fmt(o.sinkDrops), 8)} ${pad(o.relayCpuPercent === null ? 'n/a' : o.relayCpuPercent.toFixed(0), 5)} ${pad(cpuPerDatagram(o) === null ? 'n/a' : cpuPerDatagram(o).toFixed(2), 8)} | ${pad(`${r.lossless.generatorLimited ? '>=' : ''}${fmt(r.lossless.perSecond)}`, 11)}`,
      )
    }
  }
  log(`  (overload columns are from the median of ${OVERLOAD_REPEATS} blasts; (min-max) is the spread of delivered/s over them.`)
  log("   in-drops: datagrams the kernel dropped because the relay's receive buffer was full; sinkdrop should be 0,")
  log('   otherwise the sink, not the relay, was the limit. CPU%: the relay process over the steady window, 100 = one core;')
  log('   us/dgram: relay CPU microseconds per delivered datagram in that window, the least contention-sensitive number here.)')

  const shortTrials = all
    .map((r) => ({ r, n: r.lossless.trials.filter((t) => t.short).length }))
    .filter(({ n }) => n > 0)
    .map(({ r, n }) => `${r.relay} ${r.size} B: ${n}`)
  if (shortTrials.length > 0) {
    log(`  paced trials where the generator fell >5% short of its target (CPU contention; noisier search): ${shortTrials.join(', ')}`)
  }

  const ratios = {}
  log('')
  log('  ratios (mproxy / peer):')
  log(`  ${padEnd('', 14)} ${pad('overload', 9)} ${pad('lossless', 9)}`)
  for (const peer of ['socat', 'node']) {
    for (const size of SIZES) {
      const m = find('mproxy', size)
      const p = find(peer, size)
      const over = m && p ? ratio(m.overload.deliveredPerSecond, p.overload.deliveredPerSecond) : null
      const lossless = m && p ? ratio(m.lossless.perSecond, p.lossless.perSecond) : null
      ratios[`mproxy/${peer}@${size}`] = { overload: over, lossless }
      const show = (x) => (x === null ? (p ? 'n/a' : 'skipped') : `${x.toFixed(2)}x`)
      log(`  ${padEnd(`vs ${peer} ${size} B`, 14)} ${pad(show(over), 9)} ${pad(show(lossless), 9)}`)
    }
  }

  let versusBaseline = null
  if (baseline) {
    versusBaseline = baselineRatios(find, baseline.label)
    log('')
    log(`  ratios (mproxy = this build / ${baseline.label} = ${baseline.rev}${baseline.short ? ` at ${baseline.short}` : ''}; above 1 = this build is faster):`)
    log(`  ${padEnd('', 14)} ${pad('overload', 9)} ${pad('lossless', 9)}`)
    const measured = SIZES.some((size) => find(baseline.label, size))
    for (const size of SIZES) {
      const r = versusBaseline[size]
      const show = (x, mark = '') => (x === null ? (measured ? 'n/a' : 'skipped') : `${x.toFixed(2)}x${mark}`)
      log(`  ${padEnd(`at ${size} B`, 14)} ${pad(show(r.overload), 9)} ${pad(show(r.lossless, r.bounded ? '*' : ' '), 10)}`)
    }
    if (SIZES.some((size) => versusBaseline[size].bounded)) {
      log('  (*: on at least one side every lossless trial passed, so the generator was the limit: a bound, not a measurement)')
    }
  }

  const vsSocat = ratios[`mproxy/socat@${BAR.size}`].overload
  const vsNode = ratios[`mproxy/node@${BAR.size}`].overload
  const socatOk = vsSocat !== null && vsSocat >= BAR.vsSocat
  const nodeOk = vsNode !== null && vsNode >= BAR.vsNode
  const socatMissing = !find('socat', BAR.size)
  // Both halves must be measured and met: a bar we could not check is not passed.
  const pass = nodeOk && socatOk
  log('')
  log(
    `  bar (overload, ${BAR.size} B): mproxy >= ${BAR.vsSocat}x socat: ${socatMissing ? 'NOT MEASURED (socat skipped)' : `${vsSocat === null ? 'n/a' : `${vsSocat.toFixed(2)}x`} ${socatOk ? 'ok' : 'NOT MET'}`};` +
      ` mproxy >= ${BAR.vsNode}x node: ${vsNode === null ? 'n/a' : `${vsNode.toFixed(2)}x`} ${nodeOk ? 'ok' : 'NOT MET'}`,
  )
  log(`  ${pass ? 'PASS' : 'FAIL'}${socatMissing ? ' (incomplete: socat was not measured)' : ''}`)

  log('')
  log('  memory (VmHWM = peak resident set of the relay process over its whole run, read from /proc/PID/status before SIGTERM):')
  for (const run of relayRuns) {
    const s = run.summary
    const relay = run.results[0] ? run.results[0].relay : '?'
    log(
      `    ${padEnd(relay, W)} VmHWM ${pad(fmt(s.memory.hwmKiB), 9)} KiB   VmRSS at end ${pad(fmt(s.memory.rssKiB), 9)} KiB   listen-socket rcvbuf ${fmt(s.rcvbuf)} B (ss -m)`,
    )
  }
  const addon = addonFile()
  const addonBytes = addon ? fs.statSync(addon).size : null
  log(
    `  addon: ${addon ? `${path.basename(addon)} ${fmt(addonBytes)} bytes (${(addonBytes / 1024 / 1024).toFixed(2)} MiB)` : 'no *.node file at the repo root'}`,
  )
  const baselineAddon = baseline?.dir ? addonFile(baseline.dir) : null
  const baselineAddonBytes = baselineAddon ? fs.statSync(baselineAddon).size : null
  if (baselineAddon) {
    log(`  ${baseline.label} addon: ${fmt(baselineAddonBytes)} bytes (${(baselineAddonBytes / 1024 / 1024).toFixed(2)} MiB)`)
  }

  const issues = []
  for (const run of relayRuns) {
    const s = run.summary
    const relay = run.results[0] ? run.results[0].relay : '?'
    if (s.crashed) issues.push(`${relay} ${s.crashed}`)
    if (typeof s.exit === 'string') issues.push(`${relay} ${s.exit}`)
    else if (!relays[relay].cleanExit(s.exit.code, s.exit.signal) && !s.crashed)
      issues.push(`${relay} exit code ${s.exit.code} signal ${s.exit.signal} after SIGTERM`)
    for (const r of run.results)
      if (r.overload.sinkDrops > 0) issues.push(`${relay} ${r.size} B: the sink dropped ${r.overload.sinkDrops}; that overload number understates the relay`)
  }
  if (issues.length > 0) {
    log('')
    log('  problems seen:')
    for (const issue of issues) log(`    - ${issue}`)
  }
  const mproxyRun = relayRuns.find((r) => r.results[0] && r.results[0].relay === 'mproxy')
  if (mproxyRun?.summary.stderr) {
    log('')
    log('  mproxy-proxy stderr (run with --verbose; counters printed at SIGTERM):')
    for (const line of mproxyRun.summary.stderr.split('\n')) log(`    ${line}`)
  }
  const baselineRun = baseline && relayRuns.find((r) => r.results[0] && r.results[0].relay === baseline.label)
  if (baselineRun?.summary.stderr) {
    log('')
    log(`  ${baseline.label} mproxy-proxy stderr:`)
    for (const line of baselineRun.summary.stderr.split('\n')) log(`    ${line}`)
  }

  const json = {
    bench: 'mproxy-forward-proxy',
    quick: QUICK,
    network: context.netns ? 'netns' : 'loopback',
    cpus: os.cpus().length,
    node: process.version,
    relayBufferBytes: context.relayBuffer,
    results: all.map((r) => ({
      relay: r.relay,
      size: r.size,
      overload: {
        offeredPerSecond: Math.round(r.overload.medianRunOfferedPerSecond),
        deliveredPerSecond: Math.round(r.overload.deliveredPerSecond),
        deliveredPerSecondRuns: r.overload.runs.map((run) => Math.round(run.deliveredPerSecond)),
        sent: r.overload.sent,
        delivered: r.overload.delivered,
        lossPercent: Number(r.overload.lossPercent.toFixed(3)),
        relayInputDrops: r.overload.relayInputDrops,
        sinkDrops: r.overload.sinkDrops,
        relayCpuPercent: r.overload.relayCpuPercent === null ? null : Math.round(r.overload.relayCpuPercent),
        relayCpuMicrosPerDatagram: cpuPerDatagram(r.overload) === null ? null : Number(cpuPerDatagram(r.overload).toFixed(3)),
      },
      lossless: {
        perSecond: r.lossless.perSecond,
        searchedUpTo: r.lossless.searchedUpTo,
        generatorLimited: r.lossless.generatorLimited,
        trials: r.lossless.trials.map((t) => ({ target: t.target, offered: t.offered, sent: t.sent, delivered: t.delivered, short: t.short })),
      },
    })),
    ratios,
    bar: { size: BAR.size, vsSocat, vsNode, requiredVsSocat: BAR.vsSocat, requiredVsNode: BAR.vsNode, pass },
    memory: Object.fromEntries(relayRuns.filter((r) => r.results[0]).map((r) => [r.results[0].relay, { vmHwmKiB: r.summary.memory.hwmKiB }])),
    proxyPeakRssKiB: mproxyRun ? mproxyRun.summary.memory.hwmKiB : null,
    addon: addon ? { file: path.basename(addon), bytes: addonBytes } : null,
    baseline: baseline
      ? {
          relay: baseline.label,
          rev: baseline.rev,
          sha: baseline.sha || null,
          addonBytes: baselineAddonBytes,
          peakRssKiB: baselineRun ? baselineRun.summary.memory.hwmKiB : null,
          // this build / baseline, per datagram size
          ratios: versusBaseline,
        }
      : null,
    skipped: context.skipped,
    issues,
  }
  log('')
  log(JSON.stringify(json))
  return pass
}

/**
 * The transfer report: one row per (path, rate), then one JSON line. `transfer` is what
 * benchTransfer() returned.
 */
function printTransferReport(context, transfer) {
  const mb = (bytes) => (bytes / 1e6).toFixed(1)
  log('')
  log(`mproxy file transfer at default settings${QUICK ? ' (QUICK smoke run: a small file)' : ''}`)
  log(`  network: ${context.netns ? 'private network namespace (unshare), loopback only' : 'host loopback (127.0.0.1 only)'}`)
  log(
    `  file:    ${mb(transfer.file.bytes)} MB (10^6 bytes) of AIS-like text, ${fmt(transfer.file.lines)} !AIVDM lines, written under ${os.tmpdir()} and removed after`,
  )
  log('  client->server: mproxy-client --path FILE --server-addr 127.0.0.1:S  ->  mproxy-server --path OUT --listen-addr 127.0.0.1:S')
  log('  4 hops:  mproxy-client -> mproxy-proxy -> mproxy-reverseproxy (UDP input, published to the group')
  log(`           ${GROUP}:P with --multicast-interface lo, TCP output) -> a Node TCP reader in the bench -> OUT`)
  log(`  settings: every program at its defaults: rate "default" = the client's default --rate (${transfer.defaultRate} bytes/s per`)
  log('           its --help), "0" = --rate 0 (unpaced); only --verbose is added, to read the counters at exit.')
  log(`  time:    first to last byte at the output (the server's file sampled every ${POLL_MS} ms; the client's start-up is not`)
  log(`           counted). Whatever has not arrived once the output stopped growing for ${QUIET_MS / 1000} s after the client exited is lost.`)
  log('  lost:    datagrams the client sent minus those the last UDP receiver got (the server, or the group subscriber);')
  log('           drops: datagrams the programs counted as dropped (kernelDrops + queueDrops + truncated, all hops);')
  log("           rcvbuf: UDP receive-buffer overflows the namespace's kernel counted (/proc/net/snmp RcvbufErrors).")
  log('')
  const W = 14
  log(
    `  ${padEnd('path', W)} ${padEnd('rate', 7)} | ${pad('seconds', 8)} ${pad('MB/s', 7)} ${pad('Mbit/s', 7)} | ${pad('sent', 9)} ${pad('received', 9)} ${pad('lost', 7)} ${pad('drops', 7)} ${pad('rcvbuf', 7)} | identical (sha256)`,
  )
  log(`  ${'-'.repeat(W)} ${'-'.repeat(7)}-+-${'-'.repeat(24)}-+-${'-'.repeat(43)}-+-${'-'.repeat(18)}`)
  for (const run of transfer.runs) {
    const rate = run.bytesPerSecond
    const drops = Object.values(run.drops).reduce((a, b) => a + b, 0)
    log(
      `  ${padEnd(run.route, W)} ${padEnd(run.rate, 7)} | ${pad(run.seconds === null ? 'n/a' : run.seconds.toFixed(2), 8)} ${pad(rate ? (rate / 1e6).toFixed(1) : 'n/a', 7)} ${pad(rate ? ((rate * 8) / 1e6).toFixed(0) : 'n/a', 7)} | ${pad(fmt(run.datagramsSent), 9)} ${pad(fmt(run.datagramsReceived), 9)} ${pad(fmt(run.datagramsLost), 7)} ${pad(fmt(drops), 7)} ${pad(fmt(run.kernelRcvbufErrors), 7)} | ${run.identical ? 'yes' : `NO (${mb(run.outputBytes)} of ${mb(run.inputBytes)} MB arrived)`}`,
    )
  }
  const notes = []
  for (const run of transfer.runs) for (const problem of run.problems) notes.push(`${run.route} --rate ${run.rate}: ${problem}`)
  for (const [key, why] of Object.entries(transfer.skipped)) notes.push(`${key}: SKIPPED: ${why}`)
  if (notes.length > 0) {
    log('')
    log('  problems seen:')
    for (const line of notes) log(`    - ${line}`)
  }
  const json = {
    bench: 'mproxy-transfer',
    quick: QUICK,
    network: context.netns ? 'netns' : 'loopback',
    file: transfer.file,
    clientDefaultRate: transfer.defaultRate,
    runs: transfer.runs.map((run) => ({
      route: run.route,
      rate: run.rate,
      seconds: run.seconds === null ? null : Number(run.seconds.toFixed(3)),
      wallSecondsFromClientStart: run.wallSeconds === null ? null : Number(run.wallSeconds.toFixed(3)),
      megabytesPerSecond: run.bytesPerSecond ? Number((run.bytesPerSecond / 1e6).toFixed(2)) : null,
      megabitsPerSecond: run.bytesPerSecond ? Number(((run.bytesPerSecond * 8) / 1e6).toFixed(1)) : null,
      inputBytes: run.inputBytes,
      outputBytes: run.outputBytes,
      identical: run.identical,
      datagramsSent: run.datagramsSent,
      datagramsReceived: run.datagramsReceived,
      datagramsLost: run.datagramsLost,
      drops: run.drops,
      kernelRcvbufErrors: run.kernelRcvbufErrors,
      counters: run.counters,
      problems: run.problems,
    })),
    skipped: transfer.skipped,
  }
  log('')
  log(JSON.stringify(json))
}

module.exports = { printReport, printTransferReport }
