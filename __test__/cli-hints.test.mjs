// Warnings of the core name the counter a Node caller reads (`see stats().kernelDrops`); on the
// command line they say what to change instead, named as the person gives it.
import test from 'ava'
import { createRequire } from 'node:module'
import path from 'node:path'
import { root } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { withFix } = require(path.join(root, 'dist', 'cli', 'hints.js'))

const DROPS = '127.0.0.1:9920: the kernel dropped datagrams (socket buffer full); see stats().kernelDrops'

test('a kernel drop warning names the flags to change', (t) => {
  t.is(
    withFix(DROPS, { flags: { recvBuffer: '--recv-buffer', rate: '--rate' } }),
    "127.0.0.1:9920: the kernel dropped datagrams (socket buffer full); raise --recv-buffer (the system caps it at net.core.rmem_max), or lower the sender's --rate (counted in kernelDrops)",
  )
})

test('under --config the fix names the route options', (t) => {
  t.regex(withFix(DROPS, undefined), /raise recvBuffer .* lower the sender's rate \(counted in kernelDrops\)$/)
  t.regex(
    withFix('x: dropping datagrams that are not sealed with the bus key; see stats().authFailures', undefined),
    /give every sender the same busKey \(and busKeyNext while rotating keys\) \(counted in authFailures\)$/,
  )
})

test('other messages are left as they are', (t) => {
  for (const m of ['listening on 127.0.0.1:9920 (udp)', 'x; see stats().somethingNew']) t.is(withFix(m, undefined), m)
})
