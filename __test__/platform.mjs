// Which tests apply where. The suite runs on Linux (`npm test`) and, for Windows, under Wine
// with the Windows node.exe (`npm run check:platforms`, windows.config.mjs). A test of what
// Windows lacks is declared with `unixOnly(reason)` instead of `test`: on Windows it is
// skipped, and the reason is in its title, e.g. "… [not on Windows: mkfifo]", so the run
// says what it left out and why.
import test from 'ava'

export const onWindows = process.platform === 'win32'
/** Windows node.exe under Wine (check:platforms sets MPROXY_UNDER_WINE=1), not real Windows. */
export const underWine = onWindows && process.env.MPROXY_UNDER_WINE === '1'

/** Reasons, named once so the run's output groups them. */
export const WHY = {
  fifo: 'mkfifo',
  signals: 'POSIX signals',
  namespaces: 'network namespaces (ip, veth)',
  dev: '/dev paths',
  proc: '/proc',
  serial: 'serial devices',
  drops: "the kernel's drop counter (Linux)",
  openssl: 'the openssl command line',
  unixSockets: 'Unix datagram sockets (systemd)',
  terminal: 'a pseudo-terminal (script)',
  sh: 'sh',
  modes: 'POSIX file modes',
  symlinks: 'a symlinked node_modules (Wine)',
  npm: 'npm (a .cmd script on Windows)',
  // Wine's sockets are Linux's: what only Windows' own stack does cannot be shown there.
  wineIcmp: 'Wine does not report ICMP refusals of unconnected sends (Linux sockets underneath)',
  wineReset: 'Wine reports a TCP reset as a close by the peer',
  wineMetricsLine: 'the metrics line of a config run never appears under Wine (open)',
  wineLoopbackSources: 'datagrams from other 127.0.0.x senders do not arrive under Wine (open)',
}

/**
 * `test`, or under Wine `test.skip` with `[not under Wine: reason]` in the title: what real
 * Windows (the release workflow's runners) does and Wine cannot show.
 */
export function notUnderWine(reason) {
  const wrap =
    (run) =>
    (title, ...rest) =>
      underWine ? test.skip(`${title} [not under Wine: ${reason}]`, ...rest) : run(title, ...rest)
  const declare = wrap(test)
  declare.serial = wrap(test.serial)
  return declare
}

/**
 * `test`, or on Windows `test.skip` with `[not on Windows: reason]` added to the title.
 * Has `.serial` too. Macros and extra arguments pass through.
 */
export function unixOnly(reason) {
  const wrap =
    (run) =>
    (title, ...rest) =>
      onWindows ? test.skip(`${title} [not on Windows: ${reason}]`, ...rest) : run(title, ...rest)
  const declare = wrap(test)
  declare.serial = wrap(test.serial)
  return declare
}

/**
 * A test's bulk data size: as given on Linux; a tenth of it on Windows, where the run is
 * Windows node.exe under Wine, whose emulated sockets move a few MB/s and drop what a
 * receive buffer of the host's rmem_max cannot hold. The point (byte for byte, in order)
 * is the same.
 */
export const bulk = (bytes) => (onWindows ? Math.ceil(bytes / 10) : bytes)

/**
 * After `stop(program)`: on POSIX the program handled the signal and exited 0 (`r.stderr`
 * says why not). Windows has no such signal: child.kill() terminates the process there, so
 * all that can be checked is that it was ended by that.
 */
export function stoppedCleanly(t, r) {
  if (onWindows) t.not(r.signal, null, 'ended by child.kill (no stop signal on Windows)')
  else t.is(r.code, 0, r.stderr)
}
