// `mproxy --config FILE` and `mproxy check --config FILE` as a service manager runs them: every
// kind of route from one file, bad configs refused in one line with the path and exit code,
// SIGHUP reloading (an invalid file keeps the old config) and reopening output files,
// SIGUSR1 printing counters, metrics served from the config.
import test from 'ava'
import dgram from 'node:dgram'
import http from 'node:http'
import net from 'node:net'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileSize, readFile, requireIsolation, runProgram, runToEnd, sleep, tempDir, waitFor } from './helpers.mjs'
import { notUnderWine, unixOnly, WHY } from './platform.mjs'

const dir = tempDir()
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
function configFile(text, ext = 'yaml') {
  const file = path.join(dir, `config-${n++}.${ext}`)
  writeFileSync(file, text)
  return file
}

/** `check` on a config, expecting one line on stderr and an exit code. */
const BAD = [
  [
    'unknown option with a suggestion',
    'routes:\n  - name: a\n    kind: proxy\n    udpListenAddrs: "127.0.0.1:0"\n    udpDownstremAddrs: "127.0.0.1:9"\n',
    2,
    'routes[0].udpDownstremAddrs: unknown option; did you mean udpDownstreamAddrs?',
  ],
  [
    'port out of range in a list',
    'routes:\n  - name: a\n    kind: server\n    path: out.txt\n    listenAddrs: "127.0.0.1:0"\n  - name: b\n    kind: server\n    path: out2.txt\n    listenAddrs: "127.0.0.1:0"\n  - name: c\n    kind: proxy\n    udpListenAddrs: "127.0.0.1:0"\n    udpDownstreamAddrs: ["127.0.0.1:9", "x:99999"]\n',
    2,
    'routes[2].udpDownstreamAddrs[1]: "x:99999" has a port above 65535',
  ],
  ['unknown kind', 'routes:\n  - name: a\n    kind: clientt\n', 2, 'routes[0].kind: "clientt" is not one of client, server, proxy, reverseproxy'],
  ['missing kind', 'routes:\n  - name: a\n', 2, 'routes[0].kind is required: one of client, server, proxy, reverseproxy'],
  ['no routes', 'routes: []\n', 2, 'routes is empty: give at least one route'],
  ['routes missing', 'metrics:\n  addr: "127.0.0.1:0"\n', 2, 'routes is required: a list of routes'],
  ['routes not a list', 'routes: 5\n', 2, 'routes must be a list of routes'],
  ['a route that is not an object', 'routes: [5]\n', 2, 'routes[0] must be a route: { name, kind, ...options }'],
  [
    'duplicate names',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0" }\n  - { name: a, kind: server, path: y, listenAddrs: "127.0.0.1:0" }\n',
    2,
    'routes[1].name: "a" is also the name of routes[0]; route names must be unique',
  ],
  [
    'a name with spaces',
    'routes:\n  - { name: "a b", kind: server, path: x, listenAddrs: "127.0.0.1:0" }\n',
    2,
    'routes[0].name: may hold only letters, digits, _ . -',
  ],
  ['a required option missing', 'routes:\n  - { name: a, kind: server, listenAddrs: "127.0.0.1:0" }\n', 2, 'routes[0].path is required'],
  [
    'a proxy without a source',
    'routes:\n  - { name: a, kind: proxy, udpDownstreamAddrs: "127.0.0.1:9" }\n',
    2,
    'routes[0]: a source is required: routes[0].udpListenAddrs or routes[0].tcpConnectAddrs',
  ],
  [
    'a reverse proxy with nothing to do',
    'routes:\n  - { name: a, kind: reverseproxy }\n',
    2,
    'routes[0]: nothing to do: give inputs (routes[0].udpListenAddrs, routes[0].tcpListenAddrs) and/or outputs (routes[0].tcpOutputAddrs, routes[0].udpOutputAddrs)',
  ],
  [
    'a rate that is not a rate',
    'routes:\n  - { name: a, kind: client, path: x, serverAddrs: "127.0.0.1:9", rate: 10MB }\n',
    2,
    'routes[0].rate: "10MB" is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)',
  ],
  [
    'a rate below 1',
    'routes:\n  - { name: a, kind: client, path: x, serverAddrs: "127.0.0.1:9", rate: 0.4 }\n',
    2,
    'routes[0].rate: 0.4 is below 1 byte per second; the smallest rate is 1 (0 means unlimited)',
  ],
  [
    'a whole number out of range',
    'routes:\n  - { name: a, kind: client, path: x, serverAddrs: "127.0.0.1:9", maxDatagram: 70000 }\n',
    2,
    'routes[0].maxDatagram: 70000 is not a whole number from 1 to 65507',
  ],
  [
    'a boolean that is text',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0", tee: "yes" }\n',
    2,
    'routes[0].tee must be true or false, not "yes"',
  ],
  [
    'an unknown framing',
    'routes:\n  - { name: a, kind: client, path: x, serverAddrs: "127.0.0.1:9", framing: lines2 }\n',
    2,
    'routes[0].framing: "lines2" is not one of packed, line, raw',
  ],
  [
    'an option of another program',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0", rate: 5M }\n',
    2,
    'routes[0].rate: unknown option',
  ],
  [
    'an unknown top-level setting',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0" }\nmetrix: {}\n',
    2,
    'metrix: unknown option; did you mean metrics?',
  ],
  [
    'a bad metrics address',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0" }\nmetrics: { addr: "localhost" }\n',
    2,
    'metrics.addr: "localhost" has no port; expected HOST:PORT',
  ],
  [
    'a bad stats interval',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0" }\nstatsInterval: 0\n',
    2,
    'statsInterval: 0 is not a whole number from 1 to 86400',
  ],
  [
    'a bad log format',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0" }\nlog: { format: xml }\n',
    2,
    'log.format: "xml" is not one of text, json',
  ],
  ['YAML that does not parse', 'routes:\n  - name: a\n   kind: proxy\n', 2, /^CONFIG:3:\d+: .+/],
  [
    'a name that does not resolve',
    'routes:\n  - { name: a, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "no-such-host.invalid:9" }\n',
    1,
    /^routes\[0\]\.udpDownstreamAddrs: host "no-such-host\.invalid" does not resolve/,
  ],
  [
    'keep without rotate',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0", keep: 7d }\n',
    2,
    'routes[0].keep needs routes[0].rotate: only rotated files are kept or removed',
  ],
  [
    'a rotation that is not one',
    'routes:\n  - { name: a, kind: server, path: x, listenAddrs: "127.0.0.1:0", rotate: weekly }\n',
    2,
    'routes[0].rotate: "weekly" is not hourly, daily or a size (for example 100M; k, M, G are 1024-based)',
  ],
  [
    'a copy in a directory that is not there',
    'routes:\n  - { name: a, kind: client, path: /etc/hostname, serverAddrs: "127.0.0.1:9", copyPath: /nonexistent/sent.log, rotate: daily, keep: 30 }\n',
    1,
    `routes[0].copyPath: cannot write in ${path.resolve('/nonexistent')}: no such directory`,
  ],
  [
    'an input file that is not there',
    'routes:\n  - { name: a, kind: client, path: /nonexistent/in.txt, serverAddrs: "127.0.0.1:9" }\n',
    1,
    'routes[0].path: cannot read /nonexistent/in.txt: no such file',
  ],
]

for (const [what, text, code, expected] of BAD) {
  test(`check refuses ${what}`, async (t) => {
    const file = configFile(text)
    const r = await runToEnd('mproxy', ['check', '--config', file])
    t.is(r.code, code, r.stderr)
    const line = r.stderr.trimEnd()
    t.false(line.includes('\n'), 'one line')
    t.notRegex(r.stderr, /\n\s+at |panicked/)
    if (expected instanceof RegExp) t.regex(line.replace(/^mproxy: /, '').replace(file, 'CONFIG'), expected)
    else t.is(line, `mproxy: ${expected}`)
  })
}

test('check refuses a key given twice in JSON, as in YAML, naming its path and line', async (t) => {
  const json = configFile('{\n  "routes": [\n    { "name": "a", "kind": "server", "path": "x", "listenAddrs": "127.0.0.1:0", "path": "y" }\n  ]\n}\n', 'json')
  const yaml = configFile('routes:\n  - name: a\n    kind: server\n    path: x\n    listenAddrs: "127.0.0.1:0"\n    path: y\n')
  for (const [file, where] of [
    [json, '3:81'],
    [yaml, '6:5'],
  ]) {
    const r = await runToEnd('mproxy', ['check', file])
    t.is(r.code, 2, r.stderr)
    t.is(r.stderr, `mproxy: ${file}:${where}: routes[0].path is given twice; keys must be unique\n`)
  }
})

test('mproxy check --help says what check does', async (t) => {
  const r = await runToEnd('mproxy', ['check', '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout.toString(), /^mproxy check: check a config file without running it\n/)
  t.regex(r.stdout.toString(), / {4}mproxy check \[--config\] FILE\n/)
})

test('check accepts a good config in each format', async (t) => {
  const yaml = configFile(
    'routes:\n  - { name: store, kind: server, path: out.txt, listenAddrs: "127.0.0.1:0" }\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "127.0.0.1:9" }\n',
  )
  const json = configFile(JSON.stringify({ routes: [{ name: 'store', kind: 'server', path: 'out.txt', listenAddrs: '127.0.0.1:0' }] }), 'json')
  const toml = configFile('[[routes]]\nname = "store"\nkind = "server"\npath = "out.txt"\nlistenAddrs = "127.0.0.1:0"\n', 'toml')
  for (const [file, summary] of [
    [yaml, '2 routes (store: server, relay: proxy)'],
    [json, '1 route (store: server)'],
    [toml, '1 route (store: server)'],
  ]) {
    const r = await runToEnd('mproxy', ['check', '--config', file])
    t.is(r.code, 0, r.stderr)
    t.is(r.stdout.toString(), `${file}: ${summary}: ok\n`)
  }
})

function udpSink() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
  const got = []
  socket.on('message', (m) => got.push(m.toString()))
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve({ socket, got, addr: `127.0.0.1:${socket.address().port}` })))
}

/** `route NAME: listening on ADDR` lines, by route. */
function listening(stderr) {
  const found = {}
  for (const m of stderr.matchAll(/\[(\S+)\] listening on (\S+)/g)) {
    found[m[1]] ??= []
    found[m[1]].push(m[2])
  }
  return found
}

unixOnly(WHY.signals)('a config runs its routes; SIGHUP reopens output files and reloads; an invalid reload keeps the old config', async (t) => {
  requireIsolation() // the reverse proxy joins a multicast group
  const sink = await udpSink()
  const out = path.join(dir, 'store.txt')
  const config = (extra = '') =>
    `routes:\n  - { name: store, kind: server, path: ${JSON.stringify(out)}, listenAddrs: "127.0.0.1:0" }\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: ${JSON.stringify(sink.addr)} }\n  - { name: bus, kind: reverseproxy, tcpListenAddrs: "127.0.0.1:0", multicastAddr: "239.66.2.1:29602", multicastInterface: lo }\n${extra}log: { timestamps: false }\n`
  const file = configFile(config())
  const p = runProgram('mproxy', ['--config', file])
  t.teardown(() => p.child.kill('SIGKILL'))
  await waitFor(() => Object.keys(listening(p.stderr())).length === 3, 10_000, 'three routes listening')
  const addrs = listening(p.stderr())
  const tx = dgram.createSocket('udp4')
  const send = (addr, text) => tx.send(text, Number(addr.split(':')[1]), '127.0.0.1')
  send(addrs.store[0], 'one\n')
  send(addrs.relay[0], 'relayed\n')
  await waitFor(() => fileSize(out) === 4 && sink.got.length === 1, 5_000, 'the first datagrams')
  // logrotate: move the file away, then SIGHUP.
  renameSync(out, `${out}.1`)
  p.child.kill('SIGHUP')
  await waitFor(() => /reloaded .*: kept 3, restarted 0, started 0, stopped 0; output files reopened/.test(p.stderr()), 5_000, 'the reload line')
  send(addrs.store[0], 'two\n')
  await waitFor(() => fileSize(out) === 4, 5_000, 'the new file')
  t.is(readFile(`${out}.1`).toString(), 'one\n')
  t.is(readFile(out).toString(), 'two\n')
  // An invalid file: one line, the routes keep running.
  writeFileSync(file, config().replace('udpDownstreamAddrs', 'udpDownstremAddrs'))
  p.child.kill('SIGHUP')
  await waitFor(() => /error: not reloaded/.test(p.stderr()), 5_000, 'the refusal')
  t.regex(
    p.stderr(),
    /mproxy: error: not reloaded, the running config stays: routes\[1\]\.udpDownstremAddrs: unknown option; did you mean udpDownstreamAddrs\?\n/,
  )
  send(addrs.relay[0], 'still\n')
  await waitFor(() => sink.got.length === 2, 5_000, 'the old relay still running')
  // SIGUSR1: counters, and no inspector.
  p.child.kill('SIGUSR1')
  await waitFor(() => /\[relay\] counters: in 2 datagrams/.test(p.stderr()), 5_000, 'the counters line')
  const inspector = await new Promise((resolve) => {
    const c = net.connect(9229, '127.0.0.1', () => {
      c.destroy()
      resolve(true)
    })
    c.on('error', () => resolve(false))
  })
  t.false(inspector, 'SIGUSR1 opened no inspector')
  p.child.kill('SIGTERM')
  const r = await p.exited
  t.is(r.code, 0, r.stderr)
  tx.close()
  sink.socket.close()
})

notUnderWine(WHY.wineMetricsLine)('metrics and periodic stats from the config', async (t) => {
  const file = configFile(
    'routes:\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "127.0.0.1:9" }\nmetrics: { addr: "127.0.0.1:0" }\nstatsInterval: 1\nlog: { format: json, timestamps: false }\n',
  )
  const p = runProgram('mproxy', ['--config', file])
  t.teardown(() => p.child.kill('SIGKILL'))
  await waitFor(() => /metrics at http:\/\/(\S+)\/metrics/.test(p.stderr()), 10_000, 'the metrics line')
  const addr = /metrics at http:\/\/(\S+)\/metrics/.exec(p.stderr())[1]
  const body = await new Promise((resolve, reject) => {
    http
      .get(`http://${addr}/metrics`, (res) => {
        let b = ''
        res.on('data', (d) => (b += d))
        res.on('end', () => resolve(b))
      })
      .on('error', reject)
  })
  t.regex(body, /^mproxy_socket_buffer_bytes\{route="relay",kind="udp-listener",endpoint="127\.0\.0\.1:\d+"\} \d+$/m)
  await waitFor(() => /"message":"stats: in 0\.0 datagrams\/s/.test(p.stderr()), 5_000, 'a stats line')
  for (const line of p.stderr().trim().split('\n')) {
    const entry = JSON.parse(line)
    t.is(entry.program, 'mproxy')
    t.false('time' in entry)
  }
  p.child.kill('SIGTERM')
  t.is((await p.exited).code, 0)
  await sleep(10)
})
