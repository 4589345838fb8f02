// How the package is put together: the per-platform packages match the release targets, the
// root tarball holds only what runs, the license is there, and without a loadable addon the
// programs still help and then say, in one line, what to install.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { deadline, root, tempDir } from './helpers.mjs'
import { WHY, unixOnly } from './platform.mjs'

const require = createRequire(import.meta.url)
const manifest = require('../package.json')
const { platformOf } = require('../scripts/build-addon.js')
const { platformArchABI } = require('../scripts/platform.js')
const platform = platformArchABI()
const LIBC = { gnu: 'glibc', gnueabihf: 'glibc', musl: 'musl' }

test('one npm/<platform> package per release target, with os, cpu and libc', (t) => {
  const platforms = manifest.napi.targets.map(platformOf).sort()
  t.deepEqual(readdirSync(path.join(root, 'npm')).sort(), platforms)
  for (const p of platforms) {
    const pkg = JSON.parse(readFileSync(path.join(root, 'npm', p, 'package.json'), 'utf8'))
    const [os, cpu, abi] = p.split('-')
    t.is(pkg.name, `mproxy-${p}`)
    t.is(pkg.version, manifest.version)
    t.is(pkg.main, `mproxy.${p}.node`)
    t.deepEqual(pkg.files, [`mproxy.${p}.node`])
    t.deepEqual(pkg.os, [os])
    t.deepEqual(pkg.cpu, [cpu])
    t.deepEqual(pkg.libc, os === 'linux' ? [LIBC[abi]] : undefined, p)
    t.is(pkg.license, manifest.license)
  }
  // The list the programs use to say whether a prebuilt addon exists.
  const { PREBUILT_PLATFORMS } = require('../dist/platform.js')
  t.deepEqual([...PREBUILT_PLATFORMS].sort(), platforms)
})

test('the scripts and the package name this platform alike', (t) => {
  t.is(require('../dist/platform.js').platformArchABI(), platform)
})

unixOnly(WHY.npm)('npm pack of the tree holds only what runs, and the MIT license', (t) => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const files = JSON.parse(r.stdout)[0].files.map((f) => f.path)
  const top = [...new Set(files.map((f) => f.split('/')[0]))].sort()
  t.deepEqual(top, ['LICENSE', 'README.md', 'dist', 'index.d.ts', 'index.js', 'package.json'])
  t.false(files.some((f) => f.endsWith('.node') || f.endsWith('.rs') || f.startsWith('crates')))
  t.is(manifest.license, 'MIT')
  t.regex(readFileSync(path.join(root, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} .+\n\nPermission is hereby granted, free of charge/)
})

/** A copy of the package without any addon: what `npm i --ignore-scripts` or `--omit=optional` leaves. */
function packageWithoutAddon(extra = () => undefined) {
  const dir = path.join(tempDir(), 'mproxy')
  mkdirSync(dir)
  for (const file of ['package.json', 'index.js', 'index.d.ts', 'dist']) cpSync(path.join(root, file), path.join(dir, file), { recursive: true })
  // Its dependencies are installed as usual; only the addon is missing.
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  extra(dir)
  return dir
}

function run(dir, program, args) {
  const env = { ...process.env }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli', `${program}.js`), ...args], { encoding: 'utf8', env, timeout: deadline(15_000) })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const RUNS = {
  client: ['--path', '/dev/null', '--server-addr', '127.0.0.1:9'],
  server: ['--path', '/dev/null', '--listen-addr', '127.0.0.1:0'],
  proxy: ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9'],
  reverseproxy: ['--tcp-output-addr', '127.0.0.1:0', '--multicast-addr', '239.1.2.3:9918'],
}

function checkNoAddon(t, dir, expected) {
  for (const program of Object.keys(RUNS)) {
    for (const flag of ['--help', '-h', '--version']) {
      const r = run(dir, program, [flag])
      t.is(r.code, 0, `${program} ${flag}: ${r.stderr}`)
      t.is(r.stderr, '')
    }
    const r = run(dir, program, RUNS[program])
    t.is(r.code, 1, r.stderr)
    t.is(r.stdout, '')
    t.is(r.stderr, `mproxy-${program}: ${expected}\n`)
  }
  for (const flag of ['--help', '-h', '--version', '-V']) t.is(run(dir, 'mproxy', [flag]).code, 0)
  const umbrella = run(dir, 'mproxy', ['client', ...RUNS.client])
  t.is(umbrella.stderr, `mproxy-client: ${expected}\n`)
  // Bad flags are still usage errors, found before the addon is needed.
  const usage = run(dir, 'client', ['--path', '/dev/null', '--server-addr', '127.0.0.1:9', '--rate', 'fast'])
  t.is(usage.code, 2)
}

unixOnly(WHY.symlinks)('without the addon package: help and version work, a run names the package to install', (t) => {
  const dir = packageWithoutAddon()
  checkNoAddon(
    t,
    dir,
    `the native addon for ${platform} is not installed: npm install mproxy-${platform}@${manifest.version} (npm skips this optional dependency of mproxy with --omit=optional or a lockfile made on another platform)`,
  )
})

unixOnly(WHY.symlinks)('a clone whose addon is not built says how to build it', (t) => {
  const dir = packageWithoutAddon((d) => mkdirSync(path.join(d, 'crates')))
  checkNoAddon(t, dir, `the native addon for ${platform} is not built in this clone: run npm run build:native (needs a Rust toolchain, https://rustup.rs)`)
})

unixOnly(WHY.symlinks)('an addon that does not load is named with the reason', (t) => {
  const dir = packageWithoutAddon((d) => writeFileSync(path.join(d, `mproxy.${platform}.node`), 'not a shared library'))
  const r = run(dir, 'client', RUNS.client)
  t.is(r.code, 1)
  t.regex(
    r.stderr,
    new RegExp(
      `^mproxy-client: the native addon for ${platform} does not load \\(.*mproxy\\.${platform}\\.node: .+\\); reinstall mproxy-${platform}@${manifest.version.replace(/\./g, '\\.')} or build mproxy from source\\n$`,
    ),
  )
  t.notRegex(r.stderr, /npm has a bug/)
})
