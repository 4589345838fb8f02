// The N-API boundary under random, schema-valid options (issue #15, part 3): every program's
// options with their numbers at the bounds the schema allows, started and closed on loopback.
// Nothing may panic (an abort would end this process), hang, or fail in any way but an
// MproxyError. Bounded: a fixed number of runs per program, each within a deadline.
import test from 'ava'
import fc from 'fast-check'
import { rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { mproxy, requireIsolation, root, tempDir, within } from './helpers.mjs'

const require = createRequire(import.meta.url)

requireIsolation()

const dir = tempDir()
test.after.always(() => rmSync(dir, { recursive: true, force: true }))
const input = path.join(dir, 'input.txt')
writeFileSync(input, 'line one\nline two\n'.repeat(50))

/** A whole number at or near either end of [min, max], or anywhere between. */
const bounded = (min, max) => fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }))
const maybe = (arb) => fc.option(arb, { nil: undefined })
/** Drops the absent keys (the schema takes `undefined`, but a config would not have them). */
const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

const common = {
  multicastTtl: maybe(bounded(0, 255)),
  multicastLoop: maybe(fc.boolean()),
  recvBuffer: maybe(bounded(1024, 2 ** 31 - 1)),
  sendBuffer: maybe(bounded(1024, 2 ** 31 - 1)),
}
const framing = {
  framing: maybe(fc.constantFrom('packed', 'line', 'raw')),
  maxDatagram: maybe(bounded(1, 65_507)),
  lingerMs: maybe(bounded(0, 60_000)),
}
const rotation = {
  rotate: maybe(fc.oneof(fc.constantFrom('hourly', 'daily'), bounded(1, Number.MAX_SAFE_INTEGER))),
  keep: maybe(fc.oneof(bounded(1, 1_000_000), fc.constantFrom('36500d', '1s', '12h'))),
}
const rules = fc.record({
  prefix: maybe(fc.constantFrom('!', '!AIVDM', 'line')),
  sample: maybe(bounded(1, 2 ** 32 - 1)),
  from: maybe(fc.constantFrom(['127.0.0.0/8'], ['::ffff:127.0.0.1'], ['0.0.0.0/0', '::/0'])),
})
/** Outputs nothing listens on (what is sent there is lost, which is fine here), each its own. */
const downstreams = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }).chain((shapes) =>
  fc.tuple(
    ...shapes.map((shape, i) => {
      const addr = `127.0.0.1:${9 + 2 * i}`
      if (shape === 0) return fc.constant(addr)
      if (shape === 1) return rules.map((r) => defined({ addr, ...r }))
      return fc.constantFrom('round-robin', 'source-hash').map((balance) => ({ balance, addrs: [addr, `127.0.0.1:${10 + 2 * i}`] }))
    }),
  ),
)

const programs = {
  server: fc.record({ ...common, ...rotation, listenAddrs: fc.constantFrom(['127.0.0.1:0'], ['127.0.0.1:0', '[::1]:0']), rules: maybe(rules) }).map((o) => {
    const opts = defined({ ...o, path: path.join(dir, 'server.log') })
    if (opts.rules) opts.rules = defined(opts.rules)
    if (opts.keep !== undefined && opts.rotate === undefined) delete opts.keep
    return opts
  }),
  client: fc
    .record({
      ...common,
      ...framing,
      ...rotation,
      serverAddrs: downstreams,
      rate: maybe(fc.oneof(fc.constantFrom(0, 1, 100e9), fc.integer({ min: 1, max: 1e9 }))),
      datagramRate: maybe(fc.constantFrom(0, 1, 100_000_000)),
    })
    .map((o) => {
      const opts = defined({ ...o, path: input, copyPath: o.rotate === undefined ? undefined : path.join(dir, 'copy.log') })
      if (opts.copyPath === undefined) delete opts.keep
      return opts
    }),
  proxy: fc.record({ ...common, ...framing, udpListenAddrs: fc.constant(['127.0.0.1:0']), udpDownstreamAddrs: downstreams }).map(defined),
  reverseProxy: fc
    .record({
      ...common,
      ...framing,
      udpListenAddrs: maybe(fc.constant(['127.0.0.1:0'])),
      tcpListenAddrs: maybe(fc.constant(['127.0.0.1:0'])),
      tcpOutputAddrs: maybe(fc.constant(['127.0.0.1:0'])),
      udpOutputAddrs: maybe(fc.constantFrom(['127.0.0.1:9'], ['127.0.0.1:9', '127.0.0.1:11'])),
      maxTcpClients: maybe(bounded(1, 1_000_000)),
      tcpClientQueue: maybe(bounded(1_048_576, 2 ** 32 - 1)),
      maxClientsPerAddress: maybe(bounded(1, 1_000_000)),
      idleTimeout: maybe(fc.constantFrom(0.001, 86_400)),
      allow: maybe(fc.constantFrom(['127.0.0.0/8'], ['::ffff:127.0.0.1/128'])),
    })
    .map((o) => {
      const opts = defined({ ...o, multicastAddr: '239.255.77.1:9777', multicastInterface: '127.0.0.1' })
      if (!opts.udpListenAddrs && !opts.tcpListenAddrs) opts.udpListenAddrs = ['127.0.0.1:0']
      if (!opts.tcpOutputAddrs && !opts.udpOutputAddrs) opts.udpOutputAddrs = ['127.0.0.1:9']
      // The cross-checks of the schema: these need the TCP listeners they are about.
      if (!opts.tcpListenAddrs) delete opts.idleTimeout
      if (!opts.tcpOutputAddrs) delete opts.tcpClientQueue
      if (!opts.tcpListenAddrs && !opts.tcpOutputAddrs) for (const key of ['allow', 'maxClientsPerAddress', 'maxTcpClients']) delete opts[key]
      return opts
    }),
}

const create = { server: mproxy.createServer, client: mproxy.createClient, proxy: mproxy.createProxy, reverseProxy: mproxy.createReverseProxy }

for (const [program, options] of Object.entries(programs)) {
  test(`${program}: random schema-valid options start and close, or fail with an MproxyError`, async (t) => {
    const failures = new Map()
    let startedRuns = 0
    await fc.assert(
      fc.asyncProperty(options, async (o) => {
        let handle
        try {
          handle = await within(create[program](o), 10_000, `${program} did not start: ${JSON.stringify(o)}`)
        } catch (err) {
          // Refusals of the system (a multicast join on lo, a port) are fine; anything else is not.
          if (!(err instanceof mproxy.MproxyError) || err.code === 'EMPROXY_INTERNAL' || err.usage) throw err
          failures.set(err.code, (failures.get(err.code) ?? 0) + 1)
          return
        }
        startedRuns++
        const stats = await within(handle.close(), 10_000, `${program} did not close: ${JSON.stringify(o)}`)
        if (!Array.isArray(stats.endpoints) || stats.endpoints.length === 0) throw new Error(`no endpoints: ${JSON.stringify(o)}`)
      }),
      { numRuns: 200, seed: Number(process.env.MPROXY_FC_SEED ?? 15), endOnFailure: true, includeErrorInReport: true },
    )
    t.log(failures.size ? `system refusals: ${JSON.stringify(Object.fromEntries(failures))}` : 'every run started')
    // Refusals are fine one by one, but a property of which no run started tested nothing.
    t.true(startedRuns >= 100, `only ${startedRuns} of 200 runs started (${JSON.stringify(Object.fromEntries(failures))})`)
  })
}

// One level down: the binding's own conversion (checkRoute, the start path without sockets)
// under any value its types let through, far past the schema's bounds (u32 to 2^32-1, any
// double, NaN and the infinities). It may refuse, with an EMPROXY code, but never panic.
const binding = require(path.join(root, 'index.js'))
const u32 = fc.oneof(fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }))
const double = fc.oneof(fc.constantFrom(0, -0, -1, 0.5, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity), fc.double())
const framingOptions = fc.record({ framing: fc.constantFrom('packed', 'line', 'raw'), maxDatagram: u32, lingerMs: u32 })
const ruleOptions = fc
  .record({ sample: maybe(u32), prefix: maybe(fc.string()), from: maybe(fc.constantFrom(['127.0.0.1'], ['::ffff:127.0.0.1/128'], ['10.0.0.0/8', '::/0'])) })
  .map(defined)
const fileOutput = (name) =>
  fc
    .record({
      queueBytes: maybe(u32),
      waitWhenFull: maybe(fc.boolean()),
      rotate: maybe(
        fc.oneof(
          fc.constant({ every: 'hourly' }),
          fc.constant({ every: 'daily' }),
          double.map((bytes) => ({ every: 'size', bytes })),
        ),
      ),
      keep: maybe(
        fc.oneof(
          u32.map((count) => ({ keep: 'files', count })),
          double.map((seconds) => ({ keep: 'age', seconds })),
        ),
      ),
      rules: maybe(ruleOptions),
    })
    .map((o) => defined({ ...o, path: path.join(dir, name) }))
const routeOptions = fc
  .record({
    udpListeners: maybe(
      fc.array(
        fc.record({ recvBuffer: u32 }).map((o) => defined({ ...o, address: '127.0.0.1:0' })),
        { maxLength: 2 },
      ),
    ),
    udpDestinations: maybe(
      fc.array(
        fc.record({ ttl: u32, multicastLoop: fc.boolean() }).map((o) => defined({ ...o, address: '127.0.0.1:9' })),
        { maxLength: 2 },
      ),
    ),
    udpOutputGroups: maybe(
      fc.array(
        fc.record({ rules: maybe(ruleOptions), balance: maybe(fc.constantFrom('round-robin', 'source-hash')) }).map((o) =>
          defined({
            ...o,
            destinations: [
              { address: '127.0.0.1:9', ttl: 1, multicastLoop: true },
              { address: '127.0.0.1:11', ttl: 1, multicastLoop: true },
            ],
          }),
        ),
        { maxLength: 2 },
      ),
    ),
    inputs: maybe(
      fc.array(
        fc
          .record({ framing: framingOptions, rate: double, datagramRate: u32, baud: maybe(u32), follow: fc.boolean() })
          .map((o) => defined({ ...o, path: input })),
        { maxLength: 1 },
      ),
    ),
    tcpConnects: maybe(
      fc.array(
        fc
          .record({ port: u32, framing: framingOptions, backoffMinMs: maybe(u32), backoffMaxMs: maybe(u32) })
          .map((o) => defined({ ...o, host: '127.0.0.1', address: '127.0.0.1:9' })),
        { maxLength: 1 },
      ),
    ),
    tcpListeners: maybe(
      fc.array(
        fc
          .record({ framing: framingOptions, maxClients: u32, maxClientsPerAddress: maybe(u32), idleTimeoutMs: maybe(u32) })
          .map((o) => defined({ ...o, address: '127.0.0.1:0' })),
        { maxLength: 1 },
      ),
    ),
    tcpOutputs: maybe(
      fc.array(
        fc
          .record({ maxClients: u32, clientQueueBytes: u32, maxClientsPerAddress: maybe(u32), rules: maybe(ruleOptions) })
          .map((o) => defined({ ...o, address: '127.0.0.1:0' })),
        { maxLength: 1 },
      ),
    ),
    outputs: maybe(fc.array(fileOutput('binding-out.log'), { maxLength: 2 })),
    tee: maybe(fileOutput('binding-tee.log')),
    copy: maybe(fileOutput('binding-copy.log')),
    sendBuffer: maybe(u32),
  })
  .map(defined)

test('the binding converts any value of its types without a panic: it accepts, or refuses with an EMPROXY code', (t) => {
  const refused = new Map()
  fc.assert(
    fc.property(routeOptions, (options) => {
      try {
        binding.checkRoute(options)
      } catch (err) {
        if (!(err instanceof Error) || typeof err.code !== 'string' || !err.code.startsWith('EMPROXY_') || err.code === 'EMPROXY_INTERNAL') throw err
        if (err.message.includes('\n')) throw new Error(`a message of more than one line: ${err.message}`)
        refused.set(err.code, (refused.get(err.code) ?? 0) + 1)
      }
    }),
    { numRuns: 2000, seed: Number(process.env.MPROXY_FC_SEED ?? 15), endOnFailure: true, includeErrorInReport: true },
  )
  t.log(`refused: ${JSON.stringify(Object.fromEntries(refused))}`)
  t.pass()
})
