#!/usr/bin/env node
// Makes the npm tarballs a release publishes, into pack/:
//
//   mproxy-<version>.tgz             the main package: dist/, the loader (index.js), the
//                                    types, README, LICENSE; no sources, no addon, no install
//                                    hook; one optionalDependency per platform package
//   mproxy-<platform>-<version>.tgz  a platform package (npm/<platform>/package.json: os, cpu,
//                                    libc) holding that platform's addon
//
//   node scripts/pack.js --build            this host's addon, built as a release builds it
//                                           (npm run pack:local)
//   node scripts/pack.js --addons DIR       addons already built (the release workflow's
//                                           artifacts; searched recursively)
//   ... --all                               every platform of npm/ (each must have its addon),
//                                           not only this host's
//
// The repository's package.json is the development manifest (private, with the clone's
// install hook); the published one is derived from it here. In GitHub Actions the
// repository URL is filled in from the run, as npm's provenance requires.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { platformArchABI } = require('./platform.js')

const root = path.join(__dirname, '..')
const packDir = path.join(root, 'pack')
const stageDir = path.join(packDir, '.stage')

function fail(message) {
  console.error(`pack: ${message}`)
  process.exit(1)
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', shell: process.platform === 'win32' })
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status})${r.error ? `: ${r.error.message}` : ''}`)
  return r.stdout
}

/** The repository URL for provenance: package.json's, or this GitHub Actions run's. */
function repository(manifest) {
  if (manifest.repository) return manifest.repository
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY } = process.env
  if (GITHUB_SERVER_URL && GITHUB_REPOSITORY) return { type: 'git', url: `git+${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}.git` }
  return undefined
}

/** Every addon file under `dir`, by platform. */
function findAddons(dir) {
  const found = new Map()
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      const m = /^mproxy\.(.+)\.node$/.exec(entry.name)
      if (entry.isFile() && m) found.set(m[1], p)
    }
  }
  walk(dir)
  return found
}

function npmPack(dir) {
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], dir)
  const [info] = JSON.parse(out)
  return { file: path.join(packDir, info.filename), size: info.size, files: info.files.map((f) => f.path) }
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true })
  fs.cpSync(from, to, { recursive: true })
}

function main() {
  const argv = process.argv.slice(2)
  const at = argv.indexOf('--addons')
  const addonDir = at >= 0 ? path.resolve(argv[at + 1] ?? fail('--addons needs a directory')) : undefined
  const all = argv.includes('--all')
  if (!addonDir && !argv.includes('--build')) fail("give --build (build this host's addon) or --addons DIR")
  if (addonDir && !path.relative(packDir, addonDir).startsWith('..')) fail('--addons must be outside pack/, which is emptied first')

  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const { version } = manifest
  const platforms = fs.readdirSync(path.join(root, 'npm')).sort()

  let addons
  if (addonDir) {
    if (!fs.existsSync(addonDir)) fail(`${addonDir} does not exist`)
    addons = findAddons(addonDir)
  }
  const builder = addons ? undefined : require('./build-addon.js')
  // Before anything is removed or built: the build's tools (zig for Linux) are there.
  const triple = builder?.hostTriple()
  if (builder) builder.requireTools(triple)
  fs.rmSync(packDir, { recursive: true, force: true })
  fs.mkdirSync(stageDir, { recursive: true })
  if (!addons) {
    const out = path.join(packDir, 'addons')
    builder.build(triple, out)
    addons = findAddons(out)
  }
  // --all: a release, which must hold every platform's package.
  const wanted = all ? platforms : [platformArchABI()]
  for (const platform of wanted) {
    if (!platforms.includes(platform)) fail(`${platform} has no npm/${platform}/package.json (see napi create-npm-dirs)`)
    if (!addons.has(platform)) fail(`no mproxy.${platform}.node${addonDir ? ` under ${addonDir}` : ''}`)
  }

  // The TypeScript as it is in src/, with nothing left over from earlier builds.
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true })
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], root)
  run(process.execPath, [path.join(root, 'scripts', 'write-schema.js')], root)

  const made = []
  for (const platform of wanted) {
    const dir = path.join(stageDir, platform)
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'npm', platform, 'package.json'), 'utf8'))
    if (pkg.version !== version) fail(`npm/${platform}/package.json has version ${pkg.version}, package.json ${version} (napi version updates them)`)
    const repo = repository(manifest)
    if (repo) pkg.repository = repo
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
    copy(path.join(root, 'npm', platform, 'README.md'), path.join(dir, 'README.md'))
    copy(path.join(root, 'LICENSE'), path.join(dir, 'LICENSE'))
    copy(addons.get(platform), path.join(dir, `mproxy.${platform}.node`))
    made.push(npmPack(dir))
  }

  const main = path.join(stageDir, 'mproxy')
  const published = {
    name: manifest.name,
    version,
    description: manifest.description,
    license: manifest.license,
    keywords: manifest.keywords,
    repository: repository(manifest),
    main: manifest.main,
    types: manifest.types,
    exports: manifest.exports,
    bin: manifest.bin,
    files: manifest.files,
    engines: manifest.engines,
    dependencies: manifest.dependencies,
    // Each platform's addon; npm installs the one whose os, cpu and libc fit.
    optionalDependencies: Object.fromEntries(platforms.map((p) => [`${manifest.name}-${p}`, version])),
  }
  fs.mkdirSync(main, { recursive: true })
  fs.writeFileSync(path.join(main, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
  for (const file of ['README.md', 'LICENSE', 'index.js', 'index.d.ts', 'dist']) copy(path.join(root, file), path.join(main, file))
  made.push(npmPack(main))
  fs.rmSync(stageDir, { recursive: true, force: true })
  for (const m of made) console.log(`${path.relative(root, m.file)}  ${m.size} bytes, ${m.files.length} files`)
}

main()
