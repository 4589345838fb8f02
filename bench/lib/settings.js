'use strict'
/**
 * What the relay measurements are made of: where things are, which sizes, how long each
 * trial lasts. One place, so the report can describe exactly what was measured.
 */
const path = require('node:path')

const REPO = path.resolve(__dirname, '..', '..')

/**
 * MPROXY_BENCH_QUICK=1: a smoke run for development (one size, one blast, short trials, a
 * small transfer file): it proves every path works in well under a minute, but its numbers
 * are too noisy to compare. The report says when it ran in this mode.
 */
const QUICK = process.env.MPROXY_BENCH_QUICK === '1'

const HOST = '127.0.0.1'
const SIZES = QUICK ? [100] : [100, 1400]
/**
 * Socket buffer we would like every relay to have (receive and send). socat and Node can
 * only use plain SO_RCVBUF/SO_SNDBUF, which the kernel caps at net.core.rmem_max/wmem_max,
 * while mproxy uses the FORCE variants. So that all three get the same buffers, the bench
 * requests min(this, rmem_max, wmem_max) from each (see relayBuffer() in relays.js). The
 * kernel doubles whatever is requested; `ss -m` in the report shows what each listening
 * socket really got.
 */
const WANTED_RELAY_BUFFER = 8 * 1024 * 1024
/** The sink gets more, so it is never the first place to overflow. */
const SINK_BUFFER = 32 * 1024 * 1024
const OVERLOAD_SECONDS = QUICK ? 1 : 2
/** Steady window inside the overload blast, in seconds from its start. */
const OVERLOAD_WINDOW = QUICK ? [0.3, 0.9] : [0.4, 1.9]
/**
 * Overload blasts per (relay, size); the median is reported. With generator, relay and
 * sink sharing two CPUs, one blast can be off by 2x when the scheduler has a bad moment.
 */
const OVERLOAD_REPEATS = QUICK ? 1 : 3
const LOSSLESS_TRIAL_SECONDS = QUICK ? 0.5 : 1
const LOSSLESS_STEPS = QUICK ? 3 : 8
/** The bar this bench exists to show (overload, 100-byte datagrams). */
const BAR = { size: 100, vsSocat: 2, vsNode: 1.5 }

module.exports = {
  REPO,
  QUICK,
  HOST,
  SIZES,
  WANTED_RELAY_BUFFER,
  SINK_BUFFER,
  OVERLOAD_SECONDS,
  OVERLOAD_WINDOW,
  OVERLOAD_REPEATS,
  LOSSLESS_TRIAL_SECONDS,
  LOSSLESS_STEPS,
  BAR,
}
