#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: how fast does mproxy's forward proxy relay UDP, next to socat and a plain
 * Node `dgram` relay, for 100-byte and 1400-byte datagrams?
 *
 * Layout of one measurement:
 *
 *   mproxy-loadgen blast  --UDP-->  relay under test  --UDP-->  mproxy-loadgen sink
 *
 * Everything happens on 127.0.0.1, inside a private network namespace when we can make one
 * (the bench re-executes itself under `unshare`), so no datagram can leave the machine.
 *
 * This file is the entry point and the orchestration; the pieces are in bench/lib:
 *   settings.js   sizes, durations, paths        namespace.js  unshare re-exec, loopback
 *   loadgen.js    generator and sink             relays.js     how each relay is started
 *   measure.js    overload and lossless search   report.js     tables, ratios, bar, JSON
 *   procfs.js     CPU, memory, drops from /proc  processes.js  child tracking and cleanup
 */
const fs = require('node:fs');
const path = require('node:path');
const { REPO } = require('./lib/settings');
const { note } = require('./lib/log');
const { killChildren } = require('./lib/processes');
const { namespaceFlags, runInNamespace, bringUpLoopback } = require('./lib/namespace');
const { ensureLoadgen } = require('./lib/loadgen');
const { ensureSocat, relayBuffer, proxyCli, createRelays } = require('./lib/relays');
const { benchRelay } = require('./lib/measure');
const { printReport } = require('./lib/report');

/** Hard stop for the whole inner run, whatever happens. */
const WATCHDOG_MS = 240_000;

const INNER_ENV = 'MPROXY_BENCH_INNER';
const SOCAT_ENV = 'MPROXY_BENCH_SOCAT';

// ---------------------------------------------------------------------------------------
// Outer phase: everything that may need the real network (apt, cargo) happens here, before
// we move into a namespace that has only a loopback interface.
// ---------------------------------------------------------------------------------------

function outer() {
  if (!fs.existsSync(proxyCli(REPO))) {
    note(`${path.relative(REPO, proxyCli(REPO))} is missing: run npm install first`);
    process.exit(1);
  }
  const socat = ensureSocat();
  ensureLoadgen();
  const env = { ...process.env, [SOCAT_ENV]: JSON.stringify(socat) };
  const flags = namespaceFlags();
  if (flags) process.exit(runInNamespace(flags, __filename, [], { ...env, [INNER_ENV]: 'netns' }));
  note('cannot create a private network namespace (unshare/ip unavailable or not permitted); using the host loopback');
  process.env[INNER_ENV] = 'loopback';
  process.env[SOCAT_ENV] = env[SOCAT_ENV];
  return inner();
}

// ---------------------------------------------------------------------------------------
// Inner phase: the measurements.
// ---------------------------------------------------------------------------------------

async function inner() {
  const netns = process.env[INNER_ENV] === 'netns';
  let socat;
  try {
    socat = JSON.parse(process.env[SOCAT_ENV] || '{}');
  } catch {
    socat = { skipped: 'unknown' };
  }
  const watchdog = setTimeout(() => {
    note(`the bench took longer than ${WATCHDOG_MS / 1000} s; stopping`);
    killChildren();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      killChildren();
      process.exit(130);
    });
  }
  if (netns) bringUpLoopback();
  const buffer = relayBuffer();
  const { relays, skipped } = createRelays({ buffer, socat });
  for (const [key, why] of Object.entries(skipped)) note(`${key} skipped: ${why}`);

  const relayNotes = {};
  const relayRuns = [];
  const started = Date.now();
  for (const [key, spec] of Object.entries(relays)) {
    relayNotes[key] = spec.describe();
    try {
      relayRuns.push(await benchRelay(key, spec));
    } catch (err) {
      skipped[key] = `failed: ${err.message}`;
      note(`${key} failed: ${err.message}`);
    }
  }
  for (const [key, why] of Object.entries(skipped)) relayNotes[key] = `SKIPPED: ${why}`;
  note(`measurements took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const pass = printReport({ netns, skipped, relayBuffer: buffer, relays }, relayRuns, relayNotes);
  clearTimeout(watchdog);
  // The exit code reports whether the bench ran, not whether the bar was met: PASS/FAIL is
  // in the output for people and tooling to read.
  process.exit(relayRuns.length > 0 || pass ? 0 : 1);
}

if (process.env[INNER_ENV]) {
  inner().catch((err) => {
    note(err.stack || err.message);
    killChildren();
    process.exit(1);
  });
} else {
  Promise.resolve(outer()).catch((err) => {
    note(err.stack || err.message);
    process.exit(1);
  });
}
