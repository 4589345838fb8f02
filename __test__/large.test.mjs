// The bar of the foundation: a 100 MiB file crosses loopback, over IPv4 and over IPv6,
// with default settings, and arrives byte-identical with nothing dropped.
import test from 'ava'
import { createHash } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import path from 'node:path'
import { makeText, runProgram, runToEnd, stop, tempDir, waitForSize, writeTemp } from './helpers.mjs'

const SIZE = 100 * 1024 * 1024

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file).on('data', (d) => hash.update(d)).on('end', () => resolve(hash.digest('hex'))).on('error', reject)
  })
}

const dir = tempDir()
const data = makeText(SIZE, 99)
const input = writeTemp(dir, 'in-100MiB.txt', data)
const expected = createHash('sha256').update(data).digest('hex')

for (const [family, listen] of [['IPv4', '127.0.0.1:0'], ['IPv6', '[::1]:0']]) {
  test.serial(`${family}: a 100 MiB file arrives byte-identical with default settings`, async (t) => {
    const out = path.join(dir, `out-${family}.txt`)
    const server = runProgram('server', ['--path', out, '--listen-addr', listen, '--verbose'], { listeners: 1 })
    const [addr] = await server.listening
    const client = await runToEnd('client', ['--path', input, '--server-addr', addr])
    t.is(client.code, 0, client.stderr)
    await waitForSize(out, SIZE, 60_000)
    const r = await stop(server)
    t.is(r.code, 0)
    t.notRegex(r.stderr, /kernelDrops [1-9]/)
    t.is(await sha256(out), expected)
    rmSync(out)
  })
}

test.after.always(() => rmSync(dir, { recursive: true, force: true }))
