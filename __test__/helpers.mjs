// Shared test helpers: programs as child processes, test data, files, and the network
// namespace guard. Every test runs inside the namespace `npm test` creates (see
// scripts/test.js); `requireIsolation` refuses to touch multicast or veth outside it.
//
// Deadlines: every wait here (waitFor, waitForSize, within, runToEnd's hangLimit) goes through
// deadline(), which gives it at least MIN_DEADLINE_MS and multiplies it by MPROXY_TEST_SLOW
// (scripts/test-slow.js; scripts/test.js scales ava's timeout by the same factor). Deadlines
// only bound hangs: a wait ends as soon as its condition holds.
//
// Clean-up: programs and temporary directories of a test file are removed after its last
// test (test.after.always), at exit, and when ava ends the worker with SIGTERM (its timeout),
// where 'exit' handlers would not run. `npm test` also points TMPDIR at a directory of its
// own that it removes when ava is done, for a worker that is killed outright.
import test from 'ava'
import dgram from 'node:dgram'
import { spawn, execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
/** The package as a user gets it. */
export const mproxy = require(root)

/** MPROXY_TEST_SLOW: the factor every deadline of the tests is multiplied by (1 when unset). */
export const SLOW = require(path.join(root, 'scripts', 'test-slow.js')).slowFactor()
/** The shortest deadline any wait gets (before the factor): a busy 2-core machine needs seconds for what takes milliseconds alone. */
export const MIN_DEADLINE_MS = 10_000

/** The one place deadlines are made: `ms` (at least MIN_DEADLINE_MS), times MPROXY_TEST_SLOW. */
export function deadline(ms) {
  return Math.max(ms, MIN_DEADLINE_MS) * SLOW
}

export function requireIsolation() {
  if (process.env.MPROXY_TEST_NETNS !== '1') {
    throw new Error('this test sends multicast or uses veth links: run it through `npm test`, which creates a network namespace')
  }
}

/** Clean-up steps of this test process (see the top of the file): each runs once. */
const cleanups = []
let cleaned = false
function cleanUp() {
  if (cleaned) return
  cleaned = true
  for (const fn of cleanups.reverse()) {
    try {
      fn()
    } catch {
      // the others still run
    }
  }
}
/** Registers `fn` to run when this test file is done, at exit, or when the worker is ended. */
export function atCleanup(fn) {
  cleanups.push(fn)
}
test.after.always('helpers: stop programs and remove temporary directories', cleanUp)
process.on('exit', cleanUp)
process.once('SIGTERM', () => {
  cleanUp()
  process.exit(143)
})

/** Temporary directories of this test process, removed when its tests are done. */
const tempDirs = new Set()
atCleanup(() => {
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // Windows: a file some handle still holds open cannot go yet; it is a temp dir.
    }
  }
})

/**
 * A new temporary directory. Given the test (`tempDir(t)`), it is removed when that test
 * ends, passed or failed; otherwise after the file's last test.
 */
export function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mproxy-test-'))
  tempDirs.add(dir)
  t?.teardown(() => {
    rmSync(dir, { recursive: true, force: true })
    tempDirs.delete(dir)
  })
  return dir
}

/** Deterministic AIS-like text: lines of varying length, `bytes` long (the last line may be cut). */
export function makeText(bytes, seed = 1) {
  const chunks = []
  let size = 0
  let i = 0
  let x = seed
  while (size < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    const line = `!AIVDM,1,1,,${'AB'[i % 2]},${i.toString(36).padStart(8, '0')},0*${(x % 256).toString(16).padStart(2, '0')} ${'abcdefghij'.repeat(x % 23)}\n`
    chunks.push(line)
    size += line.length
    i++
  }
  return Buffer.from(chunks.join('')).subarray(0, bytes)
}

export function writeTemp(dir, name, data) {
  const file = path.join(dir, name)
  writeFileSync(file, data)
  return file
}

export function fileSize(file) {
  return existsSync(file) ? statSync(file).size : 0
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until `check()` is true, or fails after deadline(ms). `what` names the condition in
 * the failure; a function is called then, so it can say how far things got.
 */
export async function waitFor(check, ms = 20_000, what = 'condition') {
  const limit = deadline(ms)
  const end = Date.now() + limit
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${limit / 1000} s waiting for ${typeof what === 'function' ? what() : what}`)
    await sleep(20)
  }
}

/** `promise`, or a rejection with `message` if it has not settled within deadline(ms). */
export async function within(promise, ms, message) {
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), deadline(ms))
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

export async function waitForSize(file, size, ms = 30_000) {
  await waitFor(
    () => fileSize(file) >= size,
    ms,
    () => `${file} to reach ${size} bytes (has ${fileSize(file)})`,
  )
}

export function readFile(file) {
  return readFileSync(file)
}

/** Programs started by the tests and not yet ended: none outlives the test process. */
const running = new Set()
atCleanup(() => {
  for (const child of running) child.kill('SIGKILL')
})

const bins = {
  client: path.join(root, 'dist/cli/client.js'),
  server: path.join(root, 'dist/cli/server.js'),
  proxy: path.join(root, 'dist/cli/proxy.js'),
  reverseproxy: path.join(root, 'dist/cli/reverseproxy.js'),
  mproxy: path.join(root, 'dist/cli/mproxy.js'),
}

/**
 * Runs one of the programs. `listening` resolves with the addresses it reports on stderr
 * (`listening on ADDR`), `exited` with its exit code and everything it printed.
 */
export function runProgram(name, args, { stdin = 'ignore', listeners = 0 } = {}) {
  const child = spawn(process.execPath, [bins[name], ...args], { stdio: [stdin, 'pipe', 'pipe'] })
  running.add(child)
  child.on('close', () => running.delete(child))
  const out = []
  let err = ''
  let onLine = () => {}
  child.stdout.on('data', (d) => out.push(d))
  child.stderr.on('data', (d) => {
    err += d
    onLine()
  })
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: untimed(err), rawStderr: err }))
  })
  const listening = new Promise((resolve, reject) => {
    const found = () => [...err.matchAll(/listening on (\S+)/g)].map((m) => m[1])
    onLine = () => {
      if (listeners > 0 && found().length >= listeners) resolve(found())
    }
    exited.then((r) => reject(new Error(`${name} exited (${r.code}) before listening: ${r.stderr}`)))
  })
  listening.catch(() => undefined)
  return { child, exited, listening, stdout: () => Buffer.concat(out), stderr: () => untimed(err) }
}

/**
 * Log lines without their leading timestamp, so tests compare what a line says (the
 * timestamps themselves are tested on `rawStderr`).
 */
export function untimed(text) {
  return text.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /gm, '')
}

/**
 * How many programs runToEnd runs at once in one test file; the others wait for a slot. A
 * file of many short runs (bad-input's) would otherwise start them all together, and each
 * would take as long as all of them on a machine of two cores.
 */
export const PROGRAM_SLOTS = Math.max(2, availableParallelism())
let slotsInUse = 0
const waitingForSlot = []
async function takeSlot() {
  if (slotsInUse < PROGRAM_SLOTS) slotsInUse++
  else await new Promise((resolve) => waitingForSlot.push(resolve))
}
function giveSlot() {
  const next = waitingForSlot.shift()
  if (next) next()
  else slotsInUse--
}

/**
 * Runs a program to its end (once a slot is free, see PROGRAM_SLOTS) and returns code,
 * stdout and stderr. `hangLimit` (ms, through deadline()) counts from the program's start,
 * not from the wait for a slot: a program still running then is killed and the promise
 * rejects with a line naming it.
 */
export async function runToEnd(name, args, { hangLimit, ...options } = {}) {
  await takeSlot()
  try {
    const program = runProgram(name, args, options)
    if (hangLimit === undefined) return await program.exited
    try {
      return await within(
        program.exited,
        hangLimit,
        `mproxy-${name} ${args.join(' ')} did not exit within ${deadline(hangLimit) / 1000} s of its start`.replace('mproxy-mproxy', 'mproxy'),
      )
    } catch (err) {
      program.child.kill('SIGKILL')
      throw err
    }
  } finally {
    giveSlot()
  }
}

export function stop(program, signal = 'SIGTERM') {
  program.child.kill(signal)
  return program.exited
}

export function portOf(address) {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

/**
 * A veth pair inside the test's namespace, up, with IPv6 duplicate address detection off so
 * link-local addresses (needed to send IPv6 multicast) are usable at once. Given the test
 * (`makeVeth(name, t)`), the pair is removed when that test ends; in any case when the file is.
 */
export function makeVeth(name, t) {
  requireIsolation()
  for (const conf of ['all', 'default']) {
    writeFileSync(`/proc/sys/net/ipv6/conf/${conf}/accept_dad`, '0')
  }
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })
  const remove = () => {
    try {
      ip('link', 'del', `${name}a`)
    } catch {
      // not there (any more)
    }
  }
  remove()
  ip('link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`)
  // Removed (both ends) when the test ends if it is given, and when the file is done: a link
  // left up would give the namespace a multicast route the later tests rely on not having.
  t?.teardown(remove)
  atCleanup(remove)
  ip('link', 'set', `${name}a`, 'up')
  ip('link', 'set', `${name}b`, 'up')
  return [`${name}a`, `${name}b`]
}

/** Waits until the interface has a usable IPv6 link-local address. */
export async function waitLinkLocal(iface) {
  await waitFor(
    () => {
      const text = execFileSync('ip', ['-6', 'addr', 'show', 'dev', iface], { encoding: 'utf8' })
      return /inet6 fe80::\S+ scope link(?! tentative)/.test(text) && !/tentative/.test(text)
    },
    10_000,
    `${iface} link-local address`,
  )
}

/**
 * A loopback UDP port nobody uses right now: bound, read and let go. For a route that must
 * own a fixed port (a reload that moves it) or a destination where nothing listens.
 */
export async function freeUdpPort() {
  const s = dgram.createSocket('udp4')
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve))
  const port = s.address().port
  await new Promise((resolve) => s.close(resolve))
  return port
}
