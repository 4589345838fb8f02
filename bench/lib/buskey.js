'use strict';
/**
 * The `buskey` section: what the bus key costs. The same file goes the same two paths as in
 * the transfer section, unpaced (--rate 0, so the programs, not the pacing, set the speed),
 * once without a key and once with `--bus-key` on every program (every UDP hop sealed by
 * its sender and opened by its receiver). Reported: throughput, datagrams, bytes on the wire
 * per datagram (the overhead: 30 bytes, and 30 fewer payload bytes per datagram by default),
 * losses, and whether the output is byte-identical.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { note } = require('./log');
const { runTransfer, writeAisFile, prepareMulticast, RUN_LIMIT_MS, TRANSFER_BYTES } = require('./transfer');

const PATHS = ['client->server', '4 hops'];
const UNPACED = { label: '0', args: ['--rate', '0'] };
const BUSKEY_BUDGET_MS = 60_000 + 2 * PATHS.length * (RUN_LIMIT_MS + 15_000);

async function benchBusKey({ netns }) {
  const multicastProblem = prepareMulticast(netns);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-bench-buskey-'));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  try {
    const keyFile = path.join(dir, 'bus.key');
    fs.writeFileSync(keyFile, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const input = writeAisFile(path.join(dir, 'ais.txt'), TRANSFER_BYTES);
    const runs = [];
    for (const route of PATHS) {
      if (route === '4 hops' && multicastProblem) {
        note(`bus key 4 hops skipped: ${multicastProblem}`);
        continue;
      }
      for (const keyed of [false, true]) {
        const run = await runTransfer(route, UNPACED, input, dir, netns, keyed ? ['--bus-key', keyFile] : []);
        const sent = (run.counters.client || []).find((e) => e.kind === 'udp-destination');
        const authFailures = Object.values(run.counters).flat().reduce((n, e) => n + (e.authFailures || 0) + (e.replays || 0), 0);
        runs.push({ ...run, keyed, wireBytesPerDatagram: sent && sent.datagramsOut ? sent.bytesOut / sent.datagramsOut : null, authFailures });
        note(`bus key ${keyed ? 'on ' : 'off'} ${route}: ${run.bytesPerSecond ? (run.bytesPerSecond / 1e6).toFixed(1) : 'n/a'} MB/s, lost ${run.datagramsLost ?? 'n/a'} datagrams, identical ${run.identical ? 'yes' : 'NO'}`);
      }
    }
    return { bytes: input.bytes, runs };
  } finally {
    removeDir();
    process.removeListener('exit', removeDir);
  }
}

function printBusKeyReport(result) {
  const lines = [];
  lines.push('', `BUS KEY: ${(result.bytes / 1e6).toFixed(1)} MB of AIS text, --rate 0, without and with --bus-key on every program`);
  lines.push('  path            key   MB/s     datagrams sent  wire bytes/datagram  lost  identical');
  for (const r of result.runs) {
    lines.push(
      `  ${r.route.padEnd(15)} ${(r.keyed ? 'on' : 'off').padEnd(5)} ${(r.bytesPerSecond ? (r.bytesPerSecond / 1e6).toFixed(1) : 'n/a').padStart(6)}   ${String(r.datagramsSent ?? 'n/a').padStart(14)}  ${(r.wireBytesPerDatagram ? r.wireBytesPerDatagram.toFixed(1) : 'n/a').padStart(19)}  ${String(r.datagramsLost ?? 'n/a').padStart(4)}  ${r.identical ? 'yes' : 'NO'}${r.problems.length ? `  (${r.problems.join('; ')})` : ''}`,
    );
  }
  lines.push('  A sealed datagram is 30 bytes longer (version 1, key id 1, sender id 8, counter 4, tag 16);');
  lines.push('  with a key the default datagram payload is 1442 bytes instead of 1472, so sealed ones stay within 1472.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

module.exports = { benchBusKey, printBusKeyReport, BUSKEY_BUDGET_MS };
