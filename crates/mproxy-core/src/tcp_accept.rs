//! Listening for TCP clients, shared by the TCP inputs and the TCP outputs: binding, and
//! accepting under a client limit. Refusals and accept failures are reported once per
//! episode, and a failing accept (out of descriptors) rests the listener for a moment
//! instead of letting `poll` spin on the connection still pending.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};

use crate::error::{describe_os_error, Error, Result};
use crate::event::{ClientAction, Notice, Reporter};
use crate::stats::{Counters, Endpoint};

const ACCEPT_PAUSE: Duration = Duration::from_millis(200);

/// Binds a non-blocking TCP listener, with the address reusable after a restart.
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
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
        .map_err(|e| Error::os(&context, &e))?;
    socket.listen(1024).map_err(|e| Error::os(&context, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::os(&context, &e))?;
    Ok(TcpListener::from_std(socket.into()))
}

pub struct Acceptor {
    pub listener: TcpListener,
    /// The token the next client is registered under (0 is the listener's).
    next_token: usize,
    max_clients: usize,
    refusing: bool,
    failing: bool,
    paused_until: Option<Instant>,
}

impl Acceptor {
    pub fn new(listener: TcpListener, max_clients: usize) -> Self {
        Acceptor {
            listener,
            next_token: 1,
            max_clients,
            refusing: false,
            failing: false,
            paused_until: None,
        }
    }

    /// How long a wait may last before the listener is back from a rest (and must be
    /// tried again: the clients that waited meanwhile raise no new readiness edge).
    pub fn timeout(&self) -> Option<Duration> {
        self.paused_until
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Whether the listener rested and is due to be tried again.
    pub fn due(&mut self) -> bool {
        if self.paused_until.is_some_and(|t| t <= Instant::now()) {
            self.paused_until = None;
            return true;
        }
        false
    }

    /// Accepts every pending client while fewer than the limit are `connected`, handing each
    /// (non-blocking) to `admit`; clients beyond the limit are closed and counted. Reads the
    /// listener until `WouldBlock` (or a rest), as its readiness is reported by edges.
    pub fn accept_all(
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
                                "{}: refusing TCP clients beyond the limit of {} (--max-tcp-clients)",
                                endpoint.name, self.max_clients
                            ));
                        }
                        continue;
                    }
                    self.failing = false;
                    connected += 1;
                    Counters::add(&c.connects, 1);
                    reporter.info(format!("{}: TCP client {peer} connected", endpoint.name));
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

    /// Accepts every pending client (as [`Acceptor::accept_all`]) and registers each with
    /// `registry` for `interest` under a token of its own; returns (token, stream, peer).
    /// A client that cannot be registered is reported and closed.
    pub fn accept_registered(
        &mut self,
        connected: usize,
        registry: &mio::Registry,
        interest: mio::Interest,
        endpoint: &Endpoint,
        reporter: &Reporter,
    ) -> Vec<(usize, TcpStream, SocketAddr)> {
        let mut admitted = Vec::new();
        self.accept_all(connected, endpoint, reporter, |stream, peer| {
            admitted.push((stream, peer))
        });
        let mut registered = Vec::with_capacity(admitted.len());
        for (mut stream, peer) in admitted {
            let token = self.next_token;
            self.next_token += 1;
            match registry.register(&mut stream, mio::Token(token), interest) {
                Ok(()) => registered.push((token, stream, peer)),
                Err(e) => reporter.warn(format!(
                    "{}: TCP client {peer}: {}",
                    endpoint.name,
                    describe_os_error(&e)
                )),
            }
        }
        registered
    }
}
