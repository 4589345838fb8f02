// The test fixtures themselves: the PKI (@peculiar/x509), the TLS and TCP servers, and the
// multi-host network namespaces, checked with nothing but Node (and, where it is, openssl).
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import { makePki, startTcpServer, startTlsServer } from './tls-fixtures.mjs'
import { createHosts } from './netns.mjs'
import { requireIsolation, tempDir, waitFor, within } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

function verify(caFile, certFile, extra = []) {
  try {
    execFileSync('openssl', ['verify', '-CAfile', caFile, ...extra, certFile], { stdio: 'pipe' })
    return 'OK'
  } catch (e) {
    return e.stdout.toString() + e.stderr.toString()
  }
}

/** Connects a node:tls client; resolves with what it read (up to `want` bytes) or the error. */
function tlsGet({ port, host = '127.0.0.1', servername = 'localhost', ca, cert, key, want }) {
  return new Promise((resolve) => {
    const chunks = []
    let size = 0
    const socket = tls.connect({ port, host, servername, ca: ca && readFileSync(ca), cert: cert && readFileSync(cert), key: key && readFileSync(key) })
    const done = (error) => {
      socket.destroy()
      resolve({ data: Buffer.concat(chunks), error })
    }
    socket.on('data', (d) => {
      chunks.push(d)
      size += d.length
      if (size >= want) done()
    })
    socket.on('error', (e) => done(e))
    socket.on('close', () => done(new Error('closed')))
  })
}

/** Connects a plain TCP client and resolves with the socket once `want` bytes arrived. */
function tcpGet(port, want) {
  return new Promise((resolve, reject) => {
    const chunks = []
    const socket = net.connect(port, '127.0.0.1')
    socket.on('data', (d) => {
      chunks.push(d)
      if (Buffer.concat(chunks).length >= want) resolve({ socket, data: Buffer.concat(chunks) })
    })
    socket.on('error', reject)
  })
}

test('makePki: every certificate is signed by its own CA, for its names, purposes and dates (node:crypto)', async (t) => {
  const started = Date.now()
  // ~1 s alone; the hang limit (through deadline()) is generous for loaded machines.
  const pki = await within(makePki(tempDir(t)), 10_000, 'makePki did not finish')
  t.log(`makePki took ${Date.now() - started} ms`)
  const cert = (file) => new X509Certificate(readFileSync(file))
  const [ca, unknownCa] = [cert(pki.caCert), cert(pki.unknownCaCert)]
  const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
  const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
  t.true(ca.ca && unknownCa.ca, 'the CAs say CA:TRUE')
  t.true(ca.verify(ca.publicKey) && ca.checkIssued(ca), 'the CA is self-signed')
  t.is(ca.subject, 'CN=mproxy test CA')
  for (const [file, issuer, eku] of [
    [pki.serverCert, ca, SERVER_AUTH],
    [pki.otherNameCert, ca, SERVER_AUTH],
    [pki.expiredCert, ca, SERVER_AUTH],
    [pki.clientCert, ca, CLIENT_AUTH],
    [pki.unknownCaServerCert, unknownCa, SERVER_AUTH],
    [pki.wrongCaClientCert, unknownCa, CLIENT_AUTH],
  ]) {
    const c = cert(file)
    t.false(c.ca, `${file}: CA:FALSE`)
    t.true(c.checkIssued(issuer) && c.verify(issuer.publicKey), `${file} is signed by ${issuer.subject}`)
    t.false(c.verify((issuer === ca ? unknownCa : ca).publicKey), `${file} is not signed by the other CA`)
    t.deepEqual(c.keyUsage, [eku], `${file}: extendedKeyUsage`)
    t.is(c.publicKey.asymmetricKeyDetails.namedCurve, 'prime256v1')
  }
  const server = cert(pki.serverCert)
  t.is(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  t.is(server.checkHost('localhost'), 'localhost')
  t.is(server.checkIP('127.0.0.1'), '127.0.0.1')
  t.is(server.checkIP('::1'), '::1')
  t.true(new Date(server.validFrom) < new Date() && new Date() < new Date(server.validTo))
  const other = cert(pki.otherNameCert)
  t.is(other.checkHost('other.example'), 'other.example')
  t.is(other.checkHost('localhost'), undefined)
  const expired = cert(pki.expiredCert)
  t.is(expired.validFrom, 'Jan  1 00:00:00 2020 GMT')
  t.is(expired.validTo, 'Jan  2 00:00:00 2020 GMT')
  // Apart from its dates the expired certificate is a good one: only the time is wrong.
  t.is(expired.subjectAltName, server.subjectAltName)
  t.is(cert(pki.clientCert).subjectAltName, undefined)
  for (const key of [pki.serverKey, pki.otherNameKey, pki.expiredKey, pki.unknownCaServerKey, pki.clientKey, pki.wrongCaClientKey]) {
    t.regex(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8 PEM')
  }
  t.true(server.checkPrivateKey(createPrivateKey(readFileSync(pki.serverKey))))
})

unixOnly(WHY.openssl)('makePki: every certificate verifies against its own CA, and the bad ones fail for the right reason (openssl verify)', async (t) => {
  const pki = await makePki(tempDir())
  t.is(verify(pki.caCert, pki.serverCert, ['-purpose', 'sslserver', '-verify_hostname', 'localhost']), 'OK')
  t.is(verify(pki.caCert, pki.serverCert, ['-verify_ip', '127.0.0.1']), 'OK')
  t.is(verify(pki.caCert, pki.serverCert, ['-verify_ip', '::1']), 'OK')
  t.is(verify(pki.caCert, pki.otherNameCert, ['-verify_hostname', 'other.example']), 'OK')
  t.regex(verify(pki.caCert, pki.otherNameCert, ['-verify_hostname', 'localhost']), /hostname mismatch/)
  t.regex(verify(pki.caCert, pki.expiredCert), /certificate has expired/)
  const dates = execFileSync('openssl', ['x509', '-in', pki.expiredCert, '-noout', '-startdate', '-enddate'], { encoding: 'utf8' })
  t.regex(dates, /notBefore=Jan {2}1 00:00:00 2020 GMT\nnotAfter=Jan {2}2 00:00:00 2020 GMT/)
  // Apart from its dates the expired certificate is a good one: only the time is wrong.
  t.is(verify(pki.caCert, pki.expiredCert, ['-no_check_time', '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1']), 'OK')
  t.is(verify(pki.unknownCaCert, pki.unknownCaServerCert, ['-verify_hostname', 'localhost']), 'OK')
  t.regex(verify(pki.caCert, pki.unknownCaServerCert), /unable to get local issuer certificate/)
  t.is(verify(pki.caCert, pki.clientCert, ['-purpose', 'sslclient']), 'OK')
  t.regex(verify(pki.caCert, pki.clientCert, ['-purpose', 'sslserver']), /unsuitable certificate purpose/)
  t.is(verify(pki.unknownCaCert, pki.wrongCaClientCert, ['-purpose', 'sslclient']), 'OK')
  for (const key of [pki.serverKey, pki.otherNameKey, pki.expiredKey, pki.unknownCaServerKey, pki.clientKey]) {
    t.regex(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8 PEM')
  }
  const subject = execFileSync('openssl', ['x509', '-in', pki.caCert, '-noout', '-subject'], { encoding: 'utf8' })
  t.regex(subject, /CN ?= ?mproxy test CA/)
})

test('startTlsServer: a node tls client trusting the CA reads the lines, over IPv4 and IPv6', async (t) => {
  const pki = await makePki(tempDir())
  const lines = Buffer.from('line one\nline two\n')
  for (const host of ['127.0.0.1', '::1']) {
    const srv = await startTlsServer({ cert: pki.serverCert, key: pki.serverKey, host, lines })
    const r = await tlsGet({ port: srv.port, host, ca: pki.caCert, want: lines.length })
    t.is(r.error, undefined)
    t.true(r.data.equals(lines))
    t.is(srv.accepted(), 1)
    await srv.close()
  }
})

test('a verifying tls client refuses the wrong-name, expired and unknown-CA certificates', async (t) => {
  const pki = await makePki(tempDir())
  const cases = [
    [pki.otherNameCert, pki.otherNameKey, 'ERR_TLS_CERT_ALTNAME_INVALID'],
    [pki.expiredCert, pki.expiredKey, 'CERT_HAS_EXPIRED'],
    [pki.unknownCaServerCert, pki.unknownCaServerKey, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ]
  for (const [cert, key, code] of cases) {
    const srv = await startTlsServer({ cert, key, lines: Buffer.from('secret\n') })
    const r = await tlsGet({ port: srv.port, ca: pki.caCert, want: 7 })
    t.is(r.error?.code, code)
    t.is(r.data.length, 0)
    await srv.close()
  }
})

test('startTlsServer with requestCert requires a client certificate signed by the CA', async (t) => {
  const pki = await makePki(tempDir())
  const lines = Buffer.from('hello client\n')
  const srv = await startTlsServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true, rejectUnauthorized: true, lines })
  t.teardown(() => srv.close())
  const without = await tlsGet({ port: srv.port, ca: pki.caCert, want: lines.length })
  t.truthy(without.error)
  t.is(without.data.length, 0)
  await waitFor(() => srv.clientErrors().length === 1, 5000, 'the server to refuse the client')
  const foreign = await tlsGet({ port: srv.port, ca: pki.caCert, cert: pki.unknownCaServerCert, key: pki.unknownCaServerKey, want: lines.length })
  t.truthy(foreign.error)
  t.is(foreign.data.length, 0)
  const good = await tlsGet({ port: srv.port, ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey, want: lines.length })
  t.is(good.error, undefined)
  t.true(good.data.equals(lines))
  t.is(srv.accepted(), 1)
  t.is(srv.authorizedClients(), 1)
})

test('startTcpServer: close() drops the clients, restart() listens again on the same port', async (t) => {
  const data = Buffer.from('tcp data\n')
  const srv = await startTcpServer({ data })
  t.teardown(() => srv.close())
  const first = await tcpGet(srv.port, data.length)
  t.true(first.data.equals(data))
  first.socket.write('from client\n')
  await waitFor(() => srv.received().toString() === 'from client\n', 5000, 'the server to receive')
  const closed = new Promise((r) => first.socket.on('close', r))
  await srv.close()
  await closed
  await t.throwsAsync(tcpGet(srv.port, 1), { code: 'ECONNREFUSED' })
  const port = srv.port
  await srv.restart()
  t.is(srv.port, port)
  const second = await tcpGet(port, data.length)
  t.true(second.data.equals(data))
  t.is(srv.accepted(), 2)
  t.is(srv.connections(), 1)
  second.socket.destroy()
})

// A receiver and a sender in plain node:dgram, run inside the host namespaces.
const receiver = `
import dgram from 'node:dgram'
const [type, bindAddr, port, group, iface] = process.argv.slice(1)
const s = dgram.createSocket({ type, reuseAddr: true })
s.on('message', (m, from) => { process.stdout.write(m + ' from ' + from.address + '\\n'); process.exit(0) })
s.bind(Number(port), bindAddr, () => { if (group) s.addMembership(group, iface); process.stdout.write('ready\\n') })
`
const sender = `
import dgram from 'node:dgram'
const [type, to, port, iface, text] = process.argv.slice(1)
const s = dgram.createSocket(type)
s.bind(0, () => {
  if (iface) s.setMulticastInterface(iface)
  let n = 0
  const timer = setInterval(() => { s.send(text, Number(port), to); if (++n === 40) { clearInterval(timer); s.close() } }, 25)
})
`

function receive(topo, host, args) {
  const child = topo.exec(host, process.execPath, ['--input-type=module', '-e', receiver, ...args])
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready\n')) resolve()
    })
    child.on('exit', () => reject(new Error(`receiver in ${host} exited: ${err}`)))
  })
  // 'close', not 'exit': the last of its output may still be in the pipe when it exits.
  const got = new Promise((resolve) => child.on('close', () => resolve(out.replace('ready\n', '').trim())))
  return { ready, got }
}

function send(topo, host, args) {
  const child = topo.exec(host, process.execPath, ['--input-type=module', '-e', sender, ...args])
  return new Promise((resolve) => child.on('exit', resolve))
}

unixOnly(WHY.namespaces)('three hosts: multicast from A reaches B and C, over IPv4 and IPv6', async (t) => {
  requireIsolation()
  const topo = await createHosts('mpfix-mc', ['a', 'b', 'c'], { t })
  const { a, b, c } = topo.hosts
  t.deepEqual([a.ipv4, b.ipv4, c.ipv4], ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
  t.deepEqual([a.ipv6, b.ipv6, c.ipv6], ['2001:db8:77::1', '2001:db8:77::2', '2001:db8:77::3'])
  t.regex(topo.run('b', 'ip', ['-6', 'route', 'show', 'table', 'local']), /multicast ff00::\/8 dev eth0/)
  t.regex(topo.run('b', 'ip', ['route']), /224\.0\.0\.0\/4 dev eth0/)

  const v4 = ['b', 'c'].map((h) => receive(topo, h, ['udp4', '0.0.0.0', '4950', '239.77.1.1', topo.hosts[h].ipv4]))
  const v6 = ['b', 'c'].map((h) => receive(topo, h, ['udp6', '::', '4951', 'ff02::4d50', '::%eth0']))
  await Promise.all([...v4, ...v6].map((r) => r.ready))
  await Promise.all([
    send(topo, 'a', ['udp4', '239.77.1.1', '4950', a.ipv4, 'hello v4']),
    send(topo, 'a', ['udp6', 'ff02::4d50%eth0', '4951', '::%eth0', 'hello v6']),
  ])
  t.deepEqual(await Promise.all(v4.map((r) => r.got)), [`hello v4 from ${a.ipv4}`, `hello v4 from ${a.ipv4}`])
  t.deepEqual(await Promise.all(v6.map((r) => r.got)), [`hello v6 from ${a.linkLocal}%eth0`, `hello v6 from ${a.linkLocal}%eth0`])
})

unixOnly(WHY.namespaces)('three hosts: unicast between namespaces over IPv4, IPv6 and link-local, and destroy() removes everything', async (t) => {
  requireIsolation()
  const topo = await createHosts('mpfix-uc', ['a', 'b', 'c'])
  t.teardown(() => topo.destroy())
  const { a, c } = topo.hosts
  const r4 = receive(topo, 'c', ['udp4', c.ipv4, '5000'])
  const r6 = receive(topo, 'c', ['udp6', c.ipv6, '5001'])
  const rl = receive(topo, 'c', ['udp6', `${c.linkLocal}%eth0`, '5002'])
  await Promise.all([r4.ready, r6.ready, rl.ready])
  await Promise.all([
    send(topo, 'a', ['udp4', c.ipv4, '5000', '', 'u4']),
    send(topo, 'a', ['udp6', c.ipv6, '5001', '', 'u6']),
    send(topo, 'a', ['udp6', `${c.linkLocal}%eth0`, '5002', '', 'll']),
  ])
  t.is(await r4.got, `u4 from ${a.ipv4}`)
  t.is(await r6.got, `u6 from ${a.ipv6}`)
  t.is(await rl.got, `ll from ${a.linkLocal}%eth0`)

  topo.destroy()
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  t.notRegex(namespaces, /mpfix-uc-/)
  const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })
  t.false(links.includes(topo.bridge))
})
