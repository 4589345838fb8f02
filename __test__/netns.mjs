// Several "hosts" on one link: a named network namespace per host, each joined by a veth pair
// to a bridge in the test's own namespace (the one `npm test` creates). Only documentation
// addresses are used: 192.0.2.0/24 (TEST-NET-1) and 2001:db8:77::/64, plus link-local.
// Inside every host namespace the veth is called `eth0`, so the same names work everywhere:
// `--multicast-interface eth0`, `[ff02::4d50%eth0]:PORT`.
//
// Needs root in the initial user namespace (`ip netns add` bind-mounts under /run/netns),
// so `npm test` run as root (`unshare -n`). Host namespaces are named `${prefix}-${name}`
// and /run/netns is shared with the real host: give every test its own prefix.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { atCleanup, deadline, requireIsolation, sleep } from './helpers.mjs'

const ip = (args, input) => execFileSync('ip', args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], input, encoding: 'utf8' })

function tryIp(args) {
  try {
    ip(args)
  } catch {
    // not there
  }
}

/** Topologies not yet destroyed, removed when the file is done (or ended) even if a test forgot or failed. */
const live = new Set()
atCleanup(() => {
  for (const topo of live) topo.destroy()
})

/**
 * Creates one bridge in the current (test) namespace and one network namespace per name,
 * `${prefix}-${name}`, each with `lo` up and an `eth0` veth attached to the bridge.
 * Host i (0-based, in `names` order) gets 192.0.2.(i+1)/24 and 2001:db8:77::(i+1)/64, plus
 * its automatic link-local address; IPv6 duplicate address detection is off, the IPv4
 * multicast route 224.0.0.0/4 points at eth0 (the kernel adds IPv6's ff00::/8 itself) and
 * the bridge floods multicast to every port (snooping off).
 * Pass `{ t }` (the ava test) to have destroy() run as the test's teardown.
 *
 * Resolves with { hosts: { [name]: { ns, ipv4, ipv6, linkLocal, iface: 'eth0' } }, bridge,
 * exec(name, cmd, args, opts) -> ChildProcess, run(name, cmd, args, opts) -> stdout string,
 * destroy() }.
 */
export async function createHosts(prefix, names, { t } = {}) {
  requireIsolation()
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix) || names.some((n) => !/^[A-Za-z0-9_.-]+$/.test(n))) {
    throw new Error('createHosts: prefix and names may hold only letters, digits, _ . -')
  }
  if (names.length > 250) throw new Error('createHosts: at most 250 hosts')
  // Interface names are at most 15 characters: derive short ones from the prefix.
  const tag = createHash('sha1').update(prefix).digest('hex').slice(0, 8)
  const bridge = `mpbr${tag}`
  const hosts = {}
  const veths = []
  const children = new Set()
  let destroyed = false

  const topo = {
    hosts,
    bridge,
    /** Spawns `cmd args` inside host `name`'s namespace (`ip netns exec`, which execs: the pid is the command's). */
    exec(name, cmd, args = [], opts = {}) {
      const child = spawn('ip', ['netns', 'exec', nsOf(name), cmd, ...args], opts)
      children.add(child)
      child.on('exit', () => children.delete(child))
      return child
    },
    /** Runs `cmd args` inside host `name`'s namespace to its end and returns its stdout. */
    run(name, cmd, args = [], opts = {}) {
      return execFileSync('ip', ['netns', 'exec', nsOf(name), cmd, ...args], { encoding: 'utf8', stdio: 'pipe', ...opts })
    },
    destroy() {
      if (destroyed) return
      destroyed = true
      live.delete(topo)
      for (const c of children) c.kill('SIGKILL')
      for (const v of veths) tryIp(['link', 'del', v])
      tryIp(['link', 'del', bridge])
      for (const name of names) tryIp(['netns', 'del', `${prefix}-${name}`])
    },
  }
  const nsOf = (name) => {
    if (!hosts[name]) throw new Error(`createHosts: no host ${name}`)
    return hosts[name].ns
  }
  live.add(topo)
  t?.teardown(() => topo.destroy())

  try {
    // Leftovers of an earlier run that was killed.
    for (const name of names) tryIp(['netns', 'del', `${prefix}-${name}`])
    tryIp(['link', 'del', bridge])

    ip(['link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0'])
    ip(['link', 'set', bridge, 'up'])
    names.forEach((name, i) => {
      const ns = `${prefix}-${name}`
      const veth = `mp${tag}v${i}`
      const n = i + 1
      ip(['netns', 'add', ns])
      hosts[name] = { ns, ipv4: `192.0.2.${n}`, ipv6: `2001:db8:77::${n}`, linkLocal: undefined, iface: 'eth0' }
      // DAD off before any interface exists (eth0 inherits `default`), so addresses are usable at once.
      ip(['netns', 'exec', ns, 'sh', '-c', 'for c in all default; do echo 0 > /proc/sys/net/ipv6/conf/$c/accept_dad; done'])
      ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      veths.push(veth)
      ip(['netns', 'exec', ns, 'sh', '-c', 'echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad'])
      ip(['link', 'set', veth, 'master', bridge, 'up'])
      ip(
        ['-n', ns, '-batch', '-'],
        [
          'link set lo up',
          `addr add 192.0.2.${n}/24 dev eth0`,
          `addr add 2001:db8:77::${n}/64 dev eth0 nodad`,
          'link set eth0 up',
          'route add 224.0.0.0/4 dev eth0',
          '',
        ].join('\n'),
      )
    })
    // The link-local address appears once eth0 has a carrier; with DAD off it is usable at once.
    const end = Date.now() + deadline(10_000)
    for (const name of names) {
      for (;;) {
        const text = ip(['-n', hosts[name].ns, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])
        const m = /inet6 (fe80::[0-9a-f:]+)\/64 scope link(?! tentative)/.exec(text)
        if (m && !/tentative/.test(text)) {
          hosts[name].linkLocal = m[1]
          break
        }
        if (Date.now() > end) throw new Error(`createHosts: no link-local address on eth0 in ${hosts[name].ns}: ${text}`)
        await sleep(10)
      }
    }
  } catch (e) {
    topo.destroy()
    const why = String(e.stderr || e.message).trim()
    const hint = /\/run\/netns|Operation not permitted/.test(why) ? ' (named namespaces need real root: run `npm test` as root)' : ''
    throw new Error(`createHosts(${prefix}): ${why}${hint}`)
  }
  return topo
}
