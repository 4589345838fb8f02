// The release rehearsal (npm run test:install, after npm run pack:local): the tarballs in pack/
// installed into a fresh project under the system's temp directory, the way a user installs
// from the registry, with no Rust toolchain on PATH. The dependencies come from npm's cache
// when it has them, from the registry otherwise (npm --prefer-offline: an empty cache works);
// the other platforms' optional packages are skipped, as npm skips those that do not fit or
// are not published.
// Then every program, a transfer, the API through require and import, and the types under
// tsc --strict, as a user meets them. Loopback and port 0 only.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
const { platformArchABI } = require('../../scripts/platform.js')
const { version } = require('../../package.json')
const platform = platformArchABI()
const windows = process.platform === 'win32'
const mainTarball = path.join(root, 'pack', `mproxy-${version}.tgz`)
const platformTarball = path.join(root, 'pack', `mproxy-${platform}-${version}.tgz`)
const BINS = ['mproxy', 'mproxy-client', 'mproxy-server', 'mproxy-proxy', 'mproxy-reverseproxy']
const PLATFORMS = readdirSync(path.join(root, 'npm')).sort()

const work = mkdtempSync(path.join(tmpdir(), 'mproxy-install-'))
const children = new Set()
const cleanUp = () => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
}
test.after.always(cleanUp)
// ava ends a worker that timed out with SIGTERM, where 'exit' handlers would not run.
process.once('SIGTERM', () => {
  cleanUp()
  process.exit(143)
})

/** The npm CLI this Node came with, run through this Node (PATH below may not hold it). */
function npmCli() {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath
  const dir = path.dirname(process.execPath)
  for (const candidate of [path.join(dir, 'node_modules/npm/bin/npm-cli.js'), path.join(dir, '../lib/node_modules/npm/bin/npm-cli.js')]) {
    if (existsSync(candidate)) return candidate
  }
  throw new Error('cannot find npm-cli.js next to this Node')
}

const exe = (name) => (windows ? [`${name}.exe`, `${name}.cmd`] : [name])
const holdsRust = (dir) => ['cargo', 'rustc', 'rustup'].some((tool) => exe(tool).some((f) => existsSync(path.join(dir, f))))
/** What the tests run by name besides node: npm's scripts and `npm exec` go through sh. */
const TOOLS = ['sh', 'env']

/** Where `tool` is on this process's PATH, or undefined. */
function which(tool) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = dir && path.join(dir, tool)
    if (file && existsSync(file) && statSync(file).isFile()) return file
  }
  return undefined
}

/**
 * A PATH that reaches no cargo, rustc or rustup. Elsewhere than on Windows: one directory of
 * links to Node and just the tools the tests need (TOOLS), so the shell stays even when cargo
 * sits beside it (/usr/bin). On Windows: PATH without the directories that hold Rust.
 */
function pathWithoutRust() {
  if (windows)
    return (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((d) => d && !holdsRust(d))
      .join(path.delimiter)
  const bin = path.join(work, 'bin')
  mkdirSync(bin, { recursive: true })
  symlinkSync(process.execPath, path.join(bin, 'node'))
  for (const tool of TOOLS) {
    const file = which(tool)
    if (!file) throw new Error(`${tool} is not on PATH, and the tests need it`)
    symlinkSync(file, path.join(bin, tool))
  }
  return bin
}

const PATH = pathWithoutRust()
const env = { ...process.env, PATH, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }
for (const key of Object.keys(env)) if (/^(CARGO|RUSTUP)_/.test(key) || key === 'NAPI_RS_NATIVE_LIBRARY_PATH') delete env[key]

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', shell: windows && /\.cmd$/.test(cmd), ...options })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error }
}

function npm(args, cwd) {
  const r = run(process.execPath, [npmCli(), ...args], { cwd })
  if (r.code !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r
}

/** A fresh project with the given tarballs installed (their dependencies from the cache or the registry). */
function project(name, tarballs) {
  const dir = path.join(work, name)
  mkdirSync(dir)
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true }))
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], dir)
  return dir
}

const bin = (dir, name) => path.join(dir, 'node_modules', '.bin', windows ? `${name}.cmd` : name)

/** Deterministic text of `bytes` bytes, in lines like AIS sentences. */
function text(bytes, seed) {
  const lines = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const line = `!AIVDM,1,1,,A,${(((i + seed) * 2654435761) >>> 0).toString(36)},0*${(i % 256).toString(16)} ${'x'.repeat(i % 40)}\n`
    lines.push(line)
    size += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

let installed
let bare
test.before(() => {
  for (const file of [mainTarball, platformTarball]) {
    if (!existsSync(file)) throw new Error(`${path.relative(root, file)} is missing: run npm run pack:local first`)
  }
  if (PATH.split(path.delimiter).some(holdsRust)) throw new Error('PATH still holds a Rust toolchain')
  installed = project('installed', [mainTarball, platformTarball])
  bare = project('bare', [mainTarball])
})

test("no Rust toolchain is reachable from the tests' PATH", (t) => {
  const which = run(windows ? 'where' : 'sh', windows ? ['cargo'] : ['-c', 'command -v cargo || command -v rustc'])
  t.not(which.code, 0, which.stdout)
})

test('the main package holds only what runs; the platform package its addon', (t) => {
  const main = path.join(installed, 'node_modules', 'mproxy')
  t.deepEqual(readdirSync(main).sort(), ['LICENSE', 'README.md', 'dist', 'index.d.ts', 'index.js', 'package.json'])
  const manifest = JSON.parse(readFileSync(path.join(main, 'package.json'), 'utf8'))
  t.is(manifest.scripts, undefined, 'no install hook: a registry install never builds')
  t.is(manifest.private, undefined)
  t.deepEqual(manifest.dependencies, require('../../package.json').dependencies)
  t.deepEqual(manifest.optionalDependencies, Object.fromEntries(PLATFORMS.map((p) => [`mproxy-${p}`, version])))
  t.deepEqual(Object.keys(manifest.bin).sort(), [...BINS].sort())
  const addon = path.join(installed, 'node_modules', `mproxy-${platform}`)
  t.deepEqual(readdirSync(addon).sort(), ['LICENSE', 'README.md', `mproxy.${platform}.node`, 'package.json'])
  const addonManifest = JSON.parse(readFileSync(path.join(addon, 'package.json'), 'utf8'))
  t.deepEqual(addonManifest.os, [process.platform])
  t.deepEqual(addonManifest.cpu, [process.arch])
  if (process.platform === 'linux') t.deepEqual(addonManifest.libc, [platform.includes('musl') ? 'musl' : 'glibc'])
  t.is(readFileSync(path.join(main, 'LICENSE'), 'utf8').split('\n')[0], 'MIT License')
})

for (const name of BINS) {
  test(`${name} --version and --help`, (t) => {
    const v = run(bin(installed, name), ['--version'])
    t.is(v.code, 0, v.stderr)
    t.is(v.stdout, `${name} ${version}\n`)
    t.is(v.stderr, '')
    const h = run(bin(installed, name), ['--help'])
    t.is(h.code, 0, h.stderr)
    t.regex(h.stdout, name === 'mproxy' ? /^mproxy: move files/ : /^MPROXY: /)
  })
}

test('npx mproxy-client, as the README shows it, runs the installed program', (t) => {
  const r = run(process.execPath, [npmCli(), 'exec', '--offline', '--', 'mproxy-client', '--version'], { cwd: installed })
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout, `mproxy-client ${version}\n`)
})

function start(cmd, args) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  const listening = new Promise((resolve, reject) => {
    child.stderr.on('data', () => {
      const m = /listening on (\S+)/.exec(stderr)
      if (m) resolve(m[1])
    })
    exited.then((code) => reject(new Error(`${path.basename(cmd)} exited (${code}): ${stderr}`)))
  })
  listening.catch(() => undefined)
  return { child, exited, listening, stderr: () => stderr }
}

async function waitForBytes(file, size, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!existsSync(file) || readFileSync(file).length < size) {
    if (Date.now() > deadline) throw new Error(`${file} has ${existsSync(file) ? readFileSync(file).length : 0} of ${size} bytes`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('mproxy-client -> mproxy-server on 127.0.0.1, byte for byte', async (t) => {
  const data = text(2_000_000, 7)
  const input = path.join(work, 'cli-in.txt')
  const output = path.join(work, 'cli-out.txt')
  writeFileSync(input, data)
  // On Windows the bin is a .cmd shim run by cmd.exe, which would not pass a signal on: the
  // long-running server is started as the shim starts it, Node on the package's script.
  const serverArgs = ['--path', output, '--listen-addr', '127.0.0.1:0']
  const server = windows
    ? start(process.execPath, [path.join(installed, 'node_modules', 'mproxy', 'dist', 'cli', 'server.js'), ...serverArgs])
    : start(bin(installed, 'mproxy-server'), serverArgs)
  const address = await server.listening
  const client = run(bin(installed, 'mproxy-client'), ['--path', input, '--server-addr', address])
  t.is(client.code, 0, client.stderr)
  t.is(client.stderr, '')
  await waitForBytes(output, data.length)
  server.child.kill('SIGTERM')
  await server.exited
  t.true(readFileSync(output).equals(data), 'the server wrote exactly what the client read')
})

const API_PROGRAM = (load) => `${load}
const fs = require('node:fs')
async function main() {
  const data = fs.readFileSync(process.argv[2])
  const out = process.argv[3]
  const server = await createServer({ path: out, listenAddrs: ['127.0.0.1:0'] })
  const client = await createClient({ path: process.argv[2], serverAddrs: server.addresses.listen })
  const outcome = await client.finished
  const sent = await client.close()
  while (server.stats().totals.bytesIn < sent.totals.bytesOut) await new Promise((r) => setTimeout(r, 10))
  const received = await server.close()
  let refused = ''
  try {
    await createServer({ path: out, listenAddrs: ['127.0.0.1:0', '127.0.0.1:0'], recvBuffer: 1 })
  } catch (err) {
    refused = err instanceof MproxyError ? err.code + ' ' + err.message : 'not an MproxyError'
  }
  console.log(JSON.stringify({ outcome, identical: fs.readFileSync(out).equals(data), bytes: received.totals.bytesIn, refused }))
}
`

test('the API through require() and through import', (t) => {
  const data = text(300_000, 8)
  const input = path.join(work, 'api-in.txt')
  writeFileSync(input, data)
  const programs = {
    'api.cjs': `${API_PROGRAM("const { createClient, createServer, MproxyError } = require('mproxy')")}main()\n`,
    'api.mjs': `${API_PROGRAM(
      "import { createClient, createServer, MproxyError } from 'mproxy'\nimport { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)",
    )}await main()\n`,
  }
  for (const [file, source] of Object.entries(programs)) {
    writeFileSync(path.join(installed, file), source)
    const r = run(process.execPath, [file, input, path.join(work, `${file}.out`)], { cwd: installed })
    t.is(r.code, 0, `${file}: ${r.stderr}`)
    t.deepEqual(
      JSON.parse(r.stdout),
      {
        outcome: 'complete',
        identical: true,
        bytes: data.length,
        refused: 'EMPROXY_INVALID_ARGUMENT recvBuffer: 1 is not a whole number from 1024 to 2147483647',
      },
      file,
    )
  }
})

const CONSUMER_TS = `// Uses every type mproxy exports, as a TypeScript user would.
import {
  createClient,
  createProxy,
  createReverseProxy,
  createServer,
  Handle,
  MproxyError,
  registerMetrics,
  serveMetrics,
  Service,
  start,
  type Addresses,
  type BalanceGroup,
  type ClientAction,
  type ClientEvent,
  type ClientOptions,
  type ConnectEvent,
  type Datagrams,
  type DisconnectEvent,
  type ListenerAccess,
  type Message,
  type MessagesOptions,
  type OutputRules,
  type OutputStages,
  type UdpOutputStages,
  type ReachableEvent,
  type RuledOutput,
  type DedupOption,
  type FeedOptions,
  type KeepAlive,
  type Preamble,
  type TagBlockOption,
  type ThrottleOption,
  type TcpConnection,
  type TcpConnectOutput,
  type TcpListener,
  type TcpOutput,
  type UdpListener,
  type UdpListenerItem,
  type UdpOutput,
  type UnreachableEvent,
  type Wire,
  type CommonOptions,
  type EndpointKind,
  type EndpointStats,
  type Framing,
  type HandleEvents,
  type InputOutcome,
  type LogEntry,
  type LogLevel,
  type MetricsServer,
  type MetricsSource,
  type MproxyErrorCode,
  type ProxyOptions,
  type ReloadResult,
  type ReverseProxyOptions,
  type ServerOptions,
  type ServiceEvents,
  type ServiceLogEntry,
  type Stats,
  type TlsOptions,
  type Totals,
} from 'mproxy'

const framing: Framing = 'line'
const common: CommonOptions = { multicastInterface: 'lo', multicastTtl: 1, multicastLoop: true, recvBuffer: 1 << 20, sendBuffer: 1 << 20, onLog: (entry: LogEntry) => void entry.message }
const tls: TlsOptions = { tlsCa: 'ca.pem', tlsCert: 'cert.pem', tlsKey: 'key.pem', tlsInsecure: false }
const clientOptions: ClientOptions = { ...common, path: 'in.txt', serverAddrs: ['127.0.0.1:9'], framing, maxDatagram: 1400, lingerMs: 20, rate: '50M', tee: false }
const serverOptions: ServerOptions = { path: 'out.txt', listenAddrs: '127.0.0.1:0', tee: false }
const proxyOptions: ProxyOptions = { ...tls, udpListenAddrs: ['127.0.0.1:0'], tcpConnectAddrs: 'tls://localhost:443', udpDownstreamAddrs: ['127.0.0.1:9'], framing: 'packed' }
const reverseOptions: ReverseProxyOptions = { udpListenAddrs: '127.0.0.1:0', tcpListenAddrs: [], multicastAddr: '[ff02::1]:9918', tcpOutputAddrs: ['127.0.0.1:0'], udpOutputAddrs: [], maxTcpClients: 8, tcpClientQueue: 1 << 20 }

const rules: OutputRules = { prefix: '!AIVDM', match: '^!AIVDM,1,1,,[AB],[1-3]', sample: 10 }
const ruled: RuledOutput = { ...rules, addr: '127.0.0.1:9', from: ['192.0.2.0/24'] }
const balanced: BalanceGroup = { balance: 'round-robin', addrs: ['127.0.0.1:9', '127.0.0.1:10'] }
const udpOuts: UdpOutput[] = ['127.0.0.1:9', ruled, balanced]
const access: ListenerAccess = { allow: ['10.0.0.0/8'], maxClientsPerAddress: 2 }
const tcpIn: TcpListener = { ...access, addr: 'tls://127.0.0.1:0', idleTimeout: 300 }
const tcpOuts: TcpOutput[] = ['127.0.0.1:0', { ...access, addr: '127.0.0.1:0', prefix: '!AIVDM' }]
const capped: OutputStages = { stripTagBlocks: true, maxRate: '50k', rateQueue: 1 << 16 }
const signalK: UdpOutputStages = { ...capped, oneLinePerDatagram: true }
const shapedOut: UdpOutput = { addr: '127.0.0.1:9', ...signalK }
const tagOption: TagBlockOption = { station: 'rcv1', time: 'ms' }
const dedupOption: DedupOption = { window: 10 }
const throttleOption: ThrottleOption = { key: 'mmsi', interval: 60, keep: 'latest' }
const feed: FeedOptions = { checksum: 'drop', tagBlock: tagOption, dedup: dedupOption, throttle: throttleOption }
const feedProxy: ProxyOptions = { ...feed, udpListenAddrs: '127.0.0.1:0', udpDownstreamAddrs: ['127.0.0.1:9', shapedOut] }
const quiet: KeepAlive = { keepAliveLine: '$PING', keepAliveAfter: 30 }
const login: Preamble = { preamble: 'LOGIN station1' }
const kept: TcpConnection[] = ['127.0.0.1:9', { addr: 'tls://localhost:443', ...quiet, ...login }]
const aggregators: TcpConnectOutput[] = ['127.0.0.1:9', { addr: '127.0.0.1:10', ...login, prefix: '!AIVDM' }]
const linked: ReverseProxyOptions = { tcpConnectOutputAddrs: aggregators, ...quiet }
const keptProxy: ProxyOptions = { tcpConnectAddrs: kept, udpDownstreamAddrs: '127.0.0.1:9' }
const plain: Wire = 'plain'
const sensor: UdpListener = { addr: '127.0.0.1:0', wire: plain }
const udpIns: UdpListenerItem[] = ['127.0.0.1:0', sensor]
const sensorProxy: ProxyOptions = { udpListenAddrs: udpIns, udpDownstreamAddrs: '127.0.0.1:9', busKey: 'bus.key' }
const busOptions: ReverseProxyOptions = { udpOutputAddrs: udpOuts, tcpListenAddrs: [tcpIn], tcpOutputAddrs: tcpOuts, publish: true, subscribe: true, signal: new AbortController().signal, statsInterval: 10 }

async function tapAndSend(handle: Handle): Promise<number> {
  const options: MessagesOptions = { highWaterMark: 1024 }
  const next = await handle.messages(options)[Symbol.asyncIterator]().next()
  const one: Message | undefined = next.done ? undefined : next.value
  const out: Datagrams = ['hello\\n', Buffer.from('bye\\n')]
  await handle.send(out)
  handle.on('connect', (e: ConnectEvent) => console.error(e.address, e.peer))
  handle.on('disconnect', (e: DisconnectEvent) => console.error(e.reason))
  handle.on('client', (e: ClientEvent) => {
    const action: ClientAction = e.action
    console.error(action, e.listener, e.reason)
  })
  handle.on('unreachable', (e: UnreachableEvent) => console.error(e.reason))
  handle.on('reachable', (e: ReachableEvent) => console.error(e.address))
  return (one?.data.length ?? 0) + (one?.from.length ?? 0) + Object.keys(busOptions).length + Object.keys(sensorProxy).length + Object.keys(linked).length + Object.keys(keptProxy).length + Object.keys(feedProxy).length
}

function describe(err: unknown): string {
  if (!(err instanceof MproxyError)) return String(err)
  const code: MproxyErrorCode = err.code
  switch (code) {
    case 'EMPROXY_ADDON':
      return 'install the addon'
    case 'EMPROXY_INVALID_ARGUMENT':
      return err.usage ? 'usage: ' + err.message : err.message
    default:
      return code
  }
}

async function watch(handle: Handle): Promise<Totals> {
  const where: Addresses = handle.addresses
  const first: string | undefined = where.listen[0]
  handle.on('log', (entry: LogEntry) => {
    const level: LogLevel = entry.level
    console.error(level, entry.message, first, where.group)
  })
  handle.on('finished', (outcome: InputOutcome) => console.error(outcome))
  const event: keyof HandleEvents = 'finished'
  const outcome: InputOutcome = await handle.finished
  const stats: Stats = handle.stats()
  const kinds: EndpointKind[] = stats.endpoints.map((e: EndpointStats) => e.kind)
  const drops: number = stats.endpoints.reduce((n: number, e: EndpointStats) => n + (e.kernelDrops ?? 0) + (e.bufferBytes ?? 0), 0)
  console.error(event, outcome, kinds, drops)
  const final: Stats = await handle.close()
  return final.totals
}

// What must not compile:
// @ts-expect-error a handle comes only from create...()
new Handle()
declare const someHandle: Handle
// @ts-expect-error the handle's internals are not part of its type
someHandle.startRoute
// @ts-expect-error neither is its log function
someHandle.log('info', 'x')
// @ts-expect-error error codes are a closed set
const badCode: MproxyErrorCode = 'EMPROXY_NOPE'
// @ts-expect-error endpoint kinds are a closed set
const badKind: EndpointKind = 'socket'
// @ts-expect-error log levels are a closed set
const badLevel: LogLevel = 'debug'
// @ts-expect-error addresses are read-only
someHandle.addresses.listen.push('x')

async function service(config: unknown): Promise<ReloadResult> {
  const running: Service = await start(config, { onLog: (entry: ServiceLogEntry) => console.error(entry.route, entry.message) })
  running.on('stats', (stats: ServiceEvents['stats'][0]) => console.error(Object.keys(stats)))
  const sources = (): MetricsSource[] => {
    const list: MetricsSource[] = []
    running.routes.forEach((handle: Handle, route: string) => list.push({ route, handle }))
    return list
  }
  const metrics: MetricsServer = await serveMetrics('127.0.0.1', 0, registerMetrics(sources))
  const result: ReloadResult = await running.reload(config)
  await metrics.close()
  await running.close()
  return result
}

export async function main(): Promise<void> {
  try {
    const handles = await Promise.all([createServer(serverOptions), createClient(clientOptions), createProxy(proxyOptions), createReverseProxy(reverseOptions)])
    for (const handle of handles) console.error(await watch(handle), await tapAndSend(handle))
  } catch (err) {
    console.error(describe(err))
  }
  console.error(await service({ routes: [] }).catch(describe))
  void [badCode, badKind, badLevel]
}
`

const CONSUMER_MTS = `// The ESM spelling, with top-level await.
import { createServer, MproxyError, type Stats } from 'mproxy'

try {
  const server = await createServer({ path: 'out.txt', listenAddrs: ['127.0.0.1:0'] })
  const stats: Stats = await server.close()
  console.log(stats.totals.bytesIn)
} catch (err) {
  if (err instanceof MproxyError) console.error(err.code)
}
`

/** The type names mproxy exports (classes, interfaces, type aliases), read with the compiler. */
function exportedTypes(ts, dir) {
  const program = ts.createProgram([path.join(dir, 'node_modules', 'mproxy', 'dist', 'index.d.ts')], { types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(path.join(dir, 'node_modules', 'mproxy', 'dist', 'index.d.ts'))
  const symbols = checker.getExportsOfModule(checker.getSymbolAtLocation(source))
  const typeFlags = ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias
  return symbols
    .filter((s) => (checker.getAliasedSymbol(s).flags & typeFlags) !== 0)
    .map((s) => s.name)
    .sort()
}

test('the types compile for a consumer under tsc --strict, without skipLibCheck', (t) => {
  writeFileSync(path.join(installed, 'consumer.ts'), CONSUMER_TS)
  writeFileSync(path.join(installed, 'consumer-esm.mts'), CONSUMER_MTS)
  const ts = require(path.join(root, 'node_modules', 'typescript'))
  const used = exportedTypes(ts, installed)
  // The list is here so that a new export shows up as a failure until consumer.ts uses it.
  t.deepEqual(used, [
    'Addresses',
    'BalanceGroup',
    'ClientAction',
    'ClientEvent',
    'ClientOptions',
    'CommonOptions',
    'ConnectEvent',
    'Datagrams',
    'DedupOption',
    'DisconnectEvent',
    'EndpointKind',
    'EndpointStats',
    'FeedOptions',
    'Framing',
    'Handle',
    'HandleEvents',
    'InputOutcome',
    'KeepAlive',
    'ListenerAccess',
    'LogEntry',
    'LogLevel',
    'Message',
    'MessagesOptions',
    'MetricsServer',
    'MetricsSource',
    'MproxyError',
    'MproxyErrorCode',
    'OutputRules',
    'OutputStages',
    'Preamble',
    'ProxyOptions',
    'ReachableEvent',
    'ReloadResult',
    'ReverseProxyOptions',
    'RuledOutput',
    'ServerOptions',
    'Service',
    'ServiceEvents',
    'ServiceLogEntry',
    'Stats',
    'TagBlockOption',
    'TcpConnectOutput',
    'TcpConnection',
    'TcpListener',
    'TcpOutput',
    'ThrottleOption',
    'TlsOptions',
    'Totals',
    'UdpListener',
    'UdpListenerItem',
    'UdpOutput',
    'UdpOutputStages',
    'UnreachableEvent',
    'Wire',
  ])
  for (const name of used) t.regex(CONSUMER_TS, new RegExp(`\\b${name}\\b`), `consumer.ts uses ${name}`)
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const typeRoots = path.join(root, 'node_modules', '@types')
  // Node's module resolution as today's projects use it (package exports), CommonJS and ESM.
  const modern = run(
    process.execPath,
    [
      tsc,
      '--strict',
      '--noEmit',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--typeRoots',
      typeRoots,
      '--types',
      'node',
      'consumer.ts',
      'consumer-esm.mts',
    ],
    { cwd: installed },
  )
  t.is(modern.code, 0, modern.stdout + modern.stderr)
  // And the compiler's defaults (ES5 target, node10 resolution through "types").
  const defaults = run(process.execPath, [tsc, '--strict', '--noEmit', '--typeRoots', typeRoots, '--types', 'node', 'consumer.ts'], { cwd: installed })
  t.is(defaults.code, 0, defaults.stdout + defaults.stderr)
})

test('without the platform package: help works, a run says in one line what to install', (t) => {
  t.false(existsSync(path.join(bare, 'node_modules', `mproxy-${platform}`)))
  for (const name of BINS) {
    for (const flag of ['--help', '-h', '--version']) {
      const r = run(bin(bare, name), [flag])
      t.is(r.code, 0, `${name} ${flag}: ${r.stderr}`)
      t.is(r.stderr, '')
    }
  }
  const expected = `the native addon for ${platform} is not installed: npm install mproxy-${platform}@${version} (npm skips this optional dependency of mproxy with --omit=optional or a lockfile made on another platform)`
  const cases = {
    'mproxy-client': ['--path', path.join(work, 'cli-in.txt'), '--server-addr', '127.0.0.1:9'],
    'mproxy-server': ['--path', path.join(work, 'bare-out.txt'), '--listen-addr', '127.0.0.1:0'],
    'mproxy-proxy': ['--udp-listen-addr', '127.0.0.1:0', '--udp-downstream-addr', '127.0.0.1:9'],
    'mproxy-reverseproxy': ['--tcp-output-addr', '127.0.0.1:0', '--multicast-addr', '239.1.2.3:9918'],
  }
  for (const [name, args] of Object.entries(cases)) {
    const r = run(bin(bare, name), args)
    t.is(r.code, 1, `${name}: ${r.stderr}`)
    t.is(r.stdout, '')
    t.is(r.stderr, `${name}: ${expected}\n`)
    t.notRegex(r.stderr, /npm has a bug|Cannot find native binding/)
  }
  const viaUmbrella = run(bin(bare, 'mproxy'), ['server', ...cases['mproxy-server']])
  t.is(viaUmbrella.stderr, `mproxy-server: ${expected}\n`)
  const api = run(
    process.execPath,
    ['-e', "require('mproxy').createServer({ path: 'x', listenAddrs: '127.0.0.1:0' }).catch((e) => console.log(e.name, e.code))"],
    { cwd: bare },
  )
  t.is(api.stdout, 'MproxyError EMPROXY_ADDON\n', api.stderr)
})

test('the addon in the platform package needs no glibc newer than 2.28', (t) => {
  if (!platform.includes('-gnu')) return t.pass(`${platform} is not a glibc platform`)
  const { glibcVersions } = require('../../scripts/build-addon.js')
  const versions = glibcVersions(path.join(installed, 'node_modules', `mproxy-${platform}`, `mproxy.${platform}.node`))
  t.true(versions.length > 0)
  const newest = versions.at(-1)
  t.true(newest[0] === 2 && newest[1] <= 28, `needs GLIBC_${newest.join('.')}`)
})
