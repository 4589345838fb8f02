// The N-API boundary under random, schema-valid options (issue #15, part 3): every program's
// options with their numbers at the bounds the schema allows, started and closed on loopback.
// Nothing may panic (an abort would end this process), hang, or fail in any way but an
// MproxyError. Bounded: a fixed number of runs per program, each within a deadline.
import test from 'ava'
import fc from 'fast-check'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { mproxy, requireIsolation, tempDir, within } from './helpers.mjs'

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
  client: fc.record({ ...common, ...framing, ...rotation, serverAddrs: downstreams, rate: maybe(fc.oneof(fc.constantFrom(0, 1, 100e9), fc.integer({ min: 1, max: 1e9 }))) }).map((o) => {
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
        const stats = await within(handle.close(), 10_000, `${program} did not close: ${JSON.stringify(o)}`)
        if (!Array.isArray(stats.endpoints) || stats.endpoints.length === 0) throw new Error(`no endpoints: ${JSON.stringify(o)}`)
      }),
      { numRuns: 200, seed: Number(process.env.MPROXY_FC_SEED ?? 15), endOnFailure: true, includeErrorInReport: true },
    )
    t.log(failures.size ? `system refusals: ${JSON.stringify(Object.fromEntries(failures))}` : 'every run started')
    t.pass()
  })
}
