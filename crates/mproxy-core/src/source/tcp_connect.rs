//! A TCP (or TLS) connection we open and keep: the stream is framed into datagrams like a
//! file. On refusal, end, reset or a failed handshake it reconnects with exponential backoff
//! and jitter, and reports each state change once, not once per attempt (`tcp::reconnect`).
//!
//! The stream goes one way, from the server; what we write is the user's lines only: a
//! preamble (a login, a station key) at every connect before anything else, and a
//! keep-alive line after `keep_alive.after` with nothing written, timed by the same wait
//! that waits for the server's bytes.

use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::framed::{ByteInput, Framed, FramingSpec, Read, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::poller::{Poller, Wait};
use crate::sink::keep_alive::KeepAliveSpec;
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tcp::dial::{flush_tls, tls_io_error, Dialer, Failure, Transport, CONNECT_TIMEOUT};
use crate::tcp::reconnect::Reconnect;
use crate::tls::{TlsClient, TlsSpec};

#[derive(Debug, Clone)]
pub struct TcpConnectSpec {
    /// Host name or IP as given; resolved again before every reconnect.
    pub host: String,
    pub port: u16,
    /// The address resolved at start, used when a later resolution fails.
    pub addr: SocketAddr,
    pub tls: Option<TlsSpec>,
    pub framing: FramingSpec,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Written to the server at every (re)connect, before anything else (with its line end).
    pub preamble: Option<Vec<u8>>,
    /// Written to the server after this long with nothing written.
    pub keep_alive: Option<KeepAliveSpec>,
}

pub(crate) fn start(
    spec: &TcpConnectSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
) -> Result<JoinHandle<()>> {
    let dialer = Dialer {
        host: spec.host.clone(),
        port: spec.port,
        addr: spec.addr,
        tls: spec.tls.as_ref().map(TlsClient::new).transpose()?,
    };
    let poller = Poller::new(&stop)?;
    let name = dialer.name();
    let endpoint = registry.register("tcp-connection", name.clone());
    let spec = spec.clone();
    std::thread::Builder::new()
        .name(format!("mproxy-tcp {name}"))
        .spawn(move || {
            let mut conn = Connector {
                reconnect: Reconnect::new(
                    name,
                    endpoint.clone(),
                    reporter,
                    spec.backoff_min,
                    spec.backoff_max,
                ),
                spec,
                dialer,
                endpoint,
                fanout,
                stop,
                poller,
            };
            conn.run();
        })
        .map_err(|e| Error::os("cannot start a TCP thread", &e))
}

struct Connector {
    spec: TcpConnectSpec,
    dialer: Dialer,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    stop: StopToken,
    /// Waits for the connection (one at a time) and the route's stop.
    poller: Poller,
    reconnect: Reconnect,
}

impl Connector {
    fn run(&mut self) {
        let mut buf = vec![0u8; READ_SIZE];
        let mut framed = Framed::new(
            &self.spec.framing,
            self.fanout.clone(),
            self.endpoint.clone(),
            self.stop.clone(),
        );
        while !self.stop.is_stopped() {
            match self.dialer.dial(&mut self.poller) {
                Ok(transport) => {
                    self.reconnect.connected(transport.peer_addr());
                    framed.set_peer(transport.peer_addr());
                    let mut connection = Connection {
                        transport,
                        poller: &mut self.poller,
                        keep_alive: self.spec.keep_alive.clone(),
                        endpoint: self.endpoint.clone(),
                        unsent: Vec::new(),
                        last_sent: Instant::now(),
                        failed: None,
                    };
                    let outcome = match &self.spec.preamble {
                        Some(line) => connection.send_preamble(line),
                        None => Ok(()),
                    }
                    .and_then(|()| framed.pump(&mut connection, &mut buf));
                    connection.transport.close(connection.poller);
                    if self.stop.is_stopped() {
                        break;
                    }
                    self.reconnect.lost(match outcome {
                        Ok(_) => "closed by the peer".to_string(),
                        Err(e) => describe_os_error(&e),
                    });
                }
                Err(Failure::Stopped) => break,
                Err(Failure::Reason(reason)) => self.reconnect.failed(reason),
            }
            if !self.reconnect.pause(&self.stop) {
                break;
            }
        }
    }
}

/// A transport, the poller that waits for it, and what we write to the server.
struct Connection<'a> {
    transport: Transport,
    poller: &'a mut Poller,
    keep_alive: Option<KeepAliveSpec>,
    endpoint: Arc<Endpoint>,
    /// Bytes of a line the socket did not take yet (sent before the next line).
    unsent: Vec<u8>,
    /// When we last wrote a line.
    last_sent: Instant,
    /// A write that failed while waiting, for the next read to report.
    failed: Option<io::Error>,
}

impl Connection<'_> {
    /// Writes the preamble before anything else, waiting for room (a few bytes: the socket
    /// takes them at once unless the server is gone).
    fn send_preamble(&mut self, line: &[u8]) -> io::Result<()> {
        self.unsent.extend_from_slice(line);
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self.write_unsent()? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server took no preamble",
                ));
            }
            if self.poller.wait(Some(left)) == Wait::Stopped {
                return Ok(());
            }
        }
        Counters::add(&self.endpoint.counters.preambles, 1);
        Ok(())
    }

    /// Writes what is unsent as far as the socket takes it; true while some is left.
    fn write_unsent(&mut self) -> io::Result<bool> {
        while !self.unsent.is_empty() {
            match self.transport.write_now(&self.unsent) {
                // Not in `bytesOut`: a source's are the bytes it framed, and these are ours.
                Ok(n) => {
                    self.unsent.drain(..n);
                    self.last_sent = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        self.transport.flush_now()?;
        Ok(self.transport.wants_write())
    }

    /// When the next keep-alive is due, if one is.
    fn keep_alive_due(&self) -> Option<Instant> {
        self.keep_alive.as_ref().map(|k| self.last_sent + k.after)
    }

    /// Sends the keep-alive if it is due and the last line went out; an error ends the
    /// connection like a failed read would.
    fn keep_alive_now(&mut self) -> io::Result<()> {
        let (Some(due), Some(spec)) = (self.keep_alive_due(), &self.keep_alive) else {
            return Ok(());
        };
        if Instant::now() < due {
            return Ok(());
        }
        if self.unsent.is_empty() && !self.transport.wants_write() {
            self.unsent.extend_from_slice(&spec.line);
            Counters::add(&self.endpoint.counters.keep_alives, 1);
        } else {
            // The server has not taken the last line yet: no second one behind it.
            self.last_sent = Instant::now();
        }
        self.write_unsent().map(|_| ())
    }
}

impl ByteInput for Connection<'_> {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if !self.unsent.is_empty() || self.transport.wants_write() {
            self.write_unsent()?;
        }
        match &mut self.transport {
            Transport::Plain { stream } => loop {
                return match stream.read(buf) {
                    Ok(0) => Ok(Read::End),
                    Ok(n) => Ok(Read::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Pending),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
            },
            Transport::Tls { stream, conn } => loop {
                // What rustls already decrypted first; then more from the socket.
                match conn.reader().read(buf) {
                    Ok(0) => return Ok(Read::End),
                    Ok(n) => return Ok(Read::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Read::End),
                    Err(e) => return Err(e),
                }
                flush_tls(stream, conn, self.poller)?;
                match conn.read_tls(stream) {
                    Ok(0) => return Ok(Read::End),
                    Ok(_) => {
                        conn.process_new_packets().map_err(tls_io_error)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Read::Pending),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }

    /// Waits for the server's bytes, or until a keep-alive is due: then it is sent and the
    /// wait returns `Ready` (the next read finds nothing and waits again), so the linger of
    /// a partial line is not cut short. A failed write is reported by the next read.
    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        let keep_alive = self
            .keep_alive_due()
            .map(|due| due.saturating_duration_since(Instant::now()));
        let for_keep_alive = match (timeout, keep_alive) {
            (Some(t), Some(k)) => k < t,
            (None, Some(_)) => true,
            _ => false,
        };
        let outcome = self
            .poller
            .wait(if for_keep_alive { keep_alive } else { timeout });
        if outcome == Wait::Stopped {
            return outcome;
        }
        if let Err(e) = self.keep_alive_now() {
            self.failed = Some(e);
            return Wait::Ready;
        }
        if outcome == Wait::TimedOut && for_keep_alive {
            return Wait::Ready;
        }
        outcome
    }
}
