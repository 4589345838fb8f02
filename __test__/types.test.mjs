// The type definitions a TypeScript user gets: they compile on their own under --strict
// (no skipLibCheck), every option is documented, the unions are closed, and the handle shows
// nothing internal, in its type or at run time.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import path from 'node:path'
import { mproxy, root } from './helpers.mjs'
import { onWindows } from './platform.mjs'

const require = createRequire(import.meta.url)
const ts = require(path.join(root, 'node_modules', 'typescript'))

function declarationFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? declarationFiles(path.join(dir, e.name)) : e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : [],
  )
}

test('index.d.ts and every dist/*.d.ts compile on their own under tsc --strict', (t) => {
  const files = [path.join(root, 'index.d.ts'), ...declarationFiles(path.join(root, 'dist'))]
  t.true(files.length > 10)
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const check = (args) => {
    const r = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--types', 'node', ...args], { cwd: root, encoding: 'utf8' })
    t.is(r.status, 0, r.stdout + r.stderr)
  }
  // What a user's compiler reaches from the package's entry, with the compiler's defaults.
  check([path.join(root, 'index.d.ts'), path.join(root, 'dist', 'index.d.ts')])
  // Every file, also the internal ones. zod's own type definitions (reached from dist/schema)
  // need esModuleInterop, which `tsc --init` and module nodenext turn on.
  check(['--esModuleInterop', ...files])
  check(['--target', 'es2022', '--module', 'nodenext', ...files])
})

test('the public option types say what the option schemas take (__test__/types/option-types.ts)', (t) => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, '__test__', 'types', 'tsconfig.json')], { cwd: root, encoding: 'utf8' })
  t.is(r.status, 0, r.stdout + r.stderr)
})

/** The program over the package's entry, and the checker, as a user's compiler sees it. */
function entry() {
  const file = path.join(root, 'dist', 'index.d.ts')
  const program = ts.createProgram([file], { strict: true, types: ['node'] })
  const checker = program.getTypeChecker()
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)))
  const find = (name) => checker.getAliasedSymbol(exports.find((s) => s.name === name))
  return { checker, exports, find }
}

test('every option of every create…() function has a doc comment', (t) => {
  const { checker, exports, find } = entry()
  const optionTypes = exports.map((s) => s.name).filter((n) => n.endsWith('Options'))
  t.deepEqual(optionTypes.sort(), [
    'ClientOptions',
    'CommonOptions',
    'FeedOptions',
    'MessagesOptions',
    'ProxyOptions',
    'ReverseProxyOptions',
    'ServerOptions',
    'TlsOptions',
  ])
  let checked = 0
  for (const name of optionTypes) {
    const type = checker.getDeclaredTypeOfSymbol(find(name))
    for (const property of checker.getPropertiesOfType(type)) {
      const doc = ts.displayPartsToString(property.getDocumentationComment(checker)).trim()
      t.true(doc.length > 10, `${name}.${property.name} has no doc comment`)
      checked++
    }
  }
  t.true(checked > 40, `${checked} options`)
})

/** The members of a union of string literals, sorted. */
function literals(checker, symbol) {
  const type = checker.getDeclaredTypeOfSymbol(symbol)
  return (type.isUnion() ? type.types : [type]).map((m) => m.value).sort()
}

test('error codes, endpoint kinds and log levels are closed unions', (t) => {
  const { checker, find } = entry()
  t.deepEqual(literals(checker, find('MproxyErrorCode')), [
    'EMPROXY_ABORTED',
    'EMPROXY_ADDON',
    'EMPROXY_ADDRESS_IN_USE',
    'EMPROXY_ADDRESS_NOT_AVAILABLE',
    'EMPROXY_FILE',
    'EMPROXY_INTERNAL',
    'EMPROXY_INVALID_ARGUMENT',
    'EMPROXY_IO',
    'EMPROXY_NO_ROUTE',
    'EMPROXY_NO_SUCH_INTERFACE',
    'EMPROXY_RESOLVE',
  ])
  t.deepEqual(literals(checker, find('LogLevel')), ['error', 'info', 'warn'])
  const kinds = literals(checker, find('EndpointKind'))
  // Every kind the Rust core registers an endpoint under, and no other.
  const registered = new Set()
  const rustFiles = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? rustFiles(path.join(dir, e.name)) : e.name.endsWith('.rs') ? [path.join(dir, e.name)] : [],
    )
  for (const file of rustFiles(path.join(root, 'crates', 'mproxy-core', 'src'))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/register\("([a-z-]+)"/g)) registered.add(m[1])
  }
  // A writer's kind is passed in by route.rs ("tee", "copy") and output.rs ("file").
  for (const name of ['route.rs', 'output.rs']) {
    const text = readFileSync(path.join(root, 'crates', 'mproxy-core', 'src', name), 'utf8')
    for (const m of text.matchAll(/WriterSink::new\(\s*\w+,\s*"([a-z-]+)"/g)) registered.add(m[1])
  }
  t.true(registered.size >= 9, [...registered].join(', '))
  t.deepEqual(kinds, [...registered].sort())
  // The Rust core's codes are the union's first seven.
  const rust = readFileSync(path.join(root, 'crates', 'mproxy-core', 'src', 'error.rs'), 'utf8')
  for (const m of rust.matchAll(/=> "(EMPROXY_[A-Z_]+)"/g)) t.true(literals(checker, find('MproxyErrorCode')).includes(m[1]), m[1])
})

test('a handle shows only its public members, in its type and at run time', async (t) => {
  const { checker, find } = entry()
  const handle = find('Handle')
  const own = checker
    .getDeclaredTypeOfSymbol(handle)
    .getProperties()
    .filter((p) => p.parent === handle)
    .map((p) => p.name.replace(/^__@(\w+)@\d+$/, '[Symbol.$1]'))
  t.deepEqual(own.sort(), ['[Symbol.asyncDispose]', 'addresses', 'close', 'finished', 'messages', 'reopenOutputs', 'send', 'stats'])
  const construct = handle.members.get('__constructor').declarations[0]
  t.true(
    construct.modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword),
    'the constructor is private',
  )
  const server = await mproxy.createServer({ path: onWindows ? 'NUL' : '/dev/null', listenAddrs: ['127.0.0.1:0'] })
  t.deepEqual(Object.getOwnPropertyNames(Object.getPrototypeOf(server)).sort(), [
    'addresses',
    'close',
    'constructor',
    'messages',
    'reopenOutputs',
    'send',
    'stats',
  ])
  t.deepEqual(
    Object.getOwnPropertyNames(mproxy.Handle).filter((n) => !['length', 'name', 'prototype'].includes(n)),
    [],
  )
  for (const name of ['startRoute', 'log', 'abort', 'routes']) t.is(server[name], undefined, name)
  await server.close()
})

test('a strict consumer uses `await using`, an AbortSignal and typed events', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mproxy-types-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'consumer.mts')
  writeFileSync(
    file,
    `import { createServer, createProxy, type ClientEvent, type Stats } from ${JSON.stringify(path.join(root, 'dist', 'index.js'))}
export async function run(signal: AbortSignal): Promise<number> {
  await using server = await createServer({ path: 'out.log', listenAddrs: '127.0.0.1:0', signal, statsInterval: 5 })
  server.on('stats', (s: Stats) => console.log(s.totals.datagramsIn))
  const proxy = await createProxy({ udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: server.addresses.listen })
  proxy.on('client', (e: ClientEvent) => console.log(e.action === 'refused' ? e.reason : e.peer))
  proxy.on('connect', ({ address, peer }) => console.log(address, peer ?? ''))
  proxy.on('disconnect', ({ reason }) => console.log(reason.length))
  proxy.on('unreachable', ({ address, reason }) => console.log(address + reason))
  proxy.on('reachable', ({ address }) => console.log(address))
  await proxy.close()
  return server.stats().totals.datagramsIn
}
`,
  )
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(
    process.execPath,
    [tsc, '--strict', '--noEmit', '--types', 'node', '--target', 'es2022', '--lib', 'es2022,esnext.disposable', '--module', 'nodenext', file],
    { cwd: root, encoding: 'utf8' },
  )
  t.is(r.status, 0, r.stdout + r.stderr)
})
