//! Listening for TCP clients, shared by the TCP inputs and the TCP outputs: binding, and
//! accepting under the listener's rules: its allow list, its cap per client address, its
//! client limit, and TLS when the listener has it. Refusals and accept failures are counted
//! (per reason) and reported once per episode or once per address per minute, and a failing
//! accept (out of descriptors) rests the listener for a moment instead of letting `poll`
//! spin on the connection still pending.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};

use crate::error::{describe_os_error, Error, Result};
use crate::event::{ClientAction, Notice, Reporter};
use crate::stats::{Counters, Endpoint};
use crate::tcp::access::{AccessSpec, OncePerAddress, PerAddress};
use crate::tls::{ClientStream, TlsServer};

const ACCEPT_PAUSE: Duration = Duration::from_millis(200);

/// How long a TLS client may take to finish its handshake before it is closed (counted as a
/// TLS failure), so connections that never handshake do not hold places: the same for the
/// TCP inputs' and the TCP outputs' listeners.
pub(crate) const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Binds a non-blocking TCP listener, with the address reusable after a restart.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let context = format!("cannot listen on TCP {addr}");
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(|e| Error::os(&context, &e))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .map_err(|e| Error::os(&context, &e))?;
    }
    crate::sys::rebind_after_restart(&socket).map_err(|e| Error::os(&context, &e))?;
    socket
        .bind(&addr.into())
        .map_err(|e| Error::os(&context, &e).at("bind", addr))?;
    socket.listen(1024).map_err(|e| Error::os(&context, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::os(&context, &e))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Lines about one client address that are said at most once a minute, each kind on its own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LogOnce {
    Refused = 0,
    TlsFailure = 1,
    IdleTimeout = 2,
}

pub(crate) struct Acceptor {
    pub listener: TcpListener,
    /// The token the next client is registered under (0 is the listener's).
    next_token: usize,
    max_clients: usize,
    refusing: bool,
    failing: bool,
    paused_until: Option<Instant>,
    access: AccessSpec,
    per_address: PerAddress,
    tls: Option<TlsServer>,
    said: [OncePerAddress; 3],
}

impl Acceptor {
    pub(crate) fn new(
        listener: TcpListener,
        max_clients: usize,
        access: AccessSpec,
        tls: Option<TlsServer>,
    ) -> Self {
        Acceptor {
            listener,
            next_token: 1,
            max_clients,
            refusing: false,
            failing: false,
            paused_until: None,
            access,
            per_address: PerAddress::default(),
            tls,
            said: Default::default(),
        }
    }

    /// A client admitted by this acceptor left (or was closed): its address may have
    /// another.
    pub(crate) fn release(&mut self, peer: SocketAddr) {
        self.per_address.remove(peer.ip());
    }

    /// Reports `message` as a warning unless a line of this kind was said about `ip` less
    /// than a minute ago.
    pub(crate) fn warn_once_a_minute(
        &mut self,
        kind: LogOnce,
        ip: IpAddr,
        reporter: &Reporter,
        message: impl FnOnce() -> String,
    ) {
        if self.said[kind as usize].should_log(ip, Instant::now()) {
            reporter.warn(message());
        }
    }

    /// How long a wait may last before the listener is back from a rest (and must be
    /// tried again: the clients that waited meanwhile raise no new readiness edge).
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.paused_until
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Whether the listener rested and is due to be tried again.
    pub(crate) fn due(&mut self) -> bool {
        if self.paused_until.is_some_and(|t| t <= Instant::now()) {
            self.paused_until = None;
            return true;
        }
        false
    }

    /// Accepts every pending client while fewer than the limit are `connected`, handing each
    /// (non-blocking) to `admit`; clients beyond the limit are closed and counted. Reads the
    /// listener until `WouldBlock` (or a rest), as its readiness is reported by edges.
    pub(crate) fn accept_all(
        &mut self,
        mut connected: usize,
        endpoint: &Endpoint,
        reporter: &Reporter,
        mut admit: impl FnMut(TcpStream, SocketAddr),
    ) {
        let c = &endpoint.counters;
        if self.paused_until.is_some() {
            return;
        }
        if connected < self.max_clients {
            self.refusing = false;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if !self.access.allows(peer.ip()) {
                        Counters::add(&c.refused_not_allowed, 1);
                        reporter.notice(Notice::Client {
                            listener: endpoint.name.clone(),
                            peer: peer.to_string(),
                            action: ClientAction::Refused,
                            reason: Some("its address is not allowed".into()),
                        });
                        self.warn_once_a_minute(LogOnce::Refused, peer.ip(), reporter, || {
                            format!(
                                "{}: refused TCP client {peer}: its address is not allowed ({{allow}})",
                                endpoint.name
                            )
                        });
                        continue;
                    }
                    let cap = self.access.max_per_address;
                    if cap > 0 && self.per_address.count(peer.ip()) >= cap {
                        Counters::add(&c.refused_per_address, 1);
                        reporter.notice(Notice::Client {
                            listener: endpoint.name.clone(),
                            peer: peer.to_string(),
                            action: ClientAction::Refused,
                            reason: Some(format!("the limit of {cap} clients per address")),
                        });
                        self.warn_once_a_minute(LogOnce::Refused, peer.ip(), reporter, || {
                            format!(
                                "{}: refused TCP client {peer}: {} already has {cap} clients ({{maxClientsPerAddress}})",
                                endpoint.name,
                                peer.ip()
                            )
                        });
                        continue;
                    }
                    if connected >= self.max_clients {
                        Counters::add(&c.refused, 1);
                        reporter.notice(Notice::Client {
                            listener: endpoint.name.clone(),
                            peer: peer.to_string(),
                            action: ClientAction::Refused,
                            reason: Some(format!("the limit of {} clients", self.max_clients)),
                        });
                        if !self.refusing {
                            self.refusing = true;
                            reporter.warn(format!(
                                "{}: refusing TCP clients beyond the limit of {} ({{maxTcpClients}})",
                                endpoint.name, self.max_clients
                            ));
                        }
                        continue;
                    }
                    self.failing = false;
                    connected += 1;
                    self.per_address.add(peer.ip());
                    Counters::add(&c.connects, 1);
                    // A TLS client is announced once its handshake is done.
                    if self.tls.is_none() {
                        reporter.info(format!("{}: TCP client {peer} connected", endpoint.name));
                    }
                    reporter.notice(Notice::Client {
                        listener: endpoint.name.clone(),
                        peer: peer.to_string(),
                        action: ClientAction::Joined,
                        reason: None,
                    });
                    admit(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    if !self.failing {
                        self.failing = true;
                        reporter.warn(format!(
                            "{}: accept failed: {}",
                            endpoint.name,
                            describe_os_error(&e)
                        ));
                    }
                    self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Accepts every pending client (as [`Acceptor::accept_all`]), starts its TLS session if
    /// the listener has TLS, and registers each with `registry` for `interest` (TLS clients
    /// also for writing: their handshake sends) under a token of its own; returns (token,
    /// stream, peer). A client that cannot be registered is reported and closed.
    pub(crate) fn accept_registered(
        &mut self,
        connected: usize,
        registry: &mio::Registry,
        interest: mio::Interest,
        endpoint: &Endpoint,
        reporter: &Reporter,
    ) -> Vec<(usize, ClientStream, SocketAddr)> {
        let mut admitted = Vec::new();
        self.accept_all(connected, endpoint, reporter, |stream, peer| {
            admitted.push((stream, peer))
        });
        let mut registered = Vec::with_capacity(admitted.len());
        for (stream, peer) in admitted {
            let (mut stream, interest) = match &self.tls {
                None => (ClientStream::Plain(stream), interest),
                Some(tls) => match tls.accept(stream) {
                    Ok(s) => (s, interest | mio::Interest::WRITABLE),
                    Err(e) => {
                        self.release(peer);
                        reporter.warn(format!(
                            "{}: TLS client {peer}: {}",
                            endpoint.name, e.message
                        ));
                        left_at_once(endpoint, reporter, peer, e.message.clone());
                        continue;
                    }
                },
            };
            let token = self.next_token;
            self.next_token += 1;
            match registry.register(stream.socket(), mio::Token(token), interest) {
                Ok(()) => registered.push((token, stream, peer)),
                Err(e) => {
                    self.release(peer);
                    reporter.warn(format!(
                        "{}: TCP client {peer}: {}",
                        endpoint.name,
                        describe_os_error(&e)
                    ));
                    left_at_once(endpoint, reporter, peer, describe_os_error(&e));
                }
            }
        }
        registered
    }
}

/// A client that was accepted (counted and announced as joined) but could not be served: it
/// is counted as gone and announced as having left, so joins and leaves pair up.
fn left_at_once(endpoint: &Endpoint, reporter: &Reporter, peer: SocketAddr, reason: String) {
    Counters::add(&endpoint.counters.disconnects, 1);
    reporter.notice(Notice::Client {
        listener: endpoint.name.clone(),
        peer: peer.to_string(),
        action: ClientAction::Left,
        reason: Some(reason),
    });
}
