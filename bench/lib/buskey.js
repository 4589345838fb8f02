'use strict'
/**
 * The `buskey` section: what the bus key costs. The same file goes the same two paths as in
 * the transfer section, at the client's default rate and unpaced (--rate 0, where the programs,
 * not the pacing, set the speed),
 * once without a key and once with `--bus-key` on every program (every UDP hop sealed by
 * its sender and opened by its receiver). Reported: throughput, datagrams, bytes on the wire
 * per datagram (the overhead: 30 bytes, and 30 fewer payload bytes per datagram by default),
 * losses, and whether the output is byte-identical.
 */
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { note } = require('./log')
const { runTransfer, writeAisFile, prepareMulticast, RUN_LIMIT_MS, TRANSFER_BYTES } = require('./transfer')

const PATHS = ['client->server', '4 hops']
const RATES = [
  { label: 'default', args: [] },
  { label: '0', args: ['--rate', '0'] },
]
const BUSKEY_BUDGET_MS = 60_000 + 2 * RATES.length * PATHS.length * (RUN_LIMIT_MS + 15_000)

async function benchBusKey({ netns }) {
  const multicastProblem = prepareMulticast(netns)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-bench-buskey-'))
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true })
  process.on('exit', removeDir)
  try {
    const keyFile = path.join(dir, 'bus.key')
    fs.writeFileSync(keyFile, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
    const input = writeAisFile(path.join(dir, 'ais.txt'), TRANSFER_BYTES)
    const runs = []
    for (const route of PATHS) {
      if (route === '4 hops' && multicastProblem) {
        note(`bus key 4 hops skipped: ${multicastProblem}`)
        continue
      }
      for (const [rate, keyed] of RATES.flatMap((r) => [
        [r, false],
        [r, true],
      ])) {
        const run = await runTransfer(route, rate, input, dir, netns, keyed ? ['--bus-key', keyFile] : [])
        const sent = (run.counters.client || []).find((e) => e.kind === 'udp-destination')
        const authFailures = Object.values(run.counters)
          .flat()
          .reduce((n, e) => n + (e.authFailures || 0) + (e.replays || 0), 0)
        // CPU per datagram of the relaying programs: the proxy opens and seals again, the
        // reverse proxy opens, seals into the group and opens what it reads back.
        const relay = route === '4 hops' ? ['proxy', 'reverseproxy'] : ['server']
        const cpuPerDatagram = Object.fromEntries(
          relay.map((name) => [name, run.cpu[name] != null && run.datagramsSent ? (run.cpu[name] / run.datagramsSent) * 1e6 : null]),
        )
        runs.push({ ...run, keyed, wireBytesPerDatagram: sent?.datagramsOut ? sent.bytesOut / sent.datagramsOut : null, authFailures, cpuPerDatagram })
        note(
          `bus key ${keyed ? 'on ' : 'off'} ${route} --rate ${rate.label}: ${run.bytesPerSecond ? (run.bytesPerSecond / 1e6).toFixed(1) : 'n/a'} MB/s, lost ${run.datagramsLost ?? 'n/a'} datagrams, identical ${run.identical ? 'yes' : 'NO'}`,
        )
      }
    }
    return { bytes: input.bytes, runs }
  } finally {
    removeDir()
    process.removeListener('exit', removeDir)
  }
}

function printBusKeyReport(result) {
  const lines = []
  lines.push('', `BUS KEY: ${(result.bytes / 1e6).toFixed(1)} MB of AIS text, without and with --bus-key on every program`)
  lines.push('  path            rate     key  MB/s    datagrams sent  wire bytes/datagram  lost    identical  CPU µs/datagram')
  for (const r of result.runs) {
    const cpu = Object.entries(r.cpuPerDatagram)
      .map(([name, us]) => `${name} ${us == null ? 'n/a' : us.toFixed(2)}`)
      .join(', ')
    lines.push(
      `  ${r.route.padEnd(15)} ${r.rate.padEnd(8)} ${(r.keyed ? 'on' : 'off').padEnd(4)} ${(r.bytesPerSecond ? (r.bytesPerSecond / 1e6).toFixed(1) : 'n/a').padStart(6)}  ${String(r.datagramsSent ?? 'n/a').padStart(14)}  ${(r.wireBytesPerDatagram ? r.wireBytesPerDatagram.toFixed(1) : 'n/a').padStart(19)}  ${String(r.datagramsLost ?? 'n/a').padStart(6)}  ${(r.identical ? 'yes' : 'NO').padEnd(9)}  ${cpu}${r.problems.length ? `  (${r.problems.join('; ')})` : ''}`,
    )
  }
  lines.push('  A sealed datagram is 30 bytes longer (version 1, key id 1, sender id 8, counter 4, tag 16);')
  lines.push('  with a key the default datagram payload is 1442 bytes instead of 1472, so sealed ones stay within 1472.')
  process.stdout.write(`${lines.join('\n')}\n`)
}

module.exports = { benchBusKey, printBusKeyReport, BUSKEY_BUDGET_MS }
