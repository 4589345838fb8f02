/**
 * Flags of the command line that are not options of a program's API: about the process
 * (logging, metrics, help), and the routing-rule flags that give every output of a program
 * the same rules. Described with `option()` like the programs' options, so the parser, the
 * help and docs/options.md read them the same way.
 */
import { processSettingsShape } from '../schema/config'
import { option } from '../schema/option'
import { ruleShape } from '../schema/rules'
import { stageValues } from '../schema/programs'
import { addressList, cidr, flag, listOf, rate, text, wholeNumber } from '../schema/values'

/** Every flag about the process, in the order `--help` lists them. */
export const processShape = {
  ...processSettingsShape,
  noTimestamps: option(flag, { flag: 'no-timestamps', help: 'Leave the time out of log lines (the default when journald reads stderr)' }),
  timestamps: option(flag, { flag: 'timestamps', help: 'Put the time in log lines even under journald' }),
  verbose: option(flag, {
    flag: 'verbose',
    aliases: ['-v'],
    help: 'Also print the counters when stopping (and the client its summary when stderr is not a terminal)',
  }),
  quiet: option(flag, { flag: 'quiet', aliases: ['-q'], help: 'Print errors only' }),
  help: option(flag, { flag: 'help', aliases: ['-h'], help: 'Prints help information' }),
  version: option(flag, { flag: 'version', aliases: ['-V'], help: 'Prints the version' }),
}

/** The process flags' fields: what the CLI keeps for itself rather than pass to create…(). */
export const PROCESS_FIELDS = Object.keys(processShape)

/**
 * Routing rules on the command line: the same rules for every output of the program. Their
 * values are checked by the rules' own schema (`ruleShape`), named by these flags.
 */
export const filterShape = {
  filterFrom: option(listOf(cidr, 'CIDR'), {
    flag: 'filter-from',
    value: 'IP[/BITS]',
    help: 'Outputs get only datagrams from this address or CIDR block. May be repeated',
  }),
  filterPrefix: option(text(), { flag: 'filter-prefix', value: 'TEXT', help: 'Outputs get only datagrams starting with TEXT, e.g. !AIVDM' }),
  filterMatch: option(text(), {
    flag: 'filter-match',
    value: 'REGEX',
    help: 'Outputs get only datagrams REGEX matches (Rust regex syntax), e.g. ^!AIVDM,1,1,,[AB],[1-3]',
  }),
  sample: option(ruleShape.sample, { flag: 'sample', value: 'N', help: 'Outputs get only 1 datagram in N' }),
}

/**
 * Sensor inputs on the command line: UDP listeners of wire form `plain` (config and API:
 * `udpListenAddrs: [{ addr, wire: 'plain' }]`). They follow the `--udp-listen-addr` ones.
 */
export const wireShape = {
  plainUdpListenAddrs: option(addressList(true), {
    flag: 'plain-udp-listen-addr',
    value: 'HOST:PORT',
    help: 'A UDP listener that takes plain (unsealed) datagrams even with --bus-key: a sensor input. May be repeated',
  }),
}

/**
 * Per-output stages on the command line: the same for every output of the program (their
 * values are checked by the outputs' own schema, `stageShape`, named by these flags). The
 * server's one file output has `stripTagBlocks` as an option of its own.
 */
export const stageFlagShape = {
  stripTagBlocks: option(flag, { flag: 'strip-tag-blocks', help: 'Outputs get every line without its NMEA 4.10 TAG block' }),
  oneLinePerDatagram: option(flag, { flag: 'one-line-per-datagram', help: 'UDP outputs get each line as a datagram of its own (Signal K, OpenCPN)' }),
  maxRate: option(rate, {
    flag: 'max-rate',
    value: 'BYTES/S',
    help: 'Each output gets at most this many bytes per second, e.g. 50k (queued up to 1 MiB, then dropped and counted)',
  }),
  maxDatagramRate: option(wholeNumber(1, 100_000_000), {
    flag: 'max-datagram-rate',
    value: 'N',
    help: 'Each output gets at most N datagrams per second (queued up to 1 MiB, then dropped and counted)',
  }),
}

/** The rule each filter flag sets. */
export const FILTER_RULES = { filterFrom: 'from', filterPrefix: 'prefix', filterMatch: 'match', sample: 'sample' } as const

/**
 * The input stages' object options on the command line (`--checksum` is an option of its
 * own): their values are checked by the same schemas (`stageValues`), named by these flags.
 */
export const feedFlagShape = {
  tagStation: option(stageValues.station, { flag: 'tag-station', value: 'NAME', help: 'Add a TAG block with s:NAME (this station) to every sentence' }),
  tagTime: option(stageValues.tagTime, {
    flag: 'tag-time',
    value: 's|ms',
    help: 'Add a TAG block with c: (the receive time, UNIX seconds or milliseconds) to every sentence',
  }),
  dedupWindow: option(stageValues.window, {
    flag: 'dedup',
    value: 'SECONDS',
    help: 'Drop a message seen within SECONDS, across every input (AIS: channels A and B alike)',
  }),
  throttleKey: option(stageValues.throttleKey, {
    flag: 'throttle-key',
    value: 'mmsi|sentence|line',
    help: 'Throttle: what a line is keyed by (needs --throttle-interval)',
  }),
  throttleInterval: option(stageValues.interval, { flag: 'throttle-interval', value: 'SECONDS', help: 'Throttle: at most one line per key per SECONDS' }),
  throttleKeep: option(stageValues.keep, {
    flag: 'throttle-keep',
    value: 'first|latest',
    help: 'Throttle: keep the first line of each interval, or send the latest at its end; default first',
  }),
}

/** The flags of `mproxy --config FILE` and `mproxy check FILE`. */
export const configRunShape = {
  config: option(text('a file path'), { flag: 'config', value: 'FILE', help: 'The config file: YAML, JSON or TOML (by its extension)' }),
  logFormat: processShape.logFormat,
  noTimestamps: processShape.noTimestamps,
  timestamps: processShape.timestamps,
  quiet: processShape.quiet,
  help: processShape.help,
}

/** The flags of `mproxy check`: those of the run it checks (so a unit's command line checks as it runs). */
export const checkShape = configRunShape

/** The flags of `mproxy keygen`. */
export const keygenShape = {
  help: processShape.help,
}
