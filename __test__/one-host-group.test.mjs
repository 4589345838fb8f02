// The hint for an IPv6 group with no route, followed as written: on one Linux host with only
// loopback, the original's default group [ff02::1]:9918 has no interface (lo carries no IPv6
// multicast), the error says to use an IPv4 group on lo, and with exactly the group and flag
// it names the reverse proxy starts and a datagram crosses the group.
//
// Runs in a namespace of its own (nested in the suite's), with nothing but lo: other tests'
// veth pairs in the suite's namespace would give the IPv6 group a route.
import test from 'ava'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { deadline, root } from './helpers.mjs'

const linux = process.platform === 'linux'
const inNamespace = process.env.MPROXY_TEST_NETNS === '1'
const maybe = linux && inNamespace ? test : test.skip

/**
 * Runs `script` (an ES module's text) with Node in a new network namespace with only lo up,
 * in a process group of its own: the group (with the programs the script started) is ended
 * at the hang limit and when the test ends, whatever happened.
 */
function inOwnNamespace(t, script) {
  const child = spawn('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && exec "$0" --input-type=module -e "$1"', process.execPath, script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const endGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  t.teardown(endGroup)
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const timer = setTimeout(endGroup, deadline(60_000))
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    }),
  )
}

const script = String.raw`
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
const cli = ${JSON.stringify(path.join(root, 'dist/cli/reverseproxy.js'))}
function run(args) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  children.add(child)
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((r) => child.on('close', (code) => { children.delete(child); r(code) }))
  return { child, exited, err: () => err }
}
const children = new Set()
const limit = (promise, what) => Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out waiting for ' + what)), ${JSON.stringify(deadline(30_000))}).unref())])
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })
const sink = dgram.createSocket('udp4')
await new Promise((r) => sink.bind(0, '127.0.0.1', r))
const sinkAddr = '127.0.0.1:' + sink.address().port
// 1. The default group, on a host with only lo.
const first = run(['--udp-listen-addr', '127.0.0.1:0', '--udp-output-addr', sinkAddr])
const firstCode = await limit(first.exited, 'the first run to exit')
const hint = first.err()
// 2. The hint, followed as written.
const m = /use an IPv4 group on lo instead: (\S+) with (--[a-z-]+) (\S+)$/m.exec(hint)
const result = { firstCode, hint: hint.trim(), followed: null, received: null, secondCode: null }
if (m) {
  result.followed = ['--multicast-addr', m[1], m[2], m[3]]
  const second = run([...result.followed, '--udp-listen-addr', '127.0.0.1:0', '--udp-output-addr', sinkAddr])
  const started = await limit(new Promise((resolve) => {
    const poll = setInterval(() => {
      const found = /listening on (127\.0\.0\.1:\d+)/.exec(second.err())
      if (found) { clearInterval(poll); resolve(found[1]) }
    }, 20)
    second.exited.then(() => { clearInterval(poll); resolve(null) })
  }), 'the second run to listen')
  if (started) {
    const port = Number(started.split(':')[1])
    const tx = dgram.createSocket('udp4')
    const got = new Promise((r) => sink.once('message', (msg) => r(msg.toString())))
    // The output joins the group as the program starts; send until the first one arrives.
    const again = setInterval(() => tx.send('!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n', port, '127.0.0.1'), 50)
    result.received = await limit(got, 'a datagram through the group')
    clearInterval(again)
    tx.close()
    second.child.kill('SIGTERM')
  }
  result.secondCode = await limit(second.exited, 'the second run to stop')
  result.secondErr = second.err()
}
sink.close()
process.stdout.write(JSON.stringify(result))
`

maybe('an IPv6 group without a route says to use an IPv4 group on lo, and following that works on one host', async (t) => {
  const r = await inOwnNamespace(t, script)
  t.is(r.code, 0, r.err)
  const result = JSON.parse(r.out)
  t.is(result.firstCode, 1)
  t.is(
    result.hint,
    'mproxy-reverseproxy: cannot join multicast group [ff02::1]:9918: no interface reaches it; name one with --multicast-interface (or [GROUP%NAME]:PORT), for example eth0; for this host only, use an IPv4 group on lo instead: 239.255.0.1:9918 with --multicast-interface lo',
  )
  t.deepEqual(result.followed, ['--multicast-addr', '239.255.0.1:9918', '--multicast-interface', 'lo'])
  t.is(result.received, '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n')
  t.is(result.secondCode, 0, result.secondErr)
})
