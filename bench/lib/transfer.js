'use strict'
/**
 * The `transfer` section: how fast does a file get through at the programs' DEFAULT settings,
 * and does all of it arrive? (The client paces itself to a default --rate; this measures what
 * that default gives end to end, next to --rate 0, unpaced.)
 *
 * Two paths, each with the default rate and with --rate 0:
 *
 *   client -> server
 *     mproxy-client --path FILE --server-addr S       mproxy-server --path OUT --listen-addr S
 *   4 hops
 *     mproxy-client -> mproxy-proxy -> mproxy-reverseproxy (UDP input, published to the group
 *     239.255.0.1:PORT on lo, TCP output) -> a Node TCP reader (in the bench) writing OUT
 *
 * Only --verbose is added (it prints the counters at exit, which is how we count datagrams;
 * it changes nothing else). The file is AIS-like text written under os.tmpdir(); every file
 * is removed afterwards, also when the bench is stopped early.
 */
const { spawn, spawnSync } = require('node:child_process')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { REPO, HOST, QUICK } = require('./settings')
const { note } = require('./log')
const { track, waitExit, watchLines, sleep } = require('./processes')
const { cpuSeconds, freePort, udpCounters } = require('./procfs')

const CLI = (name) => path.join(REPO, 'dist', 'cli', `${name}.js`)

/** 200 MB (10^6 bytes) of text; a quick run uses 20. Cut at a line end, so a bit less. */
const TRANSFER_BYTES = (QUICK ? 20 : 200) * 1_000_000
const GROUP = '239.255.0.1'
/**
 * Once the client has exited, the output must stop growing for this long before whatever is
 * still missing counts as lost (the last hops drain their queues within milliseconds).
 */
const QUIET_MS = 1000
/** Hard limit per transfer: at the default 50 MB/s the full file needs about 4 s. */
const RUN_LIMIT_MS = QUICK ? 30_000 : 90_000
/** How often the output's size is sampled (the resolution of the first/last-byte times). */
const POLL_MS = 10
const RATES = [
  { label: 'default', args: [] },
  { label: '0', args: ['--rate', '0'] },
]
const PATHS = ['client->server', '4 hops']

/** Upper bound of the whole section, for the bench's watchdog. */
const TRANSFER_BUDGET_MS = 60_000 + RATES.length * PATHS.length * (RUN_LIMIT_MS + 15_000)

// ---------------------------------------------------------------------------------------
// The input file.
// ---------------------------------------------------------------------------------------

/** The 64 characters of AIS's 6-bit payload armouring. */
const AIS_ALPHABET = '0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw'

/**
 * Writes whole `!AIVDM` sentences (random 28-character payloads, valid checksums) until just
 * under `bytes`; deterministic, so every run sends the same file. Returns size, lines, sha256.
 */
function writeAisFile(file, bytes) {
  let seed = 0x2545f491
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return seed >>> 0
  }
  const hash = createHash('sha256')
  const fd = fs.openSync(file, 'w')
  let written = 0
  let lines = 0
  try {
    for (let full = false; !full; ) {
      const parts = []
      let chunkBytes = 0
      while (chunkBytes < 4 * 1024 * 1024) {
        let payload = ''
        for (let i = 0; i < 28; i += 1) payload += AIS_ALPHABET[random() & 63]
        const body = `AIVDM,1,1,,${random() & 1 ? 'A' : 'B'},${payload},0`
        let sum = 0
        for (let i = 0; i < body.length; i += 1) sum ^= body.charCodeAt(i)
        const line = `!${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\n`
        if (written + chunkBytes + line.length > bytes) {
          full = true
          break
        }
        parts.push(line)
        chunkBytes += line.length
        lines += 1
      }
      const chunk = Buffer.from(parts.join(''), 'latin1')
      fs.writeSync(fd, chunk)
      hash.update(chunk)
      written += chunk.length
    }
  } finally {
    fs.closeSync(fd)
  }
  return { path: file, bytes: written, lines, sha256: hash.digest('hex') }
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    fs.createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')))
  })
}

function fileSize(file) {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

// ---------------------------------------------------------------------------------------
// The programs.
// ---------------------------------------------------------------------------------------

/** One of dist/cli's programs, with its stderr lines kept (readiness lines, counters). */
function startCli(name, args) {
  const child = track(spawn(process.execPath, [CLI(name), ...args], { stdio: ['ignore', 'ignore', 'pipe'] }))
  return { name, args, child, stderr: watchLines(child.stderr, child, `mproxy-${name}`) }
}

async function stopCli(program) {
  if (program.child.exitCode === null && program.child.signalCode === null) program.child.kill('SIGTERM')
  if (!(await waitExit(program.child, 5000))) {
    program.child.kill('SIGKILL')
    await waitExit(program.child, 2000)
    return 'did not exit within 5 s of SIGTERM'
  }
  return program.child.exitCode === 0 ? null : `exit code ${program.child.exitCode} signal ${program.child.signalCode}`
}

/**
 * The counters a program prints with --verbose when it stops, one endpoint per line:
 *   `  udp-listener 127.0.0.1:5000: in 10 datagrams/900 bytes, out 0 datagrams/0 bytes, kernelDrops 3`
 */
function parseCounters(lines) {
  const endpoints = []
  for (const line of lines) {
    const match = /^\s+(\S+) (.+): in (\d+) datagrams\/(\d+) bytes, out (\d+) datagrams\/(\d+) bytes(.*)$/.exec(line)
    if (!match) continue
    const endpoint = {
      kind: match[1],
      name: match[2],
      datagramsIn: Number(match[3]),
      bytesIn: Number(match[4]),
      datagramsOut: Number(match[5]),
      bytesOut: Number(match[6]),
    }
    for (const extra of match[7]
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [key, value] = extra.split(' ')
      if (key && /^\d+$/.test(value || '')) endpoint[key] = Number(value)
    }
    endpoints.push(endpoint)
  }
  return endpoints
}

/** Datagrams lost inside the programs (full socket buffers, full queues, cut datagrams). */
function programDrops(endpoints) {
  return endpoints.reduce((n, e) => n + (e.kernelDrops || 0) + (e.queueDrops || 0) + (e.truncated || 0), 0)
}

/** The client's default --rate as its own --help states it ("... (default 50M)"). */
function defaultRate() {
  const help = spawnSync(process.execPath, [CLI('client'), '--help'], { encoding: 'utf8' })
  const match = /--rate\b.*\(default ([^)]+)\)/.exec(help.stdout || '')
  return match ? match[1] : 'unknown'
}

/**
 * Timestamps of output growth: when the first byte arrived, when the last did, and how many
 * there are now. `seen(bytes)` is called by the poller (file) or on every read (TCP).
 */
function progressTracker() {
  return {
    bytes: 0,
    first: null,
    last: null,
    seen(bytes, at = performance.now()) {
      if (bytes > this.bytes) {
        if (this.first === null) this.first = at
        this.last = at
        this.bytes = bytes
      }
    },
  }
}

/**
 * The last hop of the 4-hop path: a TCP client of the reverse proxy's output that writes the
 * stream to a file, as a user's `nc HOST PORT > file` would. It keeps its sending side open
 * (the reverse proxy reads the end of a client's stream as the client leaving).
 */
function tcpReader(port, file, progress) {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(file)
    const socket = net.connect({ host: HOST, port, allowHalfOpen: true })
    let received = 0
    let closing = null
    // Before the connection: a failure. After it: the reverse proxy stopping, which the byte
    // counts and the checksum already judge.
    socket.on('error', reject)
    out.on('error', reject)
    socket.on('data', (chunk) => {
      received += chunk.length
      progress.seen(received)
    })
    socket.pipe(out, { end: false })
    socket.once('connect', () =>
      resolve({
        close() {
          closing ||= new Promise((done) => {
            socket.unpipe(out)
            socket.destroy()
            out.end(() => done())
          })
          return closing
        },
      }),
    )
  })
}

// ---------------------------------------------------------------------------------------
// One transfer.
// ---------------------------------------------------------------------------------------

/**
 * Sends `input` along `route` ('client->server' or '4 hops') with the client's `rate`, and
 * returns what arrived, how fast, and what each program counted. `extra` flags are given to
 * every program (the bus key section's `--bus-key FILE`).
 */
async function runTransfer(route, rate, input, dir, netns, extra = []) {
  const output = path.join(dir, `received-${route === '4 hops' ? 'chain' : 'server'}-${rate.label}.txt`)
  const programs = []
  const progress = progressTracker()
  let reader = null
  let poller = null
  const deadline = Date.now() + RUN_LIMIT_MS
  const problems = []
  try {
    let target
    if (route === 'client->server') {
      const server = startCli('server', ['--path', output, '--listen-addr', `${HOST}:0`, '--verbose', ...extra])
      programs.push(server)
      target = Number((await server.stderr.waitFor(/listening on 127\.0\.0\.1:(\d+) \(udp\)/))[1])
      poller = setInterval(() => progress.seen(fileSize(output)), POLL_MS)
    } else {
      const groupPort = await freePort()
      const reverse = startCli('reverseproxy', [
        '--udp-listen-addr',
        `${HOST}:0`,
        '--multicast-addr',
        `${GROUP}:${groupPort}`,
        '--multicast-interface',
        'lo',
        '--tcp-output-addr',
        `${HOST}:0`,
        '--verbose',
        ...extra,
      ])
      programs.push(reverse)
      const udpPort = Number((await reverse.stderr.waitFor(/listening on 127\.0\.0\.1:(\d+) \(udp\)/))[1])
      const tcpPort = Number((await reverse.stderr.waitFor(/listening on 127\.0\.0\.1:(\d+) \(tcp output/))[1])
      reader = await tcpReader(tcpPort, output, progress)
      // A TCP output client gets the stream from the moment it is registered: wait for that,
      // or the first datagrams could pass before it.
      await reverse.stderr.waitFor(/TCP client \S+ connected/)
      const proxy = startCli('proxy', ['--udp-listen-addr', `${HOST}:0`, '--udp-downstream-addr', `${HOST}:${udpPort}`, '--verbose', ...extra])
      programs.push(proxy)
      target = Number((await proxy.stderr.waitFor(/listening on 127\.0\.0\.1:(\d+) \(udp\)/))[1])
    }

    const kernelBefore = netns ? udpCounters() : null
    const started = performance.now()
    const client = startCli('client', ['--path', input.path, '--server-addr', `${HOST}:${target}`, '--verbose', ...rate.args, ...extra])
    programs.push(client)
    if (!(await waitExit(client.child, Math.max(0, deadline - Date.now())))) {
      client.child.kill('SIGKILL')
      problems.push(`the client had not finished after ${RUN_LIMIT_MS / 1000} s; stopped`)
    } else if (client.child.exitCode !== 0) {
      problems.push(`mproxy-client exit code ${client.child.exitCode}: ${client.stderr.text()}`)
    }
    // Everything sent is in flight or arrived: wait for the rest, or for the output to stall.
    const clientDone = performance.now()
    while (progress.bytes < input.bytes && Date.now() < deadline) {
      const lastGrowth = progress.last === null ? clientDone : Math.max(progress.last, clientDone)
      if (performance.now() - lastGrowth >= QUIET_MS) break
      await sleep(POLL_MS)
    }
    if (poller) {
      clearInterval(poller)
      poller = null
    }

    // CPU each relaying program used (the client has exited), read before they stop.
    const cpu = Object.fromEntries(programs.filter((p) => p !== client).map((p) => [p.name, cpuSeconds(p.child.pid)]))
    // Stop upstream first, so the downstream programs have drained what was sent to them.
    for (const program of [...programs].reverse()) {
      if (program === client) continue
      const trouble = await stopCli(program)
      if (trouble) problems.push(`mproxy-${program.name} ${trouble}`)
    }
    if (reader) await reader.close()
    const kernelAfter = kernelBefore ? udpCounters() : null
    const outputBytes = fileSize(output)
    if (outputBytes > progress.bytes) {
      // Written only while the server drained at SIGTERM, after the output had gone quiet.
      problems.push(`${outputBytes - progress.bytes} bytes reached the output only at shutdown (not in the timing)`)
    }
    const sha256 = outputBytes > 0 ? await sha256File(output) : null

    const counters = Object.fromEntries(programs.map((p) => [p.name, parseCounters(p.stderr.lines)]))
    const sentBy = (counters.client || []).find((e) => e.kind === 'udp-destination')
    // The last UDP receive of the path: the server's listener, or the group's subscriber.
    const lastUdp =
      route === 'client->server'
        ? (counters.server || []).find((e) => e.kind === 'udp-listener')
        : (counters.reverseproxy || []).find((e) => e.kind === 'udp-listener' && e.name.startsWith(`${GROUP}:`))
    const seconds = progress.first !== null && progress.last > progress.first ? (progress.last - progress.first) / 1000 : null
    return {
      route,
      rate: rate.label,
      inputBytes: input.bytes,
      outputBytes,
      identical: outputBytes === input.bytes && sha256 === input.sha256,
      sha256,
      seconds,
      wallSeconds: progress.last === null ? null : (progress.last - started) / 1000,
      bytesPerSecond: seconds ? progress.bytes / seconds : null,
      datagramsSent: sentBy ? sentBy.datagramsOut : null,
      datagramsReceived: lastUdp ? lastUdp.datagramsIn : null,
      datagramsLost: sentBy && lastUdp ? sentBy.datagramsOut - lastUdp.datagramsIn : null,
      // Receive-buffer overflows the namespace's kernel counted during the run (null when we
      // share the host's counters, which other traffic moves too).
      kernelRcvbufErrors: kernelBefore && kernelAfter ? kernelAfter.RcvbufErrors - kernelBefore.RcvbufErrors : null,
      drops: Object.fromEntries(Object.entries(counters).map(([name, endpoints]) => [name, programDrops(endpoints)])),
      counters,
      cpu,
      problems,
    }
  } finally {
    if (poller) clearInterval(poller)
    for (const program of programs) if (program.child.exitCode === null && program.child.signalCode === null) program.child.kill('SIGKILL')
    if (reader) await reader.close()
    fs.rmSync(output, { force: true })
  }
}

// ---------------------------------------------------------------------------------------
// The section.
// ---------------------------------------------------------------------------------------

/**
 * The 4-hop path needs multicast on loopback. In our own namespace we switch it on; on the
 * host's loopback (no namespace) we do not change the host's interface, and say so.
 */
function prepareMulticast(netns) {
  if (netns) {
    const on = spawnSync('ip', ['link', 'set', 'lo', 'multicast', 'on'], { encoding: 'utf8' })
    if (on.status !== 0) return `ip link set lo multicast on failed: ${(on.stderr || '').trim()}`
    return null
  }
  const show = spawnSync('ip', ['-o', 'link', 'show', 'lo'], { encoding: 'utf8' })
  return /MULTICAST/.test(show.stdout || '') ? null : "the host's lo has no MULTICAST flag and the bench does not change host interfaces"
}

/** Runs every (path, rate) transfer. Returns `{ file, defaultRate, runs, skipped }`. */
async function benchTransfer({ netns }) {
  const multicastProblem = prepareMulticast(netns)
  if (multicastProblem) note(`4-hop transfer skipped: ${multicastProblem}`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-bench-'))
  // However the bench ends (watchdog, signal, error), the 200 MB files go with it.
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true })
  process.on('exit', removeDir)
  try {
    const started = Date.now()
    const input = writeAisFile(path.join(dir, 'ais.txt'), TRANSFER_BYTES)
    note(`transfer: wrote ${(input.bytes / 1e6).toFixed(1)} MB (${input.lines} lines) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const runs = []
    const skipped = {}
    for (const rate of RATES) {
      for (const route of PATHS) {
        const key = `${route} --rate ${rate.label}`
        if (route === '4 hops' && multicastProblem) {
          skipped[key] = multicastProblem
          continue
        }
        try {
          const run = await runTransfer(route, rate, input, dir, netns)
          runs.push(run)
          note(
            `transfer ${key}: ${run.bytesPerSecond ? (run.bytesPerSecond / 1e6).toFixed(1) : 'n/a'} MB/s, lost ${run.datagramsLost ?? 'n/a'} datagrams, identical ${run.identical ? 'yes' : 'NO'}`,
          )
        } catch (err) {
          skipped[key] = `failed: ${err.message}`
          note(`transfer ${key} failed: ${err.message}`)
        }
      }
    }
    return { file: { bytes: input.bytes, lines: input.lines, sha256: input.sha256 }, defaultRate: defaultRate(), runs, skipped }
  } finally {
    removeDir()
    process.removeListener('exit', removeDir)
  }
}

module.exports = { benchTransfer, runTransfer, writeAisFile, prepareMulticast, TRANSFER_BUDGET_MS, RUN_LIMIT_MS, TRANSFER_BYTES, GROUP, QUIET_MS, POLL_MS }
