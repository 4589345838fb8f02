// Client to server over UDP, unicast and multicast, IPv4 and IPv6: what arrives is
// byte-for-byte what was read, from a file and from stdin.
import test from 'ava'
import path from 'node:path'
import {
  makeText,
  makeVeth,
  readFile,
  requireIsolation,
  runProgram,
  runToEnd,
  stop,
  tempDir,
  waitForSize,
  waitLinkLocal,
  within,
  writeTemp,
  portOf,
} from './helpers.mjs'
import { WHY, bulk, onWindows, unixOnly } from './platform.mjs'

const MB = 1_000_000

async function server(out, listen, extra = []) {
  const p = runProgram('server', ['--path', out, ...listen.flatMap((l) => ['--listen-addr', l]), ...extra], { listeners: listen.length })
  return { p, addrs: await p.listening }
}

/** Sends `data` with the client, from a file or through stdin. */
async function send(data, dir, servers, { stdin = false, extra = [] } = {}) {
  const targets = servers.flatMap((s) => ['--server-addr', s])
  if (!stdin) {
    const input = writeTemp(dir, 'in.txt', data)
    return runToEnd('client', ['--path', input, ...targets, ...extra])
  }
  const client = runProgram('client', ['--path', '-', ...targets, ...extra], { stdin: 'pipe' })
  // Written in uneven pieces, as a pipe would deliver them.
  for (let at = 0; at < data.length; ) {
    const piece = data.subarray(at, at + 65_000 + (at % 7919))
    if (!client.child.stdin.write(piece)) await new Promise((r) => client.child.stdin.once('drain', r))
    at += piece.length
  }
  client.child.stdin.end()
  return client.exited
}

async function finish(t, srv, out, data) {
  await waitForSize(out, data.length)
  const r = await stop(srv.p)
  if (!onWindows) t.is(r.code, 0, r.stderr) // no stop signal on Windows: a kill
  const got = readFile(out)
  t.is(got.length, data.length)
  t.true(got.equals(data), 'content differs')
}

test('IPv4 unicast: a 20 MB text file arrives byte for byte', async (t) => {
  const dir = tempDir()
  const data = makeText(bulk(20 * MB))
  const out = path.join(dir, 'out.txt')
  const srv = await server(out, ['127.0.0.1:0'])
  const c = await send(data, dir, srv.addrs)
  t.is(c.code, 0, c.stderr)
  t.is(c.stdout.length, 0, 'no diagnostics on stdout')
  await finish(t, srv, out, data)
})

test('IPv6 unicast: stdin arrives byte for byte', async (t) => {
  const dir = tempDir()
  const data = makeText(bulk(20 * MB), 2)
  const out = path.join(dir, 'out.txt')
  const srv = await server(out, ['[::1]:0'])
  const c = await send(data, dir, srv.addrs, { stdin: true })
  t.is(c.code, 0, c.stderr)
  await finish(t, srv, out, data)
})

test('IPv4 multicast on loopback: two servers on one group each receive everything', async (t) => {
  requireIsolation()
  const dir = tempDir()
  const data = makeText(bulk(20 * MB), 3)
  const outA = path.join(dir, 'a.txt')
  const outB = path.join(dir, 'b.txt')
  const a = await server(outA, ['239.77.0.1:0'], ['--multicast-interface', 'lo'])
  const port = portOf(a.addrs[0])
  t.is(a.addrs[0], `239.77.0.1:${port}`)
  const b = await server(outB, [`239.77.0.1:${port}`], ['--multicast-interface', 'lo'])
  const c = await send(data, dir, [`239.77.0.1:${port}`], { extra: ['--multicast-interface', 'lo'] })
  t.is(c.code, 0, c.stderr)
  await finish(t, a, outA, data)
  await finish(t, b, outB, data)
})

unixOnly(WHY.namespaces)('IPv6 multicast on a named interface: stdin arrives byte for byte', async (t) => {
  requireIsolation()
  const [link] = makeVeth('mpv6', t)
  await waitLinkLocal(link)
  const dir = tempDir()
  const data = makeText(5 * MB, 4)
  const out = path.join(dir, 'out.txt')
  const srv = await server(out, [`[ff02::4d50%${link}]:0`])
  const port = portOf(srv.addrs[0])
  const c = await send(data, dir, [`[ff02::4d50%${link}]:${port}`], { stdin: true })
  t.is(c.code, 0, c.stderr)
  await finish(t, srv, out, data)
})

test('one server on two listen addresses (IPv4 and IPv6) writes both streams to one file', async (t) => {
  const dir = tempDir()
  const first = makeText(300_000, 5)
  const second = makeText(300_000, 6)
  const out = path.join(dir, 'out.txt')
  const srv = await server(out, ['127.0.0.1:0', '[::1]:0'])
  t.is((await send(first, dir, [srv.addrs[0]])).code, 0)
  await waitForSize(out, first.length)
  t.is((await send(second, dir, [srv.addrs[1]])).code, 0)
  await waitForSize(out, first.length + second.length)
  await stop(srv.p)
  t.true(readFile(out).equals(Buffer.concat([first, second])))
})

unixOnly(WHY.signals)('--tee copies the input to stdout exactly, and the server tee prints what arrives', async (t) => {
  const dir = tempDir()
  const data = makeText(bulk(2 * MB), 7)
  const out = path.join(dir, 'out.txt')
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0', '--tee'], { listeners: 1 })
  const addrs = await srv.listening
  const c = await send(data, dir, addrs, { extra: ['--tee'] })
  t.is(c.code, 0, c.stderr)
  t.true(c.stdout.equals(data), 'client tee differs from input')
  await waitForSize(out, data.length)
  const r = await stop(srv)
  t.true(readFile(out).equals(data))
  t.true(r.stdout.equals(data), 'server tee differs from what arrived')
})

unixOnly(WHY.signals)('a server stopped by SIGINT right after a burst has written everything it received', async (t) => {
  const dir = tempDir()
  const data = makeText(3 * MB, 8)
  const out = path.join(dir, 'out.txt')
  const srv = runProgram('server', ['--path', out, '--listen-addr', '127.0.0.1:0', '--verbose'], { listeners: 1 })
  const addrs = await srv.listening
  t.is((await send(data, dir, addrs)).code, 0)
  const r = await stop(srv, 'SIGINT')
  t.is(r.code, 0)
  // Whatever the listener counted as received is in the file.
  const received = Number(/udp-listener \S+: received [\d,]+ datagrams, ([\d,]+) bytes/.exec(r.stderr)?.[1].replaceAll(',', ''))
  t.is(readFile(out).length, received)
  t.true(readFile(out).equals(data.subarray(0, received)))
})

unixOnly(WHY.signals)('a server whose stdout nobody reads still stops on SIGTERM, and says what it lost', async (t) => {
  const dir = tempDir()
  const data = makeText(4_000_000, 9)
  const srv = runProgram('server', ['--path', '-', '--listen-addr', '127.0.0.1:0'], { listeners: 1 })
  // Nobody reads the pipe: it fills and every further write would wait forever.
  srv.child.stdout.pause()
  const addrs = await srv.listening
  t.is((await send(data, dir, addrs)).code, 0)
  srv.child.kill('SIGTERM')
  const r = await within(srv.exited, 15_000, 'the server did not stop on SIGTERM')
  t.is(r.code, 0)
  t.regex(r.stderr, /warn: some data was lost: .*writeErrors [1-9]/)
})
