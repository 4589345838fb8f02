'use strict'
/**
 * Processes the bench starts: tracked so that nothing outlives it, whichever way it ends
 * (normal exit, an error, a signal, the watchdog).
 */
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function which(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, command)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  return null
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

const children = new Set()

function track(child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function killChildren() {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}
process.on('exit', killChildren)

/** Resolves with the first match of `pattern` in the lines of `stream`, or rejects. */
function waitForLine(stream, pattern, child, what, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: stream })
    const timer = setTimeout(() => finish(new Error(`${what}: not ready after ${timeoutMs} ms`)), timeoutMs)
    const onExit = (code, signal) => finish(new Error(`${what} exited early (code ${code}, signal ${signal})`))
    function finish(err, value) {
      clearTimeout(timer)
      lines.removeListener('line', onLine)
      child.removeListener('exit', onExit)
      if (err) reject(err)
      else resolve(value)
    }
    function onLine(line) {
      const match = pattern.exec(line)
      if (match) finish(null, match)
    }
    lines.on('line', onLine)
    child.once('exit', onExit)
  })
}

function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Keeps everything a stream says, for the report. */
function collect(stream) {
  const chunks = []
  stream.on('data', (d) => chunks.push(d))
  return { text: () => Buffer.concat(chunks).toString('utf8') }
}

/**
 * Keeps every line of `stream` and lets callers wait for a line matching a pattern, whether
 * it came before or after they asked (a program may print several readiness lines at once).
 */
function watchLines(stream, child, what) {
  const lines = []
  const waiters = new Set()
  readline.createInterface({ input: stream }).on('line', (line) => {
    lines.push(line)
    for (const waiter of waiters) waiter.check(line)
  })
  return {
    lines,
    text: () => lines.join('\n'),
    waitFor(pattern, timeoutMs = 15_000) {
      for (const line of lines) {
        const match = pattern.exec(line)
        if (match) return Promise.resolve(match)
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`${what} exited early (code ${child.exitCode}, signal ${child.signalCode}): ${lines.join(' | ')}`))
      }
      return new Promise((resolve, reject) => {
        const onExit = (code, signal) => finish(new Error(`${what} exited early (code ${code}, signal ${signal}): ${lines.join(' | ')}`))
        const timer = setTimeout(() => finish(new Error(`${what}: no line matching ${pattern} after ${timeoutMs} ms`)), timeoutMs)
        const waiter = {
          check(line) {
            const match = pattern.exec(line)
            if (match) finish(null, match)
          },
        }
        function finish(err, match) {
          clearTimeout(timer)
          waiters.delete(waiter)
          child.removeListener('exit', onExit)
          if (err) reject(err)
          else resolve(match)
        }
        waiters.add(waiter)
        child.once('exit', onExit)
      })
    },
  }
}

module.exports = { sleep, which, isRoot, track, killChildren, waitForLine, waitExit, collect, watchLines }
