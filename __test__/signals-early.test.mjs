// Signals from the first instant: SIGHUP and SIGUSR1 are never fatal once the process runs our
// code, and SIGINT/SIGTERM stop cleanly (exit 0, no signal death). Each signal is sent as soon
// as Node has run the entry file's first statement (the kernel's list of caught signals,
// /proc/PID/status SigCgt, shows SIGHUP caught: the earliest moment a handler can exist), and
// 0, 50, 100 and 300 ms after the program's first line of output. A SIGHUP asked for before
// the routes are up is applied once they are (mproxy --config reports the reload).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { root, sleep, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

const test = unixOnly(`${WHY.signals}, ${WHY.proc}`)

const dir = tempDir()
const config = writeTemp(dir, 'c.yaml', 'routes:\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "127.0.0.1:9" }\n')
const followed = writeTemp(dir, 'followed.log', 'a line\n')
// Each prints a line once ready (`listening on`, or `stats: every 60 s from now`).
const PROGRAMS = {
  'mproxy --config': ['mproxy.js', '--config', config],
  'mproxy-server': ['server.js', '--path', path.join(dir, 'out.log'), '--listen-addr', '127.0.0.1:0'],
  'mproxy-proxy': ['proxy.js', '--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9'],
  'mproxy-reverseproxy': ['reverseproxy.js', '--udp-listen-addr', '127.0.0.1:0', '--multicast-addr', '239.77.3.4:9918', '--multicast-interface', 'lo'],
  'mproxy-client': ['client.js', '--path', followed, '--follow', '--server-addr', '127.0.0.1:9', '--stats-interval', '60'],
}
const READY = /listening on|stats: every 60 s/

// At most a few programs start at once: the machine may have two cores for everything.
let slots = 3
const waiting = []
async function slot() {
  while (slots === 0) await new Promise((r) => waiting.push(r))
  slots--
  return () => {
    slots++
    waiting.shift()?.()
  }
}

/** Whether the process has a handler for SIGHUP (bit 1 of SigCgt). */
function catchesHangup(pid) {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n
  } catch {
    return false
  }
}

async function trial(t, program, signal, when) {
  const free = await slot()
  try {
    const [entry, ...args] = PROGRAMS[program]
    const child = spawn(process.execPath, [path.join(root, 'dist/cli', entry), ...args, '--no-timestamps'], { stdio: ['ignore', 'ignore', 'pipe'] })
    t.teardown(() => child.kill('SIGKILL'))
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const exited = once(child, 'close')
    if (when === 'first statement') {
      await waitFor(() => catchesHangup(child.pid) || child.exitCode !== null, 30_000, 'the handlers')
    } else {
      await waitFor(() => stderr.includes('\n') || child.exitCode !== null, 30_000, 'the first line')
      // The one place a test waits on the clock: the delay is what is being tested.
      await sleep(when)
    }
    child.kill(signal)
    if (signal === 'SIGHUP' || signal === 'SIGUSR1') {
      const done = signal === 'SIGUSR1' ? /counters/ : program === 'mproxy --config' ? /reloaded .*c\.yaml: kept 1/ : READY
      await waitFor(() => (READY.test(stderr) && done.test(stderr)) || child.exitCode !== null, 30_000, `${program} to act on ${signal}`)
      t.is(child.exitCode, null, `${program} died of ${signal} (${when}): ${stderr}`)
      child.kill('SIGTERM')
    }
    const [code, killedBy] = await exited
    t.is(killedBy, null, `${program}, ${signal} (${when}): killed by ${killedBy}; ${stderr}`)
    t.is(code, 0, `${program}, ${signal} (${when}): ${stderr}`)
    t.false(/Debugger listening|\n\s+at |panicked/.test(stderr), stderr)
  } finally {
    free()
  }
}

const SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGINT', 'SIGTERM']

for (const program of Object.keys(PROGRAMS)) {
  test(`${program}: each signal as soon as Node has run the entry file's first statement`, async (t) => {
    if (!existsSync('/proc/self/status')) return t.pass('no /proc here')
    await Promise.all(SIGNALS.map((s) => trial(t, program, s, 'first statement')))
  })
}

for (const program of ['mproxy --config', 'mproxy-server']) {
  for (const delay of [0, 50, 100, 300]) {
    test(`${program}: each signal ${delay} ms after the first line of output`, async (t) => {
      await Promise.all(SIGNALS.map((s) => trial(t, program, s, delay)))
    })
  }
}
