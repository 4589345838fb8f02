// A build from source run as the install hook of a copy of the clone that sits inside a
// project's node_modules (as a package manager that copies a directory dependency leaves
// it): it says what it does, shows cargo's progress, leaves the addon that loads, and
// removes its build directory. This one needs the Rust toolchain, and takes a few minutes (a
// fresh release compile of every crate: six or more on a busy machine of two cores); its own
// timeout is 20 minutes, times MPROXY_TEST_SLOW.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
const { platformArchABI } = require('../../scripts/platform.js')
const { slowFactor } = require('../../scripts/test-slow.js')
const platform = platformArchABI()

const work = mkdtempSync(path.join(tmpdir(), 'mproxy-source-build-'))
/** The build (install.js, cargo and its compilers): a process group of its own, ended with the test. */
let build
const stopBuild = () => {
  if (build?.exitCode === null) {
    try {
      process.kill(-build.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}
const cleanUp = () => {
  stopBuild()
  rmSync(work, { recursive: true, force: true })
}
test.after.always(cleanUp)
// ava ends a worker that timed out with SIGTERM, where 'exit' handlers would not run; Ctrl-C
// does not reach the build's own process group.
for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
]) {
  process.once(signal, () => {
    cleanUp()
    process.exit(code)
  })
}

/** The files a clone of this tree has: tracked, and new ones not ignored. */
function cloneFiles() {
  const r = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`)
  return r.stdout.split('\0').filter((f) => f && existsSync(path.join(root, f)))
}

test('the install hook inside node_modules builds the addon with progress, then removes target/', async (t) => {
  t.timeout(20 * 60_000 * slowFactor(), 'the build from source did not finish in time')
  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
  if (cargo.status !== 0) throw new Error('this test needs cargo on PATH')
  const copy = path.join(work, 'project', 'node_modules', 'mproxy')
  for (const file of cloneFiles()) {
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true })
    copyFileSync(path.join(root, file), path.join(copy, file))
  }
  t.false(existsSync(path.join(copy, `mproxy.${platform}.node`)), 'no addon to start with')
  const env = { ...process.env, npm_lifecycle_event: 'install' }
  delete env.CARGO_TARGET_DIR
  delete env.MPROXY_SKIP_BUILD
  // Run asynchronously, so that this worker can tell ava about its timeout and be ended.
  build = spawn(process.execPath, [path.join('scripts', 'install.js')], { cwd: copy, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  t.teardown(stopBuild)
  let stderr = ''
  build.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
  const r = await new Promise((resolve) => build.on('close', (status) => resolve({ status, stderr })))
  t.is(r.status, 0, r.stderr)
  const lines = r.stderr.split('\n')
  t.is(lines[0], `mproxy: compiling the native addon for ${platform} from source (release); this takes a minute or two, cargo shows its progress below`)
  t.true(
    lines.some((l) => /^\s*Compiling mproxy-core v/.test(l)),
    'cargo shows which crate it compiles',
  )
  t.regex(lines.filter(Boolean).at(-1), /^mproxy: built in \d+ s; removed the build directory \(target\/\), only the addon is kept$/)
  t.false(existsSync(path.join(copy, 'target')), 'no build directory left in node_modules')
  const addon = require(path.join(copy, 'index.js'))
  t.is(typeof addon.startRoute, 'function')
})
