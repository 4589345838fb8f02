// Bad input: one line on stderr naming the flag and the problem, the documented exit code
// (2 usage, 1 the system refused), and never a stack trace.
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import { execFileSync, spawn } from 'node:child_process'
import { requireIsolation, root, runToEnd, tempDir, untimed, within, writeTemp } from './helpers.mjs'

function check(name, program, args, code, message) {
  test(name, async (t) => {
    // Nothing here may block: a hang is a failure too (counted from the program's start, not
    // from its wait for a slot: runToEnd runs a few at a time).
    const r = await runToEnd(program, args, { hangLimit: 15_000 })
    const expected = typeof message === 'function' ? message() : message
    t.is(r.code, code, r.stderr)
    t.is(r.stdout.length, 0)
    const lines = r.stderr.trimEnd().split('\n')
    t.is(lines.length, 1, r.stderr)
    if (expected instanceof RegExp) t.regex(lines[0], expected)
    else t.is(lines[0], expected)
    t.notRegex(r.stderr, /\n\s+at |panicked|RUST_BACKTRACE/)
  })
}

const dir = tempDir()
const input = writeTemp(dir, 'in.txt', 'hello\n')

/** A self-signed certificate (PEM), for the options that need one beside a bad key. */
let cert
function pemCert() {
  if (!cert) {
    const key = path.join(dir, 'self.key')
    cert = path.join(dir, 'self.pem')
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
      { stdio: 'pipe' },
    )
  }
  return cert
}
const C = 'mproxy-client'

check('unknown flag', 'client', ['--bogus'], 2, `${C}: unknown flag --bogus (see --help)`)
check('a misspelt flag', 'client', ['--servr-addr', '127.0.0.1:9'], 2, `${C}: unknown flag --servr-addr (did you mean --server-addr?)`)
check(
  "a misspelt flag in the original's spelling",
  'proxy',
  ['--udp_downstream_adr', '127.0.0.1:9'],
  2,
  'mproxy-proxy: unknown flag --udp_downstream_adr (did you mean --udp-downstream-addr?)',
)
check(
  'a misspelt flag with --config',
  'mproxy',
  ['--config', 'x.yaml', '--log-formt', 'json'],
  2,
  'mproxy: unknown flag --log-formt (did you mean --log-format?)',
)
check(
  'a negative rate is a value, and refused as one',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--rate', '-5'],
  2,
  `${C}: --rate: "-5" is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)`,
)
check(
  'a negative TTL',
  'server',
  ['--path', '-', '--listen-addr', '127.0.0.1:0', '--multicast-ttl', '-1'],
  2,
  'mproxy-server: --multicast-ttl: "-1" is not a whole number from 0 to 255',
)
check(
  'keygen into a folder that is not there',
  'mproxy',
  ['keygen', path.join(dir, 'no-such-folder', 'bus.key')],
  1,
  `mproxy: keygen: cannot create ${path.join(dir, 'no-such-folder', 'bus.key')}: there is no folder ${path.join(dir, 'no-such-folder')}; create it first (mkdir -p, mode 700)`,
)
check('check with two files', 'mproxy', ['check', 'a.yaml', 'b.yaml'], 2, 'mproxy: unexpected argument "a.yaml" (flags take the form --flag VALUE; see --help)')
check('missing --path', 'client', ['--server-addr', '127.0.0.1:9'], 2, `${C}: --path is required`)
check('missing --server-addr', 'client', ['--path', input], 2, `${C}: --server-addr is required`)
check('address without port', 'client', ['--path', input, '--server-addr', '127.0.0.1'], 2, `${C}: --server-addr: "127.0.0.1" has no port; expected HOST:PORT`)
check('port above 65535', 'client', ['--path', input, '--server-addr', '127.0.0.1:70000'], 2, `${C}: --server-addr: "127.0.0.1:70000" has a port above 65535`)
check(
  'port 0 as a destination',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:0'],
  2,
  `${C}: --server-addr: "127.0.0.1:0" has port 0, which cannot be sent to`,
)
check(
  'IPv6 without brackets',
  'client',
  ['--path', input, '--server-addr', '::1:9000'],
  2,
  `${C}: --server-addr: "::1:9000" looks like an IPv6 address; write it as [IPv6]:PORT`,
)
check(
  'not an IPv6 address in brackets',
  'client',
  ['--path', input, '--server-addr', '[nope]:9000'],
  2,
  `${C}: --server-addr: "[nope]:9000" does not hold an IPv6 address inside [ ]`,
)
check(
  'file that does not exist',
  'client',
  ['--path', path.join(dir, 'missing.txt'), '--server-addr', '127.0.0.1:9'],
  1,
  `${C}: cannot open ${path.join(dir, 'missing.txt')}: no such file or directory`,
)
check('a directory as input', 'client', ['--path', dir, '--server-addr', '127.0.0.1:9'], 1, `${C}: cannot open ${dir}: it is a directory`)
check(
  'host name that does not resolve',
  'client',
  ['--path', input, '--server-addr', 'no-such-host.invalid:9000'],
  1,
  /^mproxy-client: --server-addr: host "no-such-host\.invalid" does not resolve \(\w+\)$/,
)
check(
  'unknown framing',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--framing', 'bogus'],
  2,
  `${C}: --framing: "bogus" is not one of packed, line, raw`,
)
check(
  'datagram size out of range',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--max-datagram', '70000'],
  2,
  `${C}: --max-datagram: "70000" is not a whole number from 1 to 65507`,
)
check(
  'multicast TTL out of range',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--multicast-ttl', '300'],
  2,
  `${C}: --multicast-ttl: "300" is not a whole number from 0 to 255`,
)
check(
  'rate that is not a rate',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--rate', 'fast'],
  2,
  `${C}: --rate: "fast" is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)`,
)
check('--path given twice', 'client', ['--path', input, '--path', input, '--server-addr', '127.0.0.1:9'], 2, `${C}: --path is given more than once`)
check('flag value missing', 'server', ['--path', input, '--listen-addr'], 2, 'mproxy-server: --listen-addr needs a value (HOST:PORT)')
check('boolean flag given a value', 'client', ['--tee=yes'], 2, `${C}: --tee takes no value`)
check('stray argument', 'server', ['out.txt'], 2, 'mproxy-server: unexpected argument "out.txt" (flags take the form --flag VALUE; see --help)')
check(
  'unknown multicast interface',
  'server',
  ['--path', path.join(dir, 'o.txt'), '--listen-addr', '239.1.2.3:0', '--multicast-interface', 'nosuch0'],
  1,
  'mproxy-server: --multicast-interface: no network interface named nosuch0',
)
const P = 'mproxy-proxy'
const R = 'mproxy-reverseproxy'
check(
  'TLS options without a tls:// address',
  'proxy',
  ['--tcp-connect-addr', 'localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', input],
  2,
  `${P}: --tls-ca needs a --tcp-connect-addr of the form tls://HOST:PORT`,
)
check(
  'a client certificate without its key',
  'proxy',
  ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-cert', input],
  2,
  `${P}: --tls-key is required with --tls-cert`,
)
check(
  'an unknown scheme',
  'proxy',
  ['--tcp-connect-addr', 'ftp://localhost:21', '--udp-downstream-addr', '127.0.0.1:9'],
  2,
  `${P}: --tcp-connect-addr: "ftp://localhost:21" has an unknown scheme; use HOST:PORT or tls://HOST:PORT`,
)
check(
  'a TCP address without port',
  'proxy',
  ['--tcp-connect-addr', 'tls://localhost', '--udp-downstream-addr', '127.0.0.1:9'],
  2,
  `${P}: --tcp-connect-addr: "localhost" has no port; expected HOST:PORT`,
)
check(
  'a CA file that does not exist',
  'proxy',
  ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', path.join(dir, 'ca.pem')],
  1,
  `${P}: cannot read CA file ${path.join(dir, 'ca.pem')}: no such file or directory`,
)
check(
  'a CA file with no certificate in it',
  'proxy',
  ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', input],
  1,
  `${P}: CA file ${input} holds no PEM certificate`,
)
check('proxy without any source', 'proxy', ['--udp-downstream-addr', '127.0.0.1:9'], 2, `${P}: a source is required: --udp-listen-addr or --tcp-connect-addr`)
check(
  'a group that is not multicast',
  'reverseproxy',
  ['--udp-listen-addr', '127.0.0.1:0', '--multicast-addr', '127.0.0.1:9918'],
  2,
  `${R}: --multicast-addr: 127.0.0.1:9918 is not a multicast group (224.0.0.0/4 or ff00::/8)`,
)
check(
  'a group without a port',
  'reverseproxy',
  ['--udp-listen-addr', '127.0.0.1:0', '--multicast-addr', '239.1.1.1:0'],
  2,
  `${R}: --multicast-addr: "239.1.1.1:0" has port 0, which cannot be sent to`,
)
check(
  'a reverse proxy with nothing to do',
  'reverseproxy',
  [],
  2,
  `${R}: nothing to do: give inputs (--udp-listen-addr, --tcp-listen-addr) and/or outputs (--tcp-output-addr, --udp-output-addr)`,
)
check(
  'a TCP output on a multicast address',
  'reverseproxy',
  ['--tcp-output-addr', '239.1.1.1:5000', '--multicast-addr', '239.1.1.2:5000', '--multicast-interface', 'lo'],
  2,
  `${R}: --tcp-output-addr: 239.1.1.1:5000 is a multicast address; TCP needs a unicast one`,
)
check(
  'a client limit of zero',
  'reverseproxy',
  ['--tcp-output-addr', '127.0.0.1:0', '--max-tcp-clients', '0'],
  2,
  `${R}: --max-tcp-clients: "0" is not a whole number from 1 to 1000000`,
)
check(
  'a client queue too small',
  'reverseproxy',
  ['--tcp-output-addr', '127.0.0.1:0', '--tcp-client-queue', '10'],
  2,
  `${R}: --tcp-client-queue: "10" is not a whole number from 1048576 to 4294967295`,
)
check(
  'the default group with no route (inputs)',
  'reverseproxy',
  ['--udp-listen-addr', '127.0.0.1:0'],
  1,
  `${R}: no interface reaches multicast group [ff02::1]:9918; name one with --multicast-interface (or [GROUP%NAME]:PORT), for example eth0; for this host only, use an IPv4 group on lo instead: 239.255.0.1:9918 with --multicast-interface lo`,
)
check(
  'the default group with no route (outputs)',
  'reverseproxy',
  ['--udp-output-addr', '127.0.0.1:9'],
  1,
  `${R}: cannot join multicast group [ff02::1]:9918: no interface reaches it; name one with --multicast-interface (or [GROUP%NAME]:PORT), for example eth0; for this host only, use an IPv4 group on lo instead: 239.255.0.1:9918 with --multicast-interface lo`,
)
check('proxy without downstream', 'proxy', ['--udp-listen-addr', '127.0.0.1:0'], 2, 'mproxy-proxy: --udp-downstream-addr is required')
check('unknown program', 'mproxy', ['relay'], 2, 'mproxy: unknown program "relay"; expected one of client, server, proxy, reverseproxy (see mproxy --help)')

// A rate below 1 byte per second would round to 0, which means unlimited: the opposite.
check(
  'a rate below 1 byte per second',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--rate', '0.4'],
  2,
  `${C}: --rate: "0.4" is below 1 byte per second; the smallest rate is 1 (0 means unlimited)`,
)
check(
  'a rate of 0.9',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--rate=0.9'],
  2,
  `${C}: --rate: "0.9" is below 1 byte per second; the smallest rate is 1 (0 means unlimited)`,
)

// The same address twice: every datagram would be received, sent or forwarded twice.
check(
  'a group listened on twice',
  'server',
  ['--path', path.join(dir, 'twice.txt'), '--listen-addr', '239.1.2.3:9920', '--listen-addr', '239.1.2.3:9920', '--multicast-interface', 'lo'],
  2,
  'mproxy-server: --listen-addr: 239.1.2.3:9920 is given twice',
)
check(
  'one listen address written two ways',
  'server',
  ['--path', path.join(dir, 'twice.txt'), '--listen-addr', '127.0.0.1:9920', '--listen-addr', 'localhost:9920'],
  2,
  'mproxy-server: --listen-addr: 127.0.0.1:9920 and localhost:9920 are the same address (127.0.0.1:9920)',
)
check(
  'a server address given twice',
  'client',
  ['--path', input, '--server-addr', '127.0.0.1:9', '--server-addr=127.0.0.1:9'],
  2,
  `${C}: --server-addr: 127.0.0.1:9 is given twice`,
)
check(
  'a downstream address given twice',
  'proxy',
  ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '[::1]:9', '--udp-downstream-addr', '[::1]:9'],
  2,
  'mproxy-proxy: --udp-downstream-addr: [::1]:9 is given twice',
)
check(
  'a TCP source given twice',
  'proxy',
  ['--tcp-connect-addr', 'tls://127.0.0.1:9', '--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9'],
  2,
  'mproxy-proxy: --tcp-connect-addr: tls://127.0.0.1:9 and tls://localhost:9 are the same address (127.0.0.1:9)',
)
check(
  'a UDP output given twice',
  'reverseproxy',
  ['--udp-output-addr', '127.0.0.1:9', '--udp-output-addr', '127.0.0.1:9', '--multicast-addr', '239.1.2.9:9918', '--multicast-interface', 'lo'],
  2,
  `${R}: --udp-output-addr: 127.0.0.1:9 is given twice`,
)

// A destination that reaches the process's own listener: every datagram would loop forever.
const LOOP = 'every datagram would come back to it forever'
check(
  'a proxy sending to its own listen address',
  'proxy',
  ['--udp-listen-addr', '127.0.0.1:9920', '--udp-downstream-addr', '127.0.0.1:9920'],
  2,
  `${P}: --udp-downstream-addr: 127.0.0.1:9920 reaches this process's own --udp-listen-addr 127.0.0.1:9920; ${LOOP}`,
)
check(
  'a proxy listening on 0.0.0.0 sending to 127.0.0.1 on that port',
  'proxy',
  ['--udp-listen-addr', '0.0.0.0:9921', '--udp-downstream-addr', '[::1]:9921', '--udp-downstream-addr', 'localhost:9921'],
  2,
  `${P}: --udp-downstream-addr: localhost:9921 reaches this process's own --udp-listen-addr 0.0.0.0:9921; ${LOOP}`,
)
check(
  'a proxy listening on [::] sending to [::1] on that port',
  'proxy',
  ['--udp-listen-addr', '[::]:9922', '--udp-downstream-addr', '[::1]:9922'],
  2,
  `${P}: --udp-downstream-addr: [::1]:9922 reaches this process's own --udp-listen-addr [::]:9922; ${LOOP}`,
)
check(
  'a proxy on a group sending to the same group',
  'proxy',
  ['--udp-listen-addr', '239.1.2.3:9923', '--udp-downstream-addr', '239.1.2.3:9923', '--multicast-interface', 'lo'],
  2,
  `${P}: --udp-downstream-addr: 239.1.2.3:9923 reaches this process's own --udp-listen-addr 239.1.2.3:9923; ${LOOP}`,
)
check(
  'a reverse proxy input on its own group',
  'reverseproxy',
  ['--udp-listen-addr', '239.1.2.4:9918', '--multicast-addr', '239.1.2.4:9918', '--multicast-interface', 'lo'],
  2,
  `${R}: --multicast-addr: 239.1.2.4:9918 reaches this process's own --udp-listen-addr 239.1.2.4:9918; ${LOOP}`,
)
check(
  'a reverse proxy output to its own group',
  'reverseproxy',
  ['--udp-output-addr', '239.1.2.5:9918', '--multicast-addr', '239.1.2.5:9918', '--multicast-interface', 'lo'],
  2,
  `${R}: --udp-output-addr: 239.1.2.5:9918 reaches this process's own --multicast-addr 239.1.2.5:9918; ${LOOP}`,
)
check(
  'a reverse proxy output to its own input',
  'reverseproxy',
  ['--udp-listen-addr', '0.0.0.0:9924', '--udp-output-addr', '127.0.0.1:9924', '--multicast-addr', '239.1.2.6:9918', '--multicast-interface', 'lo'],
  2,
  `${R}: --udp-output-addr: 127.0.0.1:9924 reaches this process's own --udp-listen-addr 0.0.0.0:9924; ${LOOP}`,
)

// PEM files: only regular files of at most 1 MiB are read; a device, a FIFO without a writer
// or a huge file fail at once with a line, instead of filling memory or hanging.
const TLS = ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9']
const fifo = path.join(dir, 'ca-fifo.pem')
execFileSync('mkfifo', [fifo])
const huge = writeTemp(dir, 'huge.pem', Buffer.alloc(1024 * 1024 + 1, 0x41))
check('--tls-ca /dev/zero', 'proxy', [...TLS, '--tls-ca', '/dev/zero'], 1, `${P}: cannot read CA file /dev/zero: it is a character device, not a regular file`)
check('--tls-ca on a FIFO with no writer', 'proxy', [...TLS, '--tls-ca', fifo], 1, `${P}: cannot read CA file ${fifo}: it is a FIFO, not a regular file`)
check(
  '--tls-ca larger than 1 MiB',
  'proxy',
  [...TLS, '--tls-ca', huge],
  1,
  `${P}: cannot read CA file ${huge}: it is larger than 1 MiB (1048577 bytes); a PEM file of certificates or a key is a few KiB`,
)
check('--tls-ca a directory', 'proxy', [...TLS, '--tls-ca', dir], 1, `${P}: cannot read CA file ${dir}: it is a directory`)
check(
  '--tls-cert /dev/zero',
  'proxy',
  [...TLS, '--tls-cert', '/dev/zero', '--tls-key', input],
  1,
  `${P}: cannot read client certificate /dev/zero: it is a character device, not a regular file`,
)
check(
  '--tls-key on a FIFO with no writer',
  'proxy',
  [...TLS, '--tls-cert', pemCert(), '--tls-key', fifo],
  1,
  `${P}: cannot read client key ${fifo}: it is a FIFO, not a regular file`,
)
check(
  '--tls-key larger than 1 MiB',
  'proxy',
  [...TLS, '--tls-cert', pemCert(), '--tls-key', huge],
  1,
  `${P}: cannot read client key ${huge}: it is larger than 1 MiB (1048577 bytes); a PEM file of certificates or a key is a few KiB`,
)
check('--tls-key with no key in it', 'proxy', [...TLS, '--tls-cert', pemCert(), '--tls-key', input], 1, `${P}: client key ${input} holds no PEM private key`)

test('a TCP port already in use', async (t) => {
  const busy = net.createServer()
  await new Promise((r) => busy.listen(0, '127.0.0.1', r))
  const { port } = busy.address()
  const r = await runToEnd('reverseproxy', ['--tcp-output-addr', `127.0.0.1:${port}`, '--multicast-addr', '239.1.1.3:5000', '--multicast-interface', 'lo'])
  busy.close()
  t.is(r.code, 1)
  t.is(r.stderr.trimEnd(), `mproxy-reverseproxy: cannot listen on TCP 127.0.0.1:${port}: address already in use`)
})

test('a port already in use', async (t) => {
  const socket = dgram.createSocket('udp4')
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  const { port } = socket.address()
  const r = await runToEnd('server', ['--path', path.join(dir, 'busy.txt'), '--listen-addr', `127.0.0.1:${port}`])
  socket.close()
  t.is(r.code, 1)
  t.is(r.stderr.trimEnd(), `mproxy-server: cannot listen on 127.0.0.1:${port}: address already in use`)
})

test('a group with no interface to reach it', async (t) => {
  requireIsolation()
  // The test namespace has no route for 224.0.0.0/4, so the system cannot pick an interface.
  const r = await runToEnd('server', ['--path', path.join(dir, 'g.txt'), '--listen-addr', '239.1.2.3:0'])
  t.is(r.code, 1)
  t.is(
    r.stderr.trimEnd(),
    'mproxy-server: cannot join multicast group 239.1.2.3:0: no interface reaches it; name one with --multicast-interface, for example lo for this host only',
  )
})

test('a destination with no route fails at start, not at the first datagram', async (t) => {
  requireIsolation()
  // connect() on a UDP socket only consults the routing table; nothing is sent.
  const r = await runToEnd('client', ['--path', input, '--server-addr', '192.0.2.1:9'])
  t.is(r.code, 1)
  t.is(r.stderr.trimEnd(), 'mproxy-client: no route to 192.0.2.1:9: network is unreachable')
})

test('an IPv6 group with no multicast route says how to name an interface', async (t) => {
  requireIsolation()
  const r = await runToEnd('client', ['--path', input, '--server-addr', '[ff02::1]:9918'])
  t.is(r.code, 1)
  t.is(
    r.stderr.trimEnd(),
    'mproxy-client: no interface reaches multicast group [ff02::1]:9918; name one with --multicast-interface (or [GROUP%NAME]:PORT), for example eth0; for this host only, use an IPv4 group on lo instead: 239.255.0.1:9918 with --multicast-interface lo',
  )
})

test('a listener on port 0 that the system binds to the destination port is refused once bound', async (t) => {
  requireIsolation()
  // In a network namespace of its own the system has two ports to give, 40000 and 40001, to
  // the proxy's sending socket and to its listener, in an order of its choosing. When the
  // listener gets 40000, the destination, it must be refused; when it gets 40001, it runs.
  const proxy = path.join(root, 'dist', 'cli', 'proxy.js')
  const script = `ip link set lo up && echo '40000 40001' > /proc/sys/net/ipv4/ip_local_port_range && exec '${process.execPath}' '${proxy}' --udp-listen-addr 127.0.0.1:0 --udp-downstream-addr 127.0.0.1:40000`
  let refusals = 0
  for (let attempt = 0; attempt < 20 && refusals < 2; attempt++) {
    const child = spawn('unshare', ['-n', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => child.kill('SIGKILL'))
    let stderr = ''
    const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
    child.stderr.on('data', (d) => {
      stderr += d
      // It runs: the system gave the listener the other port.
      if (/listening on/.test(stderr)) child.kill('SIGTERM')
    })
    const code = await within(exited, 15_000, 'the proxy did not exit')
    if (code === 0) {
      t.is(untimed(stderr), `${P}: listening on 127.0.0.1:40001 (udp)\n`)
      continue
    }
    t.is(code, 2, stderr)
    t.is(
      stderr,
      `${P}: --udp-downstream-addr: 127.0.0.1:40000 reaches this process's own --udp-listen-addr 127.0.0.1:0 (bound to 127.0.0.1:40000); every datagram would come back to it forever\n`,
    )
    refusals++
  }
  t.true(refusals > 0, 'the system never bound the listener to 40000 in 20 tries')
})
