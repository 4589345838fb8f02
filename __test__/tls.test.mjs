// The forward proxy as a TLS client, against real TLS servers with a CA and certificates
// the test makes: verified connections work (names and IP literals), and a wrong name, an
// unknown CA and an expired certificate each fail with a clear line, once.
import test from 'ava'
import path from 'node:path'
import { makeText, mproxy, readFile, runProgram, sleep, stop, tempDir, waitFor, waitForSize } from './helpers.mjs'
import { makePki, makeSelfSigned, startTlsServer } from './tls-fixtures.mjs'
import { bulk, stoppedCleanly } from './platform.mjs'

const dir = tempDir()
const pkiReady = makePki(dir)

async function udpServer(name) {
  const out = path.join(tempDir(), name)
  const server = await mproxy.createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  return { server, out, addr: server.addresses.listen[0] }
}

async function transferOver(t, target, serverOptions, proxyFlags) {
  const data = makeText(bulk(2_000_000), 41)
  const tlsServer = await startTlsServer({ ...serverOptions, lines: data })
  const sink = await udpServer('out.txt')
  const proxy = runProgram('proxy', ['--tcp-connect-addr', `tls://${target}:${tlsServer.port}`, '--udp-downstream-addr', sink.addr, ...proxyFlags])
  t.teardown(() => proxy.child.kill('SIGKILL'))
  await waitForSize(sink.out, data.length)
  const r = await stop(proxy)
  await sink.server.close()
  await tlsServer.close()
  stoppedCleanly(t, r)
  t.true(readFile(sink.out).equals(data))
  return { stderr: r.stderr, tlsServer }
}

test('verified TLS by host name: the stream arrives byte for byte', async (t) => {
  const pki = await pkiReady
  const { stderr } = await transferOver(t, 'localhost', { cert: pki.serverCert, key: pki.serverKey }, ['--tls-ca', pki.caCert])
  t.regex(stderr, /connected to tls:\/\/localhost:\d+/)
})

test('verified TLS to an IP literal (the certificate names 127.0.0.1)', async (t) => {
  const pki = await pkiReady
  const { stderr } = await transferOver(t, '127.0.0.1', { cert: pki.serverCert, key: pki.serverKey }, ['--tls-ca', pki.caCert])
  t.regex(stderr, /connected to tls:\/\/127\.0\.0\.1:\d+/)
})

test('a client certificate is accepted by a server that requires one', async (t) => {
  const pki = await pkiReady
  const { tlsServer } = await transferOver(
    t,
    'localhost',
    { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true, rejectUnauthorized: true },
    ['--tls-ca', pki.caCert, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey],
  )
  t.is(tlsServer.authorizedClients(), 1)
})

test('--tls-insecure connects to a server no CA vouches for, and says so', async (t) => {
  const pki = await pkiReady
  const { stderr } = await transferOver(t, 'localhost', { cert: pki.unknownCaServerCert, key: pki.unknownCaServerKey }, ['--tls-insecure'])
  t.regex(stderr, /^mproxy-proxy: warn: TLS certificate verification is off \(--tls-insecure\): the server's identity is not checked$/m)
})

/** Starts the proxy against a server it must refuse; returns its stderr after several retries. */
async function refused(t, serverOptions, flags = (pki) => ['--tls-ca', pki.caCert]) {
  const pki = await pkiReady
  const tlsServer = await startTlsServer({ ...serverOptions(pki), lines: 'never read\n' })
  const sink = await udpServer('refused.txt')
  const proxy = runProgram('proxy', ['--tcp-connect-addr', `tls://localhost:${tlsServer.port}`, '--udp-downstream-addr', sink.addr, ...flags(pki)])
  t.teardown(() => proxy.child.kill('SIGKILL'))
  await waitFor(() => /cannot connect/.test(proxy.stderr()), 10_000, 'the failure')
  // Let it retry a few times (0.5 s, 1 s, ...): the failure is still reported once.
  await new Promise((r) => setTimeout(r, 2000))
  const r = await stop(proxy)
  await sink.server.close()
  await tlsServer.close()
  stoppedCleanly(t, r)
  t.true(tlsServer.clientErrors().length + tlsServer.accepted() >= 2, 'it kept retrying')
  const lines = r.stderr.split('\n').filter((l) => l.includes('cannot connect'))
  t.is(lines.length, 1, r.stderr)
  t.is(readFile(sink.out).length, 0)
  return { line: lines[0], port: tlsServer.port }
}

test('a certificate for another name is refused with a clear reason', async (t) => {
  const { line, port } = await refused(t, (pki) => ({ cert: pki.otherNameCert, key: pki.otherNameKey }))
  t.is(
    line,
    `mproxy-proxy: warn: cannot connect to tls://localhost:${port}: TLS handshake failed: certificate is not valid for this host name; retrying every 0.5 s to 30 s`,
  )
})

test('a certificate from an unknown CA is refused with a clear reason', async (t) => {
  const { line, port } = await refused(t, (pki) => ({ cert: pki.unknownCaServerCert, key: pki.unknownCaServerKey }))
  t.is(
    line,
    `mproxy-proxy: warn: cannot connect to tls://localhost:${port}: TLS handshake failed: certificate is not signed by a trusted CA (unknown issuer; see --tls-ca); retrying every 0.5 s to 30 s`,
  )
})

test('an expired certificate is refused with a clear reason', async (t) => {
  const { line, port } = await refused(t, (pki) => ({ cert: pki.expiredCert, key: pki.expiredKey }))
  t.is(line, `mproxy-proxy: warn: cannot connect to tls://localhost:${port}: TLS handshake failed: certificate has expired; retrying every 0.5 s to 30 s`)
})

/** A self-signed certificate as `openssl req -x509 -newkey rsa:2048` makes it (system config: CA:TRUE). */
const selfSigned = (name) => makeSelfSigned(dir, name)

test('a self-signed certificate given with --tls-ca is pinned: the stream arrives byte for byte', async (t) => {
  const pinned = await selfSigned('pinned')
  const { stderr } = await transferOver(t, 'localhost', { cert: pinned.cert, key: pinned.key }, ['--tls-ca', pinned.cert])
  t.regex(stderr, /connected to tls:\/\/localhost:\d+/)
  t.notRegex(stderr, /warn|error/)
})

test('a pinned certificate is no reason to accept a different self-signed one', async (t) => {
  const pinned = await selfSigned('pinned-only')
  const other = await selfSigned('impostor')
  const { line, port } = await refused(
    t,
    () => ({ cert: other.cert, key: other.key }),
    () => ['--tls-ca', pinned.cert],
  )
  t.is(
    line,
    `mproxy-proxy: warn: cannot connect to tls://localhost:${port}: TLS handshake failed: the server presents a CA certificate as its own; to pin a self-signed certificate, give that exact certificate with --tls-ca; retrying every 0.5 s to 30 s`,
  )
})

test('a server that requires a client certificate: said in words, once, with a growing backoff', async (t) => {
  const pki = await pkiReady
  const tlsServer = await startTlsServer({
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.caCert,
    requestCert: true,
    rejectUnauthorized: true,
    lines: 'never sent\n',
  })
  const sink = await udpServer('no-client-cert.txt')
  const proxy = runProgram('proxy', ['--tcp-connect-addr', `tls://localhost:${tlsServer.port}`, '--udp-downstream-addr', sink.addr, '--tls-ca', pki.caCert])
  t.teardown(() => proxy.child.kill('SIGKILL'))
  // 0.5 s, 1 s, 2 s (each ±20%) between attempts: 4 in the 5 s from the first, not the 10
  // of a reset backoff. A busy machine only delays attempts, so only the upper bound holds
  // there: at most 4 in those 5 s, the fourth 1.6 s or more after the third (seen within
  // the 20 ms this polls at).
  const count = () => tlsServer.clientErrors().length + tlsServer.accepted()
  const attempts = []
  await waitFor(
    () => {
      for (let n = count(); attempts.length < n; ) attempts.push(Date.now())
      return attempts.length >= 4
    },
    20_000,
    () => `four attempts (${count()})`,
  )
  await sleep(attempts[0] + 5000 - Date.now())
  const inFiveSeconds = count()
  const r = await stop(proxy)
  await sink.server.close()
  await tlsServer.close()
  stoppedCleanly(t, r)
  t.true(inFiveSeconds <= 4, `${inFiveSeconds} attempts in the 5 s from the first`)
  t.true(attempts[3] - attempts[2] >= 1200, `${attempts[3] - attempts[2]} ms from the third attempt to the fourth`)
  const reason = 'the server requires a client certificate (see --tls-cert and --tls-key)'
  const name = `tls://localhost:${tlsServer.port}`
  t.deepEqual(r.stderr.trimEnd().split('\n'), [
    `mproxy-proxy: connected to ${name}`,
    `mproxy-proxy: warn: connection to ${name} lost (${reason}); reconnecting`,
    `mproxy-proxy: connected to ${name}`,
    `mproxy-proxy: warn: connection to ${name} keeps failing within 10 s of connecting (${reason}); reconnecting with growing delays up to 30 s, without reporting each attempt`,
  ])
  t.is(readFile(sink.out).length, 0)
})
