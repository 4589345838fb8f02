//! A TCP listener whose clients' streams become datagrams. One thread serves every client
//! through its poller (no thread per connection); each client has its own framer, so a
//! datagram only ever holds one client's bytes and lines from different clients never
//! interleave.

use std::collections::HashMap;
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::framed::{Framed, FramingSpec, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::{ClientAction, Notice, Reporter};
use crate::poller::{Poller, Wait};
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tcp_accept::{self, Acceptor};

#[derive(Debug, Clone)]
pub struct TcpListenSpec {
    pub addr: SocketAddr,
    pub framing: FramingSpec,
    pub max_clients: usize,
}

pub struct TcpListenSource {
    pub local_addr: SocketAddr,
    pub thread: JoinHandle<()>,
}

const LISTENER: Token = Token(0);
/// Reads per client per turn, so one client that never pauses cannot keep the thread from
/// the others.
const READS_PER_TURN: usize = 16;

pub fn start(
    spec: &TcpListenSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
) -> Result<TcpListenSource> {
    let mut listener = tcp_accept::bind(spec.addr)?;
    let local_addr = listener.local_addr().unwrap_or(spec.addr);
    let endpoint = registry.register("tcp-listener", local_addr.to_string());
    let poller = Poller::new(&stop)?;
    poller
        .registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| Error::os(format!("cannot wait on TCP {local_addr}"), &e))?;
    let acceptor = Acceptor::new(listener, spec.max_clients);
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
    stream: TcpStream,
    peer: SocketAddr,
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
            let mut closed: Vec<(usize, Option<String>)> = Vec::new();
            for (token, client) in self.clients.iter_mut() {
                if client.readable {
                    match read_turn(client, &mut buf) {
                        Turn::More => busy = true,
                        Turn::Paused => {
                            client.readable = false;
                            client.framed.pause();
                            client.linger_deadline =
                                client.framed.linger_timeout().map(|d| now + d);
                        }
                        Turn::Closed(why) => closed.push((*token, why)),
                    }
                } else if client.linger_deadline.is_some_and(|d| d <= now) {
                    client.framed.flush();
                    client.linger_deadline = None;
                }
            }
            for (token, why) in closed {
                if let Some(mut client) = self.clients.remove(&token) {
                    let _ = poller.registry().deregister(&mut client.stream);
                    self.left(client, why);
                }
            }
            let timeout = if busy {
                Some(std::time::Duration::ZERO)
            } else {
                let linger = self
                    .clients
                    .values()
                    .filter_map(|c| c.linger_deadline)
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
                    framed,
                    linger_deadline: None,
                    // Read once at once: bytes may have come with the connection.
                    readable: true,
                },
            );
        }
    }

    fn left(&self, mut client: Client, why: Option<String>) {
        client.framed.flush();
        Counters::add(&self.endpoint.counters.disconnects, 1);
        self.reporter.notice(Notice::Client {
            listener: self.endpoint.name.clone(),
            peer: client.peer.to_string(),
            action: ClientAction::Left,
            reason: why.clone(),
        });
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
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Paused,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Turn::Closed(Some(describe_os_error(&e))),
        }
    }
    Turn::More
}
