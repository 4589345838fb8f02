#!/usr/bin/env node
// npm's install hook in a git clone (the published package has no install hook: its addon
// comes prebuilt in a per-platform package, see scripts/pack.js). An addon that loads is
// used as it is; otherwise the addon is compiled (release) from the Rust sources, with
// cargo's progress shown. A clone also gets its TypeScript compiled by the `prepare` hook
// that npm runs after this one.
//
// When this runs inside a node_modules directory (a package manager that copied a clone
// into a project), the build directory (target/, over 100 MB) is removed afterwards: only
// the addon is needed there. A developer's clone keeps target/ for incremental builds.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const started = Date.now()

function say(line) {
  process.stderr.write(`mproxy: ${line}\n`)
}

function addonLoads() {
  try {
    require(path.join(root, 'index.js'))
    return true
  } catch {
    return false
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' })
  if (r.error) {
    say(`cannot run ${cmd}: ${r.error.message}`)
    process.exit(1)
  }
  if (r.status !== 0) {
    say(`${cmd} ${args.join(' ')} failed (exit ${r.status})`)
    process.exit(1)
  }
}

if (process.env.MPROXY_SKIP_BUILD === '1' || addonLoads()) process.exit(0)

const { platformArchABI } = require('./platform.js')
const platform = platformArchABI()
if (!fs.existsSync(path.join(root, 'crates', 'mproxy-binding', 'Cargo.toml'))) {
  // Not a clone: nothing to build from. The programs say what to install when they run.
  say(`no native addon for ${platform} here and no Rust sources to build one; install mproxy-${platform}, or build from a git clone (see the README)`)
  process.exit(0)
}
const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
if (cargo.error || cargo.status !== 0) {
  say(`no prebuilt addon for ${platform} and no Rust toolchain to build one; install Rust (https://rustup.rs) and run npm install again`)
  process.exit(1)
}

const insideNodeModules = path.resolve(root).split(path.sep).includes('node_modules')
say(`compiling the native addon for ${platform} from source (release); this takes a minute or two, cargo shows its progress below`)
const napi = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
if (fs.existsSync(napi)) {
  run(napi, [
    'build',
    '--platform',
    '--release',
    '--manifest-path',
    'crates/mproxy-binding/Cargo.toml',
    '--package-json-path',
    'package.json',
    '--output-dir',
    '.',
    '--js',
    'index.js',
    '--dts',
    'index.d.ts',
  ])
} else {
  // Without the dev tools (a copy inside node_modules): build with cargo and name the
  // library the way the committed loader (index.js) looks for it.
  run('cargo', ['build', '--release', '-p', 'mproxy-binding'])
  const lib = { linux: 'libmproxy_binding.so', darwin: 'libmproxy_binding.dylib', win32: 'mproxy_binding.dll' }[process.platform]
  fs.copyFileSync(path.join(root, 'target', 'release', lib), path.join(root, `mproxy.${platform}.node`))
}
if (!addonLoads()) {
  say('the addon was built but does not load')
  process.exit(1)
}
if (insideNodeModules) {
  fs.rmSync(path.join(root, 'target'), { recursive: true, force: true })
  say(`built in ${Math.round((Date.now() - started) / 1000)} s; removed the build directory (target/), only the addon is kept`)
} else {
  say(`built in ${Math.round((Date.now() - started) / 1000)} s`)
}
