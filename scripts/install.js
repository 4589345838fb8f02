#!/usr/bin/env node
// npm's install hook. A prebuilt addon for this platform is used as it is; otherwise the
// addon is compiled (release) from the Rust sources shipped in the package. A clone also
// gets its TypeScript compiled by the `prepare` hook that npm runs after this one.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

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
  if (r.error && r.error.code === 'ENOENT') return false
  if (r.status !== 0) {
    console.error(`mproxy: ${cmd} ${args.join(' ')} failed (exit ${r.status})`)
    process.exit(1)
  }
  return true
}

if (process.env.MPROXY_SKIP_BUILD === '1' || addonLoads()) process.exit(0)

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
if (cargo.error || cargo.status !== 0) {
  console.error(`mproxy: no prebuilt addon for ${process.platform}-${process.arch} and no Rust toolchain to build one; install Rust (https://rustup.rs) and run npm install again`)
  process.exit(1)
}
console.error('mproxy: compiling the native addon (release); this takes a minute')
const napi = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
if (fs.existsSync(napi)) {
  run(napi, ['build', '--platform', '--release', '--manifest-path', 'crates/mproxy-binding/Cargo.toml', '--package-json-path', 'package.json', '--output-dir', '.', '--js', 'index.js', '--dts', 'index.d.ts'])
} else {
  // Installed from the registry without dev tools: build with cargo and name the library the
  // way the committed loader (index.js) looks for it.
  run('cargo', ['build', '--release', '-p', 'mproxy-binding'])
  const { platformArchABI } = require('./platform.js')
  const lib = { linux: 'libmproxy_binding.so', darwin: 'libmproxy_binding.dylib', win32: 'mproxy_binding.dll' }[process.platform]
  fs.copyFileSync(path.join(root, 'target', 'release', lib), path.join(root, `mproxy.${platformArchABI()}.node`))
}
if (!addonLoads()) {
  console.error('mproxy: the addon was built but does not load')
  process.exit(1)
}
