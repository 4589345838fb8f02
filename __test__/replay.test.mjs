// The client's replay (`replay`, `replaySpeed`): a recorded log sent at its recorded timing.
// A receiver on 127.0.0.1 takes the time of every datagram; each line must arrive no earlier
// than its recorded offset over the speed, counted from before the client started (lower
// bounds only: how late lines are is the bench's to measure), in the recorded order, with a
// leading time field removed. Times that go backwards never make a line early or reorder it;
// a line without a time goes right after the line before it. A bad time field ends the input
// with one line naming the option; a speed without replay, or replay with raw framing, is
// refused at the start.
import test from 'ava'
import dgram from 'node:dgram'
import path from 'node:path'
import { rmSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { mproxy, runToEnd, tempDir, waitFor } from './helpers.mjs'

/** A UDP receiver on 127.0.0.1: every datagram with the time it arrived (performance.now()). */
async function receiver(t) {
  const socket = dgram.createSocket('udp4')
  const got = []
  socket.on('message', (m) => got.push({ at: performance.now(), text: m.toString() }))
  await new Promise((r) => socket.bind(0, '127.0.0.1', r))
  t.teardown(() => socket.close())
  return { got, addr: `127.0.0.1:${socket.address().port}` }
}

function file(t, name, text) {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = path.join(dir, name)
  writeFileSync(f, text)
  return f
}

/** Replays `text` to a receiver; resolves with what arrived and the time before the start. */
async function replay(t, text, options) {
  const { got, addr } = await receiver(t)
  const input = file(t, 'recorded.log', text)
  const before = performance.now()
  const client = await mproxy.createClient({ path: input, serverAddrs: addr, ...options })
  t.teardown(() => client.close())
  const finished = await client.finished
  t.is(finished, 'complete')
  return { got, before, client }
}

test('unix times: lines go in the recorded order, none before its offset; out-of-order and untimed lines follow the line ahead', async (t) => {
  const t0 = 1714564800
  const records = [
    [0, '$GPGGA,first*00'],
    [0.25, '$GPGGA,second*00'],
    [0.25, '$GPGGA,same time*00'],
    [0.1, '$GPGGA,backwards: with the line ahead*00'],
    [null, '$GPGGA,no time: with the line ahead*00'],
    [0.6, '!AIVDM,1,1,,A,last,0*00'],
  ]
  // Offsets as due: the line ahead's when a time goes back or is missing.
  const due = [0, 0.25, 0.25, 0.25, 0.25, 0.6]
  const text = records.map(([s, line], i) => (s === null ? `${line}\n` : `${(t0 + s).toFixed(2)}${i % 2 ? ';' : ' '}${line}\n`)).join('')
  const { got, before, client } = await replay(t, text, { replay: 'unix', framing: 'line' })
  await waitFor(() => got.length >= records.length, 10_000, 'every line to arrive')
  t.deepEqual(
    got.map((g) => g.text),
    records.map(([, line]) => `${line}\n`),
  )
  for (const [i, g] of got.entries())
    t.true(g.at - before >= due[i] * 1000, `line ${i} arrived ${(g.at - before).toFixed(1)} ms after the start, due at ${due[i] * 1000} ms`)
  const input = client.stats().endpoints.find((e) => e.kind === 'input')
  t.is(input.datagramsOut, records.length)
  t.is(input.bytesIn, Buffer.byteLength(text))
  t.is(
    input.bytesOut,
    records.map(([, line]) => line.length + 1).reduce((a, b) => a + b),
  )
})

test('TAG block c: times (milliseconds) at 4 times the speed, the lines sent whole; ISO 8601 fields removed', async (t) => {
  const lines = [0, 400, 400, 1200].map((ms, i) => `\\s:rcv1,c:${1714564800000 + ms}*00\\!AIVDM,1,1,,A,msg${i},0*00\n`)
  const tag = await replay(t, lines.join(''), { replay: 'tag', replaySpeed: 4, framing: 'line' })
  await waitFor(() => tag.got.length >= 4, 10_000, 'every tagged line')
  t.deepEqual(
    tag.got.map((g) => g.text),
    lines,
  )
  const tagDue = [0, 100, 100, 300]
  for (const [i, g] of tag.got.entries())
    t.true(g.at - tag.before >= tagDue[i], `tagged line ${i} at ${(g.at - tag.before).toFixed(1)} ms, due at ${tagDue[i]} ms`)

  const iso = ['2024-05-01T12:00:00.000Z', '2024-05-01T12:00:00.300Z', '2024-05-01T14:00:00.500+02:00'].map((time, i) => `${time} $GPRMC,${i}*00\n`)
  const r = await replay(t, iso.join(''), { replay: 'iso', framing: 'line' })
  await waitFor(() => r.got.length >= 3, 10_000, 'every ISO-timed line')
  t.deepEqual(
    r.got.map((g) => g.text),
    ['$GPRMC,0*00\n', '$GPRMC,1*00\n', '$GPRMC,2*00\n'],
  )
  const isoDue = [0, 300, 500]
  for (const [i, g] of r.got.entries()) t.true(g.at - r.before >= isoDue[i], `ISO line ${i} at ${(g.at - r.before).toFixed(1)} ms, due at ${isoDue[i]} ms`)
})

test('packed framing: lines due together share a datagram, later ones wait for their time', async (t) => {
  const text = '100 $A*00\n100 $B*00\n100.3 $C*00\n'
  const { got, before } = await replay(t, text, { replay: 'unix' })
  await waitFor(() => got.map((g) => g.text).join('') === '$A*00\n$B*00\n$C*00\n', 10_000, 'all three lines')
  t.deepEqual(
    got.map((g) => g.text),
    ['$A*00\n$B*00\n', '$C*00\n'],
  )
  t.true(got[1].at - before >= 300)
})

test('a bad time field ends the input with one line naming replay; bad settings are refused at the start', async (t) => {
  const { addr } = await receiver(t)
  const input = file(t, 'bad.log', '1714564800 $GPGGA,1*00\nyesterday $GPGGA,2*00\n')
  const r = await runToEnd('client', ['--path', input, '--server-addr', addr, '--replay', 'unix'], { hangLimit: 20_000 })
  t.is(r.code, 1)
  t.is(r.stderr, `mproxy-client: error: reading ${input} failed: replay unix: line 2: "yesterday" is not UNIX seconds (e.g. 1714564800.25)\n`)

  const speed = await runToEnd('client', ['--path', input, '--server-addr', addr, '--replay-speed', '2'])
  t.is(speed.code, 2)
  t.is(speed.stderr, 'mproxy-client: --replay-speed needs --replay (where the recorded times are)\n')
  const raw = await runToEnd('client', ['--path', input, '--server-addr', addr, '--replay', 'tag', '--framing', 'raw'])
  t.is(raw.code, 2)
  t.is(raw.stderr, 'mproxy-client: --replay needs --framing line or packed: raw has no lines to time\n')
  const zero = await runToEnd('client', ['--path', input, '--server-addr', addr, '--replay', 'tag', '--replay-speed', '0'])
  t.is(zero.code, 2)
  t.is(zero.stderr, 'mproxy-client: --replay-speed: "0" is not a number from 0.001 to 1000000\n')
  const which = await runToEnd('client', ['--path', input, '--server-addr', addr, '--replay', 'gps'])
  t.is(which.code, 2)
  t.is(which.stderr, 'mproxy-client: --replay: "gps" is not one of tag, iso, unix\n')
})
