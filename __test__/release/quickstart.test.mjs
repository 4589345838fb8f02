// The README's quick start, run as written (npm run test:install, after npm run pack:local):
// its commands are read from the README itself (the ```sh blocks under "## Quick start"), so
// the two cannot drift. The install too: the README's `npm install -g` line, run in a directory
// holding the tarballs of pack/ (this platform's in place of the one the README names), with
// npm's global prefix in this run's directory, whose bin/ then comes first on PATH. Every command runs in one network namespace this file creates (`unshare -n`
// as root, `unshare -rn` otherwise), with only `lo`, brought up as on any host (its multicast
// flag left as the kernel sets it), in one empty directory, as the README asks.
//
// How the blocks are read: each starts with `# terminal N: what it is`; one whose first line
// ends with "(keeps running)" is started and left running, as in a terminal of its own, and
// the test waits until it is ready (an mproxy program: a `listening on` line per listening
// flag, and the reverse proxy's group; a TCP reader: one more `TCP client ... connected` in
// the reverse proxy's log). The other blocks run line by line, each line to its end; before a
// `cmp A B` line the test waits until B is as long as A (UDP has no end marker: a person
// typing the line takes longer than the last datagram). At the end of each step, every program
// that keeps running gets SIGINT, as Ctrl-C sends it, and must exit 0; a TCP reader must then
// exit 0 by itself, its stream ended. Files compared by `cmp` are compared here too, byte for byte,
// and what the prose says a program prints (`listening on ...`) must be in its log.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { descendants } from '../processes.mjs'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
const { platformArchABI } = require('../../scripts/platform.js')
const { slowFactor } = require('../../scripts/test-slow.js')
const { version } = require('../../package.json')
const platform = platformArchABI()
const tarballs = [path.join(root, 'pack', `mproxy-${version}.tgz`), path.join(root, 'pack', `mproxy-${platform}-${version}.tgz`)]

/** A deadline: `ms` (at least 10 s), times MPROXY_TEST_SLOW. Waits end as soon as their condition holds. */
const deadline = (ms) => Math.max(ms, 10_000) * slowFactor()

// ---------------------------------------------------------------------------------------
// The quick start, as the README has it.

/** The steps of the README's quick start: { title, blocks: [{ terminal, keepsRunning, text }] }. */
function quickStart() {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Quick start\n')
  if (start < 0) throw new Error('README.md has no "## Quick start" section')
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  return section
    .split(/^### /m)
    .slice(1)
    .map((step) => {
      const title = step.slice(0, step.indexOf('\n')).trim()
      const blocks = [...step.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => {
        const text = m[1]
        const first = /^# terminal (\d+): (.*)$/.exec(text.slice(0, text.indexOf('\n')))
        if (!first) throw new Error(`"${title}": a block does not start with "# terminal N: ...":\n${text}`)
        return { terminal: Number(first[1]), keepsRunning: /\(keeps running\)$/.test(first[2]), text }
      })
      // What the prose says a program prints (`listening on ...`, `TCP client ... connected`).
      const printed = [...step.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/`((?:listening on|TCP client) [^`]+)`/g)].map((m) => m[1])
      return { title, blocks, printed }
    })
}

/** The command lines of a block: continuations joined, comments and blank lines left out. */
const commandLines = (text) =>
  text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))

const STEPS = quickStart()

/** The platform the README's install line names; this machine's takes its place. */
const README_PLATFORM = 'linux-x64-gnu'
/** The README's install line: the `npm install -g` of the two tarballs, in the first block under "## Install". */
const INSTALL = (() => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Install\n'))
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(section)?.[1] ?? ''
  return commandLines(block).find((l) => l.startsWith('npm install -g ')) ?? ''
})()

// ---------------------------------------------------------------------------------------
// Where it runs: a network namespace, the programs installed under a prefix of its own, an empty directory.

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
const UNSHARE = asRoot ? ['-n'] : ['-rn']
/** Why the quick start cannot run here, or undefined. */
function cannotRun() {
  if (process.platform !== 'linux') return 'the quick start is written for Linux (lo, seq)'
  const probe = spawnSync('unshare', [...UNSHARE, '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0)
    return `no network namespace can be made here (unshare ${UNSHARE.join(' ')}: ${probe.error?.message ?? probe.stderr.trim()})`
  for (const tool of ['nsenter', 'seq', 'cmp']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`
  }
  return undefined
}
// In CI as root on Linux (the release rehearsal of `.ci/run`, the release workflow's Linux
// job) everything it needs is there: a skip would hide a broken quick start, so it fails.
const mustRun = process.env.CI !== undefined && process.platform === 'linux' && asRoot
const why = cannotRun()
if (why && mustRun) throw new Error(`the README's quick start must run in CI as root on Linux, but cannot: ${why}`)

const work = mkdtempSync(path.join(tmpdir(), 'mproxy-quickstart-'))
/** Every process started, killed (with its process group) at the end, passed or failed. */
const started = new Set()
let holder
const cleanUp = () => {
  for (const child of started) {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  holder?.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
}
test.after.always(cleanUp)
// ava ends a worker that timed out with SIGTERM, where 'exit' handlers would not run.
process.once('SIGTERM', () => {
  cleanUp()
  process.exit(143)
})

let env
let dir
/** Runs `sh -c command` in the namespace, in the quick start's directory. */
let enter

test.before(async () => {
  if (why) return
  for (const file of tarballs) {
    if (!existsSync(file)) throw new Error(`${path.relative(root, file)} is missing: run npm run pack:local first`)
  }
  // The install, as the README gives it (`npm install -g` of the two tarballs, in the directory
  // holding them), with npm's global prefix in this run's directory (npm_config_prefix) and
  // this platform's package in place of the one the README names.
  const downloads = path.join(work, 'downloads')
  mkdirSync(downloads)
  for (const file of tarballs) copyFileSync(file, path.join(downloads, path.basename(file)))
  const prefix = path.join(work, 'global')
  const line = INSTALL.replaceAll(README_PLATFORM, platform)
  const npm = spawnSync('sh', ['-c', line], {
    cwd: downloads,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: [path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
      npm_config_prefix: prefix,
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  })
  if (npm.status !== 0) throw new Error(`${line} failed (${npm.status}): ${npm.stderr}`)
  env = { ...process.env, PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), process.env.PATH].join(path.delimiter) }
  for (const key of Object.keys(env)) if (/^(npm_|MPROXY_|NOTIFY_SOCKET$|INIT_CWD$)/.test(key)) delete env[key]
  dir = path.join(work, 'quickstart')
  mkdirSync(dir)
  // The namespace: held by a process that lives until this file is done.
  holder = spawn('unshare', [...UNSHARE, '--', process.execPath, '-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'inherit'] })
  const ours = readlinkSync('/proc/self/ns/net')
  const until = Date.now() + deadline(10_000)
  for (;;) {
    let theirs
    try {
      theirs = readlinkSync(`/proc/${holder.pid}/ns/net`)
    } catch {
      // not started yet
    }
    if (theirs && theirs !== ours) break
    if (holder.exitCode !== null || Date.now() > until) throw new Error('the namespace holder did not start')
    await new Promise((r) => setTimeout(r, 20))
  }
  const nsenter = ['nsenter', `--target=${holder.pid}`, ...(asRoot ? [] : ['--user', '--preserve-credentials']), '--net', '--']
  enter = (command, options = {}) =>
    spawn(nsenter[0], [...nsenter.slice(1), 'sh', '-c', command], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options })
  const up = spawnSync(nsenter[0], [...nsenter.slice(1), 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' })
  if (up.status !== 0) throw new Error(`ip link set lo up: ${up.stderr}`)
})

// ---------------------------------------------------------------------------------------
// Processes.

async function waitFor(check, ms, what) {
  const until = Date.now() + deadline(ms)
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** `command` started in the namespace: its output, its end, Ctrl-C. */
function launch(command) {
  const child = enter(command)
  started.add(child)
  const out = []
  let err = ''
  child.stdout.on('data', (d) => out.push(d))
  child.stderr.on('data', (d) => (err += d))
  let result
  const exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      result = { code, signal, stdout: Buffer.concat(out).toString(), stderr: err }
      started.delete(child)
      resolve(result)
    }),
  )
  const ended = async (ms, since) => {
    let timer
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, deadline(ms))))])
    clearTimeout(timer)
    if (!result) throw new Error(`"${command}" did not exit within ${deadline(ms)} ms of ${since} (stderr: ${err})`)
    return result
  }
  return {
    command,
    stderr: () => err,
    done: () => result !== undefined,
    ended,
    /** Ctrl-C: SIGINT to the program (the shell's leaves), as a terminal sends it to the foreground job. */
    interrupt(ms = 15_000) {
      const tree = [child.pid, ...descendants(child.pid)]
      for (const pid of tree.filter((p) => descendants(p).length === 0)) process.kill(pid, 'SIGINT')
      return ended(ms, 'Ctrl-C (SIGINT)')
    },
  }
}

const count = (text, re) => (text.match(new RegExp(re.source, 'g')) ?? []).length
const size = (file) => (existsSync(file) ? statSync(file).size : 0)

/** Starts a block that keeps running and waits until it is ready (see the top of the file). */
async function startRunning(block, running) {
  const [line] = commandLines(block.text)
  const proxies = running.filter((p) => commandLines(p.command)[0].startsWith('mproxy-reverseproxy'))
  const clientsBefore = proxies.reduce((n, p) => n + count(p.stderr(), /TCP client \S+ connected/), 0)
  const p = launch(block.text)
  const failIfDone = () => {
    if (p.done()) throw new Error(`terminal ${block.terminal} ("${line}") exited: ${p.stderr()}`)
  }
  if (line.startsWith('mproxy-')) {
    const listeners = count(line, /--(udp-|tcp-)?listen-addr[ =]|--tcp-output-addr[ =]/)
    await waitFor(
      () => {
        failIfDone()
        return count(p.stderr(), /listening on /) >= listeners
      },
      15_000,
      `"${line}" to print ${listeners} "listening on" lines (stderr: ${p.stderr()})`,
    )
    if (line.startsWith('mproxy-reverseproxy')) await waitFor(() => !failIfDone() && /multicast group /.test(p.stderr()), 15_000, `"${line}" to join its group`)
  } else {
    if (proxies.length === 0)
      throw new Error(`terminal ${block.terminal}: "${line}" keeps running, but the test knows only mproxy programs and TCP readers of a reverse proxy`)
    await waitFor(
      () => !failIfDone() && proxies.reduce((n, q) => n + count(q.stderr(), /TCP client \S+ connected/), 0) > clientsBefore,
      15_000,
      `the reverse proxy to log the client of "${line}"`,
    )
  }
  return p
}

// ---------------------------------------------------------------------------------------
// The tests.

const compared = []

test("the README's install line installs the two tarballs pack/ holds, of this version", (t) => {
  t.is(INSTALL, `npm install -g ./mproxy-${version}.tgz ./mproxy-${README_PLATFORM}-${version}.tgz`)
  t.deepEqual(
    INSTALL.replaceAll(README_PLATFORM, platform).split(' ').slice(3),
    tarballs.map((f) => `./${path.basename(f)}`),
  )
})

test("the README's quick start has the steps this test runs", (t) => {
  t.deepEqual(
    STEPS.map((s) => s.title),
    ['1. A client sends a file to a server', '2. A proxy in the middle, a multicast group behind it', '3. The reverse proxy and a TCP reader'],
  )
  for (const { title, blocks } of STEPS) {
    t.true(blocks.length >= 2, title)
    t.false(blocks.at(-1).keepsRunning, `${title}: its last block runs to its end`)
    t.true(
      blocks.slice(0, -1).every((b) => b.keepsRunning),
      `${title}: the blocks before the last keep running`,
    )
    t.deepEqual(
      blocks.map((b) => b.terminal),
      blocks.map((_, i) => i + 1),
      `${title}: terminals 1, 2, ...`,
    )
    t.true(
      commandLines(blocks.at(-1).text).some((l) => /^cmp /.test(l)),
      `${title}: compares what arrived`,
    )
  }
  t.deepEqual(
    STEPS.map((s) => s.printed),
    [['listening on 127.0.0.1:9920 (udp)'], [], ['TCP client 127.0.0.1:PORT connected']],
  )
})

for (const step of STEPS) {
  const run = why ? test.serial.skip : test.serial
  run(`quick start, ${step.title}${why ? ` (skipped: ${why})` : ''}`, async (t) => {
    const running = []
    t.teardown(() => {
      for (const p of running) if (!p.done()) p.interrupt().catch(() => undefined)
    })
    for (const block of step.blocks.filter((b) => b.keepsRunning)) running.push(await startRunning(block, running))
    for (const block of step.blocks.filter((b) => !b.keepsRunning)) {
      for (const line of commandLines(block.text)) {
        const cmp = /^cmp (\S+) (\S+)/.exec(line)
        if (cmp) {
          const [a, b] = [path.join(dir, cmp[1]), path.join(dir, cmp[2])]
          await waitFor(() => size(a) > 0 && size(b) >= size(a), 30_000, `${cmp[2]} to be as long as ${cmp[1]} (${size(b)} of ${size(a)} bytes)`)
        }
        const r = await launch(line).ended(60_000, 'its start')
        t.is(r.code, 0, `terminal ${block.terminal}: ${line}: ${r.stderr}`)
        t.notRegex(r.stderr, /warn|error/i, `terminal ${block.terminal}: ${line}`)
        if (cmp) {
          t.is(r.stdout, 'identical\n', line)
          const [a, b] = [readFileSync(path.join(dir, cmp[1])), readFileSync(path.join(dir, cmp[2]))]
          t.true(a.length > 1_000_000 && a.equals(b), `${cmp[2]} holds ${cmp[1]} byte for byte (${b.length} of ${a.length} bytes)`)
          compared.push(cmp[2])
        }
      }
    }
    // What the README says the programs print, they print (PORT: any port).
    for (const line of step.printed) {
      const re = new RegExp(line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/PORT/g, '\\d+'))
      t.true(
        running.some((p) => re.test(p.stderr())),
        `a program printed "${line}"`,
      )
    }
    // Ctrl-C in every terminal of an mproxy program; a TCP reader then ends by itself.
    const isMproxy = (p) => commandLines(p.command)[0].startsWith('mproxy-')
    for (const p of running.filter(isMproxy)) {
      const r = await p.interrupt()
      t.is(r.code, 0, `${p.command}: ${r.signal ?? ''} ${r.stderr}`)
      t.notRegex(r.stderr, /warn|error/i, p.command)
    }
    for (const p of running.filter((q) => !isMproxy(q))) {
      const r = await p.ended(15_000, "the reverse proxy's stop")
      t.is(r.code, 0, `${p.command}: ${r.stderr}`)
    }
  })
}

test.serial.after('every file the quick start compares was compared, once', (t) => {
  if (why) return t.pass()
  t.deepEqual(compared, ['received.txt', 'copy-a.txt', 'copy-b.txt', 'from-tcp.txt'])
})
