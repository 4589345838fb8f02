/**
 * mproxy: move files and raw socket data over the network with UDP (unicast and multicast),
 * with a Rust data plane. Each program is also a function here.
 */
export { createClient } from './api/client'
export { createServer } from './api/server'
export { createProxy } from './api/proxy'
export { createReverseProxy } from './api/reverseproxy'
// Written from the option schemas (scripts/write-option-types.js).
export type {
  ClientOptions,
  ServerOptions,
  ProxyOptions,
  ReverseProxyOptions,
  CommonOptions,
  Framing,
  TlsOptions,
  OutputRules,
  RuledOutput,
  BalanceGroup,
  UdpOutput,
  TcpOutput,
  TcpListener,
  ListenerAccess,
  Wire,
  UdpListener,
  UdpListenerItem,
  TcpConnectOutput,
  TcpConnection,
  KeepAlive,
  Preamble,
  FeedOptions,
  TagBlockOption,
  DedupOption,
  ThrottleOption,
  OutputStages,
  UdpOutputStages,
} from './api/option-types'
export {
  Handle,
  type Addresses,
  type ClientAction,
  type ClientEvent,
  type ConnectEvent,
  type DisconnectEvent,
  type ReachableEvent,
  type UnreachableEvent,
  type EndpointKind,
  type EndpointStats,
  type HandleEvents,
  type InputOutcome,
  type LogEntry,
  type LogLevel,
  type Stats,
  type Totals,
} from './handle'
export { MproxyError, type MproxyErrorCode } from './errors'
export type { Message, MessagesOptions } from './messages'
export type { Datagrams } from './send'
export { registerMetrics, serveMetrics, type MetricsSource, type MetricsServer } from './metrics'
export { start, Service, type ServiceEvents, type ServiceLogEntry, type ReloadResult } from './service'
