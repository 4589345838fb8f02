'use strict'
/**
 * The cost of a routing rule: the forward proxy relaying the same load with and without a
 * prefix filter (`--filter-prefix`), in the same run, measured as the relay section measures
 * (overload delivery rate, highest lossless rate). The generator's payload starts with
 * "mproxy-loadgen ", so the filter checks every datagram and keeps every one: what is
 * measured is the rule's work, and the sink counts the same datagrams for both.
 */
const { REPO } = require('./settings')
const { mproxyRelay } = require('./relays')
const { benchVariants, cpuPerDatagram } = require('./measure')
const { fmt, pad, padEnd } = require('./format')

const PREFIX = 'mproxy-loadgen'

async function benchFilter({ buffer }) {
  const specs = {
    plain: mproxyRelay({ label: 'mproxy', repoDir: REPO, buffer }),
    prefix: mproxyRelay({ label: `mproxy --filter-prefix ${PREFIX}`, repoDir: REPO, buffer, extraArgs: ['--filter-prefix', PREFIX] }),
  }
  return benchVariants(specs)
}

function printFilterReport({ specs, runs }) {
  const out = []
  out.push('')
  out.push('== forward proxy with and without a routing rule (prefix filter), same run ==')
  for (const [key, spec] of Object.entries(specs)) out.push(`  ${key}: ${spec.describe()}`)
  // CPU per datagram tells the rule's cost even on a busy machine, where rates mostly tell
  // what else was running.
  const cpu = cpuPerDatagram
  const us = (v) => (v === null ? 'n/a' : v.toFixed(2))
  out.push(`  ${padEnd('size', 6)} ${padEnd('relay', 8)} ${pad('overload/s', 12)} ${pad('lossless/s', 12)} ${pad('CPU µs/dgram', 13)}`)
  const sizes = [...new Set(Object.values(runs).flatMap((r) => r.results.map((x) => x.size)))]
  for (const size of sizes) {
    const at = (key) => runs[key]?.results.find((x) => x.size === size)
    for (const key of Object.keys(specs)) {
      const r = at(key)
      if (!r) continue
      out.push(
        `  ${padEnd(`${size} B`, 6)} ${padEnd(key, 8)} ${pad(fmt(r.overload.deliveredPerSecond), 12)} ${pad(fmt(r.lossless.perSecond), 12)} ${pad(us(cpu(r.overload)), 13)}`,
      )
    }
    const [a, b] = [at('plain'), at('prefix')]
    if (a && b) {
      const ratio = (x, y) => (y > 0 ? (x / y).toFixed(2) : 'n/a')
      const [ca, cb] = [cpu(a.overload), cpu(b.overload)]
      out.push(
        `  ${padEnd(`${size} B`, 6)} prefix/plain: overload ${ratio(b.overload.deliveredPerSecond, a.overload.deliveredPerSecond)}, lossless ${ratio(b.lossless.perSecond, a.lossless.perSecond)}, CPU per datagram ${ca && cb ? ratio(cb, ca) : 'n/a'}`,
      )
    }
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

module.exports = { benchFilter, printFilterReport }
