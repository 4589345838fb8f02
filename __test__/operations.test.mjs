// Running a single program as a service: signals that always work (even on a saturated
// route), rotation and retention from the command line, the client's local copy, following a
// growing file, metrics, periodic stats and log formats, and one-line errors for each flag.
import test from 'ava'
import dgram from 'node:dgram'
import { appendFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { freeUdpPort, makeText, readFile, runProgram, runToEnd, stop, tempDir, waitFor, within, writeTemp } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

async function sendDatagrams(address, datagrams) {
  const at = address.lastIndexOf(':')
  const s = dgram.createSocket('udp4')
  for (const d of datagrams) await new Promise((r, j) => s.send(d, Number(address.slice(at + 1)), address.slice(0, at), (e) => (e ? j(e) : r())))
  await new Promise((r) => s.close(r))
}

/** Milliseconds from `signal` to the program's exit, and how it exited. */
async function timeSignal(program, signal) {
  const sent = process.hrtime.bigint()
  program.child.kill(signal)
  const r = await program.exited
  return { ...r, ms: Number(process.hrtime.bigint() - sent) / 1e6 }
}

unixOnly(WHY.signals)('two proxies forwarding to each other (a saturated loop) stop within 2 s of SIGINT', async (t) => {
  const [portA, portB] = [await freeUdpPort(), await freeUdpPort()]
  const a = runProgram('proxy', ['--udp-listen-addr', `127.0.0.1:${portA}`, '--udp-downstream-addr', `127.0.0.1:${portB}`], { listeners: 1 })
  const b = runProgram('proxy', ['--udp-listen-addr', `127.0.0.1:${portB}`, '--udp-downstream-addr', `127.0.0.1:${portA}`], { listeners: 1 })
  const [addrA] = await a.listening
  await b.listening
  // Datagrams that circle forever: both routes are as busy as they can be.
  await sendDatagrams(
    addrA,
    Array.from({ length: 256 }, (_, i) => Buffer.from(`loop ${i}\n`)),
  )
  await new Promise((r) => setTimeout(r, 500))
  for (const p of [a, b]) {
    // 2 s on an idle machine; a hang limit (through deadline()) on a busy one.
    const r = await within(timeSignal(p, 'SIGINT'), 2000, 'a proxy of the loop did not stop on SIGINT')
    t.is(r.code, 0, r.stderr)
  }
})

unixOnly(WHY.signals)('a second SIGTERM while stopping exits at once with code 1', async (t) => {
  const dir = tempDir()
  // Stopping waits (up to 5 s) for a stdout nobody reads: the first signal cannot finish soon.
  const srv = runProgram('server', ['--path', '-', '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  srv.child.stdout.pause()
  const [addr] = await srv.listening
  const input = writeTemp(dir, 'in.txt', makeText(4_000_000, 3))
  t.is((await runToEnd('client', ['--path', input, '--server-addr', addr])).code, 0)
  srv.child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 300))
  t.is(srv.child.exitCode, null, 'still stopping after the first signal')
  const r = await timeSignal(srv, 'SIGTERM')
  t.is(r.code, 1)
  // Well before the 5 s the first signal's stop waits for (about 10 ms on an idle machine).
  t.true(r.ms < 4000, `the second signal took ${r.ms.toFixed(0)} ms`)
})

unixOnly(WHY.signals)('SIGUSR1 prints the counters and the program keeps running', async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'out.txt')
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  // Announced once the signal handlers are in place.
  await srv.listening
  srv.child.kill('SIGUSR1')
  await waitFor(
    () => /counters after \d+\.\d+ s\n(?: {2}.*\n)* {2}udp-listener 127\.0\.0\.1:\d+: received 0 datagrams, 0 bytes\n/.test(srv.stderr()),
    10_000,
    'counters',
  )
  t.is(srv.child.exitCode, null)
  t.is((await stop(srv, 'SIGINT')).code, 0)
})

/** Files of `dir` whose names start with `base`, in name order (rotated ones sort by time). */
function filesOf(dir, base) {
  return readdirSync(dir)
    .filter((f) => f.startsWith(base))
    .sort((a, b) => (a === base ? 1 : b === base ? -1 : a.localeCompare(b, 'en', { numeric: true })))
}

unixOnly(WHY.signals)('--rotate SIZE on the server: no file passes the size, and together they hold every byte once, in order', async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'ais.log')
  const data = makeText(1_000_000, 5)
  // Larger than one received batch (64 datagrams of 1472 bytes): every rotated file is within it.
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0', '--rotate', '100k', '--verbose'], { listeners: 1 })
  const [addr] = await srv.listening
  const input = writeTemp(dir, 'input.txt', data)
  t.is((await runToEnd('client', ['--path', input, '--server-addr', addr, '--rate', '2M'])).code, 0)
  const r = await stop(srv, 'SIGINT')
  t.is(r.code, 0, r.stderr)
  t.notRegex(r.stderr, /lost/)
  const files = filesOf(dir, 'ais.log')
  t.true(files.length >= 1_000_000 / 102_400, `${files.length} files`)
  for (const f of files.slice(0, -1)) {
    t.regex(f, /^ais\.log\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d+)?$/)
    t.true(readFile(path.join(dir, f)).length <= 102_400, `${f} is ${readFile(path.join(dir, f)).length} bytes`)
  }
  t.true(Buffer.concat(files.map((f) => readFile(path.join(dir, f)))).equals(data))
})

unixOnly(WHY.signals)('--keep N leaves the newest N rotated files and the active one', async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'feed.log')
  const data = makeText(200_000, 6)
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0', '--rotate', '10240', '--keep', '3'], { listeners: 1 })
  const [addr] = await srv.listening
  t.is((await runToEnd('client', ['--path', writeTemp(dir, 'input.txt', data), '--server-addr', addr, '--rate', '2M'])).code, 0)
  t.is((await stop(srv, 'SIGINT')).code, 0)
  const files = filesOf(dir, 'feed.log')
  t.is(files.length, 4, files.map((f) => `${f} (${readFile(path.join(dir, f)).length})`).join(' '))
  // What is left is the end of the stream, whole.
  const kept = Buffer.concat(files.map((f) => readFile(path.join(dir, f))))
  t.true(data.subarray(data.length - kept.length).equals(kept))
})

unixOnly(WHY.signals)('--copy-path: the client keeps a local copy of exactly what it sent, rotated by --rotate', async (t) => {
  const dir = tempDir()
  const data = makeText(2_000_000, 7)
  const out = path.join(dir, 'received.log')
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  const [addr] = await srv.listening
  const copy = path.join(dir, 'sent.log')
  const r = await runToEnd('client', [
    '--path',
    writeTemp(dir, 'input.txt', data),
    '--server-addr',
    addr,
    '--copy-path',
    copy,
    '--rotate',
    '300k',
    '--keep',
    '7d',
    '--rate',
    '20M',
    '--verbose',
  ])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stderr, /copy \S*sent\.log: wrote [\d,]+ datagrams, 2,000,000 bytes \(2\.0 MB\)\n/)
  // The client reads 128 KiB at a time: each rotated copy holds whole reads, at most 300 KiB.
  const files = filesOf(dir, 'sent.log')
  t.true(files.length >= 6, files.join(' '))
  for (const f of files) t.true(readFile(path.join(dir, f)).length <= 300 * 1024)
  t.true(Buffer.concat(files.map((f) => readFile(path.join(dir, f)))).equals(data))
  await waitFor(() => readFile(out).length === data.length, 10_000, 'the server to get everything')
  t.true(readFile(out).equals(data))
  await stop(srv)
})

unixOnly(WHY.signals)('--follow: the client sends what is appended to the file until it is stopped', async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'received.log')
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  const [addr] = await srv.listening
  const input = writeTemp(dir, 'growing.log', 'first line\n')
  const client = runProgram('client', ['--path', input, '--server-addr', addr, '--follow', '--verbose'])
  await waitFor(() => readFile(out).toString() === 'first line\n', 10_000, 'the first line')
  appendFileSync(input, 'second line\n')
  appendFileSync(input, 'third line\n')
  await waitFor(() => readFile(out).toString() === 'first line\nsecond line\nthird line\n', 10_000, 'the appended lines')
  t.is(client.child.exitCode, null, 'a followed file does not end the client')
  const r = await stop(client, 'SIGINT')
  t.is(r.code, 0, r.stderr)
  await stop(srv)
})

unixOnly(WHY.signals)("--metrics-addr serves the program's counters; --stats-interval prints rates; --log-format json", async (t) => {
  const dir = tempDir()
  const out = path.join(dir, 'out.txt')
  const srv = runProgram(
    'server',
    ['--path', out, '--listen-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0', '--stats-interval', '1', '--log-format', 'json'],
    { listeners: 1 },
  )
  const [addr] = await srv.listening
  const metricsAt = await within(
    (async () => {
      await waitFor(() => /metrics at http:\/\/(\S+)\/metrics/.test(srv.stderr()))
      return /metrics at http:\/\/(\S+?)\/metrics/.exec(srv.stderr())[1]
    })(),
    10_000,
    'no metrics line',
  )
  await sendDatagrams(addr, [Buffer.from('one\n'), Buffer.from('two\n')])
  await waitFor(() => readFile(out).length === 8)
  const body = await (await fetch(`http://${metricsAt}/metrics`)).text()
  t.regex(body, /^mproxy_datagrams_in_total\{route="mproxy-server",kind="udp-listener",endpoint="127\.0\.0\.1:\d+"\} 2$/m)
  t.regex(body, /^mproxy_bytes_out_total\{route="mproxy-server",kind="file",endpoint="[^"]*out\.txt"\} 8$/m)
  await waitFor(() => /stats: in /.test(srv.stderr()), 5000, 'a stats line')
  const r = await stop(srv, 'SIGINT')
  t.is(r.code, 0)
  const lines = r.stderr
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.true(lines.every((l) => l.program === 'mproxy-server' && typeof l.time === 'string' && typeof l.message === 'string'))
  t.true(lines.some((l) => /^stats: in [\d.]+ datagrams\/s [\d.]+ MB\/s, out [\d.]+ datagrams\/s [\d.]+ MB\/s; no loss$/.test(l.message)))
})

test('log lines carry a timestamp unless --no-timestamps (or journald reads stderr)', async (t) => {
  const dir = tempDir()
  const args = ['--path', path.join(dir, 'o.txt'), '--listen-addr', '127.0.0.1:0']
  const stamped = runProgram('server', [...args, '--timestamps'], { listeners: 1 })
  await stamped.listening
  t.regex((await stop(stamped)).rawStderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z mproxy-server: listening on 127\.0\.0\.1:\d+ \(udp\)$/m)
  const plain = runProgram('server', [...args, '--no-timestamps'], { listeners: 1 })
  await plain.listening
  t.regex((await stop(plain)).rawStderr, /^mproxy-server: listening on 127\.0\.0\.1:\d+ \(udp\)$/m)
})

const BAD = [
  ['server', ['--rotate', 'weekly'], '--rotate: "weekly" is not hourly, daily or a size (for example 100M; k, M, G are 1024-based)'],
  ['server', ['--rotate', 'daily', '--keep', '0'], '--keep: "0" is not a number of files (for example 30) or an age (for example 7d, 12h, 90m)'],
  ['server', ['--keep', '3'], '--keep needs --rotate: only rotated files are kept or removed'],
  ['server', ['--rotate', 'daily', '--path-stdout'], null],
  ['client', ['--rotate', 'daily'], '--rotate needs --copy-path: the client rotates only its local copy'],
  ['client', ['--copy-path', '-'], '--copy-path must be a file; use --tee to copy to stdout'],
  ['client', ['--baud', 'fast'], '--baud: "fast" is not a whole number from 1 to 4000000'],
  ['client', ['--baud', '9600'], null],
  ['client', ['--baud', '12345', '--path-file'], '--baud: 12345 is not a speed this system supports'],
  ['client', ['--baud', '9600', '--path-file'], '--baud: 9600 needs a serial device; FILE is not a terminal'],
  ['server', ['--metrics-addr', 'nowhere'], '--metrics-addr: "nowhere" has no port; expected HOST:PORT'],
  ['server', ['--stats-interval', '0'], '--stats-interval: "0" is not a whole number from 1 to 86400'],
  ['server', ['--log-format', 'xml'], '--log-format: "xml" is not one of text, json'],
  ['server', ['--timestamps', '--no-timestamps'], '--timestamps and --no-timestamps cannot both be given'],
]

for (const [program, extra, expected] of BAD) {
  const declare = expected?.includes('needs a serial device') ? unixOnly(WHY.serial) : test
  declare(`bad flag: ${program} ${extra.join(' ')}`, async (t) => {
    const dir = tempDir()
    const file = writeTemp(dir, 'in.txt', 'x\n')
    let args
    if (program === 'server') args = ['--path', extra.includes('--path-stdout') ? '-' : path.join(dir, 'o.txt'), '--listen-addr', '127.0.0.1:0']
    else args = ['--path', extra.includes('--path-file') ? file : '-', '--server-addr', '127.0.0.1:9']
    const r = await runToEnd(program, [...args, ...extra.filter((a) => !a.startsWith('--path-'))])
    const want = expected ?? (program === 'server' ? '--rotate needs a file --path, not - (stdout)' : '--baud needs a serial device --path, not - (stdin)')
    t.is(r.stderr, `mproxy-${program}: ${want.replace('FILE', file)}\n`)
    t.is(r.code, 2)
  })
}
