'use strict'
/**
 * The cost of the input stages through a real relay: the forward proxy relaying the same
 * load plain and with a stage (`--checksum count`, `--tag-station`/`--tag-time`), in the
 * same run, measured as the relay section measures (overload delivery rate, highest lossless
 * rate, relay CPU per datagram). The generator's datagrams are one identical non-NMEA line
 * each, so every stage reads every line and passes it: the checksum stage counts each as
 * missing (and passes it), the tag stage finds no sentence to tag. Dedup and throttle would
 * drop all but the first of identical datagrams, so their relay cost is not measured here;
 * the core's `stage_cost` (`cargo test --release -p mproxy-core stage_cost -- --ignored
 * --nocapture`) measures all four on AIS lines.
 */
const { REPO } = require('./settings')
const { mproxyRelay } = require('./relays')
const { benchVariants, cpuPerDatagram } = require('./measure')
const { fmt, pad, padEnd } = require('./format')

const STAGES = {
  plain: [],
  checksum: ['--checksum', 'count'],
  tag: ['--tag-station', 'bench', '--tag-time', 'ms'],
}

async function benchStages({ buffer }) {
  const specs = {}
  for (const [key, args] of Object.entries(STAGES)) {
    specs[key] = mproxyRelay({ label: `mproxy ${args.join(' ')}`.trim(), repoDir: REPO, buffer, extraArgs: args })
  }
  return benchVariants(specs)
}

function printStagesReport({ specs, runs }) {
  const out = ['', '== forward proxy with and without an input stage, same run ==']
  for (const [key, spec] of Object.entries(specs)) out.push(`  ${key}: ${spec.describe()}`)
  const cpu = cpuPerDatagram
  const us = (v) => (v === null ? 'n/a' : v.toFixed(2))
  const ratio = (x, y) => (x !== null && y !== null && y > 0 ? (x / y).toFixed(2) : 'n/a')
  out.push(`  ${padEnd('size', 6)} ${padEnd('relay', 9)} ${pad('overload/s', 12)} ${pad('lossless/s', 12)} ${pad('CPU µs/dgram', 13)}`)
  const sizes = [...new Set(Object.values(runs).flatMap((r) => r.results.map((x) => x.size)))]
  for (const size of sizes) {
    const at = (key) => runs[key]?.results.find((x) => x.size === size)
    for (const key of Object.keys(specs)) {
      const r = at(key)
      if (!r) continue
      out.push(
        `  ${padEnd(`${size} B`, 6)} ${padEnd(key, 9)} ${pad(fmt(r.overload.deliveredPerSecond), 12)} ${pad(fmt(r.lossless.perSecond), 12)} ${pad(us(cpu(r.overload)), 13)}`,
      )
    }
    const plain = at('plain')
    for (const key of Object.keys(specs).filter((k) => k !== 'plain')) {
      const r = at(key)
      if (!plain || !r) continue
      out.push(
        `  ${padEnd(`${size} B`, 6)} ${key}/plain: overload ${ratio(r.overload.deliveredPerSecond, plain.overload.deliveredPerSecond)}, lossless ${ratio(r.lossless.perSecond, plain.lossless.perSecond)}, CPU per datagram ${ratio(cpu(r.overload), cpu(plain.overload))}`,
      )
    }
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

module.exports = { benchStages, printStagesReport }
