// Bad input: one line on stderr naming the flag and the problem, the documented exit code
// (2 usage, 1 the system refused), and never a stack trace.
import test from 'ava'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import { requireIsolation, runToEnd, tempDir, writeTemp } from './helpers.mjs'

function check(name, program, args, code, message) {
  test(name, async (t) => {
    const r = await runToEnd(program, args)
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
const C = 'mproxy-client'

check('unknown flag', 'client', ['--bogus'], 2, `${C}: unknown flag --bogus (see --help)`)
check('missing --path', 'client', ['--server-addr', '127.0.0.1:9'], 2, `${C}: --path is required`)
check('missing --server-addr', 'client', ['--path', input], 2, `${C}: --server-addr is required`)
check('address without port', 'client', ['--path', input, '--server-addr', '127.0.0.1'], 2, `${C}: --server-addr: "127.0.0.1" has no port; expected HOST:PORT`)
check('port above 65535', 'client', ['--path', input, '--server-addr', '127.0.0.1:70000'], 2, `${C}: --server-addr: "127.0.0.1:70000" has a port above 65535`)
check('port 0 as a destination', 'client', ['--path', input, '--server-addr', '127.0.0.1:0'], 2, `${C}: --server-addr: "127.0.0.1:0" has port 0, which cannot be sent to`)
check('IPv6 without brackets', 'client', ['--path', input, '--server-addr', '::1:9000'], 2, `${C}: --server-addr: "::1:9000" looks like an IPv6 address; write it as [IPv6]:PORT`)
check('not an IPv6 address in brackets', 'client', ['--path', input, '--server-addr', '[nope]:9000'], 2, `${C}: --server-addr: "[nope]:9000" does not hold an IPv6 address inside [ ]`)
check('file that does not exist', 'client', ['--path', path.join(dir, 'missing.txt'), '--server-addr', '127.0.0.1:9'], 1, `${C}: cannot open ${path.join(dir, 'missing.txt')}: no such file or directory`)
check('a directory as input', 'client', ['--path', dir, '--server-addr', '127.0.0.1:9'], 1, `${C}: cannot open ${dir}: it is a directory`)
check('host name that does not resolve', 'client', ['--path', input, '--server-addr', 'no-such-host.invalid:9000'], 1, /^mproxy-client: --server-addr: host "no-such-host\.invalid" does not resolve \(\w+\)$/)
check('unknown framing', 'client', ['--path', input, '--server-addr', '127.0.0.1:9', '--framing', 'bogus'], 2, `${C}: --framing: "bogus" is not one of packed, line, raw`)
check('datagram size out of range', 'client', ['--path', input, '--server-addr', '127.0.0.1:9', '--max-datagram', '70000'], 2, `${C}: --max-datagram: "70000" is not a whole number from 1 to 65507`)
check('multicast TTL out of range', 'client', ['--path', input, '--server-addr', '127.0.0.1:9', '--multicast-ttl', '300'], 2, `${C}: --multicast-ttl: "300" is not a whole number from 0 to 255`)
check('rate that is not a rate', 'client', ['--path', input, '--server-addr', '127.0.0.1:9', '--rate', 'fast'], 2, `${C}: --rate: "fast" is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)`)
check('--path given twice', 'client', ['--path', input, '--path', input, '--server-addr', '127.0.0.1:9'], 2, `${C}: --path is given more than once`)
check('flag value missing', 'server', ['--path', input, '--listen-addr'], 2, 'mproxy-server: --listen-addr needs a value (HOST:PORT)')
check('boolean flag given a value', 'client', ['--tee=yes'], 2, `${C}: --tee takes no value`)
check('stray argument', 'server', ['out.txt'], 2, 'mproxy-server: unexpected argument "out.txt" (flags take the form --flag VALUE; see --help)')
check('unknown multicast interface', 'server', ['--path', path.join(dir, 'o.txt'), '--listen-addr', '239.1.2.3:0', '--multicast-interface', 'nosuch0'], 1, 'mproxy-server: --multicast-interface: no network interface named nosuch0')
const P = 'mproxy-proxy'
const R = 'mproxy-reverseproxy'
check('TLS options without a tls:// address', 'proxy', ['--tcp-connect-addr', 'localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', input], 2, `${P}: --tls-ca needs a --tcp-connect-addr of the form tls://HOST:PORT`)
check('a client certificate without its key', 'proxy', ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-cert', input], 2, `${P}: --tls-key is required with --tls-cert`)
check('an unknown scheme', 'proxy', ['--tcp-connect-addr', 'ftp://localhost:21', '--udp-downstream-addr', '127.0.0.1:9'], 2, `${P}: --tcp-connect-addr: "ftp://localhost:21" has an unknown scheme; use HOST:PORT or tls://HOST:PORT`)
check('a TCP address without port', 'proxy', ['--tcp-connect-addr', 'tls://localhost', '--udp-downstream-addr', '127.0.0.1:9'], 2, `${P}: --tcp-connect-addr: "localhost" has no port; expected HOST:PORT`)
check('a CA file that does not exist', 'proxy', ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', path.join(dir, 'ca.pem')], 1, `${P}: cannot read CA file ${path.join(dir, 'ca.pem')}: no such file or directory`)
check('a CA file with no certificate in it', 'proxy', ['--tcp-connect-addr', 'tls://localhost:9', '--udp-downstream-addr', '127.0.0.1:9', '--tls-ca', input], 1, `${P}: CA file ${input} holds no PEM certificate`)
check('proxy without any source', 'proxy', ['--udp-downstream-addr', '127.0.0.1:9'], 2, `${P}: a source is required: --udp-listen-addr or --tcp-connect-addr`)
check('a group that is not multicast', 'reverseproxy', ['--udp-listen-addr', '127.0.0.1:0', '--multicast-addr', '127.0.0.1:9918'], 2, `${R}: --multicast-addr: 127.0.0.1:9918 is not a multicast group (224.0.0.0/4 or ff00::/8)`)
check('a group without a port', 'reverseproxy', ['--udp-listen-addr', '127.0.0.1:0', '--multicast-addr', '239.1.1.1:0'], 2, `${R}: --multicast-addr: "239.1.1.1:0" has port 0, which cannot be sent to`)
check('a reverse proxy with nothing to do', 'reverseproxy', [], 2, `${R}: nothing to do: give inputs (--udp-listen-addr, --tcp-listen-addr) and/or outputs (--tcp-output-addr, --udp-output-addr)`)
check('a TCP output on a multicast address', 'reverseproxy', ['--tcp-output-addr', '239.1.1.1:5000', '--multicast-addr', '239.1.1.2:5000', '--multicast-interface', 'lo'], 2, `${R}: --tcp-output-addr: 239.1.1.1:5000 is a multicast address; TCP needs a unicast one`)
check('a client limit of zero', 'reverseproxy', ['--tcp-output-addr', '127.0.0.1:0', '--max-tcp-clients', '0'], 2, `${R}: --max-tcp-clients: "0" is not a whole number from 1 to 1000000`)
check('a client queue too small', 'reverseproxy', ['--tcp-output-addr', '127.0.0.1:0', '--tcp-client-queue', '10'], 2, `${R}: --tcp-client-queue: "10" is not a whole number from 1048576 to 4294967295`)
check('the default group with no route (inputs)', 'reverseproxy', ['--udp-listen-addr', '127.0.0.1:0'], 1, `${R}: no interface reaches multicast group [ff02::1]:9918; name one with --multicast-interface NAME (or [GROUP%NAME]:PORT for IPv6), for example lo for this host only`)
check('the default group with no route (outputs)', 'reverseproxy', ['--udp-output-addr', '127.0.0.1:9'], 1, `${R}: cannot join multicast group [ff02::1]:9918: no interface reaches it; name one with --multicast-interface NAME (or [GROUP%NAME]:PORT for IPv6), for example lo for this host only`)
check('proxy without downstream', 'proxy', ['--udp-listen-addr', '127.0.0.1:0'], 2, 'mproxy-proxy: --udp-downstream-addr is required')
check('unknown program', 'mproxy', ['relay'], 2, 'mproxy: unknown program "relay"; expected one of client, server, proxy, reverseproxy')

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
  t.is(r.stderr.trimEnd(), 'mproxy-server: cannot join multicast group 239.1.2.3:0: no interface reaches it; name one with --multicast-interface NAME (or [GROUP%NAME]:PORT for IPv6), for example lo for this host only')
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
  t.is(r.stderr.trimEnd(), 'mproxy-client: no interface reaches multicast group [ff02::1]:9918; name one with --multicast-interface NAME (or [GROUP%NAME]:PORT for IPv6), for example lo for this host only')
})
