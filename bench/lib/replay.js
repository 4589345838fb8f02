'use strict'
/**
 * How late the client's replay (`replay`) sends lines: a recorded log of UNIX-timed lines
 * replayed to a `dgram` receiver in this process, which takes each datagram's arrival time.
 * A line's lateness is its arrival (from just before the client started) less its recorded
 * offset over the speed; the tests assert only that none is early, this says by how much
 * they are late, on average, at the 99th percentile and at most, on this machine, now.
 */
const dgram = require('node:dgram')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { REPO } = require('./settings')
const { note } = require('./log')
const { pad, padEnd } = require('./format')

/** Each run: lines, spacing between their recorded times (ms), speed. About 2 s each. */
const RUNS = [
  { lines: 200, spacingMs: 10, speed: 1 },
  { lines: 2000, spacingMs: 1, speed: 1 },
  { lines: 2000, spacingMs: 50, speed: 50 },
]
const REPLAY_BUDGET_MS = 60_000

async function replayOnce({ lines, spacingMs, speed }) {
  const mproxy = require(REPO)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-bench-replay-'))
  try {
    const t0 = 1714564800
    const due = []
    let text = ''
    for (let i = 0; i < lines; i++) {
      const offset = (i * spacingMs) / 1000
      due.push((offset / speed) * 1000)
      text += `${(t0 + offset).toFixed(3)} !AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D${i},0*00\n`
    }
    const file = path.join(dir, 'recorded.log')
    fs.writeFileSync(file, text)
    const socket = dgram.createSocket('udp4')
    const arrived = []
    socket.on('message', () => arrived.push(performance.now()))
    await new Promise((r) => socket.bind(0, '127.0.0.1', r))
    const before = performance.now()
    const client = await mproxy.createClient({
      path: file,
      serverAddrs: `127.0.0.1:${socket.address().port}`,
      replay: 'unix',
      replaySpeed: speed,
      framing: 'line',
    })
    await client.finished
    const end = Date.now() + 2000
    while (arrived.length < lines && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
    await client.close()
    socket.close()
    const late = arrived.map((at, i) => at - before - due[i]).sort((a, b) => a - b)
    const mean = late.reduce((a, b) => a + b, 0) / Math.max(1, late.length)
    // From the first line's arrival instead: the replay's own lateness, without the start.
    const relative = arrived.map((at, i) => at - arrived[0] - due[i]).sort((a, b) => a - b)
    return {
      startMs: arrived.length > 0 ? arrived[0] - before : null,
      relativeMeanMs: relative.reduce((a, b) => a + b, 0) / Math.max(1, relative.length),
      relativeMaxMs: relative[relative.length - 1] ?? null,
      lines,
      spacingMs,
      speed,
      received: arrived.length,
      early: late.filter((l) => l < 0).length,
      meanMs: mean,
      p99Ms: late[Math.min(late.length - 1, Math.floor(late.length * 0.99))] ?? null,
      maxMs: late[late.length - 1] ?? null,
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function benchReplay() {
  const runs = []
  for (const run of RUNS) {
    try {
      runs.push(await replayOnce(run))
    } catch (err) {
      note(`replay ${JSON.stringify(run)} failed: ${err.message}`)
    }
  }
  return { runs }
}

function printReplayReport({ runs }) {
  const ms = (v) => (v === null ? 'n/a' : v.toFixed(2))
  const out = ['', '== client replay: how late lines are sent (from their recorded offset over the speed) ==']
  out.push('  late by: from just before createClient() (start-up included); "after 1st": from the first line\'s arrival')
  out.push(
    `  ${padEnd('lines', 6)} ${pad('spacing', 8)} ${pad('speed', 6)} ${pad('received', 9)} ${pad('early', 6)} ${pad('start ms', 9)} ${pad('mean ms', 8)} ${pad('p99 ms', 8)} ${pad('max ms', 8)} ${pad('mean after 1st', 15)} ${pad('max after 1st', 14)}`,
  )
  for (const r of runs) {
    out.push(
      `  ${padEnd(String(r.lines), 6)} ${pad(`${r.spacingMs} ms`, 8)} ${pad(`${r.speed}x`, 6)} ${pad(String(r.received), 9)} ${pad(String(r.early), 6)} ${pad(ms(r.startMs), 9)} ${pad(ms(r.meanMs), 8)} ${pad(ms(r.p99Ms), 8)} ${pad(ms(r.maxMs), 8)} ${pad(ms(r.relativeMeanMs), 15)} ${pad(ms(r.relativeMaxMs), 14)}`,
    )
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

module.exports = { benchReplay, printReplayReport, REPLAY_BUDGET_MS }
