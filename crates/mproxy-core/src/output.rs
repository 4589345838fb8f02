//! One description for every kind of output a route has, and the one way it is built.
//!
//! An output is where it goes ([`OutputTarget`]: UDP destinations or a balance group of
//! them, a file, a TCP output listener, a TCP connection out to an aggregator) and what is done to the stream on its way there
//! ([`OutputShaping`]: per-output stages, then routing rules, then a rate cap). Every kind
//! gets its shaping the same way, so a new kind of output is one variant of
//! [`OutputTarget`] and one arm in [`open_target`].
//!
//! The order of the stages, each on what the one before passed:
//! 1. line stages ([`crate::sink::line_stages`]): TAG blocks stripped, one line per
//!    datagram. First, so the rules judge the lines the consumer will see.
//! 2. routing rules and balance ([`crate::sink::rules`]).
//! 3. the rate cap ([`crate::sink::rate_cap`]), in front of each sink the rules deliver to
//!    (a balance group: each member; so each consumer gets at most its cap). After the rules
//!    rather than before: what the rules drop is then never queued, and the cap measures
//!    exactly what the consumer receives.
//! 0. dedup (`dedup`: [`crate::feed`]'s stage, this output's own table), before all the
//!    others: a message this output got within the window is not sent to it again.
//! 4. a UDP target's keep-alive ([`crate::sink::keep_alive`]), right at each sink: "quiet"
//!    is what the consumer got nothing of. TCP targets keep their own (per client, per
//!    connection: they know when a connection is new).
//!
//! Plain UDP destinations (no shaping, no balance) are not built here one by one: the route
//! gathers them all into one shared sink (one socket per family and interface, one
//! `sendmmsg` per batch), the relay's fast path.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::bus_key::Keyring;
use crate::error::{Error, Result};
use crate::event::Reporter;
use crate::feed::{DedupSpec, FeedSink};
use crate::sink::connect_out::{TcpConnectOutputSink, TcpConnectOutputSpec};
use crate::sink::keep_alive::{KeepAliveSink, KeepAliveSpec};
use crate::sink::line_stages::LineStages;
use crate::sink::rate_cap::{RateCap, RateCapSink};
use crate::sink::rules::{Balance, RuleSpec, RuledSink};
use crate::sink::seal::SealingSink;
use crate::sink::tcp_output::{TcpOutputSink, TcpOutputSpec};
use crate::sink::udp::UdpSink;
use crate::sink::writer::{WriterSink, WriterSpec};
use crate::sink::Sink;
use crate::stats::Registry;
use crate::stop::StopToken;
use crate::udp_socket::DestinationSpec;

/// One output of a route: where the datagrams go, and what is done to them on the way.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub to: OutputTarget,
    pub shaping: OutputShaping,
}

/// Where an output's datagrams go.
#[derive(Debug, Clone)]
pub enum OutputTarget {
    /// UDP destinations: each gets every datagram, or with `balance` each datagram goes to
    /// one of them. With the route's bus key, each datagram is sealed.
    Udp {
        destinations: Vec<DestinationSpec>,
        balance: Option<Balance>,
    },
    /// A file (or stdout), its endpoint of kind "file".
    Writer(WriterSpec),
    /// A TCP (or TLS) listener whose clients receive the stream.
    TcpListen(TcpOutputSpec),
    /// A TCP (or TLS) connection out to an aggregator that listens, kept connected.
    TcpConnect(TcpConnectOutputSpec),
}

/// What is done to the stream on its way to one output (see the module doc for the order).
/// The default does nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputShaping {
    pub rules: RuleSpec,
    /// Remove NMEA 4.10 TAG blocks from every line.
    pub strip_tag_blocks: bool,
    /// Send each line as a datagram of its own (UDP outputs; files and TCP streams are the
    /// same bytes either way).
    pub one_line_per_datagram: bool,
    pub rate_cap: Option<RateCap>,
    /// A line sent on a UDP target that sent nothing for its time (TCP targets have theirs
    /// in their own spec).
    pub keep_alive: Option<KeepAliveSpec>,
    /// Messages this output got within the window are dropped (as the input stage does for
    /// the whole route; here with a table of the output's own).
    pub dedup: Option<DedupSpec>,
}

impl OutputShaping {
    pub fn is_empty(&self) -> bool {
        self == &OutputShaping::default()
    }
}

impl OutputSpec {
    /// UDP destinations that each get every datagram.
    pub fn udp(destinations: Vec<DestinationSpec>) -> Self {
        OutputSpec {
            to: OutputTarget::Udp {
                destinations,
                balance: None,
            },
            shaping: OutputShaping::default(),
        }
    }

    /// UDP destinations that share the datagrams: each to exactly one of them.
    pub fn balanced(destinations: Vec<DestinationSpec>, balance: Balance) -> Self {
        OutputSpec {
            to: OutputTarget::Udp {
                destinations,
                balance: Some(balance),
            },
            shaping: OutputShaping::default(),
        }
    }

    pub fn writer(spec: WriterSpec) -> Self {
        OutputSpec {
            to: OutputTarget::Writer(spec),
            shaping: OutputShaping::default(),
        }
    }

    pub fn tcp_listen(spec: TcpOutputSpec) -> Self {
        OutputSpec {
            to: OutputTarget::TcpListen(spec),
            shaping: OutputShaping::default(),
        }
    }

    pub fn tcp_connect(spec: TcpConnectOutputSpec) -> Self {
        OutputSpec {
            to: OutputTarget::TcpConnect(spec),
            shaping: OutputShaping::default(),
        }
    }

    pub fn with_shaping(mut self, shaping: OutputShaping) -> Self {
        self.shaping = shaping;
        self
    }

    pub fn with_rules(mut self, rules: RuleSpec) -> Self {
        self.shaping.rules = rules;
        self
    }

    /// UDP destinations with nothing in between: they join the route's shared sink.
    pub(crate) fn plain_destinations(&self) -> Option<&[DestinationSpec]> {
        match &self.to {
            OutputTarget::Udp {
                destinations,
                balance: None,
            } if self.shaping.is_empty() => Some(destinations),
            _ => None,
        }
    }
}

/// What building an output needs of its route.
pub(crate) struct OutputContext<'a> {
    pub(crate) send_buffer: usize,
    pub(crate) bus_key: Option<&'a Arc<Keyring>>,
    pub(crate) registry: &'a Registry,
    pub(crate) reporter: &'a Reporter,
    pub(crate) stop: &'a StopToken,
}

/// An output as built: the sink the fan-out delivers to, and the address it listens on
/// (TCP outputs).
pub(crate) struct OpenedOutput {
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) listening: Option<SocketAddr>,
}

/// A UDP sink for `dests`, sealing what it sends when there is a bus key.
pub(crate) fn udp_sink(dests: &[DestinationSpec], cx: &OutputContext) -> Result<Arc<dyn Sink>> {
    let udp = UdpSink::new(dests, cx.send_buffer, cx.registry, cx.reporter.clone())?;
    Ok(match cx.bus_key {
        Some(keys) => Arc::new(SealingSink::new(udp, keys.clone(), cx.reporter.clone())?),
        None => Arc::new(udp),
    })
}

/// The sinks an output's datagrams end in (one, or one per balance member), its name in
/// the stage and rule endpoints, and the address it listens on.
struct Target {
    sinks: Vec<Arc<dyn Sink>>,
    name: String,
    listening: Option<SocketAddr>,
}

/// A UDP sink for `dests` with the output's keep-alive, if it has one.
fn udp_target(
    dests: &[DestinationSpec],
    keep_alive: Option<&KeepAliveSpec>,
    cx: &OutputContext,
) -> Result<Arc<dyn Sink>> {
    let first = cx.registry.len();
    let sink = udp_sink(dests, cx)?;
    Ok(match keep_alive {
        Some(spec) => Arc::new(KeepAliveSink::new(
            sink,
            spec,
            cx.registry.since(first),
            cx.stop.clone(),
        )?),
        None => sink,
    })
}

/// Opens the target of an output: the one place that knows each kind.
fn open_target(to: &OutputTarget, shaping: &OutputShaping, cx: &OutputContext) -> Result<Target> {
    let keep_alive = shaping.keep_alive.as_ref();
    Ok(match to {
        OutputTarget::Udp {
            destinations,
            balance,
        } => {
            if destinations.is_empty() {
                return Err(Error::invalid(
                    "a UDP output needs at least one destination",
                ));
            }
            let sinks = if balance.is_some() {
                destinations
                    .iter()
                    .map(|d| udp_target(std::slice::from_ref(d), keep_alive, cx))
                    .collect::<Result<_>>()?
            } else {
                vec![udp_target(destinations, keep_alive, cx)?]
            };
            let names: Vec<String> = destinations.iter().map(|d| d.addr.to_string()).collect();
            Target {
                sinks,
                name: names.join(","),
                listening: None,
            }
        }
        OutputTarget::Writer(w) => Target {
            sinks: vec![Arc::new(WriterSink::new(
                w,
                "file",
                cx.registry,
                cx.reporter.clone(),
                cx.stop.clone(),
            )?)],
            name: w.path.clone(),
            listening: None,
        },
        OutputTarget::TcpListen(t) => {
            let sink = TcpOutputSink::new(t, cx.registry, cx.reporter.clone())?;
            let addr = sink.local_addr;
            Target {
                sinks: vec![Arc::new(sink)],
                name: addr.to_string(),
                listening: Some(addr),
            }
        }
        OutputTarget::TcpConnect(t) => {
            let sink = TcpConnectOutputSink::new(t, cx.registry, cx.reporter.clone())?;
            let name = sink.name.clone();
            Target {
                sinks: vec![Arc::new(sink)],
                name,
                listening: None,
            }
        }
    })
}

/// Builds one output: its target, then its rate cap, rules and line stages around it. On
/// a failure (a bad rule, a cap's thread that cannot start) what was made is finished (its
/// threads end, its ports are released).
pub(crate) fn open(spec: &OutputSpec, cx: &OutputContext) -> Result<OpenedOutput> {
    let first = cx.registry.len();
    let target = open_target(&spec.to, &spec.shaping, cx)?;
    let listening = target.listening;
    let mut made: Vec<Arc<dyn Sink>> = target.sinks.clone();
    match wrap(spec, cx, target, first, &mut made) {
        Ok(sink) => Ok(OpenedOutput { sink, listening }),
        Err(e) => {
            for sink in &made {
                sink.finish();
            }
            Err(e)
        }
    }
}

/// The shaping around an opened target; `made` holds the outermost sinks made so far.
fn wrap(
    spec: &OutputSpec,
    cx: &OutputContext,
    target: Target,
    first: usize,
    made: &mut [Arc<dyn Sink>],
) -> Result<Arc<dyn Sink>> {
    // The target's own endpoints, charged with what the rules keep from it.
    let outputs = cx.registry.since(first);
    let balance = match &spec.to {
        OutputTarget::Udp { balance, .. } => *balance,
        _ => None,
    };
    let mut inner = target.sinks;
    if let Some(cap) = &spec.shaping.rate_cap {
        let members = inner.len();
        let mut capped: Vec<Arc<dyn Sink>> = Vec::with_capacity(members);
        for (i, sink) in inner.into_iter().enumerate() {
            let name = match &spec.to {
                OutputTarget::Udp { destinations, .. } if members > 1 => {
                    destinations[i].addr.to_string()
                }
                _ => target.name.clone(),
            };
            let cap = Arc::new(RateCapSink::new(
                cap,
                &name,
                sink,
                cx.registry,
                cx.reporter.clone(),
            )?);
            // The cap finishes its target: it takes the target's place in `made`.
            made[i] = cap.clone();
            capped.push(cap);
        }
        inner = capped;
    }
    let mut sink: Arc<dyn Sink> = match inner.as_slice() {
        [one] if spec.shaping.rules.is_empty() && balance.is_none() => one.clone(),
        _ => Arc::new(RuledSink::new(
            &spec.shaping.rules,
            balance,
            &target.name,
            inner,
            outputs,
            cx.registry,
            cx.reporter.clone(),
        )?),
    };
    if let Some(stages) = LineStages::new(
        spec.shaping.strip_tag_blocks,
        spec.shaping.one_line_per_datagram,
        &target.name,
        sink.clone(),
        cx.registry,
    ) {
        sink = Arc::new(stages);
    }
    if let Some(dedup) = spec.shaping.dedup {
        let feed = FeedSink::for_output(
            dedup,
            &target.name,
            sink.clone(),
            cx.registry,
            cx.reporter.clone(),
        )?;
        sink = Arc::new(feed);
    }
    Ok(sink)
}

/// What the per-output stages cost per datagram, apart from the sockets: `cargo test --release
/// -p mproxy-core stage_cost -- --ignored --nocapture`. Prints; asserts nothing about time.
#[cfg(test)]
mod cost {
    use super::*;
    use crate::batch::Batch;
    use std::time::{Duration, Instant};

    use crate::sink::test_sinks::Discard;

    fn batch(datagram: &[u8]) -> Batch {
        let mut b = Batch::default();
        for _ in 0..64 {
            b.push(datagram);
        }
        b
    }

    fn time(what: &str, sink: &dyn Sink, batch: &Batch) {
        let rounds = 100_000;
        let started = Instant::now();
        for _ in 0..rounds {
            sink.deliver(batch);
        }
        let ns = started.elapsed().as_nanos() as f64 / (rounds as f64 * batch.entries.len() as f64);
        println!("{what}: {ns:.1} ns per datagram");
    }

    #[test]
    #[ignore]
    fn stage_cost() {
        let line = b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n";
        let tagged = [&b"\\s:rcv1,c:1700000000*5A\\"[..], line].concat();
        let packed = [&tagged[..], &tagged, &tagged, &tagged].concat();
        let registry = Registry::default();
        let stages = |strip, split| {
            LineStages::new(strip, split, "x", Arc::new(Discard), &registry)
                .unwrap_or_else(|| unreachable!("a stage was asked for"))
        };
        time(
            "strip-tag-blocks, tagged lines",
            &stages(true, false),
            &batch(&tagged),
        );
        time(
            "strip-tag-blocks, clean lines (passed as they are)",
            &stages(true, false),
            &batch(line),
        );
        time(
            "one-line-per-datagram, 4 lines per datagram in",
            &stages(false, true),
            &batch(&packed),
        );
        time(
            "both, 4 tagged lines per datagram",
            &stages(true, true),
            &batch(&packed),
        );
        let cap = RateCap {
            bytes_per_second: 0,
            datagrams_per_second: 1_000_000_000,
            burst: Duration::from_secs(1),
            queue_bytes: 64 << 20,
        };
        let Ok(capped) =
            RateCapSink::new(&cap, "x", Arc::new(Discard), &registry, Reporter::silent())
        else {
            return;
        };
        time(
            "rate cap, under the cap (queued, handed on by its thread)",
            &capped,
            &batch(line),
        );
        capped.finish();
    }
}
