'use strict'
/**
 * `--baseline REV`: the forward proxy of another git revision, measured in the same run as
 * the current build, so both see the same machine, load and kernel.
 *
 * The revision is extracted (`git archive`, not a worktree, so the repository's worktree list
 * is left alone) into .bench/baseline-<shortsha>/ and built there with its own `npm install`:
 * its own addon, its own dist/. A finished build leaves a marker file and is reused by later
 * runs; a build that failed or was interrupted is simply redone. .bench/ is git-ignored.
 */
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { REPO } = require('./settings')
const { note } = require('./log')
const { proxyCli, addonFile } = require('./relays')

const BASELINE_ROOT = path.join(REPO, '.bench')
const MARKER = '.bench-baseline.json'
/** A cold build (npm install + release addon) takes a minute or two; more means stuck. */
const BUILD_LIMIT_MS = 20 * 60_000

function git(args) {
  const result = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : null
}

/** `{ rev, sha, short, dir, label }` for REV, or throws when git does not know it (a typo). */
function resolveBaseline(rev) {
  const sha = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])
  if (!sha) throw new Error(`--baseline ${rev}: not a revision git knows in ${REPO}`)
  const short = git(['rev-parse', '--short', sha]) || sha.slice(0, 12)
  // A full or abbreviated hash given by hand would make an unreadable column: shorten it.
  const name = /^[0-9a-f]{12,40}$/i.test(rev) ? short : rev
  return { rev, sha, short, dir: path.join(BASELINE_ROOT, `baseline-${short}`), label: `mproxy@${name}` }
}

function isBuilt(baseline) {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(baseline.dir, MARKER), 'utf8'))
    return marker.sha === baseline.sha && fs.existsSync(proxyCli(baseline.dir)) && addonFile(baseline.dir) !== null
  } catch {
    return false
  }
}

/** Runs a command in its own process group, so a timeout can stop cargo and rustc too. */
function runGroup(command, args, options, limitMs) {
  return new Promise((resolve) => {
    // stdout goes to our stderr: the bench's stdout is the report.
    const child = spawn(command, args, { ...options, stdio: ['ignore', 2, 2], detached: true })
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      note(`${command} ${args.join(' ')} took longer than ${limitMs / 60_000} min; stopping it`)
      killGroup()
    }, limitMs)
    process.once('exit', killGroup)
    child.once('error', (err) => {
      clearTimeout(timer)
      process.removeListener('exit', killGroup)
      resolve({ status: null, error: err })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      process.removeListener('exit', killGroup)
      resolve({ status: code })
    })
  })
}

/**
 * Makes sure the resolved baseline is built under .bench/ (outer phase: npm may need the
 * network). Resolves when it is, or throws with the reason it cannot be measured.
 */
async function buildBaseline(baseline) {
  const { rev } = baseline
  const where = path.relative(REPO, baseline.dir)
  if (isBuilt(baseline)) {
    note(`baseline ${rev} (${baseline.short}): reusing the build in ${where}`)
    return baseline
  }
  note(`baseline ${rev} (${baseline.short}): extracting into ${where} and building it (npm install; a minute or two)`)
  fs.mkdirSync(baseline.dir, { recursive: true })
  fs.rmSync(path.join(baseline.dir, MARKER), { force: true })
  // Re-extracting over an interrupted attempt is safe: tar keeps the commit's mtimes, so cargo
  // still reuses whatever it had compiled in target/.
  const extract = spawnSync('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', REPO, baseline.sha, baseline.dir], {
    stdio: ['ignore', 2, 2],
  })
  if (extract.status !== 0) throw new Error(`git archive ${baseline.short} | tar -x failed (exit ${extract.status})`)
  // Its own target/ whatever the caller's CARGO_TARGET_DIR says: a shared one would let the
  // two builds overwrite each other's artifacts.
  const env = { ...process.env, CARGO_TARGET_DIR: path.join(baseline.dir, 'target') }
  // Under `npm run bench` the environment describes *this* package (npm_config_local_prefix
  // and friends point here): a nested `npm install` would act on the wrong directory. The
  // user's npm settings come back from their npmrc files.
  for (const key of Object.keys(env)) if (/^npm_/i.test(key) || key === 'INIT_CWD') delete env[key]
  const build = await runGroup('npm', ['install', '--no-audit', '--no-fund'], { cwd: baseline.dir, env }, BUILD_LIMIT_MS)
  if (build.status !== 0) {
    throw new Error(`npm install in ${where} failed (${build.error ? build.error.message : `exit ${build.status}`}); see above`)
  }
  if (!fs.existsSync(proxyCli(baseline.dir)) || addonFile(baseline.dir) === null) {
    throw new Error(`npm install in ${where} finished but left no dist/cli/proxy.js or no addon`)
  }
  fs.writeFileSync(path.join(baseline.dir, MARKER), `${JSON.stringify({ rev, sha: baseline.sha, builtAt: new Date().toISOString() })}\n`)
  return baseline
}

module.exports = { resolveBaseline, buildBaseline }
