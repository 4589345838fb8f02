#!/usr/bin/env node
// `npm start`: the main job, live, on loopback only. A text file goes
//   client -> forward proxy -> server
// over UDP on 127.0.0.1, and the demo prints what each hop counted and whether the
// server's file is byte-identical to the input.
'use strict'
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { createClient, createProxy, createServer } = require('..')

const SIZE = 50 * 1024 * 1024

function aisLikeText(bytes) {
  const lines = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const line = `!AIVDM,1,1,,A,${((i * 2654435761) >>> 0).toString(36).padStart(7, '0')},0*${(i % 256).toString(16).padStart(2, '0')} ship ${i}\n`
    lines.push(line)
    size += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

const sha = (buf) => createHash('sha256').update(buf).digest('hex')
const mb = (bytes) => (bytes / 1e6).toFixed(1)

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mproxy-demo-'))
  const input = path.join(dir, 'input.txt')
  const output = path.join(dir, 'received.txt')
  fs.writeFileSync(input, aisLikeText(SIZE))
  console.log(`mproxy demo: sending ${mb(SIZE)} MB of AIS-like text: client -> proxy -> server, on 127.0.0.1`)

  const log = (who) => (e) => console.error(`  [${who}] ${e.level}: ${e.message}`)
  const server = await createServer({ path: output, listenAddrs: ['127.0.0.1:0'], onLog: log('server') })
  const proxy = await createProxy({ udpListenAddrs: ['127.0.0.1:0'], udpDownstreamAddrs: server.addresses.listen, onLog: log('proxy') })
  console.log(`  server listening on ${server.addresses.listen[0]}, proxy on ${proxy.addresses.listen[0]}`)
  const started = process.hrtime.bigint()
  const client = await createClient({ path: input, serverAddrs: proxy.addresses.listen, onLog: log('client') })
  await client.finished
  const sent = await client.close()
  // UDP has no end marker: wait until the server has everything the client sent, or stops growing.
  let last = -1
  for (let idle = 0; idle < 20; ) {
    const got = server.stats().totals.bytesIn
    if (got >= sent.totals.bytesOut) break
    idle = got === last ? idle + 1 : 0
    last = got
    await new Promise((r) => setTimeout(r, 50))
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const forwarded = await proxy.close()
  const received = await server.close()

  const row = (hop, t) =>
    console.log(
      `  ${hop.padEnd(8)} in ${String(t.datagramsIn).padStart(7)} datagrams ${mb(t.bytesIn).padStart(7)} MB   out ${String(t.datagramsOut).padStart(7)} datagrams ${mb(t.bytesOut).padStart(7)} MB   dropped ${t.kernelDrops + t.queueDrops + t.truncated} send errors ${t.sendErrors}`,
    )
  row('client', sent.totals)
  row('proxy', forwarded.totals)
  row('server', received.totals)
  const identical = sha(fs.readFileSync(input)) === sha(fs.readFileSync(output))
  console.log(`  ${mb(SIZE)} MB in ${seconds.toFixed(2)} s (${mb(SIZE / seconds)} MB/s end to end)`)
  console.log(`  output byte-identical to input: ${identical ? 'yes' : 'NO'}`)
  fs.rmSync(dir, { recursive: true, force: true })
  process.exitCode = identical ? 0 : 1
}

main().catch((err) => {
  console.error(`mproxy demo: ${err.message}`)
  process.exit(1)
})
