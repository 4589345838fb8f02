/** The four programs: their flags (from the option schemas), help and examples (kept from the original mproxy). */
import { startProgram } from '../api/programs'
import { usageError } from '../errors'
import { flagsOf, type FlagSpec, type ParsedValues } from './args'
import type { LogEntry } from '../handle'
import type { Labels } from '../options'
import type { Program } from './run'
import { z } from 'zod'
import { parseWith } from '../schema/issues'
import { ruleShape, stageShape, udpStageShape } from '../schema/rules'
import { clientShape, commonShape, proxyShape, reverseProxyShape, serverShape } from '../schema/programs'
import { FILTER_RULES, feedFlagShape, filterShape, PROCESS_FIELDS, processShape, stageFlagShape, wireShape } from './flags'

/** Turns parsed flags into the API's option object (flag fields are option fields). */
function options(values: ParsedValues, onLog: (entry: LogEntry) => void): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...withFeedFlags(values) }
  for (const field of PROCESS_FIELDS) delete rest[field]
  return { ...rest, onLog }
}

/** Flags every program has: the common options (with `--checksum`), the input stages', then the process's. */
const COMMON_FLAGS: FlagSpec[] = [...flagsOf(commonShape), ...flagsOf(feedFlagShape), ...flagsOf(processShape)]

const FEED_FLAGS = Object.fromEntries(flagsOf(feedFlagShape).map((f) => [f.field, `--${f.name}`]))

/** Turns the input-stage flags into the `tagBlock`, `dedup` and `throttle` options, checked as flags first. */
function withFeedFlags(values: ParsedValues): ParsedValues {
  const { tagStation, tagTime, dedupWindow, throttleKey, throttleInterval, throttleKeep, ...rest } = values
  const given = { tagStation, tagTime, dedupWindow, throttleKey, throttleInterval, throttleKeep }
  if (Object.values(given).every((v) => v === undefined)) return rest
  const flagSchema = z.strictObject(feedFlagShape).superRefine((o, ctx) => {
    if ((o.throttleKey === undefined) !== (o.throttleInterval === undefined) || (o.throttleKeep !== undefined && o.throttleKey === undefined)) {
      const [missing, given] =
        o.throttleKey === undefined
          ? ['throttleKey', o.throttleInterval !== undefined ? 'throttleInterval' : 'throttleKeep']
          : ['throttleInterval', 'throttleKey']
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required with {${given}}` })
    }
  })
  parseWith(flagSchema, given, { flags: FEED_FLAGS })
  const out: Record<string, unknown> = { ...rest }
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  if (tagStation !== undefined || tagTime !== undefined) out.tagBlock = defined({ station: tagStation, time: tagTime })
  if (dedupWindow !== undefined) out.dedup = { window: dedupWindow }
  if (throttleKey !== undefined) out.throttle = defined({ key: throttleKey, interval: throttleInterval, keep: throttleKeep })
  return out as ParsedValues
}

type StageFlag = keyof typeof stageFlagShape

/** A program's own flags: its options but the common ones, then the filter and stage flags it takes. */
function ownFlags(shape: Readonly<Record<string, z.ZodType>>, filters: ReadonlyArray<keyof typeof filterShape>, stages: readonly StageFlag[] = []): FlagSpec[] {
  const only = Object.fromEntries(filters.map((k) => [k, filterShape[k]]))
  const staged = Object.fromEntries(stages.map((k) => [k, stageFlagShape[k]]))
  return [...flagsOf(shape, commonShape), ...flagsOf(only), ...flagsOf(staged)]
}

const STAGE_FLAGS = Object.fromEntries(flagsOf(stageFlagShape).map((f) => [f.field, `--${f.name}`]))

const FILTER_FLAGS = Object.fromEntries(flagsOf(filterShape).map((f) => [FILTER_RULES[f.field as keyof typeof FILTER_RULES], `--${f.name}`]))

/** The outputs of a program that are UDP (they also take `--one-line-per-datagram`). */
const UDP_OUTPUTS = new Set(['serverAddrs', 'udpDownstreamAddrs', 'udpOutputAddrs'])

/**
 * Checks the filter and stage flags (named as flags) and gives each output in `fields` (or
 * `rulesField`) those rules and stages (`--one-line-per-datagram`: the UDP ones).
 */
function withFilters(values: ParsedValues, fields: string[], rulesField?: string): ParsedValues {
  const { filterFrom, filterPrefix, filterMatch, sample, stripTagBlocks, oneLinePerDatagram, maxRate, maxDatagramRate, ...rest } = values
  const given = { from: filterFrom, prefix: filterPrefix, match: filterMatch, sample }
  const stages = { stripTagBlocks, oneLinePerDatagram, maxRate, maxDatagramRate }
  const filtered = Object.values(given).some((v) => v !== undefined)
  const staged = Object.values(stages).some((v) => v !== undefined)
  if (!filtered && !staged) return rest
  if (filtered) parseWith(z.strictObject(ruleShape), given, { flags: FILTER_FLAGS })
  if (staged) parseWith(z.strictObject({ ...stageShape, ...udpStageShape }), stages, { flags: STAGE_FLAGS })
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  const out: Record<string, unknown> = { ...rest }
  // The server's one output takes its rules as an option of their own.
  if (rulesField && filtered) out[rulesField] = given
  let applied = rulesField !== undefined
  let udpApplied = false
  for (const field of fields) {
    const list = rest[field]
    if (Array.isArray(list)) {
      const udp = UDP_OUTPUTS.has(field)
      const own = defined(udp ? stages : { ...stages, oneLinePerDatagram: undefined })
      out[field] = list.map((addr) => ({ addr, ...defined(given), ...own }))
      applied = true
      udpApplied ||= udp
    }
  }
  if (!applied) {
    if (filtered) {
      const flag = (Object.keys(given) as Array<keyof typeof given>).find((k) => given[k] !== undefined) ?? 'prefix'
      throw usageError(`${FILTER_FLAGS[flag]} filters outputs, and this program has none (filters apply to every output given)`)
    }
    const flag = (Object.keys(stages) as Array<keyof typeof stages>).find((k) => stages[k] !== undefined) ?? 'stripTagBlocks'
    throw usageError(`${STAGE_FLAGS[flag]} shapes outputs, and this program has none (stages apply to every output given)`)
  }
  if (oneLinePerDatagram !== undefined && !udpApplied) {
    throw usageError(
      `${STAGE_FLAGS.oneLinePerDatagram} applies to UDP outputs (--udp-output-addr), and none is given: a TCP stream is the same bytes either way`,
    )
  }
  return out as ParsedValues
}

/** `--plain-udp-listen-addr` values become `udpListenAddrs` items of wire form plain, after the others. */
function withPlainListeners(values: ParsedValues, labels: Labels): ParsedValues {
  const { plainUdpListenAddrs, ...rest } = values
  if (!Array.isArray(plainUdpListenAddrs) || plainUdpListenAddrs.length === 0) return rest
  // Checked as given, so that a bad one is named by its own flag.
  parseWith(z.strictObject(wireShape), { plainUdpListenAddrs }, labels)
  const sealed = Array.isArray(rest.udpListenAddrs) ? rest.udpListenAddrs : []
  return { ...rest, udpListenAddrs: [...sealed, ...plainUdpListenAddrs.map((addr) => ({ addr, wire: 'plain' }))] } as ParsedValues
}

export const client: Program = {
  finite: true,
  spec: {
    name: 'mproxy-client',
    summary: 'MPROXY: UDP Client\nStream local data to logging servers via UDP',
    usage: 'mproxy-client --path FILE|DEVICE|- --server-addr HOST:PORT [--server-addr ...] [OPTIONS]',
    // (Not --filter-from: what the client reads has no sender.)
    flags: ownFlags(clientShape, ['filterPrefix', 'filterMatch', 'sample'], ['stripTagBlocks', 'oneLinePerDatagram']),
    common: COMMON_FLAGS,
    examples: [
      "mproxy-client --path /dev/random --server-addr '127.0.0.1:9920' --server-addr '[::1]:9921'",
      "mproxy-client --path - --server-addr '239.255.0.1:9922' --multicast-interface lo --tee >> logfile.log",
      "mproxy-client --path /dev/ttyACM0 --baud 38400 --server-addr 'logs.example.net:9920' --copy-path /var/log/ais/sent.log --rotate daily --keep 30d",
    ],
  },
  start: (values, labels, onLog) => startProgram('client', options(withFilters(values, ['serverAddrs']), onLog), labels),
}

export const server: Program = {
  finite: false,
  spec: {
    name: 'mproxy-server',
    summary: 'MPROXY: UDP Server\nListen for incoming UDP messages and log to file.',
    usage: 'mproxy-server --path FILE|- --listen-addr HOST:PORT [--listen-addr ...] [OPTIONS]',
    flags: ownFlags(serverShape, ['filterFrom', 'filterPrefix', 'filterMatch', 'sample']),
    common: COMMON_FLAGS,
    examples: [
      "mproxy-server --path logfile.log --listen-addr '127.0.0.1:9920' --listen-addr '[::1]:9921'",
      "mproxy-server --path - --listen-addr '239.1.2.3:9920' --multicast-interface lo",
      "mproxy-server --path /var/log/ais/ais.log --rotate hourly --keep 7d --listen-addr '0.0.0.0:9920'",
    ],
  },
  start: (values, labels, onLog) => startProgram('server', options(withFilters(values, [], 'rules'), onLog), labels),
}

export const proxy: Program = {
  finite: false,
  spec: {
    name: 'mproxy-proxy',
    summary: 'MPROXY: Proxy\nForward TCP, UDP, or Multicast endpoints to a downstream UDP socket address.',
    usage: 'mproxy-proxy [--udp-listen-addr HOST:PORT ...] [--tcp-connect-addr [tls://]HOST:PORT ...] --udp-downstream-addr HOST:PORT [...] [OPTIONS]',
    flags: [
      ...ownFlags(proxyShape, ['filterFrom', 'filterPrefix', 'filterMatch', 'sample'], ['stripTagBlocks', 'oneLinePerDatagram', 'maxRate', 'maxDatagramRate']),
      ...flagsOf(wireShape),
    ],
    common: COMMON_FLAGS,
    examples: [
      "mproxy-proxy --udp-listen-addr '0.0.0.0:9920' --udp-downstream-addr '[::1]:9921' --udp-downstream-addr 'localhost:9922' --tcp-connect-addr 'localhost:9925' --tee",
      "mproxy-proxy --tcp-connect-addr 'tls://ais.example.net:443' --tls-ca private-ca.pem --udp-downstream-addr '239.1.2.3:9920' --multicast-interface eth0",
    ],
  },
  start: (values, labels, onLog) => startProgram('proxy', options(withFilters(withPlainListeners(values, labels), ['udpDownstreamAddrs']), onLog), labels),
}

export const reverseproxy: Program = {
  finite: false,
  spec: {
    name: 'mproxy-reverseproxy',
    summary:
      'MPROXY: Reverse-proxy\nForward upstream TCP and/or UDP endpoints to downstream listeners.\nMessages are routed via UDP multicast (--multicast-addr): inputs publish to the group, outputs\nsubscribe to it, so outputs may run in other processes or on other hosts.',
    usage:
      'mproxy-reverseproxy [--udp-listen-addr HOST:PORT ...] [--tcp-listen-addr [tls://]HOST:PORT ...] [--multicast-addr GROUP:PORT] [--tcp-output-addr [tls://]HOST:PORT ...] [--udp-output-addr HOST:PORT ...] [OPTIONS]',
    // Not --filter-from: the outputs read the group, where every datagram comes from its publisher.
    flags: [
      ...ownFlags(reverseProxyShape, ['filterPrefix', 'filterMatch', 'sample'], ['stripTagBlocks', 'oneLinePerDatagram', 'maxRate', 'maxDatagramRate']),
      ...flagsOf(wireShape),
    ],
    common: COMMON_FLAGS,
    notes: [
      'A process may run only inputs, only outputs, or both. --tcp-output-addr is a listening address:',
      'clients connect to it (e.g. `ncat --recv-only HOST PORT`) and read the stream from the moment they connect;',
      'a client that closes its sending side is taken as gone.',
      '--tcp-connect-output-addr connects out to an aggregator that listens and keeps the connection (reconnecting',
      'with backoff); --preamble goes first at every connect, --keep-alive-line after --keep-alive-after quiet seconds.',
    ],
    examples: [
      "mproxy-reverseproxy --udp-listen-addr '127.0.0.1:9920' --tcp-output-addr '[::1]:9921' --multicast-addr '239.255.0.2:9922' --multicast-interface lo",
      "mproxy-reverseproxy --tcp-listen-addr '0.0.0.0:9930' --multicast-addr '[ff02::4d50%eth0]:9918'",
      "mproxy-reverseproxy --multicast-addr '[ff02::4d50%eth0]:9918' --tcp-output-addr '0.0.0.0:9931' --udp-output-addr 'logs.example.net:9920'",
      "mproxy-reverseproxy --multicast-addr '[ff02::4d50%eth0]:9918' --tcp-output-addr 'tls://0.0.0.0:9932' --tls-cert cert.pem --tls-key key.pem --tls-client-ca clients-ca.pem --allow 10.0.0.0/8",
      "mproxy-reverseproxy --multicast-addr '[ff02::4d50%eth0]:9918' --tcp-connect-output-addr 'aggregator.example.net:5321' --preamble '$PSTN,key-42' --keep-alive-line '$PSTN,ALIVE' --keep-alive-after 60",
    ],
  },
  start: (values, labels, onLog) =>
    startProgram(
      'reverseproxy',
      options(withFilters(withPlainListeners(values, labels), ['udpOutputAddrs', 'tcpOutputAddrs', 'tcpConnectOutputAddrs']), onLog),
      labels,
    ),
}

export const programs: Record<string, Program> = { client, server, proxy, reverseproxy }
