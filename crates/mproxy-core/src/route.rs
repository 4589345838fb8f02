//! A route: sources feeding a fan-out of sinks, started from a description, stopped on
//! request. Every program is one route (the reverse proxy is two: inputs to the group,
//! group to outputs), so there is one engine, not one loop per program.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::bus_key::Keyring;
use crate::error::Result;
use crate::event::Reporter;
use crate::feed::{FeedSink, InputStagesSpec};
use crate::output::{self, OutputContext, OutputSpec};
use crate::sink::tap::Taps;
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

#[derive(Debug, Clone, Default)]
pub struct RouteSpec {
    pub udp_listeners: Vec<ListenSpec>,
    pub stream_inputs: Vec<StreamSpec>,
    /// Every output (UDP destinations, balance groups, files, TCP outputs), each with what
    /// is done to its stream on the way (see [`crate::output`]). Plain UDP destinations
    /// share one sink, made where the first of them is listed.
    pub outputs: Vec<OutputSpec>,
    /// Copies of what the sources produce, written to stdout. Not an output: a side copy
    /// of what came in (endpoint kind "tee", not in the totals of what left), never shaped.
    pub tee: Option<WriterSpec>,
    /// A local copy of what the sources produce, written to a file (usually rotated and
    /// pruned: the client's dated copy of everything it sent). Its endpoint kind is "copy";
    /// a side copy like `tee`.
    pub copy: Option<WriterSpec>,
    /// Send buffer to ask for on outgoing sockets.
    pub send_buffer: usize,
    /// TCP or TLS connections to open and keep (forward proxy).
    pub tcp_connects: Vec<TcpConnectSpec>,
    /// TCP listeners whose clients' streams are sources (reverse proxy inputs).
    pub tcp_listeners: Vec<TcpListenSpec>,
    /// With a bus key, every datagram sent to a UDP output is sealed and every one
    /// received on `udp_listeners` must open (see [`Keyring`]).
    pub bus_key: Option<Arc<Keyring>>,
    /// Checksum, tag add, dedup, throttle: run on every input's batches before the fan-out
    /// (none given: the fan-out is as without them).
    pub input_stages: InputStagesSpec,
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
            let cx = OutputContext {
                send_buffer: spec.send_buffer,
                bus_key: spec.bus_key.as_ref(),
                registry: &registry,
                reporter: &reporter,
                stop: &stop,
            };
            // Every plain UDP destination, in order: one shared sink (the fast path).
            let plain: Vec<DestinationSpec> = spec
                .outputs
                .iter()
                .filter_map(OutputSpec::plain_destinations)
                .flatten()
                .cloned()
                .collect();
            let mut plain_made = false;
            for o in &spec.outputs {
                if o.plain_destinations().is_some() {
                    if !plain_made && !plain.is_empty() {
                        sinks.push(output::udp_sink(&plain, &cx)?);
                    }
                    plain_made = true;
                    continue;
                }
                let opened = output::open(o, &cx)?;
                route.tcp_output_addrs.extend(opened.listening);
                sinks.push(opened.sink);
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
