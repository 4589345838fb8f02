'use strict'
/**
 * What the kernel says about a relay while it runs: CPU time, peak memory, per-socket drop
 * counters, buffer sizes. Read from /proc (and `ss`), so every relay is measured the same
 * way, whatever it reports about itself.
 */
const { spawnSync } = require('node:child_process')
const dgram = require('node:dgram')
const fs = require('node:fs')
const { HOST } = require('./settings')

const CLOCK_TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const value = Number((result.stdout || '').trim())
  return Number.isFinite(value) && value > 0 ? value : 100
})()

/** User+system CPU seconds of a whole process (all its threads). */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

/** `{ hwmKiB, rssKiB }` from /proc/PID/status. */
function memory(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const field = (name) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
      return match ? Number(match[1]) : null
    }
    return { hwmKiB: field('VmHWM'), rssKiB: field('VmRSS') }
  } catch {
    return { hwmKiB: null, rssKiB: null }
  }
}

/** Kernel drop counter (receive buffer full) of the UDP socket bound to HOST:port. */
function udpDrops(port) {
  try {
    const wanted = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
    for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[1] === wanted) return Number(fields[fields.length - 1])
    }
  } catch {
    // no /proc
  }
  return null
}

function isBound(port) {
  return udpDrops(port) !== null
}

/** Receive buffer the kernel granted the socket on HOST:port (from `ss -m`), or null. */
function receiveBuffer(port) {
  const result = spawnSync('ss', ['-uanmH', 'sport', '=', `:${port}`], { encoding: 'utf8' })
  const match = /\brb(\d+)/.exec(result.stdout || '')
  return match ? Number(match[1]) : null
}

/**
 * The network namespace's UDP counters from /proc/net/snmp (`{ RcvbufErrors, SndbufErrors,
 * InErrors, ... }`), or null. In the bench's own namespace they count only its own traffic,
 * so a before/after difference is what the kernel dropped during one measurement, whether
 * or not the program noticed.
 */
function udpCounters() {
  try {
    const rows = fs
      .readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('Udp: '))
    if (rows.length < 2) return null
    const names = rows[0].trim().split(/\s+/).slice(1)
    const values = rows[1].trim().split(/\s+/).slice(1).map(Number)
    return Object.fromEntries(names.map((name, i) => [name, values[i]]))
  } catch {
    return null
  }
}

/** A UDP port nobody uses right now (for relays that cannot bind port 0 and tell us). */
function freePort() {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, HOST, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

module.exports = { cpuSeconds, memory, udpDrops, isBound, receiveBuffer, udpCounters, freePort }
