#!/usr/bin/env node
// The core's module graph, checked without building anything: no import cycle among the
// modules of crates/mproxy-core/src, and `sys` (the OS layer) importing nothing of the
// engine above it: below `sys` there is only `batch`, the buffer type a receive fills,
// which itself imports nothing of the crate.
//
// What `cargo modules dependencies --lib --no-externs --no-sysroot --no-fns --no-types
// --no-traits --acyclic -p mproxy-core` checks, written here because cargo-modules builds
// rust-analyzer (several minutes on CI's two cores, for one graph). It reads `crate::`,
// `super::` and `self::` paths outside comments and `#[cfg(test)]` modules, and counts a
// path as a dependency on the longest module it names.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../crates/mproxy-core/src', import.meta.url))

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.rs') ? [path] : []
  })
}

/** `sink/rules.rs` -> `sink::rules`; `sink/mod.rs` -> `sink`; `lib.rs` -> `` (the crate). */
function moduleOf(path) {
  const parts = relative(root, path).replace(/\.rs$/, '').split(sep)
  if (parts.at(-1) === 'mod' || parts.at(-1) === 'lib') parts.pop()
  return parts.join('::')
}

/** The source without comments, string contents and `#[cfg(test)]` items. */
function code(text) {
  let out = text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\/\/.*$/gm, '')
  // Drop `#[cfg(test)] mod name { ... }` by brace matching.
  for (;;) {
    const at = out.search(/#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{/)
    if (at < 0) break
    let i = out.indexOf('{', at)
    let depth = 0
    for (; i < out.length; i++) {
      if (out[i] === '{') depth++
      else if (out[i] === '}' && --depth === 0) break
    }
    out = out.slice(0, at) + out.slice(i + 1)
  }
  return out
}

// A module whose file is chosen per OS (`#[cfg_attr(target_os = "linux", path = "...")]
// mod name;`, as quinn-udp picks its `imp`): each of its files is that module.
const chosen = new Map() // file -> module path
for (const path of files(root)) {
  const text = readFileSync(path, 'utf8')
  for (const m of text.matchAll(/((?:#\[cfg_attr\([^\n]*path\s*=\s*"[^"]+"\)\]\s*)+)mod\s+(\w+);/g)) {
    const parent = moduleOf(path)
    for (const p of m[1].matchAll(/path\s*=\s*"([^"]+)"/g)) {
      chosen.set(join(dirname(path), p[1]), parent ? `${parent}::${m[2]}` : m[2])
    }
  }
}

const modules = new Map() // module path -> source without comments
for (const path of files(root)) {
  const name = chosen.get(path) ?? moduleOf(path)
  modules.set(name, (modules.get(name) ?? '') + code(readFileSync(path, 'utf8')))
}

/** Paths used in `source` (a module's code), expanded from `use a::{b, c::{d}}` groups. */
function paths(source) {
  const found = []
  const expand = (prefix, body) => {
    // Split body at top-level commas.
    let depth = 0
    let item = ''
    const items = []
    for (const ch of body) {
      if (ch === '{') depth++
      if (ch === '}') depth--
      if (ch === ',' && depth === 0) {
        items.push(item)
        item = ''
      } else item += ch
    }
    items.push(item)
    for (const raw of items) {
      const it = raw.trim().replace(/\s+as\s+\w+$/, '')
      if (!it) continue
      const group = it.match(/^([\w:]*?)::\{([\s\S]*)\}$/)
      if (group) expand(`${prefix}${group[1]}::`, group[2])
      else found.push(prefix + it.replace(/\s/g, ''))
    }
  }
  for (const m of source.matchAll(/\buse\s+([^;]+);/g)) expand('', m[1])
  for (const m of source.matchAll(/(?<![\w:])\w+(?:::\w+)+/g)) found.push(m[0])
  return found
}

function resolve(from, path) {
  let parts = path.split('::')
  let base = from ? from.split('::') : []
  if (parts[0] === 'crate') {
    base = []
    parts = parts.slice(1)
  } else if (parts[0] === 'self') {
    parts = parts.slice(1)
  } else if (parts[0] === 'super') {
    while (parts[0] === 'super') {
      base = base.slice(0, -1)
      parts = parts.slice(1)
    }
  } else if (!modules.has([...base, parts[0]].join('::'))) {
    return null // an external crate, std, or a name in scope; else a submodule by its name
  }
  let best = base.join('::')
  for (let n = 1; n <= parts.length; n++) {
    const candidate = [...base, ...parts.slice(0, n)].join('::')
    if (modules.has(candidate)) best = candidate
    else break
  }
  return best
}

const edges = new Map()
for (const [name, source] of modules) {
  const to = new Set()
  for (const path of paths(source)) {
    const target = resolve(name, path)
    // A module's own items, its ancestors' declarations of it and the crate root's
    // re-exports are not dependencies between modules.
    if (target === null || target === name || target === '') continue
    if (name.startsWith(`${target}::`) && path.startsWith('super')) continue
    to.add(target)
  }
  edges.set(name, to)
}

const problems = []
const within = (name, top) => name === top || name.startsWith(`${top}::`)

// sys imports nothing above it but batch; batch imports nothing.
for (const [name, to] of edges) {
  if (within(name, 'sys')) {
    for (const t of to) if (!within(t, 'sys') && t !== 'batch') problems.push(`${name} (in sys) uses crate::${t}`)
  }
  if (name === 'batch') for (const t of to) problems.push(`batch uses crate::${t}; it must stay below sys`)
}

// Cycles among modules, every `use` followed: a submodule's use of its parent counts as
// cargo-modules counts it, so the OS modules take the portable part of `sys` from its leaf
// modules (`udp_common`, `send_errors`), never through the parent that re-exports them.
const state = new Map()
const stack = []
function visit(node) {
  state.set(node, 'open')
  stack.push(node)
  for (const next of edges.get(node) ?? []) {
    if (state.get(next) === 'open') {
      problems.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(' -> ')}`)
    } else if (!state.has(next)) visit(next)
  }
  stack.pop()
  state.set(node, 'done')
}
for (const name of [...modules.keys()].sort()) if (!state.has(name)) visit(name)

if (problems.length) {
  for (const p of problems) console.error(`check-core-modules: ${p}`)
  process.exit(1)
}
console.log(`check-core-modules: ${modules.size} modules, no cycle, sys imports only batch`)
