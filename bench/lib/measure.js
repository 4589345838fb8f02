'use strict'
/**
 * The two numbers per (relay, size):
 *
 *  A. overload: the generator sends flat out for OVERLOAD_SECONDS; we count datagrams
 *     arriving at the sink per second over a steady window inside the blast (the sink
 *     timestamps its own counts, so the rate is over an exact interval).
 *  B. max lossless rate: the highest paced offered rate for which a LOSSLESS_TRIAL_SECONDS
 *     trial delivered exactly as many datagrams as were sent (binary search).
 */
const { SIZES, OVERLOAD_SECONDS, OVERLOAD_WINDOW, OVERLOAD_REPEATS, LOSSLESS_TRIAL_SECONDS, LOSSLESS_STEPS } = require('./settings')
const { note } = require('./log')
const { sleep, waitExit } = require('./processes')
const { Sink, blast } = require('./loadgen')
const { cpuSeconds, memory, udpDrops, receiveBuffer } = require('./procfs')
const { fmt } = require('./format')

/** Overload: flat-out blast; steady-window delivery rate plus whole-trial totals. */
async function measureOverload(relay, sink, size) {
  const before = await sink.report()
  const inputDropsBefore = udpDrops(relay.port)
  const cpuBefore = cpuSeconds(relay.child.pid)
  const started = Date.now()
  const sending = blast(relay.port, size, OVERLOAD_SECONDS)
  await sleep(OVERLOAD_WINDOW[0] * 1000)
  const windowStart = await sink.report()
  const cpuWindowStart = cpuSeconds(relay.child.pid)
  await sleep(Math.max(0, OVERLOAD_WINDOW[1] * 1000 - (Date.now() - started)))
  const windowEnd = await sink.report()
  const cpuWindowEnd = cpuSeconds(relay.child.pid)
  const sent = await sending
  const after = await sink.settle(before.datagrams, sent.sent)
  const inputDropsAfter = udpDrops(relay.port)
  const windowSeconds = windowEnd.t - windowStart.t
  const delivered = after.datagrams - before.datagrams
  return {
    sent: sent.sent,
    offeredPerSecond: sent.rate_achieved,
    delivered,
    deliveredPerSecond: (windowEnd.datagrams - windowStart.datagrams) / windowSeconds,
    windowSeconds,
    lossPercent: sent.sent > 0 ? (100 * (sent.sent - delivered)) / sent.sent : 0,
    relayInputDrops: inputDropsBefore === null || inputDropsAfter === null ? null : inputDropsAfter - inputDropsBefore,
    sinkDrops: after.drops - before.drops,
    relayCpuPercent: cpuWindowStart === null || cpuWindowEnd === null ? null : (100 * (cpuWindowEnd - cpuWindowStart)) / windowSeconds,
    cpuTotalSeconds: cpuBefore === null || cpuWindowEnd === null ? null : cpuWindowEnd - cpuBefore,
  }
}

/** OVERLOAD_REPEATS blasts; the run with the median delivery rate stands for all. */
async function measureOverloadMedian(relay, sink, size) {
  const runs = []
  for (let i = 0; i < OVERLOAD_REPEATS; i += 1) runs.push(await measureOverload(relay, sink, size))
  const sorted = [...runs].sort((a, b) => a.deliveredPerSecond - b.deliveredPerSecond)
  const median = sorted[Math.floor(sorted.length / 2)]
  return {
    ...median,
    offeredPerSecond: Math.max(...runs.map((r) => r.offeredPerSecond)),
    medianRunOfferedPerSecond: median.offeredPerSecond,
    deliveredMin: sorted[0].deliveredPerSecond,
    deliveredMax: sorted[sorted.length - 1].deliveredPerSecond,
    runs,
  }
}

/** One paced trial: did the sink get every datagram that was sent? */
async function pacedTrial(relay, sink, size, rate) {
  const before = await sink.report()
  const sent = await blast(relay.port, size, LOSSLESS_TRIAL_SECONDS, rate)
  const after = await sink.settle(before.datagrams, sent.sent)
  const delivered = after.datagrams - before.datagrams
  return {
    target: Math.round(rate),
    offered: Math.round(sent.rate_achieved),
    sent: sent.sent,
    delivered,
    lossless: sent.sent > 0 && delivered === sent.sent,
    // The generator could not keep its pace: something else had the CPU, so this trial
    // says less about the relay than the others.
    short: sent.rate_achieved < 0.95 * rate,
  }
}

/**
 * Binary search over paced rates between 0 and the generator's own flat-out rate (the most
 * it can offer on this machine). The first probe is the overload delivery rate, which is
 * usually close to the answer: with the generator pacing itself it leaves the relay more
 * CPU than in overload, so the lossless rate can be higher. Single trials are noisy, so the
 * search assumes (and the trials in the JSON show whether) loss is monotonic in the rate.
 * The answer is the offered rate actually achieved by the best lossless trial.
 */
async function measureLossless(relay, sink, size, overload) {
  const ceiling = Math.max(1000, overload.offeredPerSecond)
  let low = 0
  let high = ceiling
  let best = null
  const trials = []
  for (let step = 0; step < LOSSLESS_STEPS; step += 1) {
    const rate = step === 0 ? Math.min(overload.deliveredPerSecond, ceiling * 0.9) : (low + high) / 2
    const trial = await pacedTrial(relay, sink, size, rate)
    trials.push(trial)
    if (trial.lossless) {
      low = rate
      if (!best || trial.offered > best.offered) best = trial
    } else {
      high = rate
    }
  }
  // If every probe passed, the relay may do better still: the generator was the limit.
  const generatorLimited = best !== null && high === ceiling
  return { perSecond: best ? best.offered : 0, searchedUpTo: Math.round(ceiling), generatorLimited, trials }
}

/**
 * Every size through one relay (started once, with its own sink), then the relay's memory,
 * exit and stderr for the report. Throws if the path does not work at all.
 */
async function benchRelay(key, spec) {
  const sink = await Sink.start()
  const relay = await spec.start(sink.port)
  let crashed = null
  relay.child.once('exit', (code, signal) => {
    if (!relay.stopping) crashed = `exited during the run (code ${code}, signal ${signal})`
  })
  const rcvbuf = receiveBuffer(relay.port)
  const results = []
  try {
    for (const size of SIZES) {
      // Warm-up: JIT, page faults, socket buffers; also proves the path works end to end.
      const warm = await pacedTrial(relay, sink, size, 20_000).catch((e) => ({ error: e }))
      if (warm.error || warm.delivered === 0) {
        throw new Error(`${spec.label}: warm-up delivered nothing${warm.error ? `: ${warm.error.message}` : ''}`)
      }
      const overload = await measureOverloadMedian(relay, sink, size)
      const lossless = await measureLossless(relay, sink, size, overload)
      results.push({ relay: key, size, overload, lossless })
      note(`${spec.label} ${size} B: overload ${fmt(overload.deliveredPerSecond)}/s delivered, lossless ${fmt(lossless.perSecond)}/s`)
      if (crashed) break
    }
  } finally {
    const mem = memory(relay.child.pid)
    relay.stopping = true
    relay.child.kill('SIGTERM')
    const exited = await waitExit(relay.child, 5000)
    if (!exited) relay.child.kill('SIGKILL')
    await sink.stop()
    relay.summary = {
      memory: mem,
      rcvbuf,
      exit: exited ? { code: relay.child.exitCode, signal: relay.child.signalCode } : 'did not exit within 5 s of SIGTERM',
      crashed,
      stderr: relay.stderr.text().trim(),
      sinkRcvbuf: sink.rcvbuf,
    }
  }
  return { results, summary: relay.summary }
}

/**
 * Each relay of `specs` measured in turn, in one run (the same machine and load for all); a
 * relay that fails is said and left out. `{ specs, runs }`, runs keyed as specs.
 */
async function benchVariants(specs) {
  const runs = {}
  for (const [key, spec] of Object.entries(specs)) {
    try {
      runs[key] = await benchRelay(key, spec)
    } catch (err) {
      note(`${spec.label} failed: ${err.message}`)
    }
  }
  return { specs, runs }
}

/** A relay's CPU microseconds per delivered datagram over an overload run, or null. */
function cpuPerDatagram(o) {
  return o.relayCpuPercent === null || !(o.deliveredPerSecond > 0) ? null : (o.relayCpuPercent / 100 / o.deliveredPerSecond) * 1e6
}

module.exports = { benchRelay, benchVariants, cpuPerDatagram }
