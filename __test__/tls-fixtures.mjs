// TLS test fixtures: a small PKI made in-process with @peculiar/x509 on Node's webcrypto (real
// PEM files in a directory; no `openssl` command, so it works on Windows too), and plain TLS
// and TCP servers to point the programs at.
//
// Certificates are what strict verifiers (rustls/webpki as well as OpenSSL and Node) accept:
// X.509 v3, EC P-256 keys as PKCS#8 PEM, ECDSA with SHA-256, CAs with basicConstraints
// CA:TRUE and keyCertSign, leaves with CA:FALSE, a subjectAltName (names are never taken from
// the CN), the matching extendedKeyUsage (serverAuth or clientAuth), subject and authority
// key identifiers, and positive serial numbers of 16 bytes.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { KeyObject, randomBytes, webcrypto } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import path from 'node:path'

x509.cryptoProvider.set(webcrypto)

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
const DAY = 24 * 60 * 60 * 1000

function serial() {
  // Positive, 16 bytes, never starting with a zero byte.
  return (0x40 | (randomBytes(1)[0] & 0x3f)).toString(16) + randomBytes(15).toString('hex')
}

const newKeys = (alg = EC) => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])

/** A private key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
const keyPem = (key) => KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' })

const { KeyUsageFlags: K } = x509
const caExtensions = async (keys) => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(K.keyCertSign | K.cRLSign, true),
  await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
]
const leafExtensions = async (keys, ca, usage, names) => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(K.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([usage]),
  await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ...(names ? [new x509.SubjectAlternativeNameExtension(names)] : []),
]
const SERVER_NAMES = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
  { type: 'ip', value: '::1' },
]

/** Writes `name`.pem and `name`.key into `dir`; returns { cert, key, keys, subject } (paths, the key pair, the DN). */
function write(dir, name, cert, keys, subject) {
  const file = (ext) => path.join(dir, `${name}.${ext}`)
  writeFileSync(file('pem'), `${cert.toString('pem')}\n`)
  writeFileSync(file('key'), keyPem(keys.privateKey))
  return { cert: file('pem'), key: file('key'), keys, subject }
}

async function makeCa(dir, name, cn) {
  const keys = await newKeys()
  const subject = `CN=${cn}`
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject,
    keys,
    signingAlgorithm: EC,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
    extensions: await caExtensions(keys),
  })
  return write(dir, name, cert, keys, subject)
}

async function issue(dir, name, cn, ca, { usage = x509.ExtendedKeyUsage.serverAuth, names, notBefore, notAfter } = {}) {
  const keys = await newKeys()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${cn}`,
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: EC,
    notBefore: notBefore ?? new Date(now - DAY),
    notAfter: notAfter ?? new Date(now + 825 * DAY),
    extensions: await leafExtensions(keys, ca, usage, names),
  })
  return write(dir, name, cert, keys)
}

/**
 * Writes a test PKI into `dir` (which must exist) and returns the file paths (all PEM).
 * - caCert/caKey: the private CA "mproxy test CA".
 * - serverCert/serverKey: signed by it, for DNS localhost, IP 127.0.0.1 and ::1, valid now.
 * - otherNameCert/otherNameKey: signed by it, for DNS other.example only.
 * - expiredCert/expiredKey: signed by it, for localhost/127.0.0.1/::1, valid 2020-01-01..02 only.
 * - unknownCaCert (+ unknownCaKey): a second, unrelated CA; unknownCaServerCert/Key: signed
 *   by that CA for localhost/127.0.0.1/::1.
 * - clientCert/clientKey: signed by the first CA, CN "mproxy test client", clientAuth.
 * - wrongCaClientCert/Key: a client certificate (CN "intruder", clientAuth) from the unknown CA.
 */
export async function makePki(dir) {
  const ca = await makeCa(dir, 'ca', 'mproxy test CA')
  const unknownCa = await makeCa(dir, 'unknown-ca', 'mproxy unknown test CA')
  const [server, other, client, unknownServer, expired, wrongClient] = await Promise.all([
    issue(dir, 'server', 'localhost', ca, { names: SERVER_NAMES }),
    issue(dir, 'other-name', 'other.example', ca, { names: [{ type: 'dns', value: 'other.example' }] }),
    issue(dir, 'client', 'mproxy test client', ca, { usage: x509.ExtendedKeyUsage.clientAuth }),
    issue(dir, 'unknown-ca-server', 'localhost', unknownCa, { names: SERVER_NAMES }),
    issue(dir, 'expired', 'localhost', ca, { names: SERVER_NAMES, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-01-02T00:00:00Z') }),
    issue(dir, 'wrong-client', 'intruder', unknownCa, { usage: x509.ExtendedKeyUsage.clientAuth }),
  ])
  return {
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    otherNameCert: other.cert,
    otherNameKey: other.key,
    expiredCert: expired.cert,
    expiredKey: expired.key,
    unknownCaCert: unknownCa.cert,
    unknownCaKey: unknownCa.key,
    unknownCaServerCert: unknownServer.cert,
    unknownCaServerKey: unknownServer.key,
    clientCert: client.cert,
    clientKey: client.key,
    wrongCaClientCert: wrongClient.cert,
    wrongCaClientKey: wrongClient.key,
  }
}

/**
 * A self-signed certificate as `openssl req -x509 -newkey rsa:2048` makes it with the system
 * configuration (v3_ca: basicConstraints critical CA:TRUE, subject and authority key
 * identifiers; no subjectAltName), valid 30 days: what a user pins with --tls-ca. Writes
 * `name`.pem and `name`.key into `dir` and returns { cert, key }.
 */
export async function makeSelfSigned(dir, name, cn = 'localhost') {
  const keys = await newKeys(RSA)
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: RSA,
    notBefore: new Date(now),
    notAfter: new Date(now + 30 * DAY),
    extensions: [
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
      new x509.BasicConstraintsExtension(true, undefined, true),
    ],
  })
  const { cert: c, key } = write(dir, name, cert, keys)
  return { cert: c, key }
}

/** A file path or PEM contents (string or Buffer) to PEM contents. */
function pem(x) {
  if (x === undefined || x === null) return undefined
  if (Buffer.isBuffer(x)) return x
  return String(x).includes('-----BEGIN') ? x : readFileSync(x)
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address().port)
    })
  })
}

function closeAll(server, sockets) {
  for (const s of sockets) s.destroy()
  sockets.clear()
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))
}

/**
 * A real TLS server (node:tls) on `host`, port 0. Every accepted connection is sent `lines`
 * (a Buffer or string, if given) and then kept open; what clients send is collected.
 * `cert`, `key` and `ca` are file paths or PEM. With `requestCert: true` (and the default
 * `rejectUnauthorized: true`) a client certificate signed by `ca` is required.
 * Returns { port, host, server, accepted(), authorizedClients(), clientErrors(), received(), close() }:
 * accepted counts completed handshakes, authorizedClients those with a verified client
 * certificate, clientErrors lists the errors of failed handshakes, received is everything
 * clients sent, and close() destroys open connections and stops listening.
 */
export async function startTlsServer({ cert, key, ca, requestCert = false, rejectUnauthorized = true, host = '127.0.0.1', port = 0, lines } = {}) {
  const sockets = new Set()
  const errors = []
  const got = []
  let accepted = 0
  let authorized = 0
  const server = tls.createServer({ cert: pem(cert), key: pem(key), ca: pem(ca), requestCert, rejectUnauthorized }, (socket) => {
    accepted++
    if (requestCert && socket.authorized) authorized++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.on('data', (d) => got.push(d))
    if (lines !== undefined && lines.length > 0) socket.write(lines)
  })
  server.on('tlsClientError', (err) => errors.push(err))
  // Sockets that never finish the handshake still count as open connections to destroy.
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const bound = await listen(server, port, host)
  return {
    port: bound,
    host,
    server,
    accepted: () => accepted,
    authorizedClients: () => authorized,
    clientErrors: () => errors.slice(),
    received: () => Buffer.concat(got),
    close: () => closeAll(server, sockets),
  }
}

/**
 * A plain TCP server (node:net) on `host`, port 0 (or `port`). Every accepted connection is
 * sent `data` (Buffer or string, if given) and kept open; what clients send is collected.
 * close() destroys open connections and stops listening; restart() listens again on the
 * same port (for reconnect tests). Returns
 * { port, host, server, accepted(), connections(), received(), close(), restart() }, where
 * `server` is the current net.Server, accepted counts connections over all restarts and
 * connections is the number open now.
 */
export async function startTcpServer({ host = '127.0.0.1', port = 0, data } = {}) {
  const sockets = new Set()
  const got = []
  let accepted = 0
  const make = () =>
    net.createServer((socket) => {
      accepted++
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
      socket.on('data', (d) => got.push(d))
      if (data !== undefined && data.length > 0) socket.write(data)
    })
  let server = make()
  const bound = await listen(server, port, host)
  const handle = {
    port: bound,
    host,
    get server() {
      return server
    },
    accepted: () => accepted,
    connections: () => sockets.size,
    received: () => Buffer.concat(got),
    close: () => closeAll(server, sockets),
    async restart() {
      await closeAll(server, sockets)
      server = make()
      await listen(server, bound, host)
    },
  }
  return handle
}
