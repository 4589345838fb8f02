/**
 * mproxy: move files and raw socket data over the network with UDP (unicast and multicast),
 * with a Rust data plane. Each program is also a function here.
 */
export { createClient, type ClientOptions } from './api/client'
export { createServer, type ServerOptions } from './api/server'
export { createProxy, type ProxyOptions } from './api/proxy'
export { createReverseProxy, type ReverseProxyOptions } from './api/reverseproxy'
export type { CommonOptions, Framing } from './api/common'
export type { TlsOptions } from './api/tcp'
export type { OutputRules, OutputStages, UdpOutputStages, RuledOutput, BalanceGroup, UdpOutput, TcpOutput, TcpListener, ListenerAccess } from './api/rules'
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
