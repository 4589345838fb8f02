'use strict';
/**
 * The `taps` section: datagrams in and out of JavaScript, against plain Node `dgram`, in one
 * process, same datagram size, same run.
 *
 *   into JavaScript   mproxy-loadgen blast --UDP--> a server handle (file /dev/null) whose
 *                     handle.messages() loop counts every datagram, next to the same blast
 *                     into a dgram socket whose 'message' handler counts. Rate: datagrams
 *                     the loop saw per second of blast (what JS could not take was dropped:
 *                     tapDrops for the tap, the kernel for dgram).
 *   out of JavaScript handle.send() of arrays of SEND_BATCH datagrams into a proxy whose
 *                     downstream is a loadgen sink (awaiting each call: backpressure), next to
 *                     dgram.send() of each datagram to the same sink (all callbacks awaited).
 *                     Rate: datagrams handed over per second until the last was accepted.
 *
 * The bar is 4x each (issue #9). Needs the release addon (npm run build).
 */
const dgram = require('node:dgram');
const { REPO, HOST, QUICK } = require('./settings');
const { log, note } = require('./log');
const { Sink, blast } = require('./loadgen');

const SIZE = 100;
const BLAST_SECONDS = QUICK ? 1 : 3;
const SEND_DATAGRAMS = QUICK ? 200_000 : 2_000_000;
const SEND_BATCH = 1024;
const GOAL = 4;
/** Upper bound of the whole section, for the bench's watchdog. */
const TAPS_BUDGET_MS = 120_000;

const rate = (n, ms) => (n * 1000) / ms;
const fmt = (r) => `${(r / 1e6).toFixed(2)} M/s`;

/** Datagrams a `messages()` loop sees during one blast. */
async function tapReceive(mproxy) {
  const server = await mproxy.createServer({ listenAddrs: `${HOST}:0`, path: '/dev/null', recvBuffer: 8 * 1024 * 1024 });
  const port = Number(server.addresses.listen[0].split(':').pop());
  let seen = 0;
  const reading = (async () => {
    for await (const m of server.messages()) if (m.data.length === SIZE) seen++;
  })();
  const started = Date.now();
  const sent = await blast(port, SIZE, BLAST_SECONDS);
  const ms = Date.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  const counted = seen;
  const finals = await server.close();
  await reading;
  return { seen: counted, sent: sent.sent, ms, tapDrops: finals.totals.tapDrops, kernelDrops: finals.totals.kernelDrops };
}

/** Datagrams a dgram 'message' handler sees during one blast. */
async function dgramReceive() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let seen = 0;
  socket.on('message', (m) => {
    if (m.length === SIZE) seen++;
  });
  await new Promise((r) => socket.bind(0, HOST, r));
  const started = Date.now();
  const sent = await blast(socket.address().port, SIZE, BLAST_SECONDS);
  const ms = Date.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  socket.close();
  return { seen, sent: sent.sent, ms };
}

async function tapSend(mproxy, sink) {
  const proxy = await mproxy.createProxy({ udpListenAddrs: `${HOST}:0`, udpDownstreamAddrs: `${HOST}:${sink.port}` });
  const datagram = Buffer.alloc(SIZE, 0x61);
  const batch = Array.from({ length: SEND_BATCH }, () => datagram);
  const started = Date.now();
  for (let n = 0; n < SEND_DATAGRAMS; n += SEND_BATCH) await proxy.send(batch);
  const ms = Date.now() - started;
  const finals = await proxy.close();
  const out = finals.endpoints.find((e) => e.kind === 'udp-destination');
  return { handed: SEND_DATAGRAMS, ms, delivered: out.datagramsOut, sendErrors: out.sendErrors };
}

async function dgramSend(sink) {
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 * 1024 * 1024 });
  await new Promise((r) => socket.bind(0, HOST, r));
  socket.connect(sink.port, HOST);
  await new Promise((r) => socket.once('connect', r));
  const datagram = Buffer.alloc(SIZE, 0x62);
  const started = Date.now();
  let done = 0;
  let failed = 0;
  await new Promise((resolve) => {
    const sent = (err) => {
      if (err) failed++;
      if (++done === SEND_DATAGRAMS) resolve();
    };
    // In slices, so callbacks run and the libuv queue stays small.
    let n = 0;
    const slice = () => {
      const end = Math.min(n + SEND_BATCH, SEND_DATAGRAMS);
      for (; n < end; n++) socket.send(datagram, sent);
      if (n < SEND_DATAGRAMS) setImmediate(slice);
    };
    slice();
  });
  const ms = Date.now() - started;
  socket.close();
  return { handed: SEND_DATAGRAMS, ms, failed };
}

async function benchTaps() {
  const mproxy = require(REPO);
  const receive = { tap: await tapReceive(mproxy), dgram: await dgramReceive() };
  const sink = await Sink.start();
  let send;
  try {
    send = { tap: await tapSend(mproxy, sink), dgram: await dgramSend(sink) };
  } finally {
    await sink.stop();
  }
  return { receive, send };
}

function printTapsReport({ receive, send }) {
  const inTap = rate(receive.tap.seen, receive.tap.ms);
  const inDgram = rate(receive.dgram.seen, receive.dgram.ms);
  const outTap = rate(send.tap.handed, send.tap.ms);
  const outDgram = rate(send.dgram.handed, send.dgram.ms);
  const ratios = { into: inTap / inDgram, out: outTap / outDgram };
  log('');
  log(`== taps: datagrams in and out of JavaScript (${SIZE}-byte datagrams, one process) ==`);
  log(`into JS   messages()  ${fmt(inTap).padStart(10)}  (${receive.tap.seen} of ${receive.tap.sent} blasted in ${receive.tap.ms} ms; tapDrops ${receive.tap.tapDrops}, kernel drops ${receive.tap.kernelDrops})`);
  log(`          dgram       ${fmt(inDgram).padStart(10)}  (${receive.dgram.seen} of ${receive.dgram.sent} blasted in ${receive.dgram.ms} ms)`);
  log(`          ratio       ${ratios.into.toFixed(1)}x  ${ratios.into >= GOAL ? 'PASS' : 'FAIL'} (goal ${GOAL}x)`);
  log(`out of JS send()      ${fmt(outTap).padStart(10)}  (${send.tap.handed} in arrays of ${SEND_BATCH}, ${send.tap.ms} ms; ${send.tap.delivered} sent on, ${send.tap.sendErrors} send errors)`);
  log(`          dgram.send  ${fmt(outDgram).padStart(10)}  (${send.dgram.handed} one by one, ${send.dgram.ms} ms; ${send.dgram.failed} failed)`);
  log(`          ratio       ${ratios.out.toFixed(1)}x  ${ratios.out >= GOAL ? 'PASS' : 'FAIL'} (goal ${GOAL}x)`);
  log(JSON.stringify({ section: 'taps', size: SIZE, into: { messages: inTap, dgram: inDgram, ratio: ratios.into }, out: { send: outTap, dgram: outDgram, ratio: ratios.out } }));
  if (ratios.into < GOAL || ratios.out < GOAL) note(`taps: below the ${GOAL}x goal`);
}

module.exports = { benchTaps, printTapsReport, TAPS_BUDGET_MS };
