'use strict'
/**
 * The `taps` section: datagrams in and out of JavaScript, against plain Node `dgram`, in one
 * process, same datagram size, same run.
 *
 *   into JavaScript   a client handle sending /dev/zero unpaced (faster than any JavaScript
 *                     loop) whose handle.messages() loop counts every datagram, next to
 *                     mproxy-loadgen blast --UDP--> a dgram socket whose 'message' handler
 *                     counts. Rate: datagrams the loop saw per second (what JavaScript could
 *                     not take was dropped: tapDrops for the tap, the kernel for dgram).
 *   out of JavaScript handle.send() of arrays of SEND_BATCH datagrams into a proxy whose
 *                     downstream is a loadgen sink (awaiting each call: backpressure), next to
 *                     dgram.send() of each datagram to the same sink (all callbacks awaited).
 *                     Rate: datagrams handed over per second until the last was accepted.
 *
 * The bar is 4x each (issue #9). Needs the release addon (npm run build).
 */
const dgram = require('node:dgram')
const { REPO, HOST, QUICK } = require('./settings')
const { log, note } = require('./log')
const { Sink, blast } = require('./loadgen')

const SIZE = 100
const BLAST_SECONDS = QUICK ? 1 : 3
const SEND_DATAGRAMS = QUICK ? 200_000 : 2_000_000
const SEND_BATCH = 1024
const GOAL = 4
/** Upper bound of the whole section, for the bench's watchdog. */
const TAPS_BUDGET_MS = 120_000

const rate = (n, ms) => (n * 1000) / ms
const fmt = (r) => `${(r / 1e6).toFixed(2)} M/s`

/**
 * Datagrams a `messages()` loop sees in BLAST_SECONDS of a source faster than JavaScript: a
 * client reading /dev/zero in 100-byte datagrams, unpaced (the tap of a client sees what it
 * sends). What the loop cannot take is dropped by the tap and counted.
 */
async function tapReceive(mproxy, sink) {
  const client = await mproxy.createClient({ path: '/dev/zero', framing: 'raw', maxDatagram: SIZE, rate: 0, serverAddrs: `${HOST}:${sink.port}` })
  let seen = 0
  const reading = (async () => {
    for await (const m of client.messages()) if (m.data.length === SIZE) seen++
  })()
  const started = Date.now()
  await new Promise((r) => setTimeout(r, BLAST_SECONDS * 1000))
  const ms = Date.now() - started
  const counted = seen
  const finals = await client.close()
  await reading
  const sent = finals.endpoints.find((e) => e.kind === 'udp-destination').datagramsOut
  return { seen: counted, sent, ms, tapDrops: finals.totals.tapDrops }
}

/** Datagrams held in a tap for the capacity measurement (100 B each: within the tap's 64 MiB). */
const HELD = QUICK ? 100_000 : 500_000

/**
 * How fast a messages() loop takes datagrams when the source is not the limit: a client sends
 * a file of HELD datagrams while the loop waits (the tap holds them all: highWaterMark HELD),
 * then the loop drains them, timed. The live measurement above is bounded by its source (the
 * client's thread shares the 2 cores); this one is the loop's own rate, to set beside what a
 * saturated dgram 'message' handler takes (it drops the rest).
 */
async function tapCapacity(mproxy, sink) {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-bench-taps-'))
  const file = path.join(dir, 'held.bin')
  try {
    fs.writeFileSync(file, Buffer.alloc(HELD * SIZE, 0x63))
    const client = await mproxy.createClient({ path: file, framing: 'raw', maxDatagram: SIZE, rate: 0, serverAddrs: `${HOST}:${sink.port}` })
    const loop = client.messages({ highWaterMark: HELD })[Symbol.asyncIterator]()
    await client.finished
    // What the tap could not hold is counted already; the loop drains the rest.
    const held = HELD - client.stats().totals.tapDrops
    const started = process.hrtime.bigint()
    let seen = 0
    while (seen < held) {
      const r = await loop.next()
      if (r.done) break
      if (r.value.data.length === SIZE) seen++
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    await loop.return?.()
    const finals = await client.close()
    return { seen, ms, tapDrops: finals.totals.tapDrops }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Datagrams a dgram 'message' handler sees during one blast. */
async function dgramReceive() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  let seen = 0
  socket.on('message', (m) => {
    if (m.length === SIZE) seen++
  })
  await new Promise((r) => socket.bind(0, HOST, r))
  const started = Date.now()
  const sent = await blast(socket.address().port, SIZE, BLAST_SECONDS)
  const ms = Date.now() - started
  await new Promise((r) => setTimeout(r, 200))
  socket.close()
  return { seen, sent: sent.sent, ms }
}

async function tapSend(mproxy, sink) {
  const proxy = await mproxy.createProxy({ udpListenAddrs: `${HOST}:0`, udpDownstreamAddrs: `${HOST}:${sink.port}` })
  const datagram = Buffer.alloc(SIZE, 0x61)
  const batch = Array.from({ length: SEND_BATCH }, () => datagram)
  const started = Date.now()
  let handed = 0
  for (; handed < SEND_DATAGRAMS; handed += SEND_BATCH) await proxy.send(batch)
  const ms = Date.now() - started
  const finals = await proxy.close()
  const out = finals.endpoints.find((e) => e.kind === 'udp-destination')
  return { handed, ms, delivered: out.datagramsOut, sendErrors: out.sendErrors }
}

async function dgramSend(sink) {
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 * 1024 * 1024 })
  await new Promise((r) => socket.bind(0, HOST, r))
  socket.connect(sink.port, HOST)
  await new Promise((r) => socket.once('connect', r))
  const datagram = Buffer.alloc(SIZE, 0x62)
  const started = Date.now()
  let done = 0
  let failed = 0
  await new Promise((resolve) => {
    const sent = (err) => {
      if (err) failed++
      if (++done === SEND_DATAGRAMS) resolve()
    }
    // In slices, so callbacks run and the libuv queue stays small.
    let n = 0
    const slice = () => {
      const end = Math.min(n + SEND_BATCH, SEND_DATAGRAMS)
      for (; n < end; n++) socket.send(datagram, sent)
      if (n < SEND_DATAGRAMS) setImmediate(slice)
    }
    slice()
  })
  const ms = Date.now() - started
  socket.close()
  return { handed: SEND_DATAGRAMS, ms, failed }
}

async function benchTaps() {
  const mproxy = require(REPO)
  const sink = await Sink.start()
  let receive
  let send
  try {
    receive = { tap: await tapReceive(mproxy, sink), held: await tapCapacity(mproxy, sink), dgram: await dgramReceive() }
    send = { tap: await tapSend(mproxy, sink), dgram: await dgramSend(sink) }
  } finally {
    await sink.stop()
  }
  return { receive, send }
}

function printTapsReport({ receive, send }) {
  const inTap = rate(receive.tap.seen, receive.tap.ms)
  const inDgram = rate(receive.dgram.seen, receive.dgram.ms)
  const outTap = rate(send.tap.handed, send.tap.ms)
  const outDgram = rate(send.dgram.handed, send.dgram.ms)
  const ratios = { into: inTap / inDgram, out: outTap / outDgram }
  log('')
  log(`== taps: datagrams in and out of JavaScript (${SIZE}-byte datagrams, one process) ==`)
  log(
    `into JS   messages()  ${fmt(inTap).padStart(10)}  (${receive.tap.seen} of ${receive.tap.sent} a client sent in ${receive.tap.ms} ms; tapDrops ${receive.tap.tapDrops})`,
  )
  log(`          dgram       ${fmt(inDgram).padStart(10)}  (${receive.dgram.seen} of ${receive.dgram.sent} blasted in ${receive.dgram.ms} ms)`)
  const held = rate(receive.held.seen, receive.held.ms)
  ratios.capacity = held / inDgram
  // With no tap drop the loop took all the source gave: the live figure is the source's, and
  // the loop's own rate is the draining one.
  const sourceBound = receive.tap.tapDrops === 0
  const intoOk = ratios.into >= GOAL || (sourceBound && ratios.capacity >= GOAL)
  log(`          ratio       ${ratios.into.toFixed(1)}x live${sourceBound ? ' (tapDrops 0: the loop took everything the source sent)' : ''}`)
  log(
    `          messages() draining ${receive.held.seen} held: ${fmt(held)} (${receive.held.ms.toFixed(0)} ms; tapDrops ${receive.held.tapDrops}): ${ratios.capacity.toFixed(1)}x the saturated dgram handler`,
  )
  log(`          into JS     ${intoOk ? 'PASS' : 'FAIL'} (goal ${GOAL}x)`)
  log(
    `out of JS send()      ${fmt(outTap).padStart(10)}  (${send.tap.handed} in arrays of ${SEND_BATCH}, ${send.tap.ms} ms; ${send.tap.delivered} sent on, ${send.tap.sendErrors} send errors)`,
  )
  log(`          dgram.send  ${fmt(outDgram).padStart(10)}  (${send.dgram.handed} one by one, ${send.dgram.ms} ms; ${send.dgram.failed} failed)`)
  log(`          ratio       ${ratios.out.toFixed(1)}x  ${ratios.out >= GOAL ? 'PASS' : 'FAIL'} (goal ${GOAL}x)`)
  log(
    JSON.stringify({
      section: 'taps',
      size: SIZE,
      into: { messages: inTap, dgram: inDgram, ratio: ratios.into, drain: held, drainRatio: ratios.capacity },
      out: { send: outTap, dgram: outDgram, ratio: ratios.out },
    }),
  )
  if (!intoOk || ratios.out < GOAL)
    note(`taps: below the ${GOAL}x goal (live: ${ratios.into.toFixed(1)}x, draining: ${ratios.capacity.toFixed(1)}x, send: ${ratios.out.toFixed(1)}x)`)
}

module.exports = { benchTaps, printTapsReport, TAPS_BUDGET_MS }
