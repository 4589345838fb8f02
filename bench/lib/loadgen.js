'use strict'
/**
 * The generator and the sink: the Rust tool in crates/mproxy-loadgen (sendmmsg/recvmmsg,
 * much cheaper per datagram than any of the relays, so they are not what we measure).
 */
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')
const { REPO, HOST, SINK_BUFFER } = require('./settings')
const { note } = require('./log')
const { which, track, waitExit, sleep } = require('./processes')

const LOADGEN_TARGET_DIR = path.join(REPO, 'target', 'loadgen')
const LOADGEN = path.join(LOADGEN_TARGET_DIR, 'release', 'mproxy-loadgen')

/**
 * Builds (or confirms up to date) the generator/sink; cargo is quick when nothing changed.
 * Its own target directory, so it never waits on or invalidates the addon's build.
 */
function ensureLoadgen() {
  if (which('cargo')) {
    const result = spawnSync('cargo', ['build', '--release', '--quiet', '-p', 'mproxy-loadgen'], {
      cwd: REPO,
      env: { ...process.env, CARGO_TARGET_DIR: LOADGEN_TARGET_DIR },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    if (result.status !== 0) {
      note('building crates/mproxy-loadgen failed (see above)')
      process.exit(1)
    }
  } else if (!fs.existsSync(LOADGEN)) {
    note(`cargo is not on PATH and ${path.relative(REPO, LOADGEN)} is missing: install Rust or build it with`)
    note(`CARGO_TARGET_DIR=target/loadgen cargo build --release -p mproxy-loadgen`)
    process.exit(1)
  }
}

/** The sink: one per relay, queried on stdin for cumulative counts. */
class Sink {
  static async start() {
    const child = track(
      spawn(LOADGEN, ['sink', '--listen', `${HOST}:0`, '--rcvbuf', String(SINK_BUFFER), '--max-seconds', '600'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    )
    const sink = new Sink(child)
    const first = await sink.next()
    if (first.event !== 'listening') throw new Error(`sink said ${JSON.stringify(first)}`)
    sink.port = first.port
    sink.rcvbuf = first.rcvbuf
    return sink
  }

  constructor(child) {
    this.child = child
    this.queue = []
    this.waiters = []
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let message
      try {
        message = JSON.parse(line)
      } catch {
        return
      }
      const waiter = this.waiters.shift()
      if (waiter) waiter.resolve(message)
      else this.queue.push(message)
    })
    child.once('exit', (code) => {
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`sink exited (code ${code})`))
    })
  }

  next(timeoutMs = 5000) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift())
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error('sink did not answer'))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  /** Cumulative `{datagrams, bytes, drops, t}` since the sink started. */
  async report() {
    this.child.stdin.write('report\n')
    const message = await this.next()
    if (message.event !== 'report') throw new Error(`sink said ${JSON.stringify(message)}`)
    return message
  }

  /**
   * Waits until the sink has counted `base + expected` datagrams, or until the count has
   * not moved for `quietMs` (whatever is still missing by then is lost, not late).
   */
  async settle(base, expected, quietMs = 300, limitMs = 4000) {
    const started = Date.now()
    let last = await this.report()
    let lastChange = Date.now()
    while (last.datagrams - base < expected && Date.now() - started < limitMs) {
      await sleep(50)
      const now = await this.report()
      if (now.datagrams !== last.datagrams) lastChange = Date.now()
      else if (Date.now() - lastChange >= quietMs) break
      last = now
    }
    return last
  }

  async stop() {
    this.child.stdin.end('quit\n')
    await waitExit(this.child, 3000)
  }
}

/** Runs one blast of `size`-byte datagrams to HOST:port and resolves with its JSON summary. */
function blast(port, size, seconds, rate) {
  const args = ['blast', '--to', `${HOST}:${port}`, '--size', String(size), '--seconds', String(seconds)]
  if (rate) args.push('--rate', String(Math.round(rate)))
  return new Promise((resolve, reject) => {
    const child = track(spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() || ''
      try {
        const result = JSON.parse(line)
        if (code === 0) return resolve(result)
      } catch {
        // fall through
      }
      reject(new Error(`blast failed (exit ${code}): ${err.trim() || out.trim()}`))
    })
  })
}

module.exports = { ensureLoadgen, Sink, blast }
