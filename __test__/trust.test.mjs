// Trust on the listeners (issue 10): TLS inputs and outputs of the reverse proxy, with and
// without required client certificates (openssl s_client and node:tls as clients); allow
// lists, per-address caps and idle timeouts, each with exact counters and one log line per
// address; a legitimate client still gets in while another address is capped; the start
// note about all-hosts groups; and one line (exit 2) for every bad new flag.
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import tls from 'node:tls'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { mproxy, readFile, requireIsolation, runProgram, runToEnd, sleep, stop, tempDir, waitFor, waitForSize, within } from './helpers.mjs'
import { makePki } from './tls-fixtures.mjs'
import { WHY, onWindows, unixOnly } from './platform.mjs'

const { createReverseProxy, createServer } = mproxy
const dir = tempDir()
const pkiReady = makePki(dir)

let nextGroup = 1
/** A group of its own per test, on loopback. */
function group() {
  requireIsolation()
  const n = nextGroup++
  return { multicastAddr: `239.89.0.${n}:${21000 + n + 100 * (process.pid % 50)}`, multicastInterface: 'lo' }
}

const portOf = (address) => Number(address.slice(address.lastIndexOf(':') + 1))

/** A UDP server writing what it receives to a file. */
async function sink(name) {
  const out = path.join(tempDir(), name)
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  return { server, out, addr: server.addresses.listen[0] }
}

/** `openssl s_client` to 127.0.0.1:port; collects what it prints and can be fed. */
function sClient(t, port, ca, extra = []) {
  const child = spawn(
    'openssl',
    ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', ca, '-verify_return_error', ...extra],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OPENSSL_CONF: '/dev/null' },
    },
  )
  const out = []
  let err = ''
  child.stdout.on('data', (d) => out.push(d))
  child.stderr.on('data', (d) => (err += d))
  child.stdin.on('error', () => undefined)
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  t.teardown(() => child.kill('SIGKILL'))
  return { child, exited, data: () => Buffer.concat(out), stderr: () => err }
}

/** A node:tls client to 127.0.0.1:port (verifying the listener as `localhost`). */
function tlsClient(t, port, { ca, cert, key, localAddress } = {}) {
  const chunks = []
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: readFileSync(ca),
    cert: cert && readFileSync(cert),
    key: key && readFileSync(key),
    localAddress,
  })
  let error
  socket.on('error', (e) => (error = e))
  socket.on('data', (d) => chunks.push(d))
  const secure = new Promise((resolve) => socket.once('secureConnect', resolve))
  const closed = new Promise((resolve) => socket.once('close', resolve))
  t.teardown(() => socket.destroy())
  return { socket, secure, closed, error: () => error, data: () => Buffer.concat(chunks) }
}

/** A plain TCP client to 127.0.0.1:port, from `localAddress` if given. */
function tcpClient(t, port, localAddress) {
  const chunks = []
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  socket.on('error', () => undefined)
  socket.on('data', (d) => chunks.push(d))
  const connected = new Promise((resolve) => socket.once('connect', resolve))
  const closed = new Promise((resolve) => socket.once('close', resolve))
  t.teardown(() => socket.destroy())
  return { socket, connected, closed, data: () => Buffer.concat(chunks) }
}

/** The stats endpoint of `kind` named `address`. */
function endpoint(handle, kind, address) {
  return handle.stats().endpoints.find((e) => e.kind === kind && e.name === address)
}

async function sendDatagrams(address, datagrams) {
  const socket = dgram.createSocket('udp4')
  for (const d of datagrams) {
    await new Promise((resolve, reject) => socket.send(d, portOf(address), '127.0.0.1', (err) => (err ? reject(err) : resolve())))
  }
  socket.close()
}

unixOnly(WHY.openssl)(
  'a TLS input beside a plain one: openssl s_client, node:tls and plain TCP bytes arrive exactly; a plain client on the TLS port is a counted TLS failure',
  async (t) => {
    const pki = await pkiReady
    const out = await sink('tls-input.txt')
    const logs = []
    const rp = await createReverseProxy({
      ...group(),
      tcpListenAddrs: ['tls://127.0.0.1:0', '127.0.0.1:0'],
      udpOutputAddrs: [out.addr],
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      onLog: (e) => logs.push(e.message),
    })
    t.teardown(() => rp.close())
    const [tlsAddr, plainAddr] = rp.addresses.tcpListen
    const lines = ['from openssl s_client over TLS\n', 'from node:tls over TLS\n', 'from plain TCP\n']
    const openssl = sClient(t, portOf(tlsAddr), pki.caCert)
    openssl.child.stdin.write(lines[0])
    await waitForSize(out.out, lines[0].length)
    const node = tlsClient(t, portOf(tlsAddr), { ca: pki.caCert })
    await node.secure
    node.socket.write(lines[1])
    await waitForSize(out.out, lines[0].length + lines[1].length)
    const plain = tcpClient(t, portOf(plainAddr))
    await plain.connected
    plain.socket.write(lines[2])
    const expected = lines.join('')
    await waitForSize(out.out, expected.length)
    // Plain text on the TLS port: no TLS, nothing delivered.
    const stray = tcpClient(t, portOf(tlsAddr))
    await stray.connected
    stray.socket.write('GET / HTTP/1.0\r\n\r\n')
    await stray.closed
    await waitFor(() => endpoint(rp, 'tcp-listener', tlsAddr).tlsFailures === 1, 10_000, 'the TLS failure')
    node.socket.end()
    plain.socket.end()
    openssl.child.kill('SIGTERM')
    await Promise.all([node.closed, plain.closed, openssl.exited])
    await waitFor(() => endpoint(rp, 'tcp-listener', tlsAddr).disconnects === 3, 10_000, 'three TLS clients gone')
    const stats = await rp.close()
    await out.server.close()
    t.true(readFile(out.out).equals(Buffer.from(expected)), readFile(out.out).toString())
    const tlsIn = stats.endpoints.find((e) => e.kind === 'tcp-listener' && e.name === tlsAddr)
    t.is(tlsIn.connects, 3)
    t.is(tlsIn.tlsFailures, 1)
    t.is(tlsIn.datagramsOut, 2)
    t.is(stats.endpoints.find((e) => e.kind === 'tcp-listener' && e.name === plainAddr).tlsFailures, 0)
    t.is(logs.filter((m) => m.startsWith(`${tlsAddr}: TLS client 127.0.0.1:`) && m.endsWith(' connected')).length, 2, logs.join('\n'))
    t.deepEqual(
      logs.filter((m) => m.includes('TLS handshake')).map((m) => m.replace(/127\.0\.0\.1:\d+ failed/, '127.0.0.1:P failed')),
      [`${tlsAddr}: TLS handshake with 127.0.0.1:P failed: the client does not speak TLS (is it a plain TCP client?)`],
    )
  },
)

unixOnly(WHY.openssl)('a TLS output beside a plain one: openssl s_client, node:tls and a plain reader each get the stream byte for byte', async (t) => {
  const pki = await pkiReady
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: ['tls://127.0.0.1:0', '127.0.0.1:0'],
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
  })
  t.teardown(() => rp.close())
  const [tlsAddr, plainAddr] = rp.addresses.tcpOutput
  const openssl = sClient(t, portOf(tlsAddr), pki.caCert)
  const node = tlsClient(t, portOf(tlsAddr), { ca: pki.caCert })
  const plain = tcpClient(t, portOf(plainAddr))
  await Promise.all([node.secure, plain.connected])
  await waitFor(() => endpoint(rp, 'tcp-output', tlsAddr).connects === 2 && endpoint(rp, 'tcp-output', plainAddr).connects === 1, 10_000, 'three readers')
  const datagrams = Array.from({ length: 400 }, (_, i) => Buffer.from(`line ${String(i).padStart(4, '0')} ${'x'.repeat(i % 97)}\n`))
  const expected = Buffer.concat(datagrams)
  await sendDatagrams(rp.addresses.listen[0], datagrams)
  await waitFor(
    () => openssl.data().length >= expected.length && node.data().length >= expected.length && plain.data().length >= expected.length,
    20_000,
    'every reader has the stream',
  )
  openssl.child.kill('SIGTERM')
  node.socket.end()
  plain.socket.end()
  const stats = await rp.close()
  t.true(openssl.data().equals(expected), 'openssl s_client')
  t.true(node.data().equals(expected), 'node:tls')
  t.true(plain.data().equals(expected), 'plain TCP')
  const out = stats.endpoints.find((e) => e.kind === 'tcp-output' && e.name === tlsAddr)
  t.is(out.tlsFailures, 0)
  t.is(out.bytesOut, 2 * expected.length)
  t.is(out.bytesDropped, 0)
})

test('a stalled TLS handshake holds up no one and is closed after 10 s, counted and logged', async (t) => {
  const pki = await pkiReady
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: ['tls://127.0.0.1:0'],
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
    onLog: (e) => logs.push(e.message),
  })
  t.teardown(() => rp.close())
  const [addr] = rp.addresses.tcpOutput
  // The first bytes of a TLS record (a handshake record of 512 bytes), then nothing.
  const started = Date.now()
  const stalled = tcpClient(t, portOf(addr), '127.0.0.2')
  let stalledOpen = true
  stalled.closed.then(() => (stalledOpen = false))
  await stalled.connected
  stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
  const reader = tlsClient(t, portOf(addr), { ca: pki.caCert })
  await reader.secure
  await waitFor(() => endpoint(rp, 'tcp-output', addr).connects === 2, 10_000, 'both clients')
  const line = Buffer.from('served while another handshake stalls\n')
  await sendDatagrams(rp.addresses.listen[0], [line])
  await waitFor(() => reader.data().length >= line.length, 10_000, 'the reader has the line')
  t.true(stalledOpen, 'the reader was served while the stalled handshake was still pending')
  await within(stalled.closed, 20_000, 'the stalled client was not closed')
  // The limit is 10 s from the accept, which came after `started`.
  t.true(Date.now() - started >= 10_000, `closed after ${Date.now() - started} ms`)
  reader.socket.end()
  const stats = await rp.close()
  t.true(reader.data().equals(line))
  const e = stats.endpoints.find((x) => x.kind === 'tcp-output')
  t.deepEqual([e.connects, e.tlsFailures], [2, 1])
  t.deepEqual(
    logs.filter((m) => m.includes('TLS handshake')).map((m) => m.replace(/with 127\.0\.0\.2:\d+/, 'with 127.0.0.2:P')),
    [`${addr}: TLS handshake with 127.0.0.2:P failed: it did not finish the TLS handshake within 10 seconds`],
  )
})

unixOnly(WHY.openssl)(
  'required client certificates: the right one is let in, no certificate and a wrong CA are refused, counted exactly and logged once per address',
  async (t) => {
    const pki = await pkiReady
    const out = await sink('mtls.txt')
    const logs = []
    const rp = await createReverseProxy({
      ...group(),
      tcpListenAddrs: ['tls://127.0.0.1:0'],
      udpOutputAddrs: [out.addr],
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.caCert,
      onLog: (e) => logs.push(e.message),
    })
    t.teardown(() => rp.close())
    const addr = rp.addresses.tcpListen[0]
    const port = portOf(addr)
    const failures = () => endpoint(rp, 'tcp-listener', addr).tlsFailures
    const lines = ['openssl s_client with the right certificate\n', 'node:tls with the right certificate\n']
    const good = sClient(t, port, pki.caCert, ['-cert', pki.clientCert, '-key', pki.clientKey])
    good.child.stdin.write(lines[0])
    await waitForSize(out.out, lines[0].length)
    const goodNode = tlsClient(t, port, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey })
    await goodNode.secure
    goodNode.socket.write(lines[1])
    await waitForSize(out.out, lines[0].length + lines[1].length)

    // No certificate (openssl, then node), a certificate from another CA (from 127.0.0.3, then 127.0.0.1).
    const bare = sClient(t, port, pki.caCert)
    bare.child.stdin.write('no certificate, must not arrive\n')
    t.not(await within(bare.exited, 10_000, 's_client without a certificate did not end'), 0)
    t.regex(bare.stderr(), /alert certificate required/)
    await waitFor(() => failures() === 1, 10_000, 'failure 1')
    const bareNode = tlsClient(t, port, { ca: pki.caCert })
    bareNode.secure.then(() => bareNode.socket.write('no certificate, must not arrive\n'))
    await bareNode.closed
    t.is(bareNode.error()?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    await waitFor(() => failures() === 2, 10_000, 'failure 2')
    for (const [localAddress, n] of [
      ['127.0.0.3', 3],
      ['127.0.0.1', 4],
    ]) {
      const wrong = tlsClient(t, port, { ca: pki.caCert, cert: pki.wrongCaClientCert, key: pki.wrongCaClientKey, localAddress })
      wrong.secure.then(() => wrong.socket.write('wrong CA, must not arrive\n'))
      await wrong.closed
      t.truthy(wrong.error(), 'the client is told')
      await waitFor(() => failures() === n, 10_000, `failure ${n}`)
    }
    good.child.kill('SIGTERM')
    goodNode.socket.end()
    await Promise.all([good.exited, goodNode.closed])
    await sleep(200)
    const stats = await rp.close()
    await out.server.close()
    t.is(readFile(out.out).toString(), lines.join(''))
    const listener = stats.endpoints.find((e) => e.kind === 'tcp-listener')
    t.is(listener.tlsFailures, 4)
    t.is(listener.connects, 6)
    t.deepEqual(
      logs.filter((m) => m.includes('TLS handshake')).map((m) => m.replace(/with (127\.0\.0\.\d):\d+/, 'with $1:P')),
      [
        `${addr}: TLS handshake with 127.0.0.1:P failed: the client presented no certificate (one is required: tlsClientCa)`,
        `${addr}: TLS handshake with 127.0.0.3:P failed: the client certificate is not signed by the CA of tlsClientCa`,
      ],
      logs.join('\n'),
    )
  },
)

test('--allow: 127.0.0.1/32 is let in, a client from 127.0.0.2 is refused on inputs and outputs, counted and logged once', async (t) => {
  const out = await sink('allow.txt')
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    tcpListenAddrs: ['127.0.0.1:0'],
    udpOutputAddrs: [out.addr],
    tcpOutputAddrs: ['127.0.0.1:0'],
    allow: ['127.0.0.1/32'],
    onLog: (e) => logs.push(e.message),
  })
  t.teardown(() => rp.close())
  const events = []
  rp.on('client', (e) => events.push(e))
  const [inAddr] = rp.addresses.tcpListen
  const [outAddr] = rp.addresses.tcpOutput
  const reader = tcpClient(t, portOf(outAddr))
  await reader.connected
  for (let i = 1; i <= 2; i++) {
    const intruder = tcpClient(t, portOf(inAddr), '127.0.0.2')
    intruder.connected.then(() => intruder.socket.write('from 127.0.0.2, must not arrive\n'))
    await intruder.closed
    await waitFor(() => endpoint(rp, 'tcp-listener', inAddr).refusedNotAllowed === i, 10_000, `refusal ${i}`)
  }
  const spy = tcpClient(t, portOf(outAddr), '127.0.0.2')
  await spy.closed
  await waitFor(() => endpoint(rp, 'tcp-output', outAddr).refusedNotAllowed === 1, 10_000, 'the output refusal')
  await waitFor(() => endpoint(rp, 'tcp-output', outAddr).connects === 1, 10_000, 'the reader')
  const writer = tcpClient(t, portOf(inAddr), '127.0.0.1')
  await writer.connected
  const line = 'from 127.0.0.1, allowed\n'
  writer.socket.write(line)
  await waitForSize(out.out, line.length)
  await waitFor(() => reader.data().length >= line.length, 10_000, 'the reader has the line')
  writer.socket.end()
  reader.socket.end()
  await writer.closed
  const stats = await rp.close()
  await out.server.close()
  t.is(readFile(out.out).toString(), line)
  t.is(reader.data().toString(), line)
  t.is(spy.data().length, 0)
  const input = stats.endpoints.find((e) => e.kind === 'tcp-listener')
  const output = stats.endpoints.find((e) => e.kind === 'tcp-output')
  t.deepEqual([input.connects, input.refusedNotAllowed, input.refusedPerAddress, input.refused], [1, 2, 0, 0])
  t.deepEqual([output.connects, output.refusedNotAllowed], [1, 1])
  // Every refusal is an event, though the log speaks of each address once a minute.
  t.deepEqual(
    events.filter((e) => e.action === 'refused').map((e) => [e.listener, e.peer.replace(/:\d+$/, ''), e.reason]),
    [
      [inAddr, '127.0.0.2', 'its address is not allowed'],
      [inAddr, '127.0.0.2', 'its address is not allowed'],
      [outAddr, '127.0.0.2', 'its address is not allowed'],
    ],
  )
  t.deepEqual(
    logs.filter((m) => m.includes('not allowed')).map((m) => m.replace(/127\.0\.0\.2:\d+/, '127.0.0.2:P')),
    [
      `${inAddr}: refused TCP client 127.0.0.2:P: its address is not allowed (allow)`,
      `${outAddr}: refused TCP client 127.0.0.2:P: its address is not allowed (allow)`,
    ],
  )
})

test('--max-clients-per-address: idle clients from one address are capped and a legitimate client from another still gets in, on inputs and outputs', async (t) => {
  const out = await sink('cap.txt')
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    udpListenAddrs: ['127.0.0.1:0'],
    tcpListenAddrs: ['127.0.0.1:0'],
    tcpOutputAddrs: ['127.0.0.1:0'],
    udpOutputAddrs: [out.addr],
    maxTcpClients: 5,
    maxClientsPerAddress: 2,
    onLog: (e) => logs.push(e.message),
  })
  t.teardown(() => rp.close())
  const [inAddr] = rp.addresses.tcpListen
  const [outAddr] = rp.addresses.tcpOutput
  // Five idle connections from 127.0.0.2 to each listener: two are kept, three refused.
  const idle = []
  for (const addr of [inAddr, outAddr]) {
    for (let i = 0; i < 5; i++) {
      const c = tcpClient(t, portOf(addr), '127.0.0.2')
      await c.connected
      idle.push(c)
    }
  }
  await waitFor(
    () => endpoint(rp, 'tcp-listener', inAddr).refusedPerAddress === 3 && endpoint(rp, 'tcp-output', outAddr).refusedPerAddress === 3,
    10_000,
    'three refusals each',
  )
  const writer = tcpClient(t, portOf(inAddr), '127.0.0.1')
  const reader = tcpClient(t, portOf(outAddr), '127.0.0.1')
  await Promise.all([writer.connected, reader.connected])
  await waitFor(() => endpoint(rp, 'tcp-output', outAddr).connects === 3, 10_000, 'the legitimate reader')
  const line = 'the legitimate client\n'
  writer.socket.write(line)
  await waitForSize(out.out, line.length)
  await waitFor(() => reader.data().length >= line.length, 10_000, 'the reader has the line')
  writer.socket.end()
  await writer.closed
  for (const c of idle) c.socket.destroy()
  reader.socket.end()
  const stats = await rp.close()
  await out.server.close()
  t.is(readFile(out.out).toString(), line)
  t.is(reader.data().toString(), line)
  for (const kind of ['tcp-listener', 'tcp-output']) {
    const e = stats.endpoints.find((x) => x.kind === kind)
    t.deepEqual([e.connects, e.refusedPerAddress, e.refused, e.refusedNotAllowed], [3, 3, 0, 0], kind)
  }
  t.deepEqual(
    logs.filter((m) => m.includes('(maxClientsPerAddress)')).map((m) => m.replace(/127\.0\.0\.2:\d+/, '127.0.0.2:P')),
    [
      `${inAddr}: refused TCP client 127.0.0.2:P: 127.0.0.2 already has 2 clients (maxClientsPerAddress)`,
      `${outAddr}: refused TCP client 127.0.0.2:P: 127.0.0.2 already has 2 clients (maxClientsPerAddress)`,
    ],
  )
})

test('--idle-timeout: clients that send nothing are closed and counted, once logged per address; a client that keeps sending stays', async (t) => {
  const out = await sink('idle.txt')
  const logs = []
  const rp = await createReverseProxy({
    ...group(),
    tcpListenAddrs: ['127.0.0.1:0'],
    udpOutputAddrs: [out.addr],
    idleTimeout: 3,
    onLog: (e) => logs.push(e.message),
  })
  t.teardown(() => rp.close())
  const [addr] = rp.addresses.tcpListen
  const quiet = [tcpClient(t, portOf(addr)), tcpClient(t, portOf(addr))]
  const talker = tcpClient(t, portOf(addr))
  await Promise.all([...quiet.map((c) => c.connected), talker.connected])
  const lines = []
  // A line every 200 ms against a timeout of 3 s: a margin that holds on a loaded machine.
  for (let i = 0; i < 20; i++) {
    const line = `still here ${i}\n`
    lines.push(line)
    talker.socket.write(line)
    await sleep(200)
  }
  await within(Promise.all(quiet.map((c) => c.closed)), 20_000, 'the quiet clients were not closed')
  t.is(endpoint(rp, 'tcp-listener', addr).idleTimeouts, 2)
  t.false(talker.socket.destroyed, 'the talking client is still connected')
  const expected = lines.join('')
  await waitForSize(out.out, expected.length)
  talker.socket.end()
  await talker.closed
  const stats = await rp.close()
  await out.server.close()
  t.is(readFile(out.out).toString(), expected)
  const e = stats.endpoints.find((x) => x.kind === 'tcp-listener')
  t.deepEqual([e.connects, e.disconnects, e.idleTimeouts], [3, 3, 2])
  t.deepEqual(
    logs.filter((m) => m.includes('(idleTimeout)')).map((m) => m.replace(/client 127\.0\.0\.1:\d+/, 'client 127.0.0.1:P')),
    [`${addr}: closed TCP client 127.0.0.1:P: it sent nothing for 3 seconds (idleTimeout)`],
  )
})

test('an all-hosts group gets a one-line note at start; a dedicated group none', async (t) => {
  requireIsolation()
  const logs = []
  const rp = await createReverseProxy({
    udpListenAddrs: ['127.0.0.1:0'],
    multicastAddr: '224.0.0.1:21999',
    multicastInterface: 'lo',
    onLog: (e) => logs.push(e.message),
  })
  await rp.close()
  t.deepEqual(
    logs.filter((m) => m.startsWith('note:')),
    [
      'note: the group 224.0.0.1:21999 is received by every host on the link (all-hosts): any of them can read the stream and send into it; use a dedicated group (e.g. [ff02::4d50%IFACE]:9918 or 239.x.y.z) and a bus key',
    ],
  )
  const quiet = []
  const dedicated = await createReverseProxy({ ...group(), udpListenAddrs: ['127.0.0.1:0'], onLog: (e) => quiet.push(e.message) })
  await dedicated.close()
  t.deepEqual(
    quiet.filter((m) => m.startsWith('note:')),
    [],
  )
})

test('metrics export the new counters', async (t) => {
  const pki = await pkiReady
  const rp = await createReverseProxy({
    ...group(),
    tcpListenAddrs: ['tls://127.0.0.1:0'],
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
    udpOutputAddrs: ['127.0.0.1:9'],
  })
  t.teardown(() => rp.close())
  const addr = rp.addresses.tcpListen[0]
  const stray = tcpClient(t, portOf(addr))
  await stray.connected
  stray.socket.end('not TLS\n')
  await waitFor(() => endpoint(rp, 'tcp-listener', addr).tlsFailures === 1, 10_000, 'the failure')
  const registry = mproxy.registerMetrics(() => [{ route: 'rp', handle: rp }])
  const text = await registry.metrics()
  t.true(text.includes(`mproxy_tls_failures_total{route="rp",kind="tcp-listener",endpoint="${addr}"} 1`), text)
  for (const name of ['refused_not_allowed', 'refused_per_address', 'idle_timeouts', 'tls_failures'])
    t.true(text.includes(`# HELP mproxy_${name}_total `), name)
})

// Bad input: one line naming the flag, exit 2 (usage) or 1 (a file the system refuses).
const R = 'mproxy-reverseproxy'
const G = ['--multicast-addr', '239.89.9.9:21998', '--multicast-interface', 'lo']
function bad(name, args, code, message) {
  // One at a time: a burst of program starts slows every other test on a small machine.
  test.serial(`bad input: ${name}`, async (t) => {
    const pki = await pkiReady
    const r = await within(runToEnd('reverseproxy', [...G, ...args(pki)]), 60_000, 'did not exit')
    t.is(r.code, code, r.stderr)
    const lines = r.stderr.trimEnd().split('\n')
    t.is(lines.length, 1, r.stderr)
    t.is(lines[0], typeof message === 'function' ? message(pki) : message)
  })
}
bad(
  'a tls:// listener without --tls-cert and --tls-key',
  () => ['--tcp-listen-addr', 'tls://127.0.0.1:0'],
  2,
  `${R}: --tls-cert is required with a tls:// listener (--tcp-listen-addr or --tcp-output-addr)`,
)
bad(
  '--tls-cert without --tls-key',
  (p) => ['--tcp-output-addr', 'tls://127.0.0.1:0', '--tls-cert', p.serverCert],
  2,
  `${R}: --tls-key is required with a tls:// listener (--tcp-listen-addr or --tcp-output-addr)`,
)
bad(
  '--tls-cert without a tls:// listener',
  (p) => ['--tcp-listen-addr', '127.0.0.1:0', '--tls-cert', p.serverCert, '--tls-key', p.serverKey],
  2,
  `${R}: --tls-cert needs a --tcp-listen-addr or --tcp-output-addr of the form tls://HOST:PORT`,
)
bad(
  '--tls-client-ca without a tls:// listener',
  (p) => ['--tcp-output-addr', '127.0.0.1:0', '--tls-client-ca', p.caCert],
  2,
  `${R}: --tls-client-ca needs a --tcp-listen-addr or --tcp-output-addr of the form tls://HOST:PORT`,
)
bad(
  'an unknown scheme on --tcp-output-addr',
  () => ['--tcp-output-addr', 'ssl://127.0.0.1:0'],
  2,
  `${R}: --tcp-output-addr: "ssl://127.0.0.1:0" has an unknown scheme; use HOST:PORT or tls://HOST:PORT`,
)
bad(
  'a tls:// listener without a port',
  (p) => ['--tcp-listen-addr', 'tls://127.0.0.1', '--tls-cert', p.serverCert, '--tls-key', p.serverKey],
  2,
  `${R}: --tcp-listen-addr: "127.0.0.1" has no port; expected HOST:PORT`,
)
bad(
  '--allow that is no network',
  () => ['--tcp-listen-addr', '127.0.0.1:0', '--allow', '10.0.0.0/33'],
  2,
  `${R}: --allow: 10.0.0.0/33: the prefix length must be 0 to 32`,
)
bad(
  '--allow a host name',
  () => ['--tcp-listen-addr', '127.0.0.1:0', '--allow', 'localhost'],
  2,
  `${R}: --allow: localhost is not an IP address or CIDR block (192.0.2.0/24)`,
)
bad(
  '--allow without a TCP listener',
  () => ['--udp-listen-addr', '127.0.0.1:0', '--allow', '10.0.0.0/8'],
  2,
  `${R}: --allow needs a TCP listener (--tcp-listen-addr or --tcp-output-addr)`,
)
bad(
  '--max-clients-per-address 0',
  () => ['--tcp-listen-addr', '127.0.0.1:0', '--max-clients-per-address', '0'],
  2,
  `${R}: --max-clients-per-address: "0" is not a whole number from 1 to 1000000`,
)
bad(
  '--max-clients-per-address without a TCP listener',
  () => ['--udp-listen-addr', '127.0.0.1:0', '--max-clients-per-address', '2'],
  2,
  `${R}: --max-clients-per-address needs a TCP listener (--tcp-listen-addr or --tcp-output-addr)`,
)
bad(
  '--idle-timeout that is no number',
  () => ['--tcp-listen-addr', '127.0.0.1:0', '--idle-timeout', '5m'],
  2,
  `${R}: --idle-timeout: "5m" is not a number of seconds from 0.001 to 86400`,
)
bad(
  '--idle-timeout 0',
  () => ['--tcp-listen-addr', '127.0.0.1:0', '--idle-timeout', '0'],
  2,
  `${R}: --idle-timeout: "0" is not a number of seconds from 0.001 to 86400`,
)
bad(
  '--idle-timeout with outputs only',
  () => ['--tcp-output-addr', '127.0.0.1:0', '--idle-timeout', '30'],
  2,
  `${R}: --idle-timeout needs a TCP input (--tcp-listen-addr); output clients are not expected to send`,
)
bad(
  '--tls-cert that does not exist',
  (p) => ['--tcp-listen-addr', 'tls://127.0.0.1:0', '--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', p.serverKey],
  1,
  `${R}: cannot read TLS certificate ${path.join(dir, 'missing.pem')}: ${onWindows ? 'file not found' : 'no such file or directory'}`,
)
bad(
  '--tls-key that holds no key',
  (p) => ['--tcp-listen-addr', 'tls://127.0.0.1:0', '--tls-cert', p.serverCert, '--tls-key', p.serverCert],
  1,
  (p) => `${R}: TLS key ${p.serverCert} holds no PEM private key`,
)
bad(
  '--tls-key of another certificate',
  (p) => ['--tcp-output-addr', 'tls://127.0.0.1:0', '--tls-cert', p.serverCert, '--tls-key', p.clientKey],
  1,
  (p) => `${R}: TLS key ${p.clientKey} does not belong to TLS certificate ${p.serverCert}`,
)
bad(
  '--tls-client-ca that is a directory',
  (p) => ['--tcp-listen-addr', 'tls://127.0.0.1:0', '--tls-cert', p.serverCert, '--tls-key', p.serverKey, '--tls-client-ca', dir],
  1,
  `${R}: cannot read TLS client CA file ${dir}: it is a directory`,
)

test('bad input in a config file names the route and option', async (t) => {
  const file = path.join(tempDir(), 'bad.json')
  writeFileSync(
    file,
    JSON.stringify({
      routes: [{ name: 'rp', kind: 'reverseproxy', multicastAddr: '239.89.9.9:21998', tcpListenAddrs: ['127.0.0.1:0'], allow: ['10.0.0.0/8', 'nonsense'] }],
    }),
  )
  const r = await within(runToEnd('mproxy', ['check', '--config', file]), 60_000, 'did not exit')
  t.is(r.code, 2, r.stderr)
  t.regex(r.stderr.trimEnd(), /routes\[0\]\.allow\[1\]: nonsense is not an IP address or CIDR block \(192\.0\.2\.0\/24\)$/)
})

unixOnly(WHY.openssl)(
  'a config file: one route of TLS inputs with client certificates and an allow list, one of plain outputs, on the same group',
  async (t) => {
    const pki = await pkiReady
    const g = group()
    const file = path.join(tempDir(), 'trust.json')
    const routes = [
      {
        name: 'sensors',
        kind: 'reverseproxy',
        tcpListenAddrs: 'tls://127.0.0.1:0',
        ...g,
        tlsCert: pki.serverCert,
        tlsKey: pki.serverKey,
        tlsClientCa: pki.caCert,
        allow: '127.0.0.1',
      },
      { name: 'readers', kind: 'reverseproxy', tcpOutputAddrs: '127.0.0.1:0', ...g, allow: ['127.0.0.0/30'], maxClientsPerAddress: 1 },
    ]
    writeFileSync(file, JSON.stringify({ routes }))
    const checked = await runToEnd('mproxy', ['check', '--config', file])
    t.is(checked.code, 0, checked.stderr)
    const p = runProgram('mproxy', ['--config', file], { listeners: 2 })
    t.teardown(() => p.child.kill('SIGKILL'))
    const [inAddr, outAddr] = await p.listening
    const reader = tcpClient(t, portOf(outAddr))
    await reader.connected
    const second = tcpClient(t, portOf(outAddr))
    await second.closed
    await waitFor(() => /\[readers\] warn: .*127\.0\.0\.1 already has 1 clients/.test(p.stderr()), 10_000, 'the refusal')
    const line = 'through a config file, with a certificate\n'
    const writer = sClient(t, portOf(inAddr), pki.caCert, ['-cert', pki.clientCert, '-key', pki.clientKey])
    writer.child.stdin.write(line)
    await waitFor(() => reader.data().length >= line.length, 10_000, 'the reader has the line')
    const outsider = tlsClient(t, portOf(inAddr), { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey, localAddress: '127.0.0.2' })
    await outsider.closed
    await waitFor(() => /\[sensors\] warn: .*127\.0\.0\.2:\d+: its address is not allowed/.test(p.stderr()), 10_000, 'the refusal')
    writer.child.kill('SIGTERM')
    reader.socket.end()
    const r = await stop(p)
    t.is(r.code, 0, r.stderr)
    t.is(reader.data().toString(), line)
    t.is(second.data().length, 0)
  },
)

test('mproxy check --config reads tlsClientCa like the other certificate files', async (t) => {
  const pki = await pkiReady
  const file = path.join(tempDir(), 'missing-ca.json')
  const missing = path.join(dir, 'missing-ca.pem')
  writeFileSync(
    file,
    JSON.stringify({
      routes: [
        {
          name: 'rp',
          kind: 'reverseproxy',
          multicastAddr: '239.89.9.9:21998',
          tcpListenAddrs: 'tls://127.0.0.1:0',
          tlsCert: pki.serverCert,
          tlsKey: pki.serverKey,
          tlsClientCa: missing,
        },
      ],
    }),
  )
  const r = await runToEnd('mproxy', ['check', '--config', file])
  t.is(r.code, 1, r.stderr)
  t.is(r.stderr.trimEnd(), `mproxy: routes[0].tlsClientCa: cannot read ${missing}: no such file`)
})

test('access settings per listener: each TCP listener of one route keeps its own allow list and cap', async (t) => {
  const rp = await createReverseProxy({
    ...group(),
    tcpListenAddrs: [{ addr: '127.0.0.1:0', allow: '127.0.0.1/32' }, '127.0.0.1:0'],
    tcpOutputAddrs: [
      { addr: '127.0.0.1:0', allow: ['127.0.0.1/32'] },
      { addr: '127.0.0.1:0', maxClientsPerAddress: 1 },
    ],
    allow: ['127.0.0.0/8'],
  })
  t.teardown(() => rp.close())
  const [strictIn, openIn] = rp.addresses.tcpListen
  const [strictOut, cappedOut] = rp.addresses.tcpOutput
  // From 127.0.0.2: refused where the listener's own list says 127.0.0.1 only, let in elsewhere.
  for (const address of [strictIn, strictOut]) {
    const c = tcpClient(t, portOf(address), '127.0.0.2')
    await c.closed
  }
  const inOk = tcpClient(t, portOf(openIn), '127.0.0.2')
  await inOk.connected
  const first = tcpClient(t, portOf(cappedOut), '127.0.0.2')
  await first.connected
  await waitFor(() => endpoint(rp, 'tcp-output', cappedOut).connects === 1, 10_000, 'the first output client')
  const second = tcpClient(t, portOf(cappedOut), '127.0.0.2')
  await second.closed
  await waitFor(() => endpoint(rp, 'tcp-output', cappedOut).refusedPerAddress === 1, 10_000, 'the capped output')
  const stats = await rp.close()
  const e = (kind, address) => stats.endpoints.find((x) => x.kind === kind && x.name === address)
  t.deepEqual([e('tcp-listener', strictIn).refusedNotAllowed, e('tcp-listener', strictIn).connects], [1, 0])
  t.deepEqual([e('tcp-listener', openIn).refusedNotAllowed, e('tcp-listener', openIn).connects], [0, 1])
  t.deepEqual([e('tcp-output', strictOut).refusedNotAllowed, e('tcp-output', strictOut).connects], [1, 0])
  t.deepEqual([e('tcp-output', cappedOut).refusedPerAddress, e('tcp-output', cappedOut).connects], [1, 1])
})

test('access settings per listener in a config file: bad values name their path', async (t) => {
  const dir = tempDir()
  const file = path.join(dir, 'bad.yaml')
  writeFileSync(
    file,
    'routes:\n  - { name: bus, kind: reverseproxy, multicastAddr: "239.89.9.9:9918", tcpListenAddrs: [{ addr: "127.0.0.1:0", allow: "10.0.0.0/33" }] }\n',
  )
  const r = await runToEnd('mproxy', ['check', '--config', file])
  t.is(r.code, 2)
  t.regex(r.stderr, /^mproxy: routes\[0\]\.tcpListenAddrs\[0\]\.allow(\[0\])?: .*10\.0\.0\.0\/33.*\n$/)
})

test('--allow ::ffff:127.0.0.1 (an IPv4 address written as IPv6) lets the 127.0.0.1 client in, and refuses 127.0.0.2', async (t) => {
  const out = await sink('allow-mapped.txt')
  const rp = await createReverseProxy({ ...group(), tcpListenAddrs: ['127.0.0.1:0'], udpOutputAddrs: [out.addr], allow: ['::ffff:127.0.0.1'] })
  t.teardown(() => rp.close())
  const [inAddr] = rp.addresses.tcpListen
  const intruder = tcpClient(t, portOf(inAddr), '127.0.0.2')
  await intruder.closed
  await waitFor(() => endpoint(rp, 'tcp-listener', inAddr).refusedNotAllowed === 1, 10_000, 'the refusal of 127.0.0.2')
  const writer = tcpClient(t, portOf(inAddr), '127.0.0.1')
  await writer.connected
  const line = 'from 127.0.0.1, allowed as ::ffff:127.0.0.1\n'
  writer.socket.write(line)
  await waitForSize(out.out, line.length)
  writer.socket.end()
  await writer.closed
  const stats = await rp.close()
  await out.server.close()
  t.is(readFile(out.out).toString(), line)
  const input = stats.endpoints.find((e) => e.kind === 'tcp-listener')
  t.deepEqual([input.connects, input.refusedNotAllowed], [1, 1])
})
