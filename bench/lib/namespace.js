'use strict'
/**
 * The bench runs in a private network namespace when it can make one: the outer process
 * re-executes the bench under `unshare`, so the inner one sees only its own loopback and no
 * datagram can leave the machine (or disturb anything else listening on the host).
 */
const { spawnSync } = require('node:child_process')
const { which, isRoot } = require('./processes')
const { note } = require('./log')

/** Which `unshare` flags give us a private network namespace with loopback up, if any. */
function namespaceFlags() {
  if (!which('unshare') || !which('ip')) return null
  for (const flags of isRoot() ? [['-n'], ['-rn']] : [['-rn']]) {
    const probe = spawnSync('unshare', [...flags, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore', timeout: 10_000 })
    if (probe.status === 0) return flags
  }
  return null
}

/** Runs `node script args` inside a new namespace and returns its exit status. */
function runInNamespace(flags, script, args, env) {
  const result = spawnSync('unshare', [...flags, '--', process.execPath, script, ...args], { stdio: 'inherit', env })
  return result.status === null ? 1 : result.status
}

/** A fresh namespace's loopback is down: bring it up before anything binds. */
function bringUpLoopback() {
  const up = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' })
  if (up.status !== 0) {
    note(`ip link set lo up failed: ${(up.stderr || '').trim()}`)
    process.exit(1)
  }
}

module.exports = { namespaceFlags, runInNamespace, bringUpLoopback }
