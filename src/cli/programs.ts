/** The four programs: their flags, help and examples (kept from the original mproxy). */
import { startClient } from '../api/client'
import { startProxy } from '../api/proxy'
import { startReverseProxy } from '../api/reverseproxy'
import { startServer } from '../api/server'
import type { FlagSpec, ParsedValues } from './args'
import type { LogEntry } from '../handle'
import type { Program } from './run'

const TEE: FlagSpec = { name: 'tee', field: 'tee', kind: 'boolean', aliases: ['-t'], help: 'Copy input to stdout' }

/** Turns parsed flags into the API's option object (flag fields are option fields). */
function options(values: ParsedValues, onLog: (entry: LogEntry) => void): Record<string, unknown> {
  const { verbose: _v, quiet: _q, help: _h, version: _ver, ...rest } = values
  return { ...rest, onLog }
}

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
      { name: 'rate', field: 'rate', kind: 'string', value: 'BYTES/S', help: 'Most bytes per second to send, e.g. 20M; 0 = unlimited (default 50M)' },
    ],
    examples: [
      "mproxy-client --path /dev/random --server-addr '127.0.0.1:9920' --server-addr '[::1]:9921'",
      "mproxy-client --path - --server-addr '224.0.0.1:9922' --server-addr '[ff02::1]:9923' --tee >> logfile.log",
      "mproxy-client --path /dev/ttyACM0 --server-addr 'logs.example.net:9920'",
    ],
  },
  start: (values, labels, onLog) => startClient(options(values, onLog) as never, labels),
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
    ],
    examples: [
      "mproxy-server --path logfile.log --listen-addr '127.0.0.1:9920' --listen-addr '[::1]:9921'",
      "mproxy-server --path - --listen-addr '239.1.2.3:9920' --multicast-interface lo",
    ],
  },
  start: (values, labels, onLog) => startServer(options(values, onLog) as never, labels),
}

export const proxy: Program = {
  finite: false,
  spec: {
    name: 'mproxy-proxy',
    summary: 'MPROXY: Proxy\nForward TCP, UDP, or Multicast endpoints to a downstream UDP socket address.',
    usage: 'mproxy-proxy --udp-listen-addr HOST:PORT [...] --udp-downstream-addr HOST:PORT [...] [OPTIONS]',
    flags: [
      { name: 'udp-listen-addr', field: 'udpListenAddrs', kind: 'list', aliases: ['--udp_listen_addr'], value: 'HOST:PORT', help: 'UDP listening socket address (unicast or group). May be repeated' },
      { name: 'udp-downstream-addr', field: 'udpDownstreamAddrs', kind: 'list', aliases: ['--udp_downstream_addr', '--downstream_addr'], value: 'HOST:PORT', help: 'UDP downstream socket address. May be repeated' },
      { name: 'tcp-connect-addr', field: 'tcpConnectAddrs', kind: 'list', aliases: ['--tcp_connect_addr'], value: 'HOST:PORT', help: 'Connect to TCP host, forwarding stream (next release). May be repeated' },
      TEE,
    ],
    examples: [
      "mproxy-proxy --udp-listen-addr '0.0.0.0:9920' --udp-downstream-addr '[::1]:9921' --udp-downstream-addr 'localhost:9922' --tee",
    ],
  },
  start: (values, labels, onLog) => startProxy(options(values, onLog) as never, labels),
}

export const reverseproxy: Program = {
  finite: false,
  spec: {
    name: 'mproxy-reverseproxy',
    summary: 'MPROXY: Reverse-proxy\nForward upstream TCP and/or UDP endpoints to downstream listeners.\nNot yet available in this version: it arrives with TCP support.',
    usage: 'mproxy-reverseproxy [OPTIONS]',
    flags: [
      { name: 'udp-listen-addr', field: 'udpListenAddrs', kind: 'list', aliases: ['--udp_listen_addr'], value: 'HOST:PORT', help: 'Spawn a UDP socket listener, and forward to --multicast-addr' },
      { name: 'tcp-listen-addr', field: 'tcpListenAddrs', kind: 'list', aliases: ['--tcp_listen_addr'], value: 'HOST:PORT', help: 'Accept TCP connections and forward to --multicast-addr' },
      { name: 'multicast-addr', field: 'multicastAddr', kind: 'string', aliases: ['--multicast_addr'], value: 'MULTICAST_IP:PORT', help: "Defaults to '[ff02::1]:9918'" },
      { name: 'tcp-output-addr', field: 'tcpOutputAddrs', kind: 'list', aliases: ['--tcp_output_addr'], value: 'HOST:PORT', help: 'Listen here; TCP clients receive the group stream' },
      { name: 'udp-output-addr', field: 'udpOutputAddrs', kind: 'list', aliases: ['--udp_output_addr'], value: 'HOST:PORT', help: 'Forward packets from --multicast-addr to UDP downstream' },
      TEE,
    ],
    examples: ["mproxy-reverseproxy --udp-listen-addr '0.0.0.0:9920' --tcp-output-addr '[::1]:9921' --multicast-addr '224.0.0.1:9922'"],
  },
  start: (values) => startReverseProxy(values as never),
}

export const programs: Record<string, Program> = { client, server, proxy, reverseproxy }
