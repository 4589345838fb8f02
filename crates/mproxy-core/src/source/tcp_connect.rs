//! A TCP (or TLS) connection we open and keep: the stream is framed into datagrams like a
//! file. On refusal, end, reset or a failed handshake it reconnects with exponential backoff
//! and jitter, and reports each state change once, not once per attempt.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};
use rustls::ClientConnection;
use socket2::SockRef;

use super::framed::{ByteInput, Framed, FramingSpec, Read, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::{Notice, Reporter};
use crate::poller::{Poller, Wait};
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tls::{self, TlsClient, TlsSpec};

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
}

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that ends sooner than this after it was made counts as a failed attempt:
/// the reconnect delay keeps growing instead of starting again from the minimum.
pub(crate) const SHORT_LIVED: Duration = Duration::from_secs(10);

const CONNECTION: Token = Token(0);

pub(crate) fn start(
    spec: &TcpConnectSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
) -> Result<JoinHandle<()>> {
    let tls = spec.tls.as_ref().map(TlsClient::new).transpose()?;
    let poller = Poller::new(&stop)?;
    let scheme = if tls.is_some() { "tls://" } else { "" };
    let name = format!("{scheme}{}", join_host_port(&spec.host, spec.port));
    let endpoint = registry.register("tcp-connection", name.clone());
    let spec = spec.clone();
    std::thread::Builder::new()
        .name(format!("mproxy-tcp {name}"))
        .spawn(move || {
            let mut conn = Connector {
                spec,
                tls,
                endpoint,
                fanout,
                reporter,
                stop,
                poller,
                name,
                failing: None,
                rng: seed(),
            };
            conn.run();
        })
        .map_err(|e| Error::os("cannot start a TCP thread", &e))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    nanos | 1
}

/// Why a connection attempt did not produce a stream.
enum Failure {
    /// The route is stopping: nothing to report.
    Stopped,
    Reason(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Reason(reason)
    }
}

struct Connector {
    spec: TcpConnectSpec,
    tls: Option<TlsClient>,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    stop: StopToken,
    /// Waits for the connection (one at a time) and the route's stop.
    poller: Poller,
    name: String,
    /// The reason of the current run of failures, so it is reported once.
    failing: Option<String>,
    rng: u64,
}

impl Connector {
    fn run(&mut self) {
        let mut backoff = self.spec.backoff_min;
        let mut buf = vec![0u8; READ_SIZE];
        let mut framed = Framed::new(
            &self.spec.framing,
            self.fanout.clone(),
            self.endpoint.clone(),
            self.stop.clone(),
        );
        // Connections in a row that ended within SHORT_LIVED of being made, and why the last
        // one ended. A peer that accepts and then fails (a TLS server wanting a client
        // certificate, a reset right after accept) must not reset the backoff, or it would be
        // retried every 0.5 s forever; and it is reported once, not per attempt.
        let mut short_lived = 0u32;
        let mut flapping: Option<String> = None;
        while !self.stop.is_stopped() {
            // Why a connection failed within SHORT_LIVED, if it did.
            let mut failed_soon = None;
            match self.connect() {
                Ok(transport) => {
                    Counters::add(&self.endpoint.counters.connects, 1);
                    self.reporter.notice(Notice::Connect {
                        address: self.name.clone(),
                        peer: transport.peer_addr().map(|a| a.to_string()),
                    });
                    // While connections keep failing at once, they are not announced again.
                    if short_lived < 2 {
                        self.reporter.info(format!("connected to {}", self.name));
                    }
                    self.failing = None;
                    let connected_at = Instant::now();
                    framed.set_peer(transport.peer_addr());
                    let mut connection = Connection {
                        transport,
                        poller: &mut self.poller,
                    };
                    let outcome = framed.pump(&mut connection, &mut buf);
                    connection.close();
                    if self.stop.is_stopped() {
                        break;
                    }
                    Counters::add(&self.endpoint.counters.disconnects, 1);
                    let why = match outcome {
                        Ok(_) => "closed by the peer".to_string(),
                        Err(e) => describe_os_error(&e),
                    };
                    self.reporter.notice(Notice::Disconnect {
                        address: self.name.clone(),
                        reason: why.clone(),
                    });
                    let lasted = connected_at.elapsed();
                    if lasted < SHORT_LIVED {
                        failed_soon = Some(why);
                    } else {
                        if short_lived >= 2 {
                            self.reporter.info(format!(
                                "connection to {} stayed up for {} s before it was lost",
                                self.name,
                                lasted.as_secs()
                            ));
                        }
                        short_lived = 0;
                        flapping = None;
                        backoff = self.spec.backoff_min;
                        self.reporter.warn(format!(
                            "connection to {} lost ({why}); reconnecting",
                            self.name
                        ));
                    }
                }
                Err(Failure::Stopped) => break,
                // The same failure seen while connecting (a reset that came before the
                // connection was ready): the same run of failures.
                Err(Failure::Reason(reason)) if flapping.as_deref() == Some(reason.as_str()) => {
                    self.reporter.notice(Notice::Disconnect {
                        address: self.name.clone(),
                        reason: reason.clone(),
                    });
                    failed_soon = Some(reason);
                }
                Err(Failure::Reason(reason)) => {
                    self.reporter.notice(Notice::Disconnect {
                        address: self.name.clone(),
                        reason: reason.clone(),
                    });
                    // A refusal is a new state: the next connection that works is announced.
                    short_lived = 0;
                    flapping = None;
                    if self.failing.as_deref() != Some(reason.as_str()) {
                        self.reporter.warn(format!(
                            "cannot connect to {}: {reason}; retrying every {:.1} s to {} s",
                            self.name,
                            self.spec.backoff_min.as_secs_f64(),
                            self.spec.backoff_max.as_secs()
                        ));
                        self.failing = Some(reason);
                    }
                }
            }
            if let Some(why) = failed_soon {
                short_lived = short_lived.saturating_add(1);
                match short_lived {
                    1 => self.reporter.warn(format!(
                        "connection to {} lost ({why}); reconnecting",
                        self.name
                    )),
                    2 => self.reporter.warn(format!(
                        "connection to {} keeps failing within {} s of connecting ({why}); reconnecting with growing delays up to {} s, without reporting each attempt",
                        self.name,
                        SHORT_LIVED.as_secs(),
                        self.spec.backoff_max.as_secs()
                    )),
                    _ => {}
                }
                flapping = Some(why);
            }
            let pause = self.jittered(backoff);
            if !self.stop.sleep(pause) {
                break;
            }
            backoff = (backoff * 2).min(self.spec.backoff_max);
        }
    }

    /// ±20% so that many proxies do not reconnect in lockstep after a server restart.
    fn jittered(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let factor = 0.8 + (self.rng % 1000) as f64 / 2500.0;
        d.mul_f64(factor)
    }

    /// Every address to try, in the resolver's order. An IP literal is used as given (with
    /// its interface scope); a name is resolved again, falling back to the start's answer.
    fn candidates(&self) -> Vec<SocketAddr> {
        if self.spec.host.parse::<std::net::IpAddr>().is_ok() {
            return vec![self.spec.addr];
        }
        match (self.spec.host.as_str(), self.spec.port).to_socket_addrs() {
            Ok(addrs) => {
                let all: Vec<SocketAddr> = addrs.collect();
                if all.is_empty() {
                    vec![self.spec.addr]
                } else {
                    all
                }
            }
            Err(_) => vec![self.spec.addr],
        }
    }

    fn connect(&mut self) -> std::result::Result<Transport, Failure> {
        let mut last = String::from("no address to connect to");
        for addr in self.candidates() {
            match self.connect_to(addr) {
                Ok(stream) => return self.secure(stream),
                Err(Failure::Stopped) => return Err(Failure::Stopped),
                Err(Failure::Reason(why)) => last = why,
            }
        }
        Err(Failure::Reason(last))
    }

    /// Connects without blocking, registered with the poller (until the transport closes).
    fn connect_to(&mut self, addr: SocketAddr) -> std::result::Result<TcpStream, Failure> {
        let fail = |e: io::Error| Failure::Reason(describe_os_error(&e));
        let mut stream = TcpStream::connect(addr).map_err(fail)?;
        // A dead peer (host gone, cable pulled) is noticed within about a minute.
        let socket = SockRef::from(&stream);
        let _ = socket.set_tcp_keepalive(&crate::sys::tcp_keepalive(
            Duration::from_secs(30),
            Duration::from_secs(10),
            3,
        ));
        let _ = socket.set_keepalive(true);
        self.poller
            .registry()
            .register(
                &mut stream,
                CONNECTION,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(fail)?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let result = loop {
            // Connected once the socket has no error and a peer (mio's documented check).
            match stream.take_error() {
                Ok(Some(e)) | Err(e) => break Err(fail(e)),
                Ok(None) => {}
            }
            match stream.peer_addr() {
                Ok(_) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => break Err(fail(e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(Failure::Reason("connection timed out".into()));
            }
            if self.poller.wait(Some(left)) == Wait::Stopped {
                break Err(Failure::Stopped);
            }
        };
        match result {
            Ok(()) => Ok(stream),
            Err(failure) => {
                let _ = self.poller.registry().deregister(&mut stream);
                Err(failure)
            }
        }
    }

    fn secure(&mut self, mut stream: TcpStream) -> std::result::Result<Transport, Failure> {
        let Some(tls) = &self.tls else {
            return Ok(Transport::Plain { stream });
        };
        let conn = match ClientConnection::new(tls.config.clone(), tls.server_name.clone()) {
            Ok(conn) => conn,
            Err(e) => {
                let _ = self.poller.registry().deregister(&mut stream);
                return Err(Failure::Reason(format!("TLS setup failed: {e}")));
            }
        };
        let mut connection = Connection {
            transport: Transport::Tls {
                stream,
                conn: Box::new(conn),
            },
            poller: &mut self.poller,
        };
        match connection.handshake() {
            Ok(()) => Ok(connection.transport),
            Err(failure) => {
                connection.close();
                Err(match failure {
                    Failure::Stopped => Failure::Stopped,
                    Failure::Reason(why) => Failure::Reason(format!("TLS handshake failed: {why}")),
                })
            }
        }
    }
}

/// A connected stream, plain or TLS, over a non-blocking socket registered with the poller.
enum Transport {
    Plain {
        stream: TcpStream,
    },
    Tls {
        stream: TcpStream,
        conn: Box<ClientConnection>,
    },
}

impl Transport {
    fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Transport::Plain { stream } | Transport::Tls { stream, .. } => stream.peer_addr().ok(),
        }
    }
}

/// A transport and the poller that waits for it.
struct Connection<'a> {
    transport: Transport,
    poller: &'a mut Poller,
}

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::other(tls::describe(&e))
}

impl Connection<'_> {
    fn close(&mut self) {
        let stream = match &mut self.transport {
            Transport::Plain { stream } | Transport::Tls { stream, .. } => stream,
        };
        let _ = self.poller.registry().deregister(stream);
    }

    fn handshake(&mut self) -> std::result::Result<(), Failure> {
        let Transport::Tls { stream, conn, .. } = &mut self.transport else {
            return Ok(());
        };
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let os = |e: io::Error| Failure::Reason(describe_os_error(&e));
        while conn.is_handshaking() {
            flush_tls(stream, conn, self.poller).map_err(os)?;
            if !conn.is_handshaking() {
                break;
            }
            match conn.read_tls(stream) {
                Ok(0) => return Err(Failure::Reason("the server closed the connection".into())),
                Ok(_) => {
                    if let Err(e) = conn.process_new_packets() {
                        // Tell the server why, then give up.
                        let _ = flush_tls(stream, conn, self.poller);
                        return Err(Failure::Reason(tls::describe(&e)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.poller.wait(Some(left)) {
                        Wait::Ready => {}
                        Wait::TimedOut => return Err(Failure::Reason("timed out".into())),
                        Wait::Stopped => return Err(Failure::Stopped),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(os(e)),
            }
        }
        flush_tls(stream, conn, self.poller).map_err(os)
    }
}

/// Writes what rustls has queued (handshake, alerts, key updates), waiting for room.
fn flush_tls(
    stream: &mut TcpStream,
    conn: &mut ClientConnection,
    poller: &mut Poller,
) -> io::Result<()> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while conn.wants_write() {
        match conn.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || poller.wait(Some(left)) != Wait::Ready {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "cannot write to the server",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}

impl ByteInput for Connection<'_> {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
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

    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        self.poller.wait(timeout)
    }
}
