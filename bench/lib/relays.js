'use strict'
/**
 * The relays under test and how each is started, stopped and described. Each relay spec:
 *   label       name in the tables
 *   describe()  one line for the report header: the exact command line it runs
 *   start(sinkPort) -> { child, port, stderr }   resolves once the relay is ready
 *   cleanExit(code, signal)                       what a clean stop after SIGTERM looks like
 * Every relay is asked for the same socket buffers (relayBuffer()), so the comparison is of
 * the relays, not of their default buffer sizes.
 */
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { REPO, HOST, WANTED_RELAY_BUFFER } = require('./settings')
const { note } = require('./log')
const { which, isRoot, track, waitForLine, collect, sleep } = require('./processes')
const { isBound, freePort } = require('./procfs')

const NODE_RELAY = path.join(REPO, 'bench', 'node-relay.js')

/** Path of the forward proxy's CLI in a checkout (this one, or a baseline build). */
const proxyCli = (repoDir) => path.join(repoDir, 'dist', 'cli', 'proxy.js')

/** The compiled addon of a checkout, or null. */
function addonFile(repoDir = REPO) {
  const preferred = path.join(repoDir, 'mproxy.linux-x64-gnu.node')
  if (fs.existsSync(preferred)) return preferred
  const any = fs.readdirSync(repoDir).filter((f) => f.endsWith('.node'))
  return any.length > 0 ? path.join(repoDir, any[0]) : null
}

/**
 * Outer phase (we still have the real network): find socat or install it with apt.
 * Returns `{ path }` or `{ skipped: reason }`.
 */
function ensureSocat() {
  const found = which('socat')
  if (found) return { path: found }
  if (!isRoot()) return { skipped: 'socat is not installed and we are not root to apt-get install it' }
  if (!which('apt-get')) return { skipped: 'socat is not installed and apt-get is not available' }
  note('socat not found; running apt-get install -y socat')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'socat'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  let result = install()
  if (result.status !== 0) {
    // A fresh container often has no package lists yet.
    spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env })
    result = install()
  }
  const installed = which('socat')
  return installed ? { path: installed } : { skipped: `apt-get install socat failed (exit ${result.status})` }
}

/**
 * The buffer every relay is asked for: WANTED_RELAY_BUFFER, lowered to the sysctl caps that
 * socat and Node cannot exceed. We do not raise the caps: in a child network namespace they
 * are read-only mirrors of the host's, and the host's settings are not ours to change.
 */
function relayBuffer() {
  let bytes = WANTED_RELAY_BUFFER
  for (const name of ['rmem_max', 'wmem_max']) {
    try {
      const cap = Number(fs.readFileSync(`/proc/sys/net/core/${name}`, 'utf8'))
      if (Number.isInteger(cap) && cap > 0) bytes = Math.min(bytes, cap)
    } catch {
      // no /proc/sys: keep the wanted size
    }
  }
  if (bytes < WANTED_RELAY_BUFFER) {
    note(`net.core.rmem_max/wmem_max cap plain SO_RCVBUF/SO_SNDBUF at ${bytes} bytes; every relay is asked for ${bytes} so all get the same`)
  }
  return bytes
}

function socatVersion(socatPath) {
  const result = spawnSync(socatPath, ['-V'], { encoding: 'utf8' })
  const match = /socat version (\S+)/.exec(result.stdout || '')
  return match ? `socat ${match[1]}` : 'socat'
}

/** mproxy's forward proxy from the checkout in `repoDir`. */
function mproxyRelay({ label, repoDir, buffer, origin, extraArgs = [] }) {
  const cli = proxyCli(repoDir)
  const addon = addonFile(repoDir)
  return {
    label,
    repoDir,
    // mproxy-proxy documents exit code 0 when stopped by a signal.
    cleanExit: (code) => code === 0,
    describe: () =>
      `node ${path.relative(REPO, cli)} (${origin ? `${origin}, ` : ''}native addon ${addon ? path.basename(addon) : '?'}), --recv-buffer/--send-buffer ${buffer}${extraArgs.length ? ` ${extraArgs.join(' ')}` : ''}`,
    async start(sinkPort) {
      const child = track(
        spawn(
          process.execPath,
          [
            cli,
            '--udp-listen-addr',
            `${HOST}:0`,
            '--udp-downstream-addr',
            `${HOST}:${sinkPort}`,
            '--recv-buffer',
            String(buffer),
            '--send-buffer',
            String(buffer),
            '--verbose',
            ...extraArgs,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        ),
      )
      const stderr = collect(child.stderr)
      const match = await waitForLine(child.stderr, /listening on 127\.0\.0\.1:(\d+)/, child, origin ? `mproxy-proxy (${label})` : 'mproxy-proxy')
      return { child, port: Number(match[1]), stderr }
    },
  }
}

function socatRelay({ socatPath, buffer }) {
  return {
    label: 'socat',
    // socat has no SIGTERM handler of its own that exits 0: it reports 128+15.
    cleanExit: (code, signal) => code === 0 || code === 143 || signal === 'SIGTERM',
    describe: () => `${socatVersion(socatPath)} -u -b 65536 UDP4-RECV:PORT,bind=127.0.0.1,rcvbuf=${buffer} UDP4-SENDTO:127.0.0.1:SINK,sndbuf=${buffer}`,
    async start(sinkPort) {
      const port = await freePort()
      const child = track(
        spawn(socatPath, ['-u', '-b', '65536', `UDP4-RECV:${port},bind=${HOST},rcvbuf=${buffer}`, `UDP4-SENDTO:${HOST}:${sinkPort},sndbuf=${buffer}`], {
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      )
      const stderr = collect(child.stderr)
      // socat prints nothing when ready: wait until its socket shows up in /proc/net/udp.
      const deadline = Date.now() + 10_000
      while (!isBound(port)) {
        if (child.exitCode !== null) throw new Error(`socat exited: ${stderr.text().trim()}`)
        if (Date.now() > deadline) throw new Error('socat did not bind its port within 10 s')
        await sleep(20)
      }
      return { child, port, stderr }
    },
  }
}

function nodeRelay({ buffer }) {
  return {
    label: 'node',
    cleanExit: (code) => code === 0,
    describe: () => `bench/node-relay.js on Node ${process.version} (dgram, recvBufferSize/sendBufferSize ${buffer})`,
    async start(sinkPort) {
      const child = track(
        spawn(process.execPath, [NODE_RELAY, '--listen', `${HOST}:0`, '--to', `${HOST}:${sinkPort}`, '--buffer', String(buffer)], {
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      )
      const stderr = collect(child.stderr)
      const match = await waitForLine(child.stderr, /listening on 127\.0\.0\.1:(\d+)/, child, 'node-relay')
      return { child, port: Number(match[1]), stderr }
    },
  }
}

/**
 * The relays of this run, keyed by the name the tables use, in the order they are measured.
 * A relay that cannot run here is in `skipped` with the reason instead.
 */
function createRelays({ buffer, socat, baseline }) {
  const relays = { mproxy: mproxyRelay({ label: 'mproxy', repoDir: REPO, buffer }) }
  const skipped = {}
  // Right after the current build, so the two see the machine in the most similar state.
  if (baseline?.dir) {
    relays[baseline.label] = mproxyRelay({
      label: baseline.label,
      repoDir: baseline.dir,
      buffer,
      origin: `${baseline.rev} = ${baseline.short}`,
    })
  } else if (baseline) {
    skipped[baseline.label] = baseline.skipped
  }
  if (socat.path) relays.socat = socatRelay({ socatPath: socat.path, buffer })
  else skipped.socat = socat.skipped || 'socat unavailable'
  relays.node = nodeRelay({ buffer })
  return { relays, skipped }
}

module.exports = { ensureSocat, relayBuffer, addonFile, proxyCli, createRelays, mproxyRelay }
