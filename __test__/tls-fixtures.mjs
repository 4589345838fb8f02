// TLS test fixtures: a small PKI made with the `openssl` CLI (real PEM files in a directory),
// and plain TLS and TCP servers to point the programs at. No npm dependencies.
//
// Certificates are what strict verifiers (rustls/webpki as well as OpenSSL and Node) accept:
// X.509 v3, EC P-256 keys as PKCS#8 PEM, CAs with basicConstraints CA:TRUE and keyCertSign,
// leaves with CA:FALSE, a subjectAltName (names are never taken from the CN) and the
// matching extendedKeyUsage (serverAuth or clientAuth). The system openssl.cnf is not used.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import path from 'node:path'

function openssl(args, cwd) {
  try {
    return execFileSync('openssl', args, { cwd, stdio: 'pipe', env: { ...process.env, OPENSSL_CONF: '/dev/null' } })
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() || e.message}`)
  }
}

// Used for `req` (no DN prompt: the subject comes from -subj) and, with the extension
// sections, for `x509 -req -extfile` and `ca`.
const baseConf = (dir) => `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ ca ]
default_ca = ca_default
[ ca_default ]
database = ${dir}/ca-db/index.txt
new_certs_dir = ${dir}/ca-db
serial = ${dir}/ca-db/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

[ policy_any ]
commonName = supplied

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @server_san

[ server_san ]
DNS.1 = localhost
IP.1 = 127.0.0.1
IP.2 = ::1

[ other_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:other.example

[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`

// EC P-256, written by `req -newkey` as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
const newKey = (file) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', file]

function serial() {
  // Positive, at most 20 bytes, never starting with a zero byte.
  return `0x${(0x40 | (randomBytes(1)[0] & 0x3f)).toString(16)}${randomBytes(15).toString('hex')}`
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
 */
export async function makePki(dir) {
  const conf = path.join(dir, 'openssl.cnf')
  writeFileSync(conf, baseConf(dir))
  const p = (name) => path.join(dir, name)

  const makeCa = (name, cn) => {
    const key = p(`${name}.key`)
    openssl(['req', '-config', conf, '-new', '-x509', ...newKey(key), '-subj', `/CN=${cn}`, '-days', '3650',
      '-sha256', '-set_serial', serial(), '-extensions', 'ca_ext', '-out', p(`${name}.pem`)])
    return { cert: p(`${name}.pem`), key }
  }
  const csr = (name, cn) => {
    const key = p(`${name}.key`)
    openssl(['req', '-config', conf, '-new', ...newKey(key), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`)])
    return { csr: p(`${name}.csr`), key }
  }
  const sign = (name, cn, ca, ext) => {
    const r = csr(name, cn)
    openssl(['x509', '-req', '-in', r.csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(),
      '-days', '825', '-sha256', '-extfile', conf, '-extensions', ext, '-out', p(`${name}.pem`)])
    return { cert: p(`${name}.pem`), key: r.key }
  }

  const ca = makeCa('ca', 'mproxy test CA')
  const server = sign('server', 'localhost', ca, 'server_ext')
  const other = sign('other-name', 'other.example', ca, 'other_ext')
  const client = sign('client', 'mproxy test client', ca, 'client_ext')
  const unknownCa = makeCa('unknown-ca', 'mproxy unknown test CA')
  const unknownServer = sign('unknown-ca-server', 'localhost', unknownCa, 'server_ext')

  // `openssl x509 -req` (3.0) cannot set a start date; `openssl ca` can, with its small database.
  mkdirSync(p('ca-db'), { recursive: true })
  writeFileSync(p('ca-db/index.txt'), '')
  writeFileSync(p('ca-db/serial'), `${randomBytes(8).toString('hex').replace(/^./, '4')}\n`)
  const expired = csr('expired', 'localhost')
  openssl(['ca', '-batch', '-config', conf, '-cert', ca.cert, '-keyfile', ca.key, '-in', expired.csr,
    '-out', p('expired.pem'), '-notext', '-extensions', 'server_ext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'])

  return {
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    otherNameCert: other.cert,
    otherNameKey: other.key,
    expiredCert: p('expired.pem'),
    expiredKey: expired.key,
    unknownCaCert: unknownCa.cert,
    unknownCaKey: unknownCa.key,
    unknownCaServerCert: unknownServer.cert,
    unknownCaServerKey: unknownServer.key,
    clientCert: client.cert,
    clientKey: client.key,
  }
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
