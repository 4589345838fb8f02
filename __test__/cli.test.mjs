// The command line as the original's users wrote it: help and version, the `mproxy`
// umbrella command, the original's underscore spellings and --flag=value.
import test from 'ava'
import path from 'node:path'
import { createRequire } from 'node:module'
import { makeText, readFile, runProgram, runToEnd, stop, tempDir, waitForSize, writeTemp } from './helpers.mjs'

const { version } = createRequire(import.meta.url)('../package.json')

for (const name of ['client', 'server', 'proxy', 'reverseproxy']) {
  test(`mproxy-${name} --help and --version`, async (t) => {
    const help = await runToEnd(name, ['--help'])
    t.is(help.code, 0)
    t.regex(help.stdout.toString(), /^MPROXY: /)
    t.regex(help.stdout.toString(), /EXAMPLES:/)
    t.is(help.stderr, '')
    const v = await runToEnd(name, ['--version'])
    t.is(v.code, 0)
    t.is(v.stdout.toString(), `mproxy-${name} ${version}\n`)
  })
}

test('the reverse proxy help says that --tcp-output-addr listens', async (t) => {
  const help = (await runToEnd('reverseproxy', ['-h'])).stdout.toString()
  t.regex(help, /--tcp-output-addr \[tls:\/\/\]HOST:PORT\s+Output: LISTEN here \(TCP or TLS\); every client that connects receives the group stream/)
})

test('mproxy <program> runs the same programs, with the original underscore spellings and --flag=value', async (t) => {
  const dir = tempDir()
  const data = makeText(500_000, 51)
  const out = path.join(dir, 'out.txt')
  const server = runProgram('mproxy', ['server', `--path=${out}`, '--listen_addr', '127.0.0.1:0'], { listeners: 1 })
  const [serverAddr] = await server.listening
  const proxy = runProgram('mproxy', ['proxy', '--udp_listen_addr=127.0.0.1:0', '--downstream_addr', serverAddr], { listeners: 1 })
  const [proxyAddr] = await proxy.listening
  const client = await runToEnd('mproxy', ['client', '--path', writeTemp(dir, 'in.txt', data), '--server_addr', proxyAddr, '-t'])
  t.is(client.code, 0, client.stderr)
  t.true(client.stdout.equals(data), '-t copies the input')
  await waitForSize(out, data.length)
  await stop(proxy)
  await stop(server)
  t.true(readFile(out).equals(data))
})

test('mproxy without a program prints its usage on stderr and exits 2', async (t) => {
  const r = await runToEnd('mproxy', [])
  t.is(r.code, 2)
  t.is(r.stdout.length, 0)
  t.regex(r.stderr, /^mproxy: move files and raw socket data over UDP\n\nUSAGE:\n {4}mproxy <PROGRAM> \[OPTIONS\]\n/)
  t.regex(r.stderr, /PROGRAMS: client, server, proxy, reverseproxy/)
})

test('mproxy -h, --help, -V and --version', async (t) => {
  for (const flag of ['-h', '--help']) {
    const r = await runToEnd('mproxy', [flag])
    t.is(r.code, 0)
    t.is(r.stderr, '')
    t.regex(r.stdout.toString(), /^mproxy: move files and raw socket data over UDP\n/)
    t.regex(r.stdout.toString(), /PROGRAMS: client, server, proxy, reverseproxy/)
  }
  for (const flag of ['-V', '--version']) {
    const r = await runToEnd('mproxy', [flag])
    t.is(r.code, 0)
    t.is(r.stderr, '')
    t.is(r.stdout.toString(), `mproxy ${version}\n`)
  }
})
