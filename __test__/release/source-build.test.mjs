// A build from source run as the install hook of a copy of the clone that sits inside a
// project's node_modules (as a package manager that copies a directory dependency leaves
// it): it says what it does, shows cargo's progress, leaves the addon that loads, and
// removes its build directory. This one needs the Rust toolchain, and takes a minute or two.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
const { platformArchABI } = require('../../scripts/platform.js')
const platform = platformArchABI()

const work = mkdtempSync(path.join(tmpdir(), 'mproxy-source-build-'))
test.after.always(() => rmSync(work, { recursive: true, force: true }))

/** The files a clone of this tree has: tracked, and new ones not ignored. */
function cloneFiles() {
  const r = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`)
  return r.stdout.split('\0').filter((f) => f && existsSync(path.join(root, f)))
}

test('the install hook inside node_modules builds the addon with progress, then removes target/', (t) => {
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
  const r = spawnSync(process.execPath, [path.join('scripts', 'install.js')], { cwd: copy, env, encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const lines = r.stderr.split('\n')
  t.is(lines[0], `mproxy: compiling the native addon for ${platform} from source (release); this takes a minute or two, cargo shows its progress below`)
  t.true(lines.some((l) => /^\s*Compiling mproxy-core v/.test(l)), 'cargo shows which crate it compiles')
  t.regex(lines.filter(Boolean).at(-1), /^mproxy: built in \d+ s; removed the build directory \(target\/\), only the addon is kept$/)
  t.false(existsSync(path.join(copy, 'target')), 'no build directory left in node_modules')
  const addon = require(path.join(copy, 'index.js'))
  t.is(typeof addon.startRoute, 'function')
})
