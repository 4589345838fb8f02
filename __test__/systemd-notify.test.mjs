// systemd's Type=notify, against a real unix datagram socket (a python3 listener, as systemd
// listens): READY=1 once every route is up, RELOADING=1 (with MONOTONIC_USEC) and READY=1
// around a reload, STOPPING=1 on the way out; at a path and at an abstract @name.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { root, tempDir, waitFor, writeTemp } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

const test = unixOnly(WHY.unixSockets)

// Binds the socket, says "bound", then prints each datagram as one JSON string per line.
const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind('\\0' + name[1:] if name.startswith('@') else name)
print('"bound"', flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`

async function listener(t, name) {
  const child = spawn('python3', ['-c', LISTENER, name], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  const got = []
  let buffered = ''
  child.stdout.on('data', (d) => {
    buffered += d
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const l of lines) got.push(JSON.parse(l))
  })
  await waitFor(() => got[0] === 'bound', 10_000, 'the listener')
  got.shift()
  return got
}

function runConfig(t, file, env) {
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/mproxy.js'), '--config', file, '--no-timestamps'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  })
  t.teardown(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = once(child, 'close')
  return { child, stderr: () => stderr, exited }
}

for (const abstract of [false, true]) {
  test(`mproxy --config: READY, RELOADING/READY around a SIGHUP, STOPPING (${abstract ? 'abstract @name' : 'socket at a path'})`, async (t) => {
    const dir = tempDir()
    const name = abstract ? `@mproxy-test-notify-${process.pid}` : path.join(dir, 'notify.sock')
    const got = await listener(t, name)
    const file = writeTemp(dir, 'c.yaml', 'routes:\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "127.0.0.1:9" }\n')
    const p = runConfig(t, file, { NOTIFY_SOCKET: name })
    await waitFor(() => got.length >= 1, 20_000, 'READY=1')
    t.deepEqual(got, ['READY=1'])
    // Every route was up before READY=1.
    t.regex(p.stderr(), /\[relay\] listening on 127\.0\.0\.1:\d+ \(udp\)/)
    p.child.kill('SIGHUP')
    await waitFor(() => got.length >= 3, 20_000, 'RELOADING=1 and READY=1')
    t.regex(got[1], /^RELOADING=1\nMONOTONIC_USEC=\d+$/)
    t.is(got[2], 'READY=1')
    t.regex(p.stderr(), /reloaded .*c\.yaml: kept 1, restarted 0, started 0, stopped 0; output files reopened/)
    p.child.kill('SIGTERM')
    const [code] = await p.exited
    t.is(code, 0, p.stderr())
    await waitFor(() => got.length >= 4, 10_000, 'STOPPING=1')
    t.deepEqual(got.slice(3), ['STOPPING=1'])
  })
}

test('a program: READY=1 once listening, STOPPING=1 on SIGTERM', async (t) => {
  const dir = tempDir()
  const name = path.join(dir, 'notify.sock')
  const got = await listener(t, name)
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/server.js'), '--path', path.join(dir, 'out'), '--listen-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NOTIFY_SOCKET: name },
  })
  t.teardown(() => child.kill('SIGKILL'))
  await waitFor(() => got.length >= 1, 20_000, 'READY=1')
  child.kill('SIGTERM')
  const [code] = await once(child, 'close')
  t.is(code, 0)
  await waitFor(() => got.length >= 2, 10_000, 'STOPPING=1')
  t.deepEqual(got, ['READY=1', 'STOPPING=1'])
})

test('a NOTIFY_SOCKET nobody listens on: one warning, and the program runs on', async (t) => {
  const dir = tempDir()
  const file = writeTemp(dir, 'c.yaml', 'routes:\n  - { name: relay, kind: proxy, udpListenAddrs: "127.0.0.1:0", udpDownstreamAddrs: "127.0.0.1:9" }\n')
  const p = runConfig(t, file, { NOTIFY_SOCKET: path.join(dir, 'nobody.sock') })
  await waitFor(() => /listening on/.test(p.stderr()) && /warn: cannot notify/.test(p.stderr()), 20_000, 'the warning')
  p.child.kill('SIGHUP')
  await waitFor(() => /reloaded/.test(p.stderr()), 20_000, 'the reload')
  p.child.kill('SIGTERM')
  const [code] = await p.exited
  t.is(code, 0)
  const warnings = p
    .stderr()
    .split('\n')
    .filter((l) => l.includes('warn:'))
  t.is(warnings.length, 1, p.stderr())
  t.regex(
    warnings[0],
    /^mproxy: warn: cannot notify the service manager at \S+nobody\.sock: .+ \(NOTIFY_SOCKET; telling systemd READY=1 and later states failed\)$/,
  )
})
