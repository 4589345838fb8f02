/** The four programs: their flags, help and examples (kept from the original mproxy). */
import { startProgram } from '../api/programs'
import { usageError } from '../errors'
import { COMMON_FLAGS, type FlagSpec, type ParsedValues } from './args'
import type { LogEntry } from '../handle'
import type { Program } from './run'
import { z } from 'zod'
import { parseWith } from '../schema/issues'
import { ruleShape } from '../schema/rules'

const TEE: FlagSpec = { name: 'tee', field: 'tee', kind: 'boolean', aliases: ['-t'], help: 'Copy input to stdout' }

/** Turns parsed flags into the API's option object (flag fields are option fields). */
function options(values: ParsedValues, onLog: (entry: LogEntry) => void): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...values }
  for (const field of PROCESS_FIELDS) delete rest[field]
  return { ...rest, onLog }
}

/** Routing rules on the command line: the same rules for every output of the program. */
const FILTERS: FlagSpec[] = [
  // (Not --filter-from for the client: what it reads has no sender.)
  { name: 'filter-from', field: 'filterFrom', kind: 'list', value: 'IP[/BITS]', help: 'Outputs get only datagrams from this address or CIDR block. May be repeated' },
  { name: 'filter-prefix', field: 'filterPrefix', kind: 'string', value: 'TEXT', help: 'Outputs get only datagrams starting with TEXT, e.g. !AIVDM' },
  { name: 'filter-match', field: 'filterMatch', kind: 'string', value: 'REGEX', help: 'Outputs get only datagrams REGEX matches (Rust regex syntax), e.g. ^!AIVDM,1,1,,[AB],[1-3]' },
  { name: 'sample', field: 'sample', kind: 'string', value: 'N', help: 'Outputs get only 1 datagram in N' },
]
const FILTER_FLAGS = { from: '--filter-from', prefix: '--filter-prefix', match: '--filter-match', sample: '--sample' }

/** Checks the filter flags (named as flags) and gives each output in `fields` (or `rulesField`) those rules. */
function withFilters(values: ParsedValues, fields: string[], rulesField?: string): ParsedValues {
  const { filterFrom, filterPrefix, filterMatch, sample, ...rest } = values
  const given = { from: filterFrom, prefix: filterPrefix, match: filterMatch, sample }
  if (Object.values(given).every((v) => v === undefined)) return rest
  parseWith(z.strictObject(ruleShape), given, { flags: FILTER_FLAGS })
  const out: Record<string, unknown> = { ...rest }
  // The server's one output takes its rules as an option of their own.
  if (rulesField) out[rulesField] = given
  let applied = rulesField !== undefined
  for (const field of fields) {
    const list = rest[field]
    if (Array.isArray(list)) {
      out[field] = list.map((addr) => ({ addr, ...given }))
      applied = true
    }
  }
  if (!applied) {
    const flag = (Object.keys(given) as Array<keyof typeof given>).find((k) => given[k] !== undefined) ?? 'prefix'
    throw usageError(`${FILTER_FLAGS[flag]} filters outputs, and this program has none (filters apply to every output given)`)
  }
  return out as ParsedValues
}

/** Flags about the process (logging, metrics), not options of the program's API. */
const PROCESS_FIELDS = COMMON_FLAGS.filter((f) => f.process).map((f) => f.field)

const ROTATE: FlagSpec = { name: 'rotate', field: 'rotate', kind: 'string', value: 'hourly|daily|SIZE', help: 'Start a new file each UTC hour or day, or before it passes SIZE (e.g. 100M); old ones get dated names' }
const KEEP: FlagSpec = { name: 'keep', field: 'keep', kind: 'string', value: 'N|AGE', help: 'Keep the newest N rotated files, or remove those older than AGE (e.g. 7d, 12h)' }

export const client: Program = {
  finite: true,
  spec: {
    name: 'mproxy-client',
    summary: 'MPROXY: UDP Client\nStream local data to logging servers via UDP',
    usage: 'mproxy-client --path FILE|DEVICE|- --server-addr HOST:PORT [--server-addr ...] [OPTIONS]',
    flags: [
      { name: 'path', field: 'path', kind: 'string', value: 'FILE|DEVICE|-', help: 'Filepath, device, or "-" for stdin; read until its end' },
      { name: 'server-addr', field: 'serverAddrs', kind: 'list', aliases: ['--server_addr'], value: 'HOST:PORT', help: 'Downstream UDP server address (unicast or multicast). May be repeated' },
      TEE,
      { name: 'framing', field: 'framing', kind: 'string', value: 'packed|line|raw', help: 'packed: whole lines per datagram (default); line: one line each; raw: fixed chunks' },
      { name: 'max-datagram', field: 'maxDatagram', kind: 'string', value: 'BYTES', help: 'Largest datagram (default 1472 IPv4, 1452 IPv6; at most 65507)' },
      { name: 'linger-ms', field: 'lingerMs', kind: 'string', value: 'MS', help: 'How long a partial line waits before it is sent anyway (default 20)' },
      { name: 'rate', field: 'rate', kind: 'string', value: 'BYTES/S', help: 'Most bytes per second to send, e.g. 20M; 0 = unlimited (default 80M)' },
      { name: 'baud', field: 'baud', kind: 'string', value: 'N', help: 'Serial device speed to set, e.g. 38400 (default: as the device is)' },
      { name: 'follow', field: 'follow', kind: 'boolean', aliases: ['-F'], help: 'Keep reading the file as it grows and across rotation, like tail -F' },
      { name: 'copy-path', field: 'copyPath', kind: 'string', value: 'FILE', help: 'Also write what is sent to this local file (see --rotate, --keep)' },
      { ...ROTATE, help: 'Rotate the --copy-path file each UTC hour or day, or before it passes SIZE (e.g. 100M)' },
      KEEP,
      ...FILTERS.filter((f) => f.name !== 'filter-from'),
    ],
    examples: [
      "mproxy-client --path /dev/random --server-addr '127.0.0.1:9920' --server-addr '[::1]:9921'",
      "mproxy-client --path - --server-addr '224.0.0.1:9922' --server-addr '[ff02::1]:9923' --tee >> logfile.log",
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
    flags: [
      { name: 'path', field: 'path', kind: 'string', value: 'FILE|-', help: 'File to append every datagram to, unchanged; "-" for stdout' },
      { name: 'listen-addr', field: 'listenAddrs', kind: 'list', aliases: ['--listen_addr'], value: 'HOST:PORT', help: 'Upstream UDP listening address (unicast or multicast group). May be repeated' },
      TEE,
      ROTATE,
      KEEP,
      ...FILTERS,
    ],
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
      { name: 'udp-listen-addr', field: 'udpListenAddrs', kind: 'list', aliases: ['--udp_listen_addr'], value: 'HOST:PORT', help: 'UDP listening socket address (unicast or group). May be repeated' },
      { name: 'udp-downstream-addr', field: 'udpDownstreamAddrs', kind: 'list', aliases: ['--udp_downstream_addr', '--downstream_addr'], value: 'HOST:PORT', help: 'UDP downstream socket address. May be repeated' },
      { name: 'tcp-connect-addr', field: 'tcpConnectAddrs', kind: 'list', aliases: ['--tcp_connect_addr'], value: '[tls://]HOST:PORT', help: 'Connect to TCP (or TLS) host, forwarding stream; reconnects. May be repeated' },
      { name: 'tls-ca', field: 'tlsCa', kind: 'string', value: 'FILE', help: 'Also trust the CA certificates in this PEM file' },
      { name: 'tls-cert', field: 'tlsCert', kind: 'string', value: 'FILE', help: 'Client certificate (PEM) for servers that require one' },
      { name: 'tls-key', field: 'tlsKey', kind: 'string', value: 'FILE', help: 'Key (PEM) of --tls-cert' },
      { name: 'tls-insecure', field: 'tlsInsecure', kind: 'boolean', help: 'Do not verify server certificates (says so on stderr)' },
      { name: 'framing', field: 'framing', kind: 'string', value: 'packed|line|raw', help: 'How TCP streams become datagrams (default packed: whole lines per datagram)' },
      { name: 'max-datagram', field: 'maxDatagram', kind: 'string', value: 'BYTES', help: 'Largest datagram made from TCP streams (default 1472 IPv4, 1452 IPv6)' },
      { name: 'linger-ms', field: 'lingerMs', kind: 'string', value: 'MS', help: 'How long a partial line from TCP waits before it is sent anyway (default 20)' },
      ...FILTERS,
      TEE,
    ],
    examples: [
      "mproxy-proxy --udp-listen-addr '0.0.0.0:9920' --udp-downstream-addr '[::1]:9921' --udp-downstream-addr 'localhost:9922' --tcp-connect-addr 'localhost:9925' --tee",
      "mproxy-proxy --tcp-connect-addr 'tls://ais.example.net:443' --tls-ca private-ca.pem --udp-downstream-addr '239.1.2.3:9920' --multicast-interface eth0",
    ],
  },
  start: (values, labels, onLog) => startProgram('proxy', options(withFilters(values, ['udpDownstreamAddrs']), onLog), labels),
}

export const reverseproxy: Program = {
  finite: false,
  spec: {
    name: 'mproxy-reverseproxy',
    summary:
      'MPROXY: Reverse-proxy\nForward upstream TCP and/or UDP endpoints to downstream listeners.\nMessages are routed via UDP multicast (--multicast-addr): inputs publish to the group, outputs\nsubscribe to it, so outputs may run in other processes or on other hosts.',
    usage: 'mproxy-reverseproxy [--udp-listen-addr HOST:PORT ...] [--tcp-listen-addr [tls://]HOST:PORT ...] [--multicast-addr GROUP:PORT] [--tcp-output-addr [tls://]HOST:PORT ...] [--udp-output-addr HOST:PORT ...] [OPTIONS]',
    flags: [
      { name: 'udp-listen-addr', field: 'udpListenAddrs', kind: 'list', aliases: ['--udp_listen_addr'], value: 'HOST:PORT', help: 'Input: a UDP listener whose datagrams go to --multicast-addr. May be repeated' },
      { name: 'tcp-listen-addr', field: 'tcpListenAddrs', kind: 'list', aliases: ['--tcp_listen_addr'], value: '[tls://]HOST:PORT', help: 'Input: accept TCP (or TLS) clients; their streams go to --multicast-addr. May be repeated' },
      { name: 'multicast-addr', field: 'multicastAddr', kind: 'string', aliases: ['--multicast_addr'], value: 'MULTICAST_IP:PORT', help: "The group inputs publish to and outputs read. Defaults to '[ff02::1]:9918'" },
      { name: 'tcp-output-addr', field: 'tcpOutputAddrs', kind: 'list', aliases: ['--tcp_output_addr'], value: '[tls://]HOST:PORT', help: 'Output: LISTEN here (TCP or TLS); every client that connects receives the group stream. May be repeated' },
      { name: 'udp-output-addr', field: 'udpOutputAddrs', kind: 'list', aliases: ['--udp_output_addr'], value: 'HOST:PORT', help: 'Output: send every group datagram to this UDP address. May be repeated' },
      { name: 'max-tcp-clients', field: 'maxTcpClients', kind: 'string', value: 'N', help: 'Most clients per TCP listener; more are refused (default 1024)' },
      { name: 'tcp-client-queue', field: 'tcpClientQueue', kind: 'string', value: 'BYTES', help: 'How far a TCP output client may fall behind before it is disconnected (default 67108864)' },
      { name: 'tls-cert', field: 'tlsCert', kind: 'string', value: 'FILE', help: 'Certificate (PEM) the tls:// listeners present' },
      { name: 'tls-key', field: 'tlsKey', kind: 'string', value: 'FILE', help: 'Key (PEM) of --tls-cert' },
      { name: 'tls-client-ca', field: 'tlsClientCa', kind: 'string', value: 'FILE', help: 'Require client certificates signed by a CA in this PEM file (mutual TLS)' },
      { name: 'allow', field: 'allow', kind: 'list', value: 'CIDR', help: 'Let TCP clients in only from this network (e.g. 10.0.0.0/8) or address. May be repeated' },
      { name: 'max-clients-per-address', field: 'maxClientsPerAddress', kind: 'string', value: 'N', help: 'Most clients at once from one address, per TCP listener' },
      { name: 'idle-timeout', field: 'idleTimeout', kind: 'string', value: 'SECONDS', help: 'Close TCP input clients that send nothing for this long' },
      { name: 'framing', field: 'framing', kind: 'string', value: 'packed|line|raw', help: 'How TCP streams become datagrams (default packed: whole lines per datagram)' },
      { name: 'max-datagram', field: 'maxDatagram', kind: 'string', value: 'BYTES', help: 'Largest datagram made from TCP streams (default 1472 IPv4, 1452 IPv6)' },
      { name: 'linger-ms', field: 'lingerMs', kind: 'string', value: 'MS', help: 'How long a partial line from TCP waits before it is sent anyway (default 20)' },
      // Not --filter-from: the outputs read the group, where every datagram comes from its publisher.
      ...FILTERS.filter((f) => f.name !== 'filter-from'),
      { ...TEE, help: 'Print what the inputs publish to stdout' },
    ],
    notes: [
      'A process may run only inputs, only outputs, or both. --tcp-output-addr is a listening address:',
      'clients connect to it (e.g. `ncat --recv-only HOST PORT`) and read the stream from the moment they connect;',
      'a client that closes its sending side is taken as gone.',
    ],
    examples: [
      "mproxy-reverseproxy --udp-listen-addr '0.0.0.0:9920' --tcp-output-addr '[::1]:9921' --multicast-addr '224.0.0.1:9922'",
      "mproxy-reverseproxy --tcp-listen-addr '0.0.0.0:9930' --multicast-addr '[ff02::4d50%eth0]:9918'",
      "mproxy-reverseproxy --multicast-addr '[ff02::4d50%eth0]:9918' --tcp-output-addr '0.0.0.0:9931' --udp-output-addr 'logs.example.net:9920'",
      "mproxy-reverseproxy --multicast-addr '[ff02::4d50%eth0]:9918' --tcp-output-addr 'tls://0.0.0.0:9932' --tls-cert cert.pem --tls-key key.pem --tls-client-ca clients-ca.pem --allow 10.0.0.0/8",
    ],
  },
  start: (values, labels, onLog) => startProgram('reverseproxy', options(withFilters(values, ['udpOutputAddrs', 'tcpOutputAddrs']), onLog), labels),
}

export const programs: Record<string, Program> = { client, server, proxy, reverseproxy }
