//! A route: sources feeding a fan-out of sinks, started from a description, stopped on
//! request. Every program is one route (the reverse proxy is two: inputs to the group,
//! group to outputs), so there is one engine, not one loop per program.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::bus_key::Keyring;
use crate::error::Result;
use crate::event::Reporter;
use crate::sink::connect_out::{TcpConnectOutputSink, TcpConnectOutputSpec};
use crate::sink::keep_alive::{KeepAliveSink, KeepAliveSpec};
use crate::feed::{FeedSink, InputStagesSpec};
use crate::sink::rules::{Balance, RuleSpec, RuledSink};
use crate::sink::seal::SealingSink;
use crate::sink::tap::Taps;
use crate::sink::tcp_output::{TcpOutputSink, TcpOutputSpec};
use crate::sink::udp::UdpSink;
use crate::sink::writer::{WriterSink, WriterSpec};
use crate::sink::{Fanout, Sink};
use crate::source::inject::{Injector, RoomFn};
use crate::source::stream::{self, StreamSpec};
use crate::source::tcp_connect::{self, TcpConnectSpec};
use crate::source::tcp_listen::{self, TcpListenSpec};
use crate::source::{udp, FiniteSources};
use crate::stats::{EndpointSnapshot, Registry};
use crate::stop::StopToken;
use crate::udp_socket::{DestinationSpec, ListenSpec};
use crate::wire::Wire;

#[derive(Debug, Clone, Default)]
pub struct RouteSpec {
    pub udp_listeners: Vec<ListenSpec>,
    pub stream_inputs: Vec<StreamSpec>,
    pub udp_destinations: Vec<DestinationSpec>,
    pub writers: Vec<WriterSpec>,
    /// Copies of what the sources produce, written to stdout.
    pub tee: Option<WriterSpec>,
    /// A local copy of what the sources produce, written to a file (usually rotated and
    /// pruned: the client's dated copy of everything it sent). Its endpoint kind is "copy".
    pub copy: Option<WriterSpec>,
    /// Send buffer to ask for on outgoing sockets.
    pub send_buffer: usize,
    /// TCP or TLS connections to open and keep (forward proxy).
    pub tcp_connects: Vec<TcpConnectSpec>,
    /// TCP listeners whose clients' streams are sources (reverse proxy inputs).
    pub tcp_listeners: Vec<TcpListenSpec>,
    /// TCP listeners whose clients receive the stream (reverse proxy outputs).
    pub tcp_outputs: Vec<TcpOutputSpec>,
    /// With a bus key, every datagram sent to `udp_destinations` is sealed and every one
    /// received on `udp_listeners` must open (see [`Keyring`]).
    pub bus_key: Option<Arc<Keyring>>,
    /// UDP destinations behind routing rules, each group a sink of its own so that
    /// `udp_destinations` (no rules) keep sharing one plain sink.
    pub ruled_udp_outputs: Vec<RuledUdpOutput>,
    /// Routing rules of `writers`, by index (missing or `None`: the writer gets everything).
    /// Kept beside them so that `WriterSpec`, built in many places, stays as it is.
    pub writer_rules: Vec<Option<RuleSpec>>,
    /// The wire form of `udp_listeners`, by index (missing: [`Wire::Sealed`], which without a
    /// bus key is plain). Kept beside them, as `writer_rules` are, so that `ListenSpec` stays.
    pub udp_listener_wires: Vec<Wire>,
    /// TCP or TLS outputs that connect out to an aggregator and stay connected.
    pub tcp_connect_outputs: Vec<TcpConnectOutputSpec>,
    /// A keep-alive datagram for `udp_destinations` (ruled outputs have their own).
    pub udp_keep_alive: Option<KeepAliveSpec>,
    /// Checksum, tag add, dedup, throttle: run on every input's batches before the fan-out
    /// (none given: the fan-out is as without them).
    pub input_stages: InputStagesSpec,
}

/// Destinations that get only what `rules` keep: each all of it, or with `balance` each
/// datagram to one of them.
#[derive(Debug, Clone, Default)]
pub struct RuledUdpOutput {
    pub destinations: Vec<DestinationSpec>,
    pub rules: RuleSpec,
    pub balance: Option<Balance>,
    /// A keep-alive datagram for each member (after the rules: a quiet output is one the
    /// rules gave nothing).
    pub keep_alive: Option<KeepAliveSpec>,
}

/// A UDP sink for `dests`, sealing what it sends when there is a bus key, and sending a
/// keep-alive datagram (sealed too) when it was quiet for the keep-alive's time.
fn udp_sink(
    dests: &[DestinationSpec],
    send_buffer: usize,
    bus_key: Option<&Arc<Keyring>>,
    keep_alive: Option<(&KeepAliveSpec, &StopToken)>,
    registry: &Registry,
    reporter: &Reporter,
) -> Result<Arc<dyn Sink>> {
    let first = registry.len();
    let udp = UdpSink::new(dests, send_buffer, registry, reporter.clone())?;
    let sink: Arc<dyn Sink> = match bus_key {
        Some(keys) => Arc::new(SealingSink::new(udp, keys.clone(), reporter.clone())?),
        None => Arc::new(udp),
    };
    Ok(match keep_alive {
        Some((spec, stop)) => Arc::new(KeepAliveSink::new(
            sink,
            spec,
            registry.since(first),
            stop.clone(),
        )?),
        None => sink,
    })
}

/// Adds `sink` to `sinks`, behind `rules` when there are any. `first`: where the sink's
/// endpoints begin in the registry. The sink is added before its rules are built, so that a
/// bad rule still finishes the output it made.
fn push_ruled(
    sinks: &mut Vec<Arc<dyn Sink>>,
    sink: Arc<dyn Sink>,
    rules: Option<&RuleSpec>,
    name: &str,
    first: usize,
    registry: &Registry,
    reporter: &Reporter,
) -> Result<()> {
    sinks.push(sink.clone());
    if let Some(rules) = rules.filter(|r| !r.is_empty()) {
        let ruled = RuledSink::new(
            rules,
            None,
            name,
            vec![sink],
            registry.since(first),
            registry,
            reporter.clone(),
        )?;
        sinks.pop();
        sinks.push(Arc::new(ruled));
    }
    Ok(())
}

/// One UDP sink for the group (one per member when balanced), behind its rules; with a bus
/// key each is sealed like the route's other UDP destinations (rules see the plain datagrams).
fn ruled_udp_sink(
    group: &RuledUdpOutput,
    send_buffer: usize,
    bus_key: Option<&Arc<Keyring>>,
    stop: &StopToken,
    registry: &Registry,
    reporter: &Reporter,
) -> Result<Arc<dyn Sink>> {
    let first = registry.len();
    let keep_alive = group.keep_alive.as_ref().map(|k| (k, stop));
    let sink = |dests: &[DestinationSpec]| {
        udp_sink(dests, send_buffer, bus_key, keep_alive, registry, reporter)
    };
    let targets: Vec<Arc<dyn Sink>> = if group.balance.is_some() {
        group
            .destinations
            .iter()
            .map(|d| sink(std::slice::from_ref(d)))
            .collect::<Result<_>>()?
    } else {
        vec![sink(&group.destinations)?]
    };
    let names: Vec<String> = group
        .destinations
        .iter()
        .map(|d| d.addr.to_string())
        .collect();
    Ok(Arc::new(RuledSink::new(
        &group.rules,
        group.balance,
        &names.join(","),
        targets,
        registry.since(first),
        registry,
        reporter.clone(),
    )?))
}

pub struct Route {
    stop: StopToken,
    threads: Vec<JoinHandle<()>>,
    fanout: Fanout,
    registry: Registry,
    listen_addrs: Vec<SocketAddr>,
    tcp_listen_addrs: Vec<SocketAddr>,
    tcp_output_addrs: Vec<SocketAddr>,
    stopped: bool,
    /// Copies for the owner (`messages()`): always in the fan-out, empty until tapped.
    taps: Arc<Taps>,
    /// Datagrams from the owner (`send()`): started on first use.
    injector: Option<Injector>,
}

impl Route {
    /// Opens every sink and source first, so any bad address, interface or file fails here
    /// with nothing left running; then starts the threads.
    pub fn start(spec: &RouteSpec, reporter: Reporter) -> Result<Route> {
        let stop = StopToken::new();
        let registry = Registry::default();
        let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
        let mut route = Route {
            stop: stop.clone(),
            threads: Vec::new(),
            fanout: Fanout::default(),
            registry: registry.clone(),
            listen_addrs: Vec::new(),
            tcp_listen_addrs: Vec::new(),
            tcp_output_addrs: Vec::new(),
            stopped: false,
            taps: Arc::new(Taps::new(&registry, reporter.clone())),
            injector: None,
        };
        let result = (|| -> Result<()> {
            if !spec.udp_destinations.is_empty() {
                sinks.push(udp_sink(
                    &spec.udp_destinations,
                    spec.send_buffer,
                    spec.bus_key.as_ref(),
                    spec.udp_keep_alive.as_ref().map(|k| (k, &stop)),
                    &registry,
                    &reporter,
                )?);
            }
            for group in &spec.ruled_udp_outputs {
                sinks.push(ruled_udp_sink(
                    group,
                    spec.send_buffer,
                    spec.bus_key.as_ref(),
                    &stop,
                    &registry,
                    &reporter,
                )?);
            }
            for (i, w) in spec.writers.iter().enumerate() {
                let first = registry.len();
                let sink = Arc::new(WriterSink::new(
                    w,
                    "file",
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?);
                let rules = spec.writer_rules.get(i).and_then(Option::as_ref);
                push_ruled(
                    &mut sinks, sink, rules, &w.path, first, &registry, &reporter,
                )?;
            }
            for o in &spec.tcp_outputs {
                let first = registry.len();
                let sink = TcpOutputSink::new(o, &registry, reporter.clone())?;
                let name = sink.local_addr.to_string();
                route.tcp_output_addrs.push(sink.local_addr);
                let rules = o.rules.as_ref();
                push_ruled(
                    &mut sinks,
                    Arc::new(sink),
                    rules,
                    &name,
                    first,
                    &registry,
                    &reporter,
                )?;
            }
            for o in &spec.tcp_connect_outputs {
                let first = registry.len();
                let sink = TcpConnectOutputSink::new(o, &registry, reporter.clone())?;
                let name = sink.name.clone();
                push_ruled(
                    &mut sinks,
                    Arc::new(sink),
                    o.rules.as_ref(),
                    &name,
                    first,
                    &registry,
                    &reporter,
                )?;
            }
            if let Some(tee) = &spec.tee {
                sinks.push(Arc::new(WriterSink::new(
                    tee,
                    "tee",
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?));
            }
            if let Some(copy) = &spec.copy {
                sinks.push(Arc::new(WriterSink::new(
                    copy,
                    "copy",
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?));
            }
            sinks.push(route.taps.clone());
            route.fanout = Fanout::new(std::mem::take(&mut sinks));
            if !spec.input_stages.is_empty() {
                let (feed, timer) = FeedSink::start(
                    &spec.input_stages,
                    route.fanout.clone(),
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?;
                route.threads.extend(timer);
                route.fanout = Fanout::new(vec![Arc::new(feed)]);
            }
            if !spec.udp_listeners.is_empty() {
                let listeners = udp::start(
                    &spec.udp_listeners,
                    &spec.udp_listener_wires,
                    spec.bus_key.clone(),
                    route.fanout.clone(),
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?;
                route.listen_addrs = listeners.local_addrs;
                route.threads.extend(listeners.threads);
            }
            for l in &spec.tcp_listeners {
                let source = tcp_listen::start(
                    l,
                    route.fanout.clone(),
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?;
                route.tcp_listen_addrs.push(source.local_addr);
                route.threads.push(source.thread);
            }
            for c in &spec.tcp_connects {
                route.threads.push(tcp_connect::start(
                    c,
                    route.fanout.clone(),
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                )?);
            }
            let finite = FiniteSources::new(spec.stream_inputs.len(), reporter.clone());
            for s in &spec.stream_inputs {
                let source = stream::start(
                    s,
                    route.fanout.clone(),
                    &registry,
                    reporter.clone(),
                    stop.clone(),
                    finite.clone(),
                )?;
                route.threads.push(source.thread);
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(route),
            Err(e) => {
                // Sinks made before a later one failed are not in the fan-out yet: they are
                // finished too, so their threads end and their ports are released.
                for sink in &sinks {
                    sink.finish();
                }
                route.stop();
                Err(e)
            }
        }
    }

    /// The addresses listeners are bound to, in the order given (port 0 resolved).
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.listen_addrs
    }

    pub fn tcp_listen_addrs(&self) -> &[SocketAddr] {
        &self.tcp_listen_addrs
    }

    pub fn tcp_output_addrs(&self) -> &[SocketAddr] {
        &self.tcp_output_addrs
    }

    pub fn stats(&self) -> Vec<EndpointSnapshot> {
        self.registry.snapshot()
    }

    /// The route's counters, readable while it stops and after (a cheap shared handle).
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// The route's taps: attach one to get a copy of every datagram its sinks get.
    pub fn taps(&self) -> Arc<Taps> {
        self.taps.clone()
    }

    /// The queue through which the owner hands datagrams to the sinks, as if received;
    /// its thread starts on the first call. `room` is called when a full queue has room
    /// again (the first call's is kept).
    pub fn injector(&mut self, room: RoomFn) -> Result<Injector> {
        if let Some(injector) = &self.injector {
            return Ok(injector.clone());
        }
        let (injector, thread) = Injector::start(self.fanout.clone(), &self.registry, room)?;
        if self.stopped {
            injector.close();
            let _ = thread.join();
            return Ok(injector);
        }
        self.threads.push(thread);
        self.injector = Some(injector.clone());
        Ok(injector)
    }

    /// Every file output (writers, tee, copy) closes and reopens its path before its next
    /// write, as logrotate's `postrotate` asks: what was written before is in the file
    /// that was moved away, what is delivered after this call is in the file now at the
    /// path. Returns at once; the writer threads do it.
    pub fn reopen_outputs(&self) {
        self.fanout.reopen();
    }

    /// Stops the sources (each drains what it already has), then lets the sinks deliver
    /// everything queued, and joins every thread. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.stop.stop();
        if let Some(injector) = &self.injector {
            injector.close();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.fanout.finish();
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.stop();
    }
}
