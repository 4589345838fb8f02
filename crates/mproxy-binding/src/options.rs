//! The options of a route as JavaScript gives them, and their conversion into the core's
//! `RouteSpec`. The TypeScript schema has checked every value and applied the defaults it
//! knows; what is left here is converting types (enums arrive typed, not as strings to parse
//! again). The few checks below are what only Rust can tell, or a last line of defence
//! against values no schema should let through (a Duration too long, a port past 65535).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mproxy_core::Framing as CoreFraming;
use mproxy_core::FramingSpec;
use mproxy_core::Keyring;
use mproxy_core::StreamSpec;
use mproxy_core::Wire as CoreWire;
use mproxy_core::{Balance as CoreBalance, Cidr, RuleSpec};
use mproxy_core::{DestinationSpec, ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{Keep, Overflow, Rotate, WriterSpec, DEFAULT_QUEUE_BYTES};
use mproxy_core::{OutputShaping, OutputSpec, RateCap, RouteSpec};
use mproxy_core::{ReplaySpec, TimeSource};
use napi_derive::napi;

use crate::errors::{NativeError, Result};

fn parse_addr(text: &str, what: &str) -> Result<SocketAddr> {
    text.parse()
        .map_err(|_| NativeError::usage(format!("{what}: {text} is not an IP:PORT socket address")))
}

#[napi(object)]
pub struct ListenOptions {
    /// `IP:PORT` or `[IPv6]:PORT`, already resolved.
    pub address: String,
    /// Interface to join a group on: name, IPv4 address or index.
    pub interface: Option<String>,
    pub recv_buffer: u32,
    /// The wire form it accepts; absent: sealed (plain without a bus key).
    pub wire: Option<Wire>,
}

/// The wire form a UDP listener accepts (`mproxy_core::Wire`).
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Only datagrams sealed with the bus key.
    Sealed,
    /// Datagrams as they come (sensors), even with a bus key.
    Plain,
}

impl From<Wire> for CoreWire {
    fn from(w: Wire) -> CoreWire {
        match w {
            Wire::Sealed => CoreWire::Sealed,
            Wire::Plain => CoreWire::Plain,
        }
    }
}

impl From<CoreWire> for Wire {
    fn from(w: CoreWire) -> Wire {
        match w {
            CoreWire::Sealed => Wire::Sealed,
            CoreWire::Plain => Wire::Plain,
        }
    }
}

#[napi(object)]
pub struct DestinationOptions {
    pub address: String,
    pub interface: Option<String>,
    pub ttl: u32,
    pub multicast_loop: bool,
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

/// A rate cap of one output: at most so many bytes and/or datagrams a second (0: that one
/// uncapped), a burst after a quiet time, and a bounded queue before dropping.
#[napi(object)]
pub struct RateCapOptions {
    pub bytes_per_second: f64,
    pub datagrams_per_second: u32,
    /// How much may go at once after a quiet time, in seconds at the cap.
    pub burst_seconds: f64,
    /// Bytes that may wait for the cap before datagrams are dropped (counted).
    pub queue_bytes: u32,
}

/// What is done to the stream on its way to one output: line stages, routing rules, a
/// rate cap (in that order).
#[napi(object)]
pub struct OutputShapingOptions {
    pub rules: Option<RuleOptions>,
    /// Remove NMEA 4.10 TAG blocks from every line.
    pub strip_tag_blocks: Option<bool>,
    /// Send each line as a datagram of its own (UDP outputs).
    pub one_line_per_datagram: Option<bool>,
    pub rate_cap: Option<RateCapOptions>,
    /// This output's own dedup, `{ window }` as the schema returns it (deserialized into
    /// the core's `DedupSpec` as it is, like the input stages).
    pub dedup: Option<serde_json::Value>,
}

/// How a balance group spreads datagrams over its members.
#[napi(string_enum = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// In turn.
    RoundRobin,
    /// By the sender's IP address.
    SourceHash,
}

/// UDP destinations with shaping: each gets what it lets through, or with `balance` each
/// datagram goes to one of them.
#[napi(object)]
pub struct UdpOutputGroupOptions {
    pub destinations: Vec<DestinationOptions>,
    pub shaping: Option<OutputShapingOptions>,
    pub balance: Option<Balance>,
    /// A keep-alive datagram for each member after it was sent nothing for a while.
    pub keep_alive: Option<KeepAliveOptions>,
}

/// A line (UTF-8; `\r\n` is added unless it ends with `\n`) sent after an output sent
/// nothing for `afterMs`.
#[napi(object)]
pub struct KeepAliveOptions {
    pub line: String,
    pub after_ms: u32,
}

#[napi(object)]
pub struct InputOptions {
    /// A path, or "-" for stdin.
    pub path: String,
    pub framing: FramingOptions,
    /// Bytes per second to pace sending to; 0: unpaced.
    pub rate: f64,
    /// Datagrams per second to pace sending to; 0: unpaced.
    pub datagram_rate: u32,
    /// Line speed of a serial device in bits per second (e.g. 38400 for AIS), set with raw
    /// mode. A speed the system does not support, stdin, or a path that is not a terminal
    /// is an error at start. Absent: the port's speed is kept.
    pub baud: Option<u32>,
    /// Follow a regular file like `tail -F`: at its end wait for more, and read it again
    /// from the start when it is replaced (renamed and created anew) or truncated. No effect
    /// on FIFOs, devices or stdin.
    pub follow: bool,
    /// Send each line at its recorded time; absent: as fast as read (and paced).
    pub replay: Option<ReplayOptions>,
}

/// Where a replayed line's time is.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayTimes {
    /// The TAG block's `c:` field.
    Tag,
    /// A leading ISO 8601 field (removed).
    Iso,
    /// A leading UNIX-seconds field (removed).
    Unix,
}

#[napi(object)]
pub struct ReplayOptions {
    pub times: ReplayTimes,
    /// 1: as recorded; 2: twice as fast.
    pub speed: f64,
}

#[napi(object)]
pub struct OutputOptions {
    /// A path, or "-" for stdout.
    pub path: String,
    pub queue_bytes: Option<u32>,
    /// Wait for the writer instead of dropping when its queue is full.
    pub wait_when_full: Option<bool>,
    /// Rotate the file. The active file stays at `path`; rotated files are named
    /// `path.2026-11-27T17` (hourly), `path.2026-11-27` (daily) or `path.2026-11-27T17-42-10`
    /// (by size), for the UTC time their data begins, with `.1`, `.2`, ... on a clash.
    /// Not for stdout.
    pub rotate: Option<Rotation>,
    /// Which rotated files to keep (needs `rotate`).
    pub keep: Option<Retention>,
    /// Stages and routing rules: the file gets only what they let through (outputs only,
    /// not tee or copy).
    pub shaping: Option<OutputShapingOptions>,
}

/// How a byte stream is cut into datagrams.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One datagram per line, as many lines per datagram as fit (the default).
    Packed,
    /// One datagram per line.
    Line,
    /// The bytes as they come, cut at the datagram size.
    Raw,
}

/// When a file output rotates (UTC).
#[napi(discriminant = "every", discriminant_case = "lowercase")]
#[derive(Debug, PartialEq)]
pub enum Rotation {
    Hourly,
    Daily,
    /// Before a chunk that would take the file past `bytes` (at least 1).
    Size {
        bytes: f64,
    },
}

/// Which rotated files a file output keeps.
#[napi(discriminant = "keep", discriminant_case = "lowercase")]
#[derive(Debug, PartialEq)]
pub enum Retention {
    /// The newest `count` (at least 1).
    Files { count: u32 },
    /// Those modified less than `seconds` ago.
    Age { seconds: f64 },
}

#[napi(object)]
pub struct FramingOptions {
    pub framing: Framing,
    pub max_datagram: u32,
    pub linger_ms: u32,
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
    /// A line written to the server at every (re)connect, before anything else.
    pub preamble: Option<String>,
    /// A line written to the server after nothing was written for a while.
    pub keep_alive: Option<KeepAliveOptions>,
}

/// A TCP/TLS output that connects out to an aggregator and stays connected.
#[napi(object)]
pub struct TcpConnectOutputOptions {
    /// Host as given, resolved again before each reconnect.
    pub host: String,
    pub port: u32,
    /// The address resolved at start.
    pub address: String,
    /// The `%scope` of an IPv6 link-local address.
    pub interface: Option<String>,
    pub tls: Option<TlsOptions>,
    /// Bytes queued while the aggregator is down or slow; beyond, new data is dropped.
    pub queue_bytes: u32,
    pub backoff_min_ms: Option<u32>,
    pub backoff_max_ms: Option<u32>,
    /// A line sent at every (re)connect, before any data.
    pub preamble: Option<String>,
    pub keep_alive: Option<KeepAliveOptions>,
    /// Routing rules, TAG block strip, rate cap: as every output's.
    pub shaping: Option<OutputShapingOptions>,
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
    pub max_clients: u32,
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
    pub max_clients: u32,
    pub client_queue_bytes: u32,
    pub tls: Option<TlsServerOptions>,
    /// Networks (CIDR) clients may connect from; absent or empty: any.
    pub allow: Option<Vec<String>>,
    pub max_clients_per_address: Option<u32>,
    pub shaping: Option<OutputShapingOptions>,
    /// A line sent to every new client before any data.
    pub preamble: Option<String>,
    /// A line sent to a client that was sent nothing for a while.
    pub keep_alive: Option<KeepAliveOptions>,
}

#[napi(object)]
pub struct RouteOptions {
    pub tcp_connects: Option<Vec<TcpConnectOptions>>,
    pub tcp_listeners: Option<Vec<TcpListenOptions>>,
    pub tcp_outputs: Option<Vec<TcpOutputOptions>>,
    pub udp_listeners: Option<Vec<ListenOptions>>,
    pub inputs: Option<Vec<InputOptions>>,
    pub udp_destinations: Option<Vec<DestinationOptions>>,
    /// UDP destinations with shaping (stages, routing rules) or balancing.
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
    /// TCP/TLS outputs that connect out (to aggregators that listen).
    pub tcp_connect_outputs: Option<Vec<TcpConnectOutputOptions>>,
    /// A keep-alive datagram for `udpDestinations` (groups have their own).
    pub udp_keep_alive: Option<KeepAliveOptions>,
    /// Checksum, tag add, dedup and throttle on every input, before the outputs.
    /// The input stages as the schema returns them: `{ checksum, tagBlock, dedup,
    /// throttle }`, deserialized into the core's `InputStagesSpec` as they are (serde), so a
    /// new setting of a stage needs no field or conversion here.
    pub input_stages: Option<serde_json::Value>,
}

#[napi(object)]
pub struct BusKeyOptions {
    /// Key file sealed with and opened with.
    pub path: String,
    /// Key file also opened with, during a rotation.
    pub next_path: Option<String>,
}

fn framing_spec(f: &FramingOptions) -> Result<FramingSpec> {
    Ok(FramingSpec {
        framing: match f.framing {
            Framing::Packed => CoreFraming::Packed,
            Framing::Line => CoreFraming::Line,
            Framing::Raw => CoreFraming::Raw,
        },
        max_datagram: f.max_datagram.max(1) as usize,
        linger: Duration::from_millis(u64::from(f.linger_ms)),
        rate: 0,
        datagram_rate: 0,
        replay: None,
    })
}

fn scoped(text: &str, interface: &Option<String>, what: &str) -> Result<SocketAddr> {
    Ok(mproxy_core::with_scope(parse_addr(text, what)?, interface)?)
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
        allow: AccessSpec::parse_allow(allow.as_deref().unwrap_or_default())?,
        max_per_address: per_address.unwrap_or(0) as usize,
    })
}

fn keep_alive(k: &Option<KeepAliveOptions>) -> Result<Option<mproxy_core::KeepAliveSpec>> {
    k.as_ref()
        .map(|k| {
            mproxy_core::KeepAliveSpec::new(&k.line, Duration::from_millis(u64::from(k.after_ms)))
                .map_err(NativeError::from)
        })
        .transpose()
}

fn preamble(p: &Option<String>) -> Result<Option<Vec<u8>>> {
    p.as_deref()
        .map(|p| mproxy_core::line_bytes(p).map_err(NativeError::from))
        .transpose()
}

fn port(p: u32) -> Result<u16> {
    u16::try_from(p).map_err(|_| NativeError::usage(format!("port {p} is out of range")))
}

fn tls_client(t: &Option<TlsOptions>) -> Option<mproxy_core::TlsSpec> {
    t.as_ref().map(|t| mproxy_core::TlsSpec {
        server_name: t.server_name.clone(),
        ca_file: t.ca_file.clone(),
        cert_file: t.cert_file.clone(),
        key_file: t.key_file.clone(),
        insecure: t.insecure.unwrap_or(false),
    })
}

fn add_tcp(spec: &mut RouteSpec, o: &RouteOptions) -> Result<()> {
    use mproxy_core::TcpConnectOutputSpec;
    use mproxy_core::TcpConnectSpec;
    use mproxy_core::TcpListenSpec;
    for c in o.tcp_connects.iter().flatten() {
        spec.tcp_connects.push(TcpConnectSpec {
            host: c.host.clone(),
            port: port(c.port)?,
            addr: scoped(&c.address, &c.interface, "TCP address")?,
            tls: tls_client(&c.tls),
            framing: framing_spec(&c.framing)?,
            backoff_min: Duration::from_millis(c.backoff_min_ms.unwrap_or(500) as u64),
            backoff_max: Duration::from_millis(c.backoff_max_ms.unwrap_or(30_000) as u64),
            preamble: preamble(&c.preamble)?,
            keep_alive: keep_alive(&c.keep_alive)?,
        });
    }
    for c in o.tcp_connect_outputs.iter().flatten() {
        let connect = TcpConnectOutputSpec {
            host: c.host.clone(),
            port: port(c.port)?,
            addr: scoped(&c.address, &c.interface, "TCP address")?,
            tls: tls_client(&c.tls),
            queue_bytes: c.queue_bytes as usize,
            backoff_min: Duration::from_millis(c.backoff_min_ms.unwrap_or(500) as u64),
            backoff_max: Duration::from_millis(c.backoff_max_ms.unwrap_or(30_000) as u64),
            preamble: preamble(&c.preamble)?,
            keep_alive: keep_alive(&c.keep_alive)?,
        };
        spec.outputs
            .push(OutputSpec::tcp_connect(connect).with_shaping(output_shaping(&c.shaping)?));
    }
    for l in o.tcp_listeners.iter().flatten() {
        spec.tcp_listeners.push(TcpListenSpec {
            addr: scoped(&l.address, &l.interface, "TCP listen address")?,
            framing: framing_spec(&l.framing)?,
            max_clients: l.max_clients as usize,
            access: access(&l.allow, l.max_clients_per_address)?,
            idle_timeout: l.idle_timeout_ms.map(|ms| Duration::from_millis(ms as u64)),
            tls: tls_server(&l.tls),
        });
    }
    Ok(())
}

fn writer_spec(o: &OutputOptions) -> Result<WriterSpec> {
    let rotate = o.rotate.as_ref().map(|r| match *r {
        Rotation::Hourly => Rotate::Hourly,
        Rotation::Daily => Rotate::Daily,
        // Whole bytes: the schema gives an integer of at least 1 (a fraction is cut off).
        Rotation::Size { bytes } => Rotate::Size((bytes as u64).max(1)),
    });
    let keep = match o.keep {
        None => None,
        Some(Retention::Files { count }) => Some(Keep::Files(count.max(1) as usize)),
        Some(Retention::Age { seconds }) => {
            // Not `from_secs_f64`, which panics on an age too long for a Duration.
            let age = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|age| !age.is_zero())
                .ok_or_else(|| {
                    NativeError::invalid(
                        "keep",
                        format!("{seconds} seconds is not an age a file can have"),
                    )
                })?;
            Some(Keep::Age(age))
        }
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
        ttl: d.ttl,
        multicast_loop: d.multicast_loop,
    })
}

/// The shaping of one output, of whatever kind: the one conversion for all of them.
fn output_shaping(o: &Option<OutputShapingOptions>) -> Result<OutputShaping> {
    let Some(o) = o else {
        return Ok(OutputShaping::default());
    };
    let rate_cap = match &o.rate_cap {
        None => None,
        Some(c) => Some(RateCap {
            bytes_per_second: c.bytes_per_second.max(0.0) as u64,
            datagrams_per_second: u64::from(c.datagrams_per_second),
            // Not `from_secs_f64`, which panics on a time too long for a Duration.
            burst: Duration::try_from_secs_f64(c.burst_seconds).map_err(|_| {
                NativeError::invalid(
                    "rateBurst",
                    format!("{} seconds is not a burst time", c.burst_seconds),
                )
            })?,
            queue_bytes: c.queue_bytes as usize,
        }),
    };
    Ok(OutputShaping {
        rules: o
            .rules
            .as_ref()
            .map(rule_spec)
            .transpose()?
            .unwrap_or_default(),
        strip_tag_blocks: o.strip_tag_blocks.unwrap_or(false),
        one_line_per_datagram: o.one_line_per_datagram.unwrap_or(false),
        rate_cap,
        // UDP outputs' own, set beside (TCP targets carry theirs in their spec).
        keep_alive: None,
        dedup: o
            .dedup
            .as_ref()
            .map(|v| {
                serde_json::from_value::<mproxy_core::DedupSpec>(v.clone())
                    .map_err(|e| NativeError::usage(format!("dedup: {e}")))
            })
            .transpose()?,
    })
}

/// Checked here too (the TypeScript schema checks first, naming the option's path).
fn rule_spec(r: &RuleOptions) -> Result<RuleSpec> {
    let from = r
        .from
        .iter()
        .flatten()
        .map(|t| Cidr::parse(t).map_err(|e| NativeError::invalid("from", e)))
        .collect::<Result<_>>()?;
    Ok(RuleSpec {
        from,
        prefix: r.prefix.as_ref().map(|p| p.as_bytes().to_vec()),
        pattern: r.r#match.clone(),
        sample: r.sample.map(u64::from),
    })
}

/// The input stages: the schema's values, deserialized as they are (see `RouteOptions`);
/// what the schema cannot have let through is one line naming the option.
fn input_stages(value: &serde_json::Value) -> Result<mproxy_core::InputStagesSpec> {
    let spec: mproxy_core::InputStagesSpec = serde_json::from_value(value.clone())
        .map_err(|e| NativeError::usage(format!("input stages: {e}")))?;
    spec.check()?;
    Ok(spec)
}

/// The core's description of the route `o` describes.
pub(crate) fn route_spec(o: &RouteOptions) -> Result<RouteSpec> {
    let mut spec = RouteSpec {
        send_buffer: o.send_buffer.map_or(DEFAULT_SOCKET_BUFFER, |b| b as usize),
        ..Default::default()
    };
    for l in o.udp_listeners.iter().flatten() {
        spec.udp_listeners.push(ListenSpec {
            addr: parse_addr(&l.address, "listen address")?,
            interface: l.interface.clone(),
            recv_buffer: l.recv_buffer as usize,
            wire: l.wire.map_or(CoreWire::Sealed, CoreWire::from),
        });
    }
    for i in o.inputs.iter().flatten() {
        let mut framing = framing_spec(&i.framing)?;
        framing.rate = i.rate.max(0.0) as u64;
        framing.datagram_rate = u64::from(i.datagram_rate);
        framing.replay = i.replay.as_ref().map(|r| ReplaySpec {
            times: match r.times {
                ReplayTimes::Tag => TimeSource::Tag,
                ReplayTimes::Iso => TimeSource::Iso,
                ReplayTimes::Unix => TimeSource::Unix,
            },
            speed: r.speed,
        });
        spec.stream_inputs.push(StreamSpec {
            path: i.path.clone(),
            framing,
            baud: i.baud,
            follow: i.follow,
        });
    }
    // In the order the outputs' endpoints have always had: plain UDP destinations, UDP
    // groups, files, TCP outputs.
    let plain: Vec<DestinationSpec> = o
        .udp_destinations
        .iter()
        .flatten()
        .map(destination_spec)
        .collect::<Result<_>>()?;
    if !plain.is_empty() {
        // The program's keep-alive makes them shaped (each its own sink); without it they
        // share the plain sink.
        let shaping = OutputShaping {
            keep_alive: keep_alive(&o.udp_keep_alive)?,
            ..Default::default()
        };
        spec.outputs
            .push(OutputSpec::udp(plain).with_shaping(shaping));
    }
    for g in o.udp_output_groups.iter().flatten() {
        let destinations = g
            .destinations
            .iter()
            .map(destination_spec)
            .collect::<Result<_>>()?;
        let output = match g.balance {
            None => OutputSpec::udp(destinations),
            Some(Balance::RoundRobin) => {
                OutputSpec::balanced(destinations, CoreBalance::RoundRobin)
            }
            Some(Balance::SourceHash) => {
                OutputSpec::balanced(destinations, CoreBalance::SourceHash)
            }
        };
        let mut shaping = output_shaping(&g.shaping)?;
        shaping.keep_alive = keep_alive(&g.keep_alive)?;
        spec.outputs.push(output.with_shaping(shaping));
    }
    for w in o.outputs.iter().flatten() {
        spec.outputs
            .push(OutputSpec::writer(writer_spec(w)?).with_shaping(output_shaping(&w.shaping)?));
    }
    for t in o.tcp_outputs.iter().flatten() {
        let tcp = mproxy_core::TcpOutputSpec {
            addr: scoped(&t.address, &t.interface, "TCP output address")?,
            max_clients: t.max_clients as usize,
            client_queue_bytes: t.client_queue_bytes as usize,
            access: access(&t.allow, t.max_clients_per_address)?,
            tls: tls_server(&t.tls),
            preamble: preamble(&t.preamble)?,
            keep_alive: keep_alive(&t.keep_alive)?,
        };
        spec.outputs
            .push(OutputSpec::tcp_listen(tcp).with_shaping(output_shaping(&t.shaping)?));
    }
    add_tcp(&mut spec, o)?;
    spec.tee = o.tee.as_ref().map(writer_spec).transpose()?;
    spec.copy = o.copy.as_ref().map(writer_spec).transpose()?;
    if let Some(stages) = &o.input_stages {
        spec.input_stages = input_stages(stages)?;
    }
    if let Some(k) = &o.bus_key {
        spec.bus_key = Some(Arc::new(Keyring::load(&k.path, k.next_path.as_deref())?));
    }
    Ok(spec)
}
