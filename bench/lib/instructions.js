'use strict'
/**
 * `--only instructions`: instruction counts of the hot paths (crates/mproxy-bench, run by
 * Callgrind through iai-callgrind), which do not move with a shared machine's load: the
 * figure to hold a change to ("no more than 3% more instructions per datagram").
 *
 * With `--baseline REV` the same benchmarks are first run on REV's core: its source is
 * extracted (`git archive`) into .bench/instructions-<short>/, this tree's bench crate is put
 * beside it (and the core's hidden `bench_support` module, if REV predates it), and its
 * counts are saved as an iai-callgrind baseline that this build's run is compared with.
 *
 * Needs valgrind and `iai-callgrind-runner` of the library's version (`cargo install
 * iai-callgrind-runner --version 0.16.1`); without them it says so in one line and skips.
 * Everything runs on 127.0.0.1 with ephemeral ports.
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { REPO } = require('./settings')
const { note } = require('./log')

const RUNNER_VERSION = '0.16.1'
const ROOT = path.join(REPO, '.bench')
const HOME = path.join(ROOT, 'iai')

function which(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** The runner to use, or why there is none. */
function findRunner() {
  const given = process.env.IAI_CALLGRIND_RUNNER
  const runner = given || which('iai-callgrind-runner')
  if (!runner) return { skipped: `iai-callgrind-runner is not installed (cargo install iai-callgrind-runner --version ${RUNNER_VERSION})` }
  // The runner has no --version: run without the library's handshake, it names its version.
  const probe = spawnSync(runner, ['--version'], { encoding: 'utf8' })
  const said = `${probe.stdout ?? ''}${probe.stderr ?? ''}`
  const version = said.match(/iai-callgrind-runner \(([\d.]+)\)/)?.[1]
  if (version !== RUNNER_VERSION) return { skipped: `${runner} is not version ${RUNNER_VERSION} (${version ?? 'it names no version'})` }
  if (!which('valgrind')) return { skipped: 'valgrind is not installed (apt-get install valgrind)' }
  return { runner }
}

/** Runs the benchmarks in `dir` (a workspace holding crates/mproxy-bench); their output. */
function cargoBench(dir, runner, extra, targetDir) {
  const r = spawnSync('cargo', ['bench', '-q', '-p', 'mproxy-bench', '--bench', 'hot_paths', '--', ...extra], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      IAI_CALLGRIND_RUNNER: runner,
      IAI_CALLGRIND_HOME: HOME,
      IAI_CALLGRIND_COLOR: 'never',
      ...(targetDir ? { CARGO_TARGET_DIR: targetDir } : {}),
    },
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`cargo bench in ${path.relative(REPO, dir) || '.'} failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`)
  return r.stdout
}

/** REV's source with this tree's bench crate beside it, ready to run. */
function prepareBaseline(rev) {
  const sha = spawnSync('git', ['-C', REPO, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { encoding: 'utf8' }).stdout.trim()
  if (!sha) throw new Error(`--baseline ${rev}: not a revision git knows`)
  const short = sha.slice(0, 12)
  const dir = path.join(ROOT, `instructions-${short}`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const archive = spawnSync('sh', ['-c', `git -C "${REPO}" archive ${sha} | tar -x -C "${dir}"`], { encoding: 'utf8' })
  if (archive.status !== 0) throw new Error(`git archive ${rev} failed: ${archive.stderr.trim()}`)
  fs.cpSync(path.join(REPO, 'crates', 'mproxy-bench'), path.join(dir, 'crates', 'mproxy-bench'), { recursive: true })
  const manifest = path.join(dir, 'Cargo.toml')
  const text = fs.readFileSync(manifest, 'utf8')
  let workspace = text.includes('crates/mproxy-bench') ? text : text.replace(/members = \[/, 'members = ["crates/mproxy-bench", ')
  // Callgrind finds each benchmark's function by its symbol: REV's release profile strips them.
  if (!workspace.includes('[profile.bench]')) {
    const ours = fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8')
    workspace += `\n${ours.slice(ours.indexOf('[profile.bench]')).split(/\n(?=\[)/)[0]}\n`
  }
  fs.writeFileSync(manifest, workspace)
  const lib = path.join(dir, 'crates', 'mproxy-core', 'src', 'lib.rs')
  const core = fs.readFileSync(lib, 'utf8')
  if (!core.includes('pub mod bench_support')) {
    // Written for the API of the revisions before it (crates/mproxy-bench/baseline_support.rs).
    const support = fs.readFileSync(path.join(REPO, 'crates', 'mproxy-bench', 'baseline_support.rs'), 'utf8')
    fs.writeFileSync(lib, `${core}\n${support}`)
  }
  // The lockfile is ours: the bench crate's dependencies are in it.
  fs.copyFileSync(path.join(REPO, 'Cargo.lock'), path.join(dir, 'Cargo.lock'))
  return { dir, short, label: rev }
}

/** `{ name: { instructions, baseline } }` from iai-callgrind's report. */
function parseReport(text) {
  const results = {}
  let current = null
  for (const line of text.split('\n')) {
    const head = line.match(/^\S*hot_paths::(\w+)/)
    if (head) current = head[1]
    const count = line.match(/^\s*Instructions:\s*([\d,]+)\|([\d,]+|N\/A)/)
    if (current && count) {
      // 0: Callgrind found no such function there (no symbols): not measured, not free.
      const n = (s) => (s === 'N/A' || s === '0' ? null : Number(s.replace(/,/g, '')))
      results[current] = { instructions: n(count[1]), baseline: n(count[2]) }
    }
  }
  return results
}

function printInstructions(results, baseline) {
  const names = Object.keys(results)
  const out = ['', `## Instructions (Callgrind, one run each${baseline ? `; baseline ${baseline.label}` : ''})`, '']
  out.push(baseline ? '| benchmark | this build | baseline | change |' : '| benchmark | this build |')
  out.push(baseline ? '|---|---|---|---|' : '|---|---|')
  for (const name of names) {
    const { instructions, baseline: before } = results[name]
    const row = [name, instructions === null ? 'n/a' : instructions.toLocaleString('en-US')]
    if (baseline) {
      row.push(before === null ? 'n/a' : before.toLocaleString('en-US'))
      row.push(before === null || instructions === null ? 'n/a' : `${(((instructions - before) / before) * 100).toFixed(2)}%`)
    }
    out.push(`| ${row.join(' | ')} |`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

/** The section: true when it ran. */
function benchInstructions({ baseline: rev }) {
  const { runner, skipped } = findRunner()
  if (skipped) {
    note(`instructions skipped: ${skipped}`)
    return false
  }
  let baseline = null
  if (rev) {
    try {
      baseline = prepareBaseline(rev)
      note(`instructions: running the benchmarks on ${rev}'s core (${path.relative(REPO, baseline.dir)})`)
      // Built outside the extracted tree (which is made afresh), so later runs reuse it.
      cargoBench(baseline.dir, runner, [`--save-baseline=${baseline.short}`], path.join(ROOT, 'instructions-target'))
    } catch (err) {
      note(`instructions: baseline ${rev} not measured: ${err.message}`)
      baseline = null
    }
  }
  const report = cargoBench(REPO, runner, baseline ? [`--baseline=${baseline.short}`] : [])
  const results = parseReport(report)
  if (Object.keys(results).length === 0) throw new Error(`no instruction counts in iai-callgrind's report:\n${report}`)
  printInstructions(results, baseline)
  return true
}

module.exports = { benchInstructions, parseReport }
