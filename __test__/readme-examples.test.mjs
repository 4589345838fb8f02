// The README's Node API examples (ESM and CommonJS), run as written; and the original
// README's command-line examples (section 命令行界面), run exactly as written,
// as shell command lines, with `mproxy-client` & co. found on PATH. Each test gets a host
// namespace of its own (netns.mjs): 224.0.0.0/4 and ff00::/8 are routed to its eth0, which
// is joined to a bridge holding only our namespaces, so nothing can leave; `localhost`
// resolves through /etc/hosts. The fixed ports of the examples are fine there.
import test from 'ava'
import path from 'node:path'
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { fileSize, makeText, readFile, root, sleep, tempDir, waitFor, waitForSize, within } from './helpers.mjs'
import { createHosts } from './netns.mjs'
import { WHY, unixOnly } from './platform.mjs'
import { descendants } from './processes.mjs'

const hostTest = unixOnly(`${WHY.namespaces}, sh`)

/** The commands as the README gives them (the proxy's with its line continuations). */
const EXAMPLES = {
  client1: `mproxy-client --path /dev/random --server-addr '127.0.0.1:9920' --server-addr '[::1]:9921'`,
  client2: `mproxy-client --path - --server-addr '239.255.0.1:9922' --multicast-interface lo --tee >> logfile.log`,
  proxy: `mproxy-proxy --udp-listen-addr '0.0.0.0:9920' \\
--udp-downstream-addr '[::1]:9921' \\
--udp-downstream-addr 'localhost:9922' \\
--tcp-connect-addr 'localhost:9925' \\
--tee`,
  // The README calls the program `reverse_proxy` here; the package installs it as mproxy-reverseproxy.
  reverseproxy: `mproxy-reverseproxy --udp-listen-addr '127.0.0.1:9920' --tcp-output-addr '[::1]:9921' --multicast-addr '239.255.0.2:9922' --multicast-interface lo`,
  server: `mproxy-server --path logfile.log --listen-addr '127.0.0.1:9920' --listen-addr '[::1]:9921'`,
}

const PROGRAMS = { 'mproxy-client': 'client', 'mproxy-server': 'server', 'mproxy-proxy': 'proxy', 'mproxy-reverseproxy': 'reverseproxy' }

/** A directory of `mproxy-*` commands for PATH, as `npm install -g` would provide. */
function binDir() {
  const bin = path.join(tempDir(), 'bin')
  mkdirSync(bin)
  for (const [name, file] of Object.entries(PROGRAMS)) {
    const script = path.join(bin, name)
    writeFileSync(script, `#!/bin/sh\nexec '${process.execPath}' '${path.join(root, 'dist/cli', `${file}.js`)}' "$@"\n`)
    chmodSync(script, 0o755)
  }
  return bin
}

// Small helpers run inside the namespace (no mproxy code: independent senders and receivers).
const HELPERS = {
  /** udp-send HOST PORT FILE: the file in datagrams of at most 1000 bytes, one after the other. */
  'udp-send.cjs': `
const dgram = require('node:dgram'), fs = require('node:fs'), net = require('node:net')
const [host, port, file] = process.argv.slice(2)
const data = fs.readFileSync(file)
const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
let at = 0
const next = () => {
  if (at >= data.length) return socket.close()
  const piece = data.subarray(at, at + 1000)
  at += piece.length
  socket.send(piece, Number(port), host, (e) => { if (e) { console.error(String(e)); process.exit(1) } setTimeout(next, at % 50000 < 1000 ? 1 : 0) })
}
next()
`,
  /** tcp-source PORT FILE: listens on every address (IPv4 and IPv6), sends FILE to each client, keeps it open. */
  'tcp-source.cjs': `
const net = require('node:net'), fs = require('node:fs')
const [port, file] = process.argv.slice(2)
const data = fs.readFileSync(file)
const server = net.createServer((s) => { process.stdout.write('accepted\\n'); s.on('error', () => {}); s.write(data) })
server.listen({ port: Number(port), host: '::' }, () => process.stdout.write('listening\\n'))
`,
  /** tcp-reader HOST PORT FILE: connects, writes what it receives to FILE. */
  'tcp-reader.cjs': `
const net = require('node:net'), fs = require('node:fs')
const [host, port, file] = process.argv.slice(2)
const out = fs.createWriteStream(file)
const socket = net.connect({ host, port: Number(port) }, () => process.stdout.write('connected\\n'))
socket.pipe(out)
socket.on('error', (e) => { console.error(String(e)); process.exitCode = 1 })
`,
}

/** One host namespace, a work directory (the commands' cwd), the commands on PATH. */
async function setup(t, prefix) {
  const topo = await createHosts(prefix, ['h'], { t })
  // Every command runs in a process group of its own (the shell and the program it starts):
  // at teardown, pass or fail, each group is killed whole.
  const groups = new Set()
  t.teardown(() => {
    for (const pid of groups) {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  })
  const work = tempDir()
  const helpers = tempDir()
  for (const [name, text] of Object.entries(HELPERS)) writeFileSync(path.join(helpers, name), text)
  const env = { ...process.env, PATH: `${binDir()}:${process.env.PATH}` }
  /** A shell command line in the namespace; `stdin: 'pipe'` to feed it. */
  const sh = (command, { stdin = 'ignore' } = {}) =>
    spawnIn(topo, groups, 'sh', ['-c', command], { cwd: work, env, stdio: [stdin, 'pipe', 'pipe'], detached: true })
  const helper = (name, ...args) =>
    spawnIn(topo, groups, process.execPath, [path.join(helpers, name), ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const file = (name) => path.join(work, name)
  const put = (name, data) => {
    writeFileSync(file(name), data)
    return file(name)
  }
  /** Sends a file with udp-send and checks it went. */
  const send = async (host, port, name) => {
    const r = await helper('udp-send.cjs', host, String(port), file(name)).ended()
    t.is(r.code, 0, r.stderr)
  }
  return { topo, work, sh, helper, file, put, send }
}

/**
 * Runs `cmd args` in the host's namespace. `stop()` sends SIGTERM to the program itself, not to
 * the shell: dash does not exec the last command of `sh -c`, so the shell is its parent (and
 * exits with the program's status), as when a user runs `kill PID` on the program.
 */
function spawnIn(topo, groups, cmd, args, opts) {
  const child = topo.exec('h', cmd, args, opts)
  groups.add(child.pid)
  const out = []
  let err = ''
  child.stdout.on('data', (d) => out.push(d))
  child.stderr.on('data', (d) => (err += d))
  let done = false
  const exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      done = true
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err })
    }),
  )
  const what = (cmd === 'sh' ? args[1] : [path.basename(cmd), ...args.map((a) => path.basename(a))].join(' ')).slice(0, 120)
  const ended = (ms = 60_000, since = 'its start') => within(exited, ms, `${what} did not exit within ${ms} ms of ${since} (stderr: ${err})`)
  const wait = (get, re, count, ms) =>
    waitFor(
      () => {
        if ((get().match(new RegExp(re.source, 'g')) ?? []).length >= count) return true
        if (done) throw new Error(`${what} exited before printing ${re}: ${err}`)
        return false
      },
      ms,
      `${what} to print ${re} (stderr: ${err})`,
    )
  return {
    child,
    exited,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    waitErr: (re, count = 1, ms = 15_000) => wait(() => err, re, count, ms),
    waitOut: (re, count = 1, ms = 15_000) => wait(() => Buffer.concat(out).toString(), re, count, ms),
    /** Its end, which must come within `ms`. */
    ended,
    /** SIGTERM to the program (the leaves of the process tree); it must exit within `ms`. */
    stop: (ms = 15_000) => {
      const tree = [child.pid, ...descendants(child.pid)]
      const leaves = tree.filter((pid) => descendants(pid).length === 0)
      for (const pid of leaves) process.kill(pid, 'SIGTERM')
      return ended(ms, 'SIGTERM')
    },
  }
}

test('the README examples are the ones each program lists in --help', (t) => {
  for (const [key, command] of Object.entries(EXAMPLES)) {
    const program = command.split(' ')[0]
    const help = execFileSync(process.execPath, [path.join(root, 'dist/cli', `${PROGRAMS[program]}.js`), '--help'], { encoding: 'utf8' })
    t.true(help.includes(command.replace(/ \\\n/g, ' ')), `${key}: --help of ${program} lists\n${command}\n---\n${help}`)
  }
})

hostTest('mproxy-client --path /dev/random to two servers, IPv4 and IPv6 (with the mproxy-server example)', async (t) => {
  const { sh, file } = await setup(t, 'rx-client1')
  const server = sh(EXAMPLES.server)
  await server.waitErr(/listening on/, 2)
  t.regex(server.stderr(), /listening on 127\.0\.0\.1:9920 \(udp\)/)
  t.regex(server.stderr(), /listening on \[::1\]:9921 \(udp\)/)
  const client = sh(EXAMPLES.client1)
  await sleep(1000)
  await waitFor(() => fileSize(file('logfile.log')) > 0, 10_000, 'random bytes at the server')
  const c = await client.stop()
  t.is(c.code, 0, `client: ${c.signal ?? ''} ${c.stderr}`)
  // Let the last datagrams in flight land before the server stops.
  await sleep(300)
  const s = await server.stop()
  t.is(s.code, 0, `server: ${s.signal ?? ''} ${s.stderr}`)
  t.true(fileSize(file('logfile.log')) > 0)
  t.is(c.stdout.length, 0, 'no --tee: nothing on stdout')
})

hostTest('mproxy-client --path - to a dedicated group on lo with --tee >> logfile.log', async (t) => {
  const { sh, file } = await setup(t, 'rx-client2')
  const text = makeText(1_000_000, 81)
  // Two receivers of the group on this host: the group reaches every member.
  const s4 = sh(`mproxy-server --path member1.log --listen-addr '239.255.0.1:9922' --multicast-interface lo`)
  const s6 = sh(`mproxy-server --path member2.log --listen-addr '239.255.0.1:9922' --multicast-interface lo`)
  await s4.waitErr(/listening on/)
  await s6.waitErr(/listening on/)
  // `>>` appends: the log already holds a line.
  const before = Buffer.from('an earlier line\n')
  writeFileSync(file('logfile.log'), before)
  const client = sh(EXAMPLES.client2, { stdin: 'pipe' })
  client.child.stdin.end(text)
  const c = await client.ended()
  t.is(c.code, 0, c.stderr)
  t.is(c.stdout.length, 0, 'stdout went to logfile.log')
  t.notRegex(c.stderr, /warn|error/i)
  t.true(readFile(file('logfile.log')).equals(Buffer.concat([before, text])), 'the --tee copy is appended to logfile.log')
  await waitForSize(file('member1.log'), text.length)
  await waitForSize(file('member2.log'), text.length)
  for (const s of [s4, s6]) {
    const r = await s.stop()
    t.is(r.code, 0, r.stderr)
    t.notRegex(r.stderr, /warn|error/i)
  }
  t.true(readFile(file('member1.log')).equals(text), 'the first member of 239.255.0.1:9922 got the input byte for byte')
  t.true(readFile(file('member2.log')).equals(text), 'the second member got it byte for byte too')
})

hostTest('mproxy-proxy: UDP on 0.0.0.0:9920 and TCP from localhost:9925 to [::1]:9921 and localhost:9922, --tee', async (t) => {
  const { sh, helper, file, put, send } = await setup(t, 'rx-proxy')
  const tcpText = makeText(500_000, 82)
  const udpText = makeText(300_000, 83)
  const source = helper('tcp-source.cjs', '9925', put('tcp.txt', tcpText))
  await source.waitOut(/listening/)
  const d6 = sh(`mproxy-server --path d6.log --listen-addr '[::1]:9921'`)
  const d4 = sh(`mproxy-server --path d4.log --listen-addr 'localhost:9922'`)
  await d6.waitErr(/listening on/)
  await d4.waitErr(/listening on/)
  t.regex(d4.stderr(), /listening on 127\.0\.0\.1:9922 \(udp\)/, 'localhost is 127.0.0.1 here (/etc/hosts)')
  const proxy = sh(EXAMPLES.proxy)
  await proxy.waitErr(/listening on 0\.0\.0\.0:9920/)
  // The TCP source's text first: it connects and forwards by itself.
  for (const f of ['d6.log', 'd4.log']) await waitForSize(file(f), tcpText.length)
  for (const f of ['d6.log', 'd4.log']) t.true(readFile(file(f)).equals(tcpText), `${f}: the TCP text`)
  await source.waitOut(/accepted/)
  t.is(source.stdout().toString(), 'listening\naccepted\n', 'one connection to localhost:9925')
  // Then datagrams to the UDP listener.
  put('udp.txt', udpText)
  await send('127.0.0.1', 9920, 'udp.txt')
  const both = Buffer.concat([tcpText, udpText])
  for (const f of ['d6.log', 'd4.log']) await waitForSize(file(f), both.length)
  await waitFor(() => proxy.stdout().length >= both.length, 10_000, '--tee output')
  const p = await proxy.stop()
  t.is(p.code, 0, p.stderr)
  t.regex(p.stderr, /connected to localhost:9925/)
  t.notRegex(p.stderr, /warn|error/i)
  for (const s of [d6, d4]) {
    const r = await s.stop()
    t.is(r.code, 0, r.stderr)
    t.notRegex(r.stderr, /warn|error/i)
  }
  await source.stop()
  for (const f of ['d6.log', 'd4.log']) t.true(readFile(file(f)).equals(both), `${f}: TCP text then the datagrams`)
  t.true(p.stdout.equals(both), '--tee copies both inputs to stdout')
})

hostTest('mproxy-reverseproxy: UDP on 127.0.0.1:9920 to a TCP reader on [::1]:9921 through 239.255.0.2:9922 on lo', async (t) => {
  const { sh, helper, file, put, send } = await setup(t, 'rx-rproxy')
  const text = makeText(2_000_000, 84)
  const rp = sh(EXAMPLES.reverseproxy)
  await rp.waitErr(/multicast group/)
  t.regex(rp.stderr(), /listening on 127\.0\.0\.1:9920 \(udp\)/)
  t.regex(rp.stderr(), /listening on \[::1\]:9921 \(tcp output/)
  const reader = helper('tcp-reader.cjs', '::1', '9921', file('reader.txt'))
  await reader.waitOut(/connected/)
  // A connected client is in the listener's queue; give the reverse proxy a moment to take it.
  await sleep(500)
  put('in.txt', text)
  await send('127.0.0.1', 9920, 'in.txt')
  await waitForSize(file('reader.txt'), text.length)
  const r = await rp.stop()
  t.is(r.code, 0, r.stderr)
  t.notRegex(r.stderr, /warn|error/i)
  t.is((await reader.ended(15_000, "the reverse proxy's SIGTERM")).code, 0, 'the reader sees its stream end')
  t.true(readFile(file('reader.txt')).equals(text), 'the reader got the datagrams byte for byte')
})

hostTest('mproxy-server: datagrams to 127.0.0.1:9920 and [::1]:9921 appended to logfile.log', async (t) => {
  const { sh, file, put, send } = await setup(t, 'rx-server')
  const one = makeText(400_000, 85)
  const two = makeText(300_000, 86)
  put('logfile.log', 'already here\n')
  const server = sh(EXAMPLES.server)
  await server.waitErr(/listening on/, 2)
  put('one.txt', one)
  put('two.txt', two)
  await send('127.0.0.1', 9920, 'one.txt')
  const expected = Buffer.concat([Buffer.from('already here\n'), one])
  await waitForSize(file('logfile.log'), expected.length)
  await send('::1', 9921, 'two.txt')
  const all = Buffer.concat([expected, two])
  await waitForSize(file('logfile.log'), all.length)
  const r = await server.stop()
  t.is(r.code, 0, r.stderr)
  t.notRegex(r.stderr, /warn|error/i)
  t.true(readFile(file('logfile.log')).equals(all), 'appended, byte for byte, after what the file held')
})

/** The README's Node examples: the ```js blocks whose first line names their file. */
function nodeExamples() {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  return Object.fromEntries(blocks.map((code) => [/^\/\/ ([\w-]+\.[cm]js):/.exec(code)?.[1], code]))
}

unixOnly(WHY.symlinks)("the README's Node API examples run as written, as ESM and as CommonJS", async (t) => {
  const { 'service.mjs': _service, ...examples } = nodeExamples()
  t.deepEqual(Object.keys(examples).sort(), ['example-taps.mjs', 'example.cjs', 'example.mjs'])
  // A project directory where `mproxy` is installed (linked, as `npm install /path/to/clone` does).
  const project = tempDir()
  mkdirSync(path.join(project, 'node_modules'))
  symlinkSync(root, path.join(project, 'node_modules', 'mproxy'))
  const ais = makeText(500_000, 87)
  writeFileSync(path.join(project, 'ais.txt'), ais)
  const run = (file) =>
    within(
      new Promise((resolve) =>
        execFile(process.execPath, [file], { cwd: project }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })),
      ),
      30_000,
      `${file} did not finish`,
    )
  const { 'example-taps.mjs': taps, ...transfers } = examples
  writeFileSync(path.join(project, 'example-taps.mjs'), taps)
  t.deepEqual(await run('example-taps.mjs'), { code: 0, stdout: 'js hello\njs bye\n0 dropped\n', stderr: '' })
  for (const [file, code] of Object.entries(transfers)) {
    writeFileSync(path.join(project, file), code)
    rmSync(path.join(project, 'received.log'), { force: true })
    const r = await run(file)
    t.is(r.code, 0, `${file}: ${r.stderr}`)
    t.is(r.stderr, '', file)
    t.is(r.stdout, `complete\n${ais.length} of ${ais.length} bytes arrived\n`, file)
    t.true(readFile(path.join(project, 'received.log')).equals(ais), `${file}: received.log holds ais.txt byte for byte`)
  }
})

unixOnly(WHY.signals)("the README's service example runs until SIGINT aborts its signal, then exits 0", async (t) => {
  const code = nodeExamples()['service.mjs']
  t.truthy(code)
  const project = tempDir()
  mkdirSync(path.join(project, 'node_modules'))
  symlinkSync(root, path.join(project, 'node_modules', 'mproxy'))
  writeFileSync(path.join(project, 'service.mjs'), code)
  const child = spawn(process.execPath, ['service.mjs'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('close', (c) => resolve(c)))
  await waitFor(() => /listening on 127\.0\.0\.1:\d+; Ctrl-C stops/.test(stderr), 10_000, 'the service to listen')
  child.kill('SIGINT')
  t.is(await within(exited, 5000, 'the service did not exit after SIGINT'), 0, stderr)
})
