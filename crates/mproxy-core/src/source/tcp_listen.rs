//! A TCP listener whose clients' streams become datagrams. One thread serves every client
//! through its poller (no thread per connection); each client has its own framer, so a
//! datagram only ever holds one client's bytes and lines from different clients never
//! interleave.
//!
//! The listener may speak TLS (each client's handshake driven by readiness like its reads),
//! admit only some addresses (see [`crate::tcp::access`]), and close clients that send nothing
//! for its idle timeout, so idle connections cannot hold its places forever.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::framed::{Framed, FramingSpec, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::{ClientAction, Notice, Reporter};
use crate::poller::{Poller, Wait};
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tcp::accept::{self, Acceptor, LogOnce, HANDSHAKE_LIMIT};
use crate::tcp::access::AccessSpec;
use crate::tls::{ClientStream, TlsServer, TlsServerSpec};

#[derive(Debug, Clone)]
pub struct TcpListenSpec {
    pub addr: SocketAddr,
    pub framing: FramingSpec,
    pub max_clients: usize,
    pub access: AccessSpec,
    /// Close a client that sent nothing for this long.
    pub idle_timeout: Option<Duration>,
    pub tls: Option<TlsServerSpec>,
}

pub(crate) struct TcpListenSource {
    pub local_addr: SocketAddr,
    pub thread: JoinHandle<()>,
}

const LISTENER: Token = Token(0);
/// Reads per client per turn, so one client that never pauses cannot keep the thread from
/// the others.
const READS_PER_TURN: usize = 16;

pub(crate) fn start(
    spec: &TcpListenSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
) -> Result<TcpListenSource> {
    let tls = spec.tls.as_ref().map(TlsServer::new).transpose()?;
    let mut listener = accept::bind(spec.addr)?;
    let local_addr = listener.local_addr().unwrap_or(spec.addr);
    let endpoint = registry.register("tcp-listener", local_addr.to_string());
    let poller = Poller::new(&stop)?;
    poller
        .registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| Error::os(format!("cannot wait on TCP {local_addr}"), &e))?;
    let acceptor = Acceptor::new(listener, spec.max_clients, spec.access.clone(), tls);
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-tcp-in {local_addr}"))
        .spawn(move || {
            Inputs {
                acceptor,
                spec,
                endpoint,
                fanout,
                reporter,
                stop,
                clients: HashMap::new(),
            }
            .serve(poller)
        })
        .map_err(|e| Error::os("cannot start a TCP listener thread", &e))?;
    Ok(TcpListenSource { local_addr, thread })
}

struct Client {
    stream: ClientStream,
    peer: SocketAddr,
    accepted_at: Instant,
    /// When it last sent something (or connected).
    last_data: Instant,
    framed: Framed,
    /// When the partial line it holds must go out.
    linger_deadline: Option<Instant>,
    /// Readiness was reported and the stream not yet read to `WouldBlock`.
    readable: bool,
}

struct Inputs {
    acceptor: Acceptor,
    spec: TcpListenSpec,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    stop: StopToken,
    clients: HashMap<usize, Client>,
}

/// What reading a client's stream for one turn found.
enum Turn {
    /// Read to `WouldBlock`: the client paused.
    Paused,
    /// More may be there.
    More,
    Closed(Option<String>),
}

/// Why a client is closed.
enum Ending {
    /// It left, or its connection failed (why).
    Left(Option<String>),
    /// It sent nothing for the idle timeout.
    Idle,
}

impl Inputs {
    fn serve(&mut self, mut poller: Poller) {
        let mut buf = vec![0u8; READ_SIZE];
        let mut accept_now = true;
        loop {
            if accept_now || self.acceptor.due() {
                self.accept(&poller);
            }
            accept_now = false;
            let now = Instant::now();
            let mut busy = false;
            let mut closed: Vec<(usize, Ending)> = Vec::new();
            for (token, client) in self.clients.iter_mut() {
                if client.readable {
                    let turn = read_turn(client, &mut buf);
                    if client.stream.newly_established() {
                        self.reporter.info(format!(
                            "{}: TLS client {} connected",
                            self.endpoint.name, client.peer
                        ));
                    }
                    match turn {
                        Turn::More => busy = true,
                        Turn::Paused => {
                            client.readable = false;
                            client.framed.pause();
                            client.linger_deadline =
                                client.framed.linger_timeout().map(|d| now + d);
                        }
                        Turn::Closed(why) => {
                            closed.push((*token, Ending::Left(why)));
                            continue;
                        }
                    }
                } else if client.linger_deadline.is_some_and(|d| d <= now) {
                    client.framed.flush();
                    client.linger_deadline = None;
                }
                if self
                    .spec
                    .idle_timeout
                    .is_some_and(|t| now >= client.last_data + t)
                {
                    closed.push((*token, Ending::Idle));
                } else if client.stream.handshaking() && now >= client.accepted_at + HANDSHAKE_LIMIT
                {
                    client.stream.handshake_timed_out(HANDSHAKE_LIMIT);
                    closed.push((*token, Ending::Left(None)));
                }
            }
            for (token, why) in closed {
                if let Some(mut client) = self.clients.remove(&token) {
                    let _ = poller.registry().deregister(client.stream.socket());
                    self.left(client, why);
                }
            }
            let timeout = if busy {
                Some(std::time::Duration::ZERO)
            } else {
                let idle = self.spec.idle_timeout;
                let linger = self
                    .clients
                    .values()
                    .flat_map(|c| {
                        let handshake = c
                            .stream
                            .handshaking()
                            .then(|| c.accepted_at + HANDSHAKE_LIMIT);
                        [c.linger_deadline, idle.map(|t| c.last_data + t), handshake]
                    })
                    .flatten()
                    .min()
                    .map(|d| d.saturating_duration_since(Instant::now()));
                match (linger, self.acceptor.timeout()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            };
            match poller.wait(timeout) {
                Wait::Stopped => break,
                Wait::TimedOut => {}
                Wait::Ready => {
                    for event in poller.ready() {
                        if event.token() == LISTENER {
                            accept_now = true;
                        } else if let Some(c) = self.clients.get_mut(&event.token().0) {
                            // A TLS client's writable event matters too: reading first sends
                            // what its handshake still has to send.
                            c.readable = true;
                        }
                    }
                }
            }
        }
        // What clients sent before the stop is in the kernel: read it (within reason) so it
        // is delivered, and so closing does not reset connections with unread data.
        for (_, mut client) in self.clients.drain() {
            for _ in 0..64 {
                match client.stream.read(&mut buf) {
                    Ok(n) if n > 0 => client.framed.take(&buf[..n]),
                    _ => break,
                }
            }
            client.framed.flush();
        }
    }

    fn accept(&mut self, poller: &Poller) {
        let admitted = self.acceptor.accept_registered(
            self.clients.len(),
            poller.registry(),
            Interest::READABLE,
            &self.endpoint,
            &self.reporter,
        );
        let now = Instant::now();
        for (token, stream, peer) in admitted {
            let mut framed = Framed::new(
                &self.spec.framing,
                self.fanout.clone(),
                self.endpoint.clone(),
                self.stop.clone(),
            );
            framed.set_peer(Some(peer));
            self.clients.insert(
                token,
                Client {
                    stream,
                    peer,
                    accepted_at: now,
                    last_data: now,
                    framed,
                    linger_deadline: None,
                    // Read once at once: bytes may have come with the connection.
                    readable: true,
                },
            );
        }
    }

    fn notice_left(&self, peer: SocketAddr, reason: Option<String>) {
        self.reporter.notice(Notice::Client {
            listener: self.endpoint.name.clone(),
            peer: peer.to_string(),
            action: ClientAction::Left,
            reason,
        });
    }

    fn tls_failed(&mut self, peer: SocketAddr, failure: String) {
        Counters::add(&self.endpoint.counters.tls_failures, 1);
        let name = &self.endpoint.name;
        self.acceptor
            .warn_once_a_minute(LogOnce::TlsFailure, peer.ip(), &self.reporter, || {
                format!("{name}: TLS handshake with {peer} failed: {failure}")
            });
    }

    fn left(&mut self, mut client: Client, why: Ending) {
        client.framed.flush();
        self.acceptor.release(client.peer);
        let c = &self.endpoint.counters;
        Counters::add(&c.disconnects, 1);
        let (name, peer) = (&self.endpoint.name, client.peer);
        let why = match why {
            Ending::Idle => {
                Counters::add(&c.idle_timeouts, 1);
                let secs = self.spec.idle_timeout.unwrap_or_default().as_secs_f64();
                let reason = format!("it sent nothing for {secs} seconds");
                self.notice_left(peer, Some(reason.clone()));
                self.acceptor.warn_once_a_minute(
                    LogOnce::IdleTimeout,
                    peer.ip(),
                    &self.reporter,
                    || format!("{name}: closed TCP client {peer}: {reason} ({{idleTimeout}})"),
                );
                return;
            }
            Ending::Left(why) => why,
        };
        if let Some(failure) = client.stream.handshake_failure() {
            self.notice_left(peer, Some(failure.clone()));
            self.tls_failed(peer, failure);
            return;
        }
        self.notice_left(peer, why.clone());
        match why {
            None => self.reporter.info(format!(
                "{}: TCP client {} left",
                self.endpoint.name, client.peer
            )),
            Some(why) => self.reporter.warn(format!(
                "TCP client {} on {}: {why}",
                client.peer, self.endpoint.name
            )),
        }
    }
}

fn read_turn(client: &mut Client, buf: &mut [u8]) -> Turn {
    for _ in 0..READS_PER_TURN {
        match client.stream.read(buf) {
            Ok(0) => return Turn::Closed(None),
            Ok(n) => {
                client.framed.take(&buf[..n]);
                client.linger_deadline = None;
                client.last_data = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Paused,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Turn::Closed(Some(describe_os_error(&e))),
        }
    }
    Turn::More
}
