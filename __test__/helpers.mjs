// Shared test helpers: programs as child processes, test data, files, and the network
// namespace guard. Every test runs inside the namespace `npm test` creates (see
// scripts/test.js); `requireIsolation` refuses to touch multicast or veth outside it.
import { spawn, execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
/** The package as a user gets it. */
export const mproxy = require(root)

export function requireIsolation() {
  if (process.env.MPROXY_TEST_NETNS !== '1') {
    throw new Error('this test sends multicast or uses veth links: run it through `npm test`, which creates a network namespace')
  }
}

/** Temporary directories of this test process, removed when it exits. */
const tempDirs = []
process.on('exit', () => {
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // Windows: a file some handle still holds open cannot go yet; it is a temp dir.
    }
  }
})

export function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mproxy-test-'))
  tempDirs.push(dir)
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

/** Waits until `check()` is true, or fails after `ms`. */
export async function waitFor(check, ms = 20_000, what = 'condition') {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** `promise`, or a rejection with `message` if it has not settled within `ms`. */
export async function within(promise, ms, message) {
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

export async function waitForSize(file, size, ms = 30_000) {
  await waitFor(() => fileSize(file) >= size, ms, `${file} to reach ${size} bytes (has ${fileSize(file)})`)
}

export function readFile(file) {
  return readFileSync(file)
}

/** Programs started by the tests and not yet ended: none outlives the test process. */
const running = new Set()
process.on('exit', () => {
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

/** Runs a program to its end and returns code, stdout and stderr. */
export function runToEnd(name, args, options) {
  return runProgram(name, args, options).exited
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
 * link-local addresses (needed to send IPv6 multicast) are usable at once.
 */
export function makeVeth(name) {
  requireIsolation()
  for (const conf of ['all', 'default']) {
    writeFileSync(`/proc/sys/net/ipv6/conf/${conf}/accept_dad`, '0')
  }
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })
  try {
    ip('link', 'del', `${name}a`)
  } catch {
    // not there yet
  }
  ip('link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`)
  ip('link', 'set', `${name}a`, 'up')
  ip('link', 'set', `${name}b`, 'up')
  return [`${name}a`, `${name}b`]
}

/** Waits until the interface has a usable IPv6 link-local address. */
export async function waitLinkLocal(iface) {
  await waitFor(() => {
    const text = execFileSync('ip', ['-6', 'addr', 'show', 'dev', iface], { encoding: 'utf8' })
    return /inet6 fe80::\S+ scope link(?! tentative)/.test(text) && !/tentative/.test(text)
  }, 10_000, `${iface} link-local address`)
}
