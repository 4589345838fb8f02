#!/usr/bin/env node
// Builds the addon for one target the way a release is built, into a directory of its own
// (default pack/addons): `mproxy.<platform>.node`. The release workflow's build jobs and
// `npm run pack:local` both run this, so the rehearsal packs what a release would.
//
//   node scripts/build-addon.js [--target TRIPLE] [--out DIR]
//
// Linux targets are linked by zig (cargo-zigbuild): the glibc ones against glibc 2.17
// (`TRIPLE.2.17`), so the addon loads on any glibc from 2.17 on (Node 20 itself needs
// 2.28), and the musl ones dynamically against musl (Node on Alpine loads it). Other
// targets use the platform's own toolchain. A glibc build is then checked: no symbol
// version newer than GLIBC_MAX may be referenced.
//
// Both tools are looked for first, as cargo-zigbuild looks for zig (`python3 -m ziglang`,
// then `zig` on PATH; CARGO_ZIGBUILD_PYTHON_PATH and CARGO_ZIGBUILD_ZIG_PATH name others):
// without them the build stops at once with the command that installs them, instead of
// napi installing cargo-zigbuild into ~/.cargo unasked and cargo-zigbuild failing later.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { platformArchABI } = require('./platform.js')

const root = path.join(__dirname, '..')
const GLIBC_BASELINE = '2.17'
/** The newest glibc symbol version a gnu addon may need (the bar: RHEL 8, Debian 10). */
const GLIBC_MAX = [2, 28]
/** How to get zig and cargo-zigbuild, in the versions .ci/run and the release workflow use. */
const ZIG_TOOLS = 'pip install cargo-zigbuild==0.24.1 ziglang==0.17.1'

const runs = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore', shell: false })
  return !r.error && r.status === 0
}

/** What a Linux build lacks of zig and cargo-zigbuild (cargo-zigbuild's own search for zig; napi's for cargo-zigbuild). */
function missingZigTools(env = process.env) {
  const missing = []
  if (!runs('cargo', ['help', 'zigbuild'])) missing.push('cargo-zigbuild')
  const python = env.CARGO_ZIGBUILD_PYTHON_PATH || 'python3'
  const zig = env.CARGO_ZIGBUILD_ZIG_PATH || 'zig'
  if (!runs(python, ['-m', 'ziglang', 'version']) && !runs(zig, ['version'])) missing.push('zig')
  return missing
}

/** napi-rs's name for a target triple: `x86_64-unknown-linux-gnu` -> `linux-x64-gnu`. */
function platformOf(triple) {
  const [archPart] = triple.split('-')
  const arch = { x86_64: 'x64', aarch64: 'arm64', armv7: 'arm', i686: 'ia32' }[archPart]
  if (triple.includes('apple-darwin')) return `darwin-${arch}`
  if (triple.includes('windows-msvc')) return `win32-${arch}-msvc`
  const abi = triple.split('-').at(-1)
  return `linux-${arch}-${abi}`
}

function hostTriple() {
  const { napi } = require(path.join(root, 'package.json'))
  const host = platformArchABI()
  const triple = napi.targets.find((t) => platformOf(t) === host)
  if (!triple) {
    console.error(`build-addon: ${host} is not one of the release targets (package.json napi.targets)`)
    process.exit(1)
  }
  return triple
}

/** Every `GLIBC_x.y` version an ELF file names (its dynamic string table holds them as text). */
function glibcVersions(file) {
  const text = fs.readFileSync(file).toString('latin1')
  const found = new Set(text.match(/GLIBC_2\.\d+(\.\d+)?/g) ?? [])
  return [...found].map((v) => v.slice('GLIBC_'.length).split('.').map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] ?? 0) - (b[2] ?? 0))
}

function newestGlibc(file) {
  const versions = glibcVersions(file)
  return versions.at(-1)
}

/** Stops with one line when the build of `triple` would lack its tools (Linux: zig, cargo-zigbuild). */
function requireTools(triple) {
  if (!triple.includes('-linux-')) return
  const missing = missingZigTools()
  if (missing.length === 0) return
  console.error(
    `build-addon: a Linux addon is linked by zig through cargo-zigbuild, and ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not found; install both with: ${ZIG_TOOLS} (zig on PATH works too)`,
  )
  process.exit(1)
}

function build(triple, outDir) {
  const platform = platformOf(triple)
  const linux = triple.includes('-linux-')
  const gnu = linux && triple.includes('-gnu')
  const musl = linux && triple.includes('-musl')
  requireTools(triple)
  const env = { ...process.env }
  const args = [
    'build',
    '--platform',
    '--release',
    '--manifest-path',
    'crates/mproxy-binding/Cargo.toml',
    '--package-json-path',
    'package.json',
    '--output-dir',
    outDir,
    '--no-js',
    '--dts',
    'index.d.ts',
  ]
  if (linux) {
    args.push('--cross-compile', '--target', gnu ? `${triple}.${GLIBC_BASELINE}` : triple)
    // An addon is loaded into Node, which brings its own libc: link musl dynamically.
    if (musl) env[`CARGO_TARGET_${triple.toUpperCase().replace(/-/g, '_')}_RUSTFLAGS`] = '-C target-feature=-crt-static'
  } else {
    args.push('--target', triple)
    // Windows: the C runtime linked in, so the addon needs no Visual C++ redistributable.
    if (triple.includes('windows-msvc')) env[`CARGO_TARGET_${triple.toUpperCase().replace(/-/g, '_')}_RUSTFLAGS`] = '-C target-feature=+crt-static'
  }
  fs.mkdirSync(outDir, { recursive: true })
  const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  console.error(`build-addon: ${triple} -> ${path.relative(root, outDir) || '.'}/mproxy.${platform}.node (napi ${args.join(' ')})`)
  const r = spawnSync(process.execPath, [napi, ...args], { cwd: root, stdio: 'inherit', env })
  if (r.status !== 0) {
    console.error(`build-addon: the build for ${triple} failed`)
    process.exit(1)
  }
  // napi writes its type definitions next to the addon; the committed index.d.ts is the one used.
  fs.rmSync(path.join(outDir, 'index.d.ts'), { force: true })
  const addon = path.join(outDir, `mproxy.${platform}.node`)
  if (gnu) {
    const newest = newestGlibc(addon)
    const shown = newest ? newest.join('.') : 'none'
    if (newest && (newest[0] > GLIBC_MAX[0] || (newest[0] === GLIBC_MAX[0] && newest[1] > GLIBC_MAX[1]))) {
      console.error(`build-addon: ${addon} needs GLIBC_${shown}, newer than ${GLIBC_MAX.join('.')}`)
      process.exit(1)
    }
    console.error(`build-addon: newest glibc symbol version needed: ${shown}`)
  }
  return addon
}

if (require.main === module) {
  const argv = process.argv.slice(2)
  const option = (name) => {
    const at = argv.indexOf(name)
    return at >= 0 ? argv[at + 1] : undefined
  }
  const triple = option('--target') ?? hostTriple()
  const outDir = path.resolve(root, option('--out') ?? path.join('pack', 'addons'))
  build(triple, outDir)
}

module.exports = { build, hostTriple, platformOf, glibcVersions, newestGlibc, missingZigTools, requireTools, ZIG_TOOLS }
