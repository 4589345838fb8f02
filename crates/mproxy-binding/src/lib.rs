//! Node-API binding for mproxy-core: starts and stops routes, reads their counters, and
//! forwards route events (state changes, survived faults) to one JavaScript callback.
//! Datagrams cross into JavaScript only through taps and `inject`, a whole batch per call.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mproxy_core::event::{Event, Level, Notice, Reporter};
use mproxy_core::stats::{EndpointSnapshot, Registry};
use mproxy_core::{
    Balance, Batch, Cidr, DestinationSpec, Error as CoreError, Framing, FramingSpec, Injector,
    Keep, Keyring, ListenSpec, Offer, Overflow, Rotate, Route, RouteSpec, RuleSpec, RuledUdpOutput,
    StreamSpec, Take, Tap, Taps, WriterSpec, DEFAULT_LINGER, DEFAULT_QUEUE_BYTES,
    DEFAULT_SOCKET_BUFFER,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

mod guard;
use guard::guarded;

/// Errors reach JavaScript as `[CODE] message`; the TypeScript layer turns the prefix into
/// `error.code`.
fn to_js(err: CoreError) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("[{}] {}", err.code(), err.message),
    )
}

fn invalid(message: String) -> napi::Error {
    to_js(CoreError::invalid(message))
}

fn parse_addr(text: &str, what: &str) -> Result<SocketAddr> {
    text.parse()
        .map_err(|_| invalid(format!("{what}: {text} is not an IP:PORT socket address")))
}

#[napi(object)]
pub struct ListenOptions {
    /// `IP:PORT` or `[IPv6]:PORT`, already resolved.
    pub address: String,
    /// Interface to join a group on: name, IPv4 address or index.
    pub interface: Option<String>,
    pub recv_buffer: Option<u32>,
}

#[napi(object)]
pub struct DestinationOptions {
    pub address: String,
    pub interface: Option<String>,
    pub ttl: Option<u32>,
    pub multicast_loop: Option<bool>,
}

/// Routing rules of one output or balance group; absent parts keep everything.
#[napi(object)]
pub struct RuleOptions {
    /// Keep datagrams from these addresses or CIDR blocks.
    pub from: Option<Vec<String>>,
    /// Keep datagrams starting with these bytes (UTF-8).
    pub prefix: Option<String>,
    /// Keep datagrams a regular expression matches (over the bytes).
    pub r#match: Option<String>,
    /// Keep 1 datagram in this many.
    pub sample: Option<u32>,
}

/// UDP destinations behind rules: each gets what they keep, or with `balance`
/// ("round-robin" or "source-hash") each datagram goes to one of them.
#[napi(object)]
pub struct UdpOutputGroupOptions {
    pub destinations: Vec<DestinationOptions>,
    pub rules: Option<RuleOptions>,
    pub balance: Option<String>,
}

#[napi(object)]
pub struct InputOptions {
    /// A path, or "-" for stdin.
    pub path: String,
    pub framing: FramingOptions,
    /// Bytes per second to pace sending to; 0 or absent: unpaced.
    pub rate: Option<f64>,
    /// Line speed of a serial device in bits per second (e.g. 38400 for AIS), set with raw
    /// mode. A speed the system does not support, stdin, or a path that is not a terminal
    /// is an error at start. Absent: the port's speed is kept.
    pub baud: Option<u32>,
    /// Follow a regular file like `tail -F`: at its end wait for more, and read it again
    /// from the start when it is replaced (renamed and created anew) or truncated. No effect
    /// on FIFOs, devices or stdin.
    pub follow: Option<bool>,
}

#[napi(object)]
pub struct OutputOptions {
    /// A path, or "-" for stdout.
    pub path: String,
    pub queue_bytes: Option<u32>,
    /// Wait for the writer instead of dropping when its queue is full.
    pub wait_when_full: Option<bool>,
    /// Rotate the file: "hourly" or "daily" (UTC), or a size in bytes as decimal digits
    /// ("104857600"). The active file stays at `path`; rotated files are named
    /// `path.2026-11-27T17` (hourly), `path.2026-11-27` (daily) or `path.2026-11-27T17-42-10`
    /// (by size), for the UTC time their data begins, with `.1`, `.2`, ... on a clash.
    /// Not for stdout.
    pub rotate: Option<String>,
    /// Keep only the newest this many rotated files (at least 1). Needs `rotate`; not with
    /// `keepAgeSeconds`.
    pub keep_files: Option<u32>,
    /// Remove rotated files last modified more than this many seconds ago. Needs `rotate`;
    /// not with `keepFiles`.
    pub keep_age_seconds: Option<f64>,
    /// Routing rules: the file gets only what they keep (outputs only, not tee or copy).
    pub rules: Option<RuleOptions>,
}

#[napi(object)]
pub struct FramingOptions {
    /// "packed" (default), "line" or "raw".
    pub framing: Option<String>,
    pub max_datagram: u32,
    pub linger_ms: Option<u32>,
}

#[napi(object)]
pub struct TlsOptions {
    /// Name to verify and send as SNI (host name or IP literal).
    pub server_name: String,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub insecure: Option<bool>,
}

#[napi(object)]
pub struct TcpConnectOptions {
    /// Host as given, resolved again before each reconnect.
    pub host: String,
    pub port: u32,
    /// The address resolved at start.
    pub address: String,
    /// The `%scope` of an IPv6 link-local address.
    pub interface: Option<String>,
    pub tls: Option<TlsOptions>,
    pub framing: FramingOptions,
    pub backoff_min_ms: Option<u32>,
    pub backoff_max_ms: Option<u32>,
}

/// TLS on a listener: its certificate and key, and the CA client certificates must be
/// signed by (given: every client must present one).
#[napi(object)]
pub struct TlsServerOptions {
    pub cert_file: String,
    pub key_file: String,
    pub client_ca_file: Option<String>,
}

#[napi(object)]
pub struct TcpListenOptions {
    pub address: String,
    pub interface: Option<String>,
    pub framing: FramingOptions,
    pub max_clients: Option<u32>,
    pub tls: Option<TlsServerOptions>,
    /// Networks (CIDR) clients may connect from; absent or empty: any.
    pub allow: Option<Vec<String>>,
    pub max_clients_per_address: Option<u32>,
    /// Close a client that sent nothing for this long.
    pub idle_timeout_ms: Option<u32>,
}

#[napi(object)]
pub struct TcpOutputOptions {
    pub address: String,
    pub interface: Option<String>,
    pub max_clients: Option<u32>,
    pub client_queue_bytes: Option<u32>,
    pub tls: Option<TlsServerOptions>,
    /// Networks (CIDR) clients may connect from; absent or empty: any.
    pub allow: Option<Vec<String>>,
    pub max_clients_per_address: Option<u32>,
    pub rules: Option<RuleOptions>,
}

#[napi(object)]
pub struct RouteOptions {
    pub tcp_connects: Option<Vec<TcpConnectOptions>>,
    pub tcp_listeners: Option<Vec<TcpListenOptions>>,
    pub tcp_outputs: Option<Vec<TcpOutputOptions>>,
    pub udp_listeners: Option<Vec<ListenOptions>>,
    pub inputs: Option<Vec<InputOptions>>,
    pub udp_destinations: Option<Vec<DestinationOptions>>,
    /// UDP destinations with routing rules or balancing.
    pub udp_output_groups: Option<Vec<UdpOutputGroupOptions>>,
    pub outputs: Option<Vec<OutputOptions>>,
    pub tee: Option<OutputOptions>,
    /// A local copy of everything the sources produce, written to a file (with `rotate` and
    /// `keepFiles`/`keepAgeSeconds` for a dated copy pruned after a while). Its stats
    /// endpoint has kind "copy".
    pub copy: Option<OutputOptions>,
    pub send_buffer: Option<u32>,
    /// Seal what goes to `udpDestinations`, open what `udpListeners` receive.
    pub bus_key: Option<BusKeyOptions>,
}

#[napi(object)]
pub struct BusKeyOptions {
    /// Key file sealed with and opened with.
    pub path: String,
    /// Key file also opened with, during a rotation.
    pub next_path: Option<String>,
}

#[napi(object)]
#[derive(Default)]
pub struct RouteEvent {
    /// "log"; "finished" (message: "complete", "stopped" or "failed"); or a state change:
    /// "connect", "disconnect", "client", "unreachable", "reachable".
    pub kind: String,
    /// For logs: "info", "warn" or "error".
    pub level: Option<String>,
    pub message: Option<String>,
    /// The connection's target, or the destination (connect, disconnect, (un)reachable).
    pub address: Option<String>,
    /// The other end: a connection's peer, a listener's client.
    pub peer: Option<String>,
    /// The listener's bound address (client).
    pub listener: Option<String>,
    /// "joined", "left", "evicted" or "refused" (client).
    pub action: Option<String>,
    /// Why (disconnect, unreachable; client left, evicted or refused).
    pub reason: Option<String>,
}

/// Counters of one endpoint. Numbers are doubles: exact up to 2^53, far beyond any count.
#[napi(object)]
pub struct EndpointStats {
    pub kind: String,
    pub name: String,
    pub buffer_bytes: Option<f64>,
    pub datagrams_in: f64,
    pub bytes_in: f64,
    pub datagrams_out: f64,
    pub bytes_out: f64,
    pub send_errors: f64,
    /// Absent where the OS does not count them (see `unknownCounters`).
    pub kernel_drops: Option<f64>,
    pub truncated: f64,
    pub queue_drops: f64,
    pub write_errors: f64,
    pub bytes_dropped: f64,
    pub connects: f64,
    pub disconnects: f64,
    /// TCP clients refused at the client limit.
    pub refused: f64,
    /// TCP clients disconnected for falling behind.
    pub evicted: f64,
    /// ICMP errors (port or host unreachable) about datagrams sent to this destination.
    pub icmp_errors: f64,
    /// Datagrams dropped for not verifying under the bus key.
    pub auth_failures: f64,
    /// Datagrams dropped as replays of ones delivered before.
    pub replays: f64,
    /// TCP clients refused because their address is not in the allow list.
    pub refused_not_allowed: f64,
    /// TCP clients refused because their address had its most clients already.
    pub refused_per_address: f64,
    /// TCP input clients closed for sending nothing for the idle timeout.
    pub idle_timeouts: f64,
    /// TLS clients whose handshake failed.
    pub tls_failures: f64,
    /// Outputs: datagrams their routing rules kept from them; rules: datagrams the rule
    /// dropped.
    pub filtered: f64,
    /// Rules: datagrams the rule's test held for.
    pub matched: f64,
    /// Rules: datagrams that went on to the next rule or the output.
    pub passed: f64,
    /// Destinations: datagrams sent there were refused or lost recently (no quiet second
    /// since).
    pub unreachable: bool,
    /// Taps (`messages()`): datagrams dropped because JavaScript fell behind.
    pub tap_drops: f64,
}

fn to_js_stats(e: EndpointSnapshot) -> EndpointStats {
    let c = e.counters;
    EndpointStats {
        kind: e.kind.to_string(),
        name: e.name,
        buffer_bytes: e.buffer_bytes.map(|b| b as f64),
        datagrams_in: c.datagrams_in as f64,
        bytes_in: c.bytes_in as f64,
        datagrams_out: c.datagrams_out as f64,
        bytes_out: c.bytes_out as f64,
        send_errors: c.send_errors as f64,
        kernel_drops: c.kernel_drops.map(|n| n as f64),
        truncated: c.truncated as f64,
        queue_drops: c.queue_drops as f64,
        write_errors: c.write_errors as f64,
        bytes_dropped: c.bytes_dropped as f64,
        connects: c.connects as f64,
        disconnects: c.disconnects as f64,
        refused: c.refused as f64,
        evicted: c.evicted as f64,
        icmp_errors: c.icmp_errors as f64,
        auth_failures: c.auth_failures as f64,
        replays: c.replays as f64,
        refused_not_allowed: c.refused_not_allowed as f64,
        refused_per_address: c.refused_per_address as f64,
        idle_timeouts: c.idle_timeouts as f64,
        tls_failures: c.tls_failures as f64,
        filtered: c.filtered as f64,
        matched: c.matched as f64,
        passed: c.passed as f64,
        unreachable: e.unreachable,
        tap_drops: c.tap_drops as f64,
    }
}

fn framing_spec(f: &FramingOptions) -> Result<FramingSpec> {
    let name = f.framing.as_deref().unwrap_or("packed");
    let framing = Framing::parse(name)
        .ok_or_else(|| invalid(format!("framing: {name} is not one of packed, line, raw")))?;
    Ok(FramingSpec {
        framing,
        max_datagram: f.max_datagram.max(1) as usize,
        linger: f
            .linger_ms
            .map_or(DEFAULT_LINGER, |ms| Duration::from_millis(ms as u64)),
        rate: 0,
    })
}

fn scoped(text: &str, interface: &Option<String>, what: &str) -> Result<SocketAddr> {
    mproxy_core::with_scope(parse_addr(text, what)?, interface).map_err(to_js)
}

fn tls_server(t: &Option<TlsServerOptions>) -> Option<mproxy_core::TlsServerSpec> {
    t.as_ref().map(|t| mproxy_core::TlsServerSpec {
        cert_file: t.cert_file.clone(),
        key_file: t.key_file.clone(),
        client_ca_file: t.client_ca_file.clone(),
    })
}

fn access(
    allow: &Option<Vec<String>>,
    per_address: Option<u32>,
) -> Result<mproxy_core::AccessSpec> {
    use mproxy_core::AccessSpec;
    Ok(AccessSpec {
        allow: AccessSpec::parse_allow(allow.as_deref().unwrap_or_default()).map_err(to_js)?,
        max_per_address: per_address.unwrap_or(0) as usize,
    })
}

fn add_tcp(spec: &mut RouteSpec, o: &RouteOptions) -> Result<()> {
    use mproxy_core::TcpConnectSpec;
    use mproxy_core::TcpListenSpec;
    use mproxy_core::TlsSpec;
    use mproxy_core::{TcpOutputSpec, DEFAULT_CLIENT_QUEUE_BYTES, DEFAULT_MAX_CLIENTS};
    for c in o.tcp_connects.iter().flatten() {
        spec.tcp_connects.push(TcpConnectSpec {
            host: c.host.clone(),
            port: u16::try_from(c.port)
                .map_err(|_| invalid(format!("port {} is out of range", c.port)))?,
            addr: scoped(&c.address, &c.interface, "TCP address")?,
            tls: c.tls.as_ref().map(|t| TlsSpec {
                server_name: t.server_name.clone(),
                ca_file: t.ca_file.clone(),
                cert_file: t.cert_file.clone(),
                key_file: t.key_file.clone(),
                insecure: t.insecure.unwrap_or(false),
            }),
            framing: framing_spec(&c.framing)?,
            backoff_min: Duration::from_millis(c.backoff_min_ms.unwrap_or(500) as u64),
            backoff_max: Duration::from_millis(c.backoff_max_ms.unwrap_or(30_000) as u64),
        });
    }
    for l in o.tcp_listeners.iter().flatten() {
        spec.tcp_listeners.push(TcpListenSpec {
            addr: scoped(&l.address, &l.interface, "TCP listen address")?,
            framing: framing_spec(&l.framing)?,
            max_clients: l.max_clients.map_or(DEFAULT_MAX_CLIENTS, |m| m as usize),
            access: access(&l.allow, l.max_clients_per_address)?,
            idle_timeout: l.idle_timeout_ms.map(|ms| Duration::from_millis(ms as u64)),
            tls: tls_server(&l.tls),
        });
    }
    for t in o.tcp_outputs.iter().flatten() {
        spec.tcp_outputs.push(TcpOutputSpec {
            addr: scoped(&t.address, &t.interface, "TCP output address")?,
            max_clients: t.max_clients.map_or(DEFAULT_MAX_CLIENTS, |m| m as usize),
            client_queue_bytes: t
                .client_queue_bytes
                .map_or(DEFAULT_CLIENT_QUEUE_BYTES, |b| b as usize),
            access: access(&t.allow, t.max_clients_per_address)?,
            tls: tls_server(&t.tls),
            rules: t.rules.as_ref().map(rule_spec).transpose()?,
        });
    }
    Ok(())
}

fn writer_spec(o: &OutputOptions) -> Result<WriterSpec> {
    let rotate = match o.rotate.as_deref() {
        None => None,
        Some(text) => Some(Rotate::parse(text).ok_or_else(|| {
            invalid(format!(
                "rotate: {text} is not hourly, daily or a size in bytes (at least 1)"
            ))
        })?),
    };
    let keep = match (o.keep_files, o.keep_age_seconds) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "keepFiles and keepAgeSeconds cannot both be given".into(),
            ))
        }
        (Some(n), None) => Some(Keep::Files(n as usize)),
        (None, Some(secs)) => {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(invalid(format!(
                    "keepAgeSeconds: {secs} is not a positive number of seconds"
                )));
            }
            // Not `from_secs_f64`, which panics on an age too long for a Duration.
            let age = Duration::try_from_secs_f64(secs).map_err(|_| {
                invalid(format!("keepAgeSeconds: {secs} seconds is too long an age"))
            })?;
            Some(Keep::Age(age))
        }
        (None, None) => None,
    };
    Ok(WriterSpec {
        overflow: if o.wait_when_full.unwrap_or(false) {
            Overflow::Wait
        } else {
            Overflow::Drop
        },
        queue_bytes: o.queue_bytes.map_or(DEFAULT_QUEUE_BYTES, |b| b as usize),
        rotate,
        keep,
        ..WriterSpec::new(o.path.clone())
    })
}

fn destination_spec(d: &DestinationOptions) -> Result<DestinationSpec> {
    Ok(DestinationSpec {
        addr: parse_addr(&d.address, "destination address")?,
        interface: d.interface.clone(),
        ttl: d.ttl.unwrap_or(1),
        multicast_loop: d.multicast_loop.unwrap_or(true),
    })
}

/// Checked here too (the TypeScript schema checks first, naming the option's path).
fn rule_spec(r: &RuleOptions) -> Result<RuleSpec> {
    let from = r
        .from
        .iter()
        .flatten()
        .map(|t| Cidr::parse(t).map_err(|e| invalid(format!("from: {e}"))))
        .collect::<Result<_>>()?;
    Ok(RuleSpec {
        from,
        prefix: r.prefix.as_ref().map(|p| p.as_bytes().to_vec()),
        pattern: r.r#match.clone(),
        sample: r.sample.map(u64::from),
    })
}

fn route_spec(o: &RouteOptions) -> Result<RouteSpec> {
    let mut spec = RouteSpec {
        send_buffer: o.send_buffer.map_or(DEFAULT_SOCKET_BUFFER, |b| b as usize),
        ..Default::default()
    };
    for l in o.udp_listeners.iter().flatten() {
        spec.udp_listeners.push(ListenSpec {
            addr: parse_addr(&l.address, "listen address")?,
            interface: l.interface.clone(),
            recv_buffer: l.recv_buffer.map_or(DEFAULT_SOCKET_BUFFER, |b| b as usize),
        });
    }
    for i in o.inputs.iter().flatten() {
        let mut framing = framing_spec(&i.framing)?;
        framing.rate = i.rate.map_or(0, |r| r.max(0.0) as u64);
        spec.stream_inputs.push(StreamSpec {
            path: i.path.clone(),
            framing,
            baud: i.baud,
            follow: i.follow.unwrap_or(false),
        });
    }
    for d in o.udp_destinations.iter().flatten() {
        spec.udp_destinations.push(destination_spec(d)?);
    }
    for g in o.udp_output_groups.iter().flatten() {
        let balance = match g.balance.as_deref() {
            None => None,
            Some(text) => Some(Balance::parse(text).ok_or_else(|| {
                invalid(format!("balance: {text} is not round-robin or source-hash"))
            })?),
        };
        spec.ruled_udp_outputs.push(RuledUdpOutput {
            destinations: g
                .destinations
                .iter()
                .map(destination_spec)
                .collect::<Result<_>>()?,
            rules: g
                .rules
                .as_ref()
                .map(rule_spec)
                .transpose()?
                .unwrap_or_default(),
            balance,
        });
    }
    add_tcp(&mut spec, o)?;
    spec.writers = o
        .outputs
        .iter()
        .flatten()
        .map(writer_spec)
        .collect::<Result<_>>()?;
    spec.writer_rules = o
        .outputs
        .iter()
        .flatten()
        .map(|w| w.rules.as_ref().map(rule_spec).transpose())
        .collect::<Result<_>>()?;
    spec.tee = o.tee.as_ref().map(writer_spec).transpose()?;
    spec.copy = o.copy.as_ref().map(writer_spec).transpose()?;
    if let Some(k) = &o.bus_key {
        spec.bus_key = Some(Arc::new(
            Keyring::load(&k.path, k.next_path.as_deref()).map_err(to_js)?,
        ));
    }
    Ok(spec)
}

// The callback's type is spelled out wherever it is used: the type definitions napi generates
// are written from the signature's tokens, and a Rust type alias there would reach the .d.ts
// as a name nothing declares.
fn reporter_for(
    callback: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> Reporter {
    let callback = Arc::new(callback);
    Reporter::new(Arc::new(move |event: Event| {
        let payload = match event {
            Event::Finished(outcome) => RouteEvent {
                kind: "finished".into(),
                message: Some(outcome.as_str().into()),
                ..Default::default()
            },
            Event::Log { level, message } => RouteEvent {
                kind: "log".into(),
                level: Some(
                    match level {
                        Level::Info => "info",
                        Level::Warn => "warn",
                        Level::Error => "error",
                    }
                    .into(),
                ),
                message: Some(message),
                ..Default::default()
            },
            Event::Notice(notice) => notice_event(notice),
        };
        callback.call(payload, ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

fn notice_event(notice: Notice) -> RouteEvent {
    match notice {
        Notice::Connect { address, peer } => RouteEvent {
            kind: "connect".into(),
            address: Some(address),
            peer,
            ..Default::default()
        },
        Notice::Disconnect { address, reason } => RouteEvent {
            kind: "disconnect".into(),
            address: Some(address),
            reason: Some(reason),
            ..Default::default()
        },
        Notice::Client {
            listener,
            peer,
            action,
            reason,
        } => RouteEvent {
            kind: "client".into(),
            listener: Some(listener),
            peer: Some(peer),
            action: Some(action.as_str().into()),
            reason,
            ..Default::default()
        },
        Notice::Unreachable { address, reason } => RouteEvent {
            kind: "unreachable".into(),
            address: Some(address),
            reason: Some(reason),
            ..Default::default()
        },
        Notice::Reachable { address } => RouteEvent {
            kind: "reachable".into(),
            address: Some(address),
            ..Default::default()
        },
    }
}

/// A running route. While it runs, its event callback keeps the Node process alive;
/// `close()` stops every thread and releases the callback.
#[napi]
pub struct NativeRoute {
    route: Arc<Mutex<Option<Route>>>,
    /// Started by the first `inject`; not the route's own, so injecting never waits for a
    /// route that is stopping.
    injector: Mutex<Option<Injector>>,
    /// The route's counters, kept when the route is taken to be stopped.
    counters: Registry,
    listen_addresses: Vec<String>,
    tcp_listen_addresses: Vec<String>,
    tcp_output_addresses: Vec<String>,
}

#[napi]
impl NativeRoute {
    /// Bound listener addresses, in the order given (port 0 replaced by the real port).
    #[napi(getter)]
    pub fn listen_addresses(&self) -> Result<Vec<String>> {
        guarded(|| Ok(self.listen_addresses.clone()))
    }

    /// Bound TCP listeners (inputs), in the order given.
    #[napi(getter)]
    pub fn tcp_listen_addresses(&self) -> Result<Vec<String>> {
        guarded(|| Ok(self.tcp_listen_addresses.clone()))
    }

    /// Bound TCP output listeners, in the order given.
    #[napi(getter)]
    pub fn tcp_output_addresses(&self) -> Result<Vec<String>> {
        guarded(|| Ok(self.tcp_output_addresses.clone()))
    }

    /// Current counters; after `close()`, the final ones.
    #[napi]
    pub fn stats(&self) -> Result<Vec<EndpointStats>> {
        // From the registry the route's endpoints count into: live while it runs, while it
        // stops (a drain takes a moment) and after.
        guarded(|| {
            Ok(self
                .counters
                .snapshot()
                .into_iter()
                .map(to_js_stats)
                .collect())
        })
    }

    /// Every file output (outputs, tee, copy) closes and reopens its path before its next
    /// write (for logrotate's `postrotate`, or SIGHUP): what is delivered from now on goes
    /// to the file now at the path. Returns at once; a no-op after `close()`.
    #[napi]
    pub fn reopen_outputs(&self) -> Result<()> {
        guarded(|| {
            if let Some(route) = self.route.lock().ok().as_ref().and_then(|g| g.as_ref()) {
                route.reopen_outputs();
            }
            Ok(())
        })
    }

    /// Attaches a tap holding at most `high_water_mark` datagrams. `on_ready` is called
    /// (with the tap's id) when a `take()` that found nothing has something to take, or the
    /// tap has ended. On a closed route the tap has already ended.
    #[napi]
    pub fn open_tap(
        &self,
        high_water_mark: u32,
        on_ready: ThreadsafeFunction<u32, (), u32, Status, false>,
    ) -> Result<NativeTap> {
        guarded(move || {
            let taps = self
                .route
                .lock()
                .ok()
                .and_then(|g| g.as_ref().map(Route::taps));
            let taps = taps.unwrap_or_else(|| {
                // A closed route: a tap that ends at once.
                let t = Taps::new(&Registry::default(), Reporter::silent());
                mproxy_core::Sink::finish(&t);
                Arc::new(t)
            });
            let tap = taps.attach(
                high_water_mark as usize,
                Box::new(move || {
                    on_ready.call(0, ThreadsafeFunctionCallMode::NonBlocking);
                }),
            );
            Ok(NativeTap {
                id: tap.id() as u32,
                tap,
                // Weak: a tap kept by a JavaScript object waiting for the collector must not keep
                // the route's sinks (and their event callback) alive.
                taps: Arc::downgrade(&taps),
            })
        })
    }

    /// Starts the queue `inject` fills (once; later calls do nothing). `on_room` is called
    /// when a queue `inject` found full has room again, or has closed. Throws once the
    /// route is closed.
    #[napi]
    pub fn open_injector(
        &self,
        on_room: ThreadsafeFunction<u32, (), u32, Status, false>,
    ) -> Result<()> {
        guarded(move || {
            let mut slot = self
                .injector
                .lock()
                .map_err(|_| invalid("send(): the handle failed".into()))?;
            if slot.is_some() {
                return Ok(());
            }
            let mut guard = self
                .route
                .lock()
                .map_err(|_| invalid("send(): the handle failed".into()))?;
            let Some(route) = guard.as_mut() else {
                return Err(closed_error());
            };
            let injector = route
                .injector(Box::new(move || {
                    on_room.call(0, ThreadsafeFunctionCallMode::NonBlocking);
                }))
                .map_err(to_js)?;
            *slot = Some(injector);
            Ok(())
        })
    }

    /// Queues datagrams for the route's sinks, as if received: `data` holds them back to
    /// back, `lengths` their sizes. Returns false when the queue is full: offer them again
    /// once `on_room` was called. Throws once the route is closed.
    #[napi]
    pub fn inject(&self, data: &[u8], lengths: &[u32]) -> Result<bool> {
        guarded(|| {
            // In u64, checked: on a 32-bit target a usize sum of u32 lengths can wrap around
            // to the data's length and then slice past its end.
            let total = lengths
                .iter()
                .try_fold(0u64, |sum, &l| sum.checked_add(u64::from(l)));
            if total.and_then(|t| usize::try_from(t).ok()) != Some(data.len()) {
                let total = total.map_or_else(|| "more than 2^64".into(), |t| t.to_string());
                return Err(invalid(format!(
                    "send(): lengths add up to {total} bytes, the data has {}",
                    data.len()
                )));
            }
            let injector = self
                .injector
                .lock()
                .ok()
                .and_then(|slot| slot.clone())
                .ok_or_else(closed_error)?;
            let mut batch = Batch::with_capacity(data.len(), lengths.len());
            let mut offset = 0;
            for &len in lengths {
                let end = offset + len as usize;
                // Within the data: the lengths add up to its length (checked above).
                let Some(datagram) = data.get(offset..end) else {
                    return Err(invalid("send(): the lengths overrun the data".into()));
                };
                batch.push(datagram);
                offset = end;
            }
            match injector.offer(batch) {
                Offer::Queued => Ok(true),
                Offer::Full => Ok(false),
                Offer::Closed => Err(closed_error()),
            }
        })
    }

    /// Stops the route off the JavaScript thread; resolves once every thread has ended and
    /// everything received was delivered.
    ///
    /// The stop runs on a thread of its own, not on libuv's thread pool: Node joins the pool
    /// when the process exits, so a stop still draining (a writer stalled on a full pipe, up
    /// to its 5 s limit) would hold `process.exit()` back, and a second SIGINT would not exit
    /// at once. A thread of our own is simply abandoned at exit.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        guarded(|| {
            let (deferred, promise) = env.create_deferred::<(), _>()?;
            let route = self.route.clone();
            let spawned = std::thread::Builder::new()
                .name("mproxy-close".into())
                .spawn(move || {
                    // Not a JavaScript call, but a panic here would leave the promise pending forever.
                    let stopped = guard::catch(
                        || {
                            let taken = route.lock().ok().and_then(|mut g| g.take());
                            if let Some(mut route) = taken {
                                route.stop();
                                // Dropping the route drops the last reporters, releasing the JS
                                // callback.
                            }
                            Ok(())
                        },
                        |message| message,
                    );
                    match stopped {
                        Ok(()) => deferred.resolve(|_| Ok(())),
                        Err(message) => {
                            deferred.reject(napi::Error::new(Status::GenericFailure, message))
                        }
                    }
                });
            match spawned {
                Ok(_) => Ok(promise),
                Err(e) => Err(Error::from_reason(format!(
                    "[EMPROXY_IO] cannot start a thread to stop the route: {e}"
                ))),
            }
        })
    }
}

fn closed_error() -> napi::Error {
    invalid("send(): the handle is closed".into())
}

/// What a tap's consumer takes at once: the datagrams back to back, each one's length,
/// and who sent each (`sources[sourceOf[i]]`). `ended`: nothing more will come.
#[napi(object)]
pub struct TapChunk {
    pub data: Option<Buffer>,
    pub lengths: Option<Uint32Array>,
    pub sources: Option<Vec<String>>,
    pub source_of: Option<Uint32Array>,
    pub ended: bool,
}

/// One consumer of a route's datagrams (`handle.messages()`).
#[napi]
pub struct NativeTap {
    id: u32,
    tap: Arc<Tap>,
    taps: std::sync::Weak<Taps>,
}

#[napi]
impl NativeTap {
    #[napi(getter)]
    pub fn id(&self) -> Result<u32> {
        guarded(|| Ok(self.id))
    }

    /// Datagrams this tap dropped because its queue was full.
    #[napi(getter)]
    pub fn drops(&self) -> Result<f64> {
        guarded(|| Ok(self.tap.drops() as f64))
    }

    /// Everything queued; null when nothing is (`onReady` is called when there is).
    #[napi]
    pub fn take(&self) -> Result<Option<TapChunk>> {
        guarded(|| {
            Ok(match self.tap.take() {
                Take::Empty => None,
                Take::Ended => Some(TapChunk {
                    data: None,
                    lengths: None,
                    sources: None,
                    source_of: None,
                    ended: true,
                }),
                Take::Chunk(c) => Some(TapChunk {
                    data: Some(c.data.into()),
                    lengths: Some(Uint32Array::new(c.lengths)),
                    sources: Some(c.sources),
                    source_of: Some(Uint32Array::new(c.source_of)),
                    ended: false,
                }),
            })
        })
    }

    /// Detaches the tap and releases its callback. Idempotent.
    #[napi]
    pub fn close(&self) -> Result<()> {
        guarded(|| {
            match self.taps.upgrade() {
                Some(taps) => taps.detach(&self.tap),
                None => self.tap.close(),
            }
            Ok(())
        })
    }
}

/// Starts a route. Throws `[CODE] message` if any address, interface or file is bad;
/// nothing is left running then.
#[napi]
pub fn start_route(
    options: RouteOptions,
    on_event: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> Result<NativeRoute> {
    guarded(move || start_route_now(&options, on_event))
}

/// Converts and checks the options as `startRoute` does (addresses, framing, rotation,
/// rules, the bus key's files), without opening a socket or a data file: the start path of
/// `mproxy check`.
#[napi]
pub fn check_route(options: RouteOptions) -> Result<()> {
    guarded(|| route_spec(&options).map(|_| ()))
}

fn start_route_now(
    options: &RouteOptions,
    on_event: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> Result<NativeRoute> {
    let spec = route_spec(options)?;
    let route = Route::start(&spec, reporter_for(on_event)).map_err(to_js)?;
    let strings = |addrs: &[SocketAddr]| addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let listen_addresses = strings(route.listen_addrs());
    let tcp_listen_addresses = strings(route.tcp_listen_addrs());
    let tcp_output_addresses = strings(route.tcp_output_addrs());
    let counters = route.registry();
    Ok(NativeRoute {
        route: Arc::new(Mutex::new(Some(route))),
        injector: Mutex::new(None),
        counters,
        listen_addresses,
        tcp_listen_addresses,
        tcp_output_addresses,
    })
}

/// Reads and checks a bus key file (private, 64 hex digits); used to validate options
/// early, so the message can name the option. The key stays in Rust.
#[napi]
pub fn check_bus_key(path: String) -> Result<()> {
    guarded(|| mproxy_core::read_key_file(&path).map(|_| ()).map_err(to_js))
}

/// The counters this OS cannot tell (`kernelDrops` on macOS and Windows): they are absent
/// from every endpoint's stats there, and the TypeScript layer reports them as `null`.
#[napi]
pub fn unknown_counters() -> Result<Vec<String>> {
    guarded(|| {
        Ok(mproxy_core::stats::unknown_counters()
            .iter()
            .map(|name| name.to_string())
            .collect())
    })
}

/// Resolves an interface name, address or index; used to validate options early.
#[napi]
pub fn resolve_interface(spec: String) -> Result<u32> {
    guarded(|| {
        mproxy_core::resolve_interface(&spec)
            .map(|i| i.index)
            .map_err(to_js)
    })
}

/// What is wrong with a routing rule's `match` pattern (in the core's regex dialect, within
/// its size limit), or nothing: lets option checks name the option's path.
#[napi]
pub fn rule_pattern_problem(pattern: String) -> Result<Option<String>> {
    guarded(|| Ok(mproxy_core::compile_pattern(&pattern).err()))
}

/// Tells the service manager (systemd, `Type=notify`) the service's state: `READY=1`,
/// `RELOADING=1` (sent with the `MONOTONIC_USEC=` line systemd 253 and newer want),
/// `STOPPING=1`, or other `KEY=VALUE` lines. `socket` is `NOTIFY_SOCKET`: a path, or `@name`
/// for an abstract socket. Node has no unix datagram sockets, hence this. A no-op on Windows.
#[napi]
pub fn notify_service_manager(socket: String, state: String) -> Result<()> {
    guarded(move || notify_now(socket, state))
}

fn notify_now(socket: String, state: String) -> Result<()> {
    let io_error = |e: std::io::Error| {
        to_js(CoreError::new(
            mproxy_core::ErrorKind::Io,
            format!("cannot notify the service manager at {socket}: {e}"),
        ))
    };
    let message = if state.lines().any(|l| l == "RELOADING=1") {
        let usec = mproxy_core::os::monotonic_usec().map_err(io_error)?;
        format!("{state}\nMONOTONIC_USEC={usec}")
    } else {
        state
    };
    mproxy_core::os::notify_service_manager(&socket, &message).map_err(io_error)
}
