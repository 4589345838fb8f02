// The Node API: handles, counters, events, framing, and close() leaving nothing behind.
import test from 'ava'
import dgram from 'node:dgram'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { makeText, mproxy, readFile, root, tempDir, waitFor, waitForSize, within, writeTemp } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

const { createClient, createServer, createProxy, createReverseProxy, MproxyError } = mproxy

function udpSink() {
  const socket = dgram.createSocket('udp4')
  const messages = []
  socket.on('message', (m) => messages.push(m))
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve({ socket, messages, addr: `127.0.0.1:${socket.address().port}` })))
}

test('client and server handles report addresses and matching counters', async (t) => {
  const dir = tempDir()
  const data = makeText(1_000_000, 21)
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  t.regex(server.addresses.listen[0], /^127\.0\.0\.1:\d+$/)
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: server.addresses.listen })
  await client.finished
  const sent = await client.close()
  await waitForSize(out, data.length)
  const received = await server.close()
  t.true(readFile(out).equals(data))
  t.is(sent.totals.bytesIn, data.length)
  t.is(sent.totals.bytesOut, data.length)
  t.is(received.totals.datagramsIn, sent.totals.datagramsOut)
  t.is(received.totals.bytesIn, data.length)
  t.is(received.totals.kernelDrops + received.totals.truncated + received.totals.queueDrops, 0)
  const listener = received.endpoints.find((e) => e.kind === 'udp-listener')
  t.true(listener.bufferBytes >= 1024 * 1024, `granted buffer ${listener.bufferBytes}`)
})

test('packed framing fills datagrams with whole lines up to maxDatagram', async (t) => {
  const sink = await udpSink()
  const dir = tempDir()
  // Small enough for a default receive buffer: Node's socket reads on the event loop.
  const data = makeText(60_000, 22)
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: [sink.addr], maxDatagram: 500 })
  await client.finished
  await client.close()
  await waitFor(() => Buffer.concat(sink.messages).length === data.length, 10_000, 'all bytes')
  t.true(Buffer.concat(sink.messages).equals(data))
  for (const m of sink.messages.slice(0, -1)) {
    t.true(m.length <= 500)
    t.is(m[m.length - 1], 0x0a, 'every datagram ends a line')
  }
  sink.socket.close()
})

test('line framing sends exactly one line per datagram', async (t) => {
  const sink = await udpSink()
  const dir = tempDir()
  const data = Buffer.from(`alpha\nbeta\n\ngamma delta\n${'x'.repeat(30)}\ntail`)
  const client = await createClient({ path: writeTemp(dir, 'in.txt', data), serverAddrs: [sink.addr], framing: 'line', maxDatagram: 20 })
  await client.finished
  await client.close()
  await waitFor(() => Buffer.concat(sink.messages).length === data.length, 10_000, 'all bytes')
  t.deepEqual(sink.messages.map(String), ['alpha\n', 'beta\n', '\n', 'gamma delta\n', 'x'.repeat(20), `${'x'.repeat(10)}\n`, 'tail'])
  sink.socket.close()
})

test('raw framing sends fixed-size chunks', async (t) => {
  const sink = await udpSink()
  const dir = tempDir()
  const data = Buffer.alloc(10_000, 0xab)
  const client = await createClient({ path: writeTemp(dir, 'in.bin', data), serverAddrs: [sink.addr], framing: 'raw', maxDatagram: 4096 })
  await client.finished
  await client.close()
  await waitFor(() => sink.messages.length === 3, 10_000, 'three chunks')
  t.deepEqual(
    sink.messages.map((m) => m.length),
    [4096, 4096, 1808],
  )
  sink.socket.close()
})

unixOnly(WHY.fifo)('a partial line from a pipe is sent after the linger, without waiting for its end', async (t) => {
  const sink = await udpSink()
  const dir = tempDir()
  const fifo = path.join(dir, 'feed')
  await new Promise((resolve, reject) => spawn('mkfifo', [fifo]).on('close', (c) => (c === 0 ? resolve() : reject(new Error('mkfifo')))))
  const client = await createClient({ path: fifo, serverAddrs: [sink.addr], lingerMs: 50 })
  // The writer keeps the FIFO open, so no end of input comes to flush the partial line.
  const writer = spawn('sh', ['-c', `exec 3>${fifo}; printf 'first line\\nsecond, no newline yet' >&3; sleep 5`])
  await waitFor(() => sink.messages.length >= 2, 3000, 'both pieces before the writer closes')
  t.deepEqual(sink.messages.map(String), ['first line\n', 'second, no newline yet'])
  writer.kill()
  // Closing stops reading even though the FIFO has not ended.
  await client.close()
  sink.socket.close()
})

unixOnly(WHY.drops)('a full receive buffer is counted: received plus dropped equals sent', async (t) => {
  // A tiny receive buffer cannot absorb the client's bursts, so the kernel drops datagrams;
  // the counters must account for every one of them.
  const dir = tempDir()
  const out = path.join(dir, 'out.txt')
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'], recvBuffer: 4096 })
  const client = await createClient({ path: writeTemp(dir, 'in.txt', makeText(20_000_000, 23)), serverAddrs: server.addresses.listen, rate: 0 })
  await client.finished
  const sent = await client.close()
  // Drops at the end of a burst reach no later datagram's counter: the idle listener reads
  // the kernel's total, so the running counters add up too, not only the final ones.
  const live = () => server.stats().endpoints.find((e) => e.kind === 'udp-listener')
  await waitFor(() => live().datagramsIn + live().kernelDrops === sent.totals.datagramsOut, 5_000, 'received plus dropped to equal sent while running')
  const stats = await server.close()
  const listener = stats.endpoints.find((e) => e.kind === 'udp-listener')
  t.true(listener.kernelDrops > 0, 'some datagrams were dropped')
  t.is(listener.datagramsIn + listener.kernelDrops, sent.totals.datagramsOut)
  t.is(readFile(out).length, listener.bytesIn)
})

test('proxy handle forwards and counts per destination', async (t) => {
  const a = await udpSink()
  const b = await udpSink()
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: [a.addr, b.addr] })
  const [host, port] = proxy.addresses.listen[0].split(':')
  const sender = dgram.createSocket('udp4')
  for (let i = 0; i < 100; i++) await new Promise((r) => sender.send(`message ${i}`, Number(port), host, r))
  await waitFor(() => a.messages.length === 100 && b.messages.length === 100, 10_000, 'both sinks')
  const stats = await proxy.close()
  t.deepEqual(a.messages.map(String), b.messages.map(String))
  t.deepEqual(
    stats.endpoints.filter((e) => e.kind === 'udp-destination').map((e) => e.datagramsOut),
    [100, 100],
  )
  t.is(stats.totals.datagramsIn, 100)
  sender.close()
  a.socket.close()
  b.socket.close()
})

test('bad options reject with an MproxyError naming the option', async (t) => {
  const err = await t.throwsAsync(createClient({ path: 'x', serverAddrs: ['nope'] }))
  t.true(err instanceof MproxyError)
  t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
  t.is(err.message, 'serverAddrs: "nope" has no port; expected HOST:PORT')
  const busy = await createServer({ path: path.join(tempDir(), 'o'), listenAddrs: ['127.0.0.1:0'] })
  const inUse = await t.throwsAsync(createServer({ path: path.join(tempDir(), 'o'), listenAddrs: busy.addresses.listen }))
  t.is(inUse.code, 'EMPROXY_ADDRESS_IN_USE')
  await busy.close()
  const rp = await t.throwsAsync(createReverseProxy({}))
  t.is(rp.code, 'EMPROXY_INVALID_ARGUMENT')
})

unixOnly(WHY.proc)('after close() nothing of the handles is left: the process exits by itself', async (t) => {
  // A child creates one of each handle, uses them, closes them and returns: if any thread,
  // socket or timer were left, it would not exit. It also checks its own threads and fds.
  const script = `
    const fs = require('node:fs')
    const m = require(${JSON.stringify(root)})
    const count = (d) => fs.readdirSync(d).length
    ;(async () => {
      const before = { threads: count('/proc/self/task'), fds: count('/proc/self/fd') }
      for (let round = 0; round < 3; round++) {
        const dir = fs.mkdtempSync('/tmp/mproxy-close-')
        fs.writeFileSync(dir + '/in.txt', 'a\\nb\\n'.repeat(1000))
        const server = await m.createServer({ path: dir + '/out.txt', listenAddrs: ['127.0.0.1:0', '[::1]:0'] })
        const proxy = await m.createProxy({ udpListenAddrs: ['127.0.0.1:0'], udpDownstreamAddrs: server.addresses.listen })
        const client = await m.createClient({ path: dir + '/in.txt', serverAddrs: proxy.addresses.listen })
        await client.finished
        await Promise.all([client.close(), proxy.close(), server.close()])
        fs.rmSync(dir, { recursive: true, force: true })
      }
      // Let libuv's worker pool settle before counting.
      await new Promise((r) => setTimeout(r, 100))
      const after = { threads: count('/proc/self/task'), fds: count('/proc/self/fd') }
      process.stdout.write(JSON.stringify({ before, after }))
    })()
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  t.is(code, 0, 'exited on its own')
  const { before, after } = JSON.parse(out)
  t.is(after.fds, before.fds, 'no descriptor left open')
  // libuv may have started its worker pool for close(); no route thread is left beyond it.
  t.true(after.threads <= before.threads + 4, `threads ${before.threads} -> ${after.threads}`)
})

test('package exports the four functions and the error class', (t) => {
  for (const f of ['createClient', 'createServer', 'createProxy', 'createReverseProxy']) t.is(typeof mproxy[f], 'function')
  t.is(typeof MproxyError, 'function')
  t.true(readdirSync(path.join(root, 'dist')).includes('index.d.ts'))
})

unixOnly(WHY.fifo)('a client reading a FIFO that no writer ever opens closes at once', async (t) => {
  const dir = tempDir()
  const fifo = path.join(dir, 'idle')
  await new Promise((resolve, reject) => spawn('mkfifo', [fifo]).on('close', (c) => (c === 0 ? resolve() : reject(new Error('mkfifo')))))
  const sink = await udpSink()
  const client = await createClient({ path: fifo, serverAddrs: [sink.addr] })
  // Prompt: nothing to wait for (a hang limit, through deadline()).
  await within(client.close(), 2000, 'close() of a client reading an idle FIFO did not resolve')
  t.is(await client.finished, 'stopped')
  sink.socket.close()
})
