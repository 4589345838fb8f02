// The client's pace in datagrams: line framing makes one datagram per line, and a receiver's
// cost is per datagram, so `datagramRate` (by default 100,000 a second in line framing)
// spaces them. What arrives is asserted exactly; the pace only by a lower bound on the time
// taken (a busy machine can only make it slower). How close the pace keeps to its rate is
// the bench's to measure, not a test's.
import test from 'ava'
import dgram from 'node:dgram'
import { mproxy, tempDir, waitFor, writeTemp } from './helpers.mjs'

const { createClient } = mproxy

function udpSink() {
  const socket = dgram.createSocket('udp4')
  const messages = []
  socket.on('message', (m) => messages.push(m.toString()))
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve({ socket, messages, addr: `127.0.0.1:${socket.address().port}` })))
}

const LINES = Array.from({ length: 2000 }, (_, i) => `!AIVDM,1,1,,A,line ${String(i).padStart(4, '0')},0*00\n`)

test('datagramRate: 2,000 lines at 4,000 datagrams a second arrive one per datagram, in order, and take at least a third of a second', async (t) => {
  const sink = await udpSink()
  t.teardown(() => sink.socket.close())
  const input = writeTemp(tempDir(), 'lines.txt', LINES.join(''))
  const started = process.hrtime.bigint()
  const client = await createClient({ path: input, serverAddrs: sink.addr, framing: 'line', datagramRate: 4000, rate: 0 })
  await client.finished
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9
  const stats = await client.close()
  await waitFor(
    () => sink.messages.length === LINES.length,
    10_000,
    () => `every line (${sink.messages.length} of ${LINES.length})`,
  )
  t.deepEqual(sink.messages, LINES)
  t.is(stats.totals.datagramsOut, LINES.length)
  // 2,000 datagrams at 4,000 a second: the last slice goes out after about 0.5 s, never early.
  t.true(elapsed >= 0.35, `took ${elapsed.toFixed(3)} s`)
})

test('datagramRate is checked like every number: a negative or fractional one names the option', async (t) => {
  const input = writeTemp(tempDir(), 'lines.txt', 'x\n')
  for (const datagramRate of [-1, 1.5, 'fast']) {
    const err = await t.throwsAsync(createClient({ path: input, serverAddrs: '127.0.0.1:9', datagramRate }))
    t.is(err.code, 'EMPROXY_INVALID_ARGUMENT')
    t.regex(err.message, /^datagramRate: /)
  }
})
