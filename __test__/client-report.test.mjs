// What the client says about a transfer: on a terminal (a real pseudo-terminal, python3's pty
// module) a progress line redrawn in place and one summary line; --quiet silences both;
// without a terminal only the summary, and only with --verbose. Exit 1, with one error line,
// when every destination refused every datagram; a silent or multicast destination never
// counts as refusing.
import test from 'ava'
import dgram from 'node:dgram'
import { spawn, execFileSync } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { freeUdpPort, requireIsolation, root, runToEnd, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { notUnderWine, onWindows, unixOnly, WHY } from './platform.mjs'

// How a refusal is named: Linux reads the ICMP error itself; Windows only learns that a send was refused.
const REFUSED = onWindows ? 'refused by the destination (ICMP)' : 'port unreachable (ICMP from the destination)'

const CLIENT = path.join(root, 'dist/cli/client.js')

// Runs argv on a new pseudo-terminal (its stdin, stdout and stderr) and passes on all it printed.
const PTY = `
import os, sys
pid, fd = os.forkpty()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`

/** Runs the client on a terminal; resolves with its exit code and the terminal's bytes. */
function onTerminal(t, args) {
  const child = spawn('python3', ['-c', PTY, process.execPath, CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  const out = []
  child.stdout.on('data', (d) => out.push(d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, text: Buffer.concat(out).toString() })))
}

/** A UDP receiver on loopback that counts what arrives. */
async function sink(t) {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 })
  const s = { datagrams: 0, bytes: 0, addr: '' }
  socket.on('message', (m) => {
    s.datagrams++
    s.bytes += m.length
  })
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  t.teardown(() => socket.close())
  s.addr = `127.0.0.1:${socket.address().port}`
  return s
}

/** The terminal's text as the successive states of its last line, and the finished lines. */
function screens(text) {
  const lines = text.split('\r\n')
  const redraws = lines
    .flatMap((l) => l.split('\r'))
    .map((l) => l.replaceAll('\x1b[K', ''))
    .filter((l) => l !== '')
  return { redraws, lines: lines.map((l) => l.split('\r').at(-1).replaceAll('\x1b[K', '')).filter((l) => l !== '') }
}

const SIZE = /[\d.]+ (?:B|kB|MB|GB)/.source
const LINE = '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\n'
const data = (bytes) => Buffer.from(LINE.repeat(Math.ceil(bytes / LINE.length))).subarray(0, bytes)

unixOnly('a pseudo-terminal (python3 pty)')('on a terminal: a progress line with percent, rate, time left and losses, then one summary line', async (t) => {
  const dir = tempDir()
  const input = writeTemp(dir, 'in.txt', data(4_000_000))
  const s = await sink(t)
  const r = await onTerminal(t, ['--path', input, '--server-addr', s.addr, '--rate', '4M', '--no-timestamps'])
  t.is(r.code, 0, r.text)
  await waitFor(() => s.bytes === 4_000_000, 10_000, 'every byte at the receiver')
  const { redraws, lines } = screens(r.text)
  const progress = redraws.filter((l) => l.includes('% '))
  t.true(progress.length >= 1, r.text)
  let last = -1
  for (const line of progress) {
    const m = new RegExp(`^mproxy-client: (\\d+)% ${SIZE} of 4\\.0 MB, ${SIZE}/s, (?:\\d+:\\d\\d|-:--) left; refused 0$`).exec(line)
    t.truthy(m, line)
    t.true(Number(m?.[1]) >= last, 'the percentage never goes back')
    last = Number(m?.[1])
  }
  // The progress line is erased: what stays on the terminal is the summary alone.
  t.is(lines.length, 1, JSON.stringify(lines))
  t.regex(lines[0], new RegExp(`^mproxy-client: sent ${s.datagrams.toLocaleString('en-US')} datagrams, 4\\.0 MB in \\d+\\.\\d+ s \\(${SIZE}/s\\); refused 0$`))
})

unixOnly('mkfifo, a pseudo-terminal (python3 pty)')('on a terminal, from a FIFO (size unknown): bytes, rate and time elapsed', async (t) => {
  const dir = tempDir()
  const fifo = path.join(dir, 'feed')
  execFileSync('mkfifo', [fifo])
  const s = await sink(t)
  const running = onTerminal(t, ['--path', fifo, '--server-addr', s.addr, '--no-timestamps'])
  const writer = createWriteStream(fifo)
  writer.end(data(1_000_000))
  const r = await running
  t.is(r.code, 0, r.text)
  const { redraws, lines } = screens(r.text)
  const progress = redraws.filter((l) => l.includes('elapsed'))
  t.true(progress.length >= 1, r.text)
  for (const line of progress) t.regex(line, new RegExp(`^mproxy-client: ${SIZE}, ${SIZE}/s, \\d+:\\d\\d elapsed; refused 0$`))
  t.is(lines.length, 1, JSON.stringify(lines))
  await waitFor(() => s.bytes === 1_000_000, 10_000, 'every byte at the receiver')
  t.regex(lines[0], new RegExp(`^mproxy-client: sent ${s.datagrams.toLocaleString('en-US')} datagrams, 1\\.0 MB in \\d+\\.\\d+ s \\(${SIZE}/s\\); refused 0$`))
})

unixOnly('a pseudo-terminal (python3 pty)')('--quiet on a terminal prints nothing at all', async (t) => {
  const dir = tempDir()
  const s = await sink(t)
  const r = await onTerminal(t, ['--path', writeTemp(dir, 'in.txt', data(500_000)), '--server-addr', s.addr, '--quiet'])
  t.is(r.code, 0)
  t.is(r.text, '')
})

test('without a terminal: nothing, and with --verbose the summary and the counters in words', async (t) => {
  const dir = tempDir()
  const input = writeTemp(dir, 'in.txt', data(2_000_000))
  const s = await sink(t)
  const plain = await runToEnd('client', ['--path', input, '--server-addr', s.addr])
  t.is(plain.code, 0)
  t.is(plain.stderr, '')
  const verbose = await runToEnd('client', ['--path', input, '--server-addr', s.addr, '--verbose', '--no-timestamps'])
  t.is(verbose.code, 0, verbose.stderr)
  t.false(verbose.stderr.includes('\r'))
  const lines = verbose.stderr.trimEnd().split('\n')
  const datagrams = /into ([\d,]+) datagrams/.exec(verbose.stderr)?.[1]
  t.deepEqual(
    lines.map((l) => l.replace(/\d+\.\d+ s/g, 'T s').replace(/\(\d+\.\d+ MB\/s\)/, '(R MB/s)')),
    [
      'mproxy-client: stopping (input complete)',
      'mproxy-client: counters after T s',
      `  udp-destination ${s.addr}: sent ${datagrams} datagrams, 2,000,000 bytes (2.0 MB)`,
      `  input ${input}: read 2,000,000 bytes (2.0 MB) into ${datagrams} datagrams`,
      // Where the OS does not count its kernel's drops (macOS, Windows), the counters say so.
      ...(process.platform === 'linux' ? [] : ['  not counted on this OS: kernelDrops']),
      `mproxy-client: sent ${datagrams} datagrams, 2.0 MB in T s (R MB/s); refused 0`,
    ],
  )
})

test("an output's own stages are not input stages in the summary", async (t) => {
  const dir = tempDir()
  // Three lines a datagram (packed), split into one datagram each by the output's stage.
  const input = writeTemp(dir, 'lines.txt', 'one\ntwo\nthree\n')
  const s = await sink(t)
  const r = await runToEnd('client', ['--path', input, '--server-addr', s.addr, '--one-line-per-datagram', '--verbose', '--no-timestamps'])
  t.is(r.code, 0, r.stderr)
  const summary = r.stderr.trimEnd().split('\n').at(-1)
  t.regex(summary, /^mproxy-client: sent 1 datagram, 14 B in \d+\.\d+ s \(.*\); refused 0$/)
  t.false(r.stderr.includes('dropped by input stages'), r.stderr)
})

notUnderWine(WHY.wineIcmp)('every datagram refused by every destination: exit 1 with one error line', async (t) => {
  const dir = tempDir()
  const input = writeTemp(dir, 'in.txt', data(300_000))
  const [a, b] = [`127.0.0.1:${await freeUdpPort()}`, `127.0.0.1:${await freeUdpPort()}`]
  for (const dests of [[a], [a, b]]) {
    const r = await runToEnd('client', ['--path', input, '--no-timestamps', ...dests.flatMap((d) => ['--server-addr', d])])
    t.is(r.code, 1, r.stderr)
    const errors = r.stderr.split('\n').filter((l) => l.includes('error:'))
    t.deepEqual(errors, [`mproxy-client: error: nothing was delivered: every datagram was refused (${dests.map((d) => `${d}: ${REFUSED}`).join('; ')})`])
    t.false(/\n\s+at /.test(r.stderr), 'no stack trace')
  }
  // One destination that takes them: the transfer did something, exit 0.
  const s = await sink(t)
  const r = await runToEnd('client', ['--path', input, '--server-addr', a, '--server-addr', s.addr])
  t.is(r.code, 0, r.stderr)
  t.false(r.stderr.includes('error:'))
})

test('a multicast destination never counts as refusing', async (t) => {
  requireIsolation()
  const dir = tempDir()
  const input = writeTemp(dir, 'in.txt', data(300_000))
  const closed = `127.0.0.1:${await freeUdpPort()}`
  for (const dests of [['239.77.1.2:9999'], ['239.77.1.2:9999', closed]]) {
    const r = await runToEnd('client', ['--path', input, '--multicast-interface', 'lo', ...dests.flatMap((d) => ['--server-addr', d])])
    t.is(r.code, 0, r.stderr)
    t.false(r.stderr.includes('error:'), r.stderr)
  }
})
