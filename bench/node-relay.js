#!/usr/bin/env node
'use strict'
/**
 * The baseline the benchmark compares mproxy against: the plain, idiomatic Node way to
 * forward UDP. One socket receives, a second (connected) socket sends each message on,
 * unchanged, to the downstream address. No batching, no tricks: this is what a user would
 * write with `node:dgram` in a few lines.
 *
 *   node bench/node-relay.js --listen 127.0.0.1:0 --to 127.0.0.1:PORT [--buffer BYTES]
 *
 * Prints `node-relay: listening on HOST:PORT` on stderr once bound (the same shape as
 * mproxy-proxy, so the bench waits for both the same way). SIGTERM/SIGINT stop it and print
 * its counters on stderr.
 */
const dgram = require('node:dgram')

function usage(message) {
  process.stderr.write(`node-relay: ${message}\nusage: node-relay --listen HOST:PORT --to HOST:PORT [--buffer BYTES]\n`)
  process.exit(2)
}

function parseHostPort(text, flag) {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text || '')
  if (!match) usage(`${flag} must be IPv4:PORT, got ${JSON.stringify(text)}`)
  return { host: match[1], port: Number(match[2]) }
}

const flags = { buffer: String(8 * 1024 * 1024) }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i += 2) {
  const name = argv[i]
  if (!['--listen', '--to', '--buffer'].includes(name) || argv[i + 1] === undefined) usage(`bad argument ${name}`)
  flags[name.slice(2)] = argv[i + 1]
}
const listen = parseHostPort(flags.listen, '--listen')
const to = parseHostPort(flags.to, '--to')
const bufferBytes = Number(flags.buffer)
if (!Number.isInteger(bufferBytes) || bufferBytes <= 0) usage('--buffer must be a positive integer')

// Node passes these to SO_RCVBUF/SO_SNDBUF (capped by net.core.rmem_max/wmem_max).
const options = { type: 'udp4', recvBufferSize: bufferBytes, sendBufferSize: bufferBytes }
const input = dgram.createSocket(options)
const output = dgram.createSocket(options)

let received = 0
let sendErrors = 0

// A failed send (for example ECONNREFUSED when nobody listens downstream) must not kill the
// relay: count it and carry on, as a forwarding proxy would.
output.on('error', () => {
  sendErrors += 1
})
input.on('error', (err) => {
  process.stderr.write(`node-relay: receive socket error: ${err.message}\n`)
  process.exit(1)
})

input.on('message', (message) => {
  received += 1
  output.send(message)
})

// connect() once so each send skips the address lookup, then start receiving.
output.connect(to.port, to.host, () => {
  input.bind(listen.port, listen.host, () => {
    const address = input.address()
    process.stderr.write(`node-relay: listening on ${address.address}:${address.port}\n`)
  })
})

function stop() {
  process.stderr.write(`node-relay: received ${received} datagrams, send errors ${sendErrors}\n`)
  input.close()
  output.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
