//! UDP listeners, served by a few receive threads. Each thread waits on many sockets at once
//! through its poller and receives a whole batch per syscall from whichever is ready, into
//! one set of receive slots of its own: a listener costs a socket and a registration, not a
//! thread and a 4 MiB buffer, so a server can listen on a thousand addresses.
//!
//! On stop every socket is read for what the kernel already holds before the thread exits,
//! so nothing received is lost.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use crate::batch::Batch;
use crate::bus_key::{Keyring, Opener};
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::poller::{Poller, Wait};
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::sys::{self, Receiver, RecvOutcome, RECV_BATCH};
use crate::udp_socket::{self, ListenSpec};
use crate::wire::Wire;

/// At most this many receive threads per route, however many listeners: enough to use the
/// cores of an ordinary host, few enough that listeners stay cheap.
const MAX_RECEIVE_THREADS: usize = 4;
/// How long a stopping thread keeps reading what its sockets hold, so a sender that never
/// pauses cannot hold the stop forever.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// How often an idle thread reads the kernel's drop totals of the sockets it received on:
/// drops at the end of a burst reach no later datagram, so nothing else would count them.
const DROP_REFRESH: Duration = Duration::from_secs(1);

pub(crate) struct UdpListeners {
    /// Bound addresses, in the order given (port 0 replaced by the real port).
    pub local_addrs: Vec<SocketAddr>,
    pub threads: Vec<JoinHandle<()>>,
}

struct Listener {
    socket: mio::net::UdpSocket,
    endpoint: Arc<Endpoint>,
    /// In the ready queue: readiness was reported and the socket not yet read empty.
    queued: bool,
    /// Received since the kernel's drop totals were last read.
    received: bool,
    warned_drops: bool,
    /// Opened with the bus key before delivery: a sealed listener of a keyed route.
    sealed: bool,
}

/// Binds every listener (any failure fails the start, with nothing left running), then
/// spreads them over the receive threads.
pub(crate) fn start(
    specs: &[ListenSpec],
    bus_key: Option<Arc<Keyring>>,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
) -> Result<UdpListeners> {
    let mut bound = Vec::with_capacity(specs.len());
    for spec in specs {
        let listener = udp_socket::bind_listener(spec)?;
        let endpoint = registry.register("udp-listener", listener.local_addr.to_string());
        endpoint.set_buffer_bytes(listener.recv_buffer as u64);
        let wire = spec.wire.effective(bus_key.is_some());
        let _ = endpoint.wire.set(wire);
        if bus_key.is_some() && wire == Wire::Plain {
            reporter.info(format!(
                "{}: takes plain UDP (wire plain): anyone who can reach it can send into this route; what it sends on stays sealed",
                listener.local_addr
            ));
        }
        if listener.recv_buffer < spec.recv_buffer {
            reporter.info(format!(
                "{}: receive buffer {} bytes (asked for {})",
                listener.local_addr, listener.recv_buffer, spec.recv_buffer
            ));
        }
        let std_socket: std::net::UdpSocket = listener.socket.into();
        bound.push((
            listener.local_addr,
            std_socket,
            endpoint,
            wire == Wire::Sealed,
        ));
    }
    let local_addrs = bound.iter().map(|(addr, _, _, _)| *addr).collect();
    let thread_count = bound.len().min(MAX_RECEIVE_THREADS);
    let mut shares: Vec<Vec<Listener>> = (0..thread_count).map(|_| Vec::new()).collect();
    for (i, (_, socket, endpoint, sealed)) in bound.into_iter().enumerate() {
        shares[i % thread_count].push(Listener {
            socket: mio::net::UdpSocket::from_std(socket),
            endpoint,
            queued: false,
            received: false,
            warned_drops: false,
            sealed,
        });
    }
    let mut threads = Vec::with_capacity(thread_count);
    for (n, mut listeners) in shares.into_iter().enumerate() {
        let poller = Poller::new(&stop)?;
        for (i, l) in listeners.iter_mut().enumerate() {
            poller
                .registry()
                .register(&mut l.socket, Token(i), Interest::READABLE)
                .map_err(|e| Error::os(format!("cannot wait on {}", l.endpoint.name), &e))?;
        }
        let (fanout, reporter) = (fanout.clone(), reporter.clone());
        let opener = bus_key.clone().map(|k| Opener::new(k, listeners.len()));
        let thread = std::thread::Builder::new()
            .name(format!("mproxy-udp-rx{n}"))
            .spawn(move || {
                ReceiveThread {
                    // Every socket is read once at the start: mio reports edges, and a
                    // datagram may have arrived between bind and register.
                    ready: (0..listeners.len()).collect(),
                    listeners,
                    poller,
                    receiver: Receiver::new(),
                    batch: Batch::default(),
                    opener,
                    drops_read: Instant::now(),
                    fanout,
                    reporter,
                }
                .run()
            })
            .map_err(|e| Error::os("cannot start a receive thread", &e))?;
        threads.push(thread);
    }
    Ok(UdpListeners {
        local_addrs,
        threads,
    })
}

struct ReceiveThread {
    listeners: Vec<Listener>,
    /// Listeners with data to read, in turn.
    ready: VecDeque<usize>,
    poller: Poller,
    receiver: Receiver,
    /// One set of receive slots for every socket of this thread.
    batch: Batch,
    /// With a bus key: what is received is opened before it is delivered.
    opener: Option<Opener>,
    /// When the kernel's drop totals were last read.
    drops_read: Instant,
    fanout: Fanout,
    reporter: Reporter,
}

impl ReceiveThread {
    fn run(&mut self) {
        for l in &mut self.listeners {
            l.queued = true;
        }
        loop {
            // Round robin over the ready sockets, one batch each per turn, so a busy
            // listener never starves a quiet one; after every turn the poller is asked
            // (without waiting) for sockets that became ready meanwhile.
            for _ in 0..self.ready.len() {
                let Some(i) = self.ready.pop_front() else {
                    break;
                };
                if self.receive_one(i) {
                    self.ready.push_back(i);
                } else {
                    self.listeners[i].queued = false;
                }
            }
            if self.poller.stop_token().is_stopped() {
                break;
            }
            // Idle: count drops the last datagrams did not carry, at most once per period.
            let timeout = if !self.ready.is_empty() {
                Some(Duration::ZERO)
            } else if self.listeners.iter().any(|l| l.received) {
                let refresh_in = DROP_REFRESH.saturating_sub(self.drops_read.elapsed());
                if refresh_in.is_zero() {
                    self.read_drop_totals(false);
                    None
                } else {
                    Some(refresh_in)
                }
            } else {
                None
            };
            match self.poller.wait(timeout) {
                Wait::Stopped => break,
                Wait::TimedOut => {}
                Wait::Ready => {
                    for event in self.poller.ready() {
                        let i = event.token().0;
                        if let Some(l) = self.listeners.get_mut(i) {
                            if !l.queued {
                                l.queued = true;
                                self.ready.push_back(i);
                            }
                        }
                    }
                }
            }
        }
        self.drain();
    }

    /// Receives one batch from listener `i` and hands it on; returns whether more may be
    /// queued (false once the socket reads empty).
    fn receive_one(&mut self, i: usize) -> bool {
        let listener = &mut self.listeners[i];
        match self.receiver.recv(&listener.socket, &mut self.batch) {
            Ok(outcome) => {
                listener.received = true;
                account(&listener.endpoint, &outcome);
                deliver(
                    &self.fanout,
                    &mut self.opener,
                    i,
                    &self.batch,
                    listener,
                    &self.reporter,
                );
                warn_of_drops(listener, &self.reporter);
                // A short batch means the queue ran empty: the next call would only say
                // WouldBlock (new datagrams raise a new edge).
                outcome.datagrams == RECV_BATCH
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Err(e) => {
                // Reported, and retried at the next readiness rather than spun on.
                self.reporter.warn(format!(
                    "{}: receive failed: {}",
                    listener.endpoint.name,
                    describe_os_error(&e)
                ));
                false
            }
        }
    }

    /// Raises each socket's drop count to the kernel's total (those received on since the
    /// last read, or all of them).
    fn read_drop_totals(&mut self, all: bool) {
        self.drops_read = Instant::now();
        let picked: Vec<usize> = (0..self.listeners.len())
            .filter(|&i| all || self.listeners[i].received)
            .collect();
        let sockets: Vec<socket2::SockRef<'_>> = picked
            .iter()
            .map(|&i| socket2::SockRef::from(&self.listeners[i].socket))
            .collect();
        let totals = sys::udp_drop_totals(&sockets);
        for (&i, total) in picked.iter().zip(totals) {
            let listener = &mut self.listeners[i];
            listener.received = false;
            if let Some(total) = total {
                Counters::raise_to(&listener.endpoint.counters.kernel_drops, total);
                warn_of_drops(listener, &self.reporter);
            }
        }
    }

    /// Whatever the kernel already holds was received: hand it on before exiting.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        for (i, listener) in self.listeners.iter().enumerate() {
            while let Ok(outcome) = self.receiver.recv(&listener.socket, &mut self.batch) {
                account(&listener.endpoint, &outcome);
                deliver(
                    &self.fanout,
                    &mut self.opener,
                    i,
                    &self.batch,
                    listener,
                    &self.reporter,
                );
                if outcome.datagrams < RECV_BATCH || Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.read_drop_totals(true);
    }
}

/// Hands a received batch on, opened first if the listener is sealed (a keyed route's,
/// not marked plain).
fn deliver(
    fanout: &Fanout,
    opener: &mut Option<Opener>,
    i: usize,
    batch: &Batch,
    listener: &Listener,
    reporter: &Reporter,
) {
    match opener {
        Some(opener) if listener.sealed => {
            fanout.deliver(opener.open(i, batch, &listener.endpoint, reporter))
        }
        _ => fanout.deliver(batch),
    }
}

/// Says once per listener that the kernel dropped datagrams on it.
fn warn_of_drops(listener: &mut Listener, reporter: &Reporter) {
    let drops = listener
        .endpoint
        .counters
        .kernel_drops
        .load(Ordering::Relaxed);
    if drops > 0 && !listener.warned_drops {
        listener.warned_drops = true;
        reporter.warn(format!(
            "{}: the kernel dropped datagrams (socket buffer full); see stats().kernelDrops",
            listener.endpoint.name
        ));
    }
}

fn account(endpoint: &Endpoint, outcome: &RecvOutcome) {
    let c = &endpoint.counters;
    c.add_in(outcome.datagrams as u64, outcome.bytes as u64);
    if outcome.truncated > 0 {
        Counters::add(&c.truncated, outcome.truncated as u64);
    }
    if let Some(total) = outcome.kernel_drops_total {
        Counters::raise_to(&c.kernel_drops, total);
    }
}
