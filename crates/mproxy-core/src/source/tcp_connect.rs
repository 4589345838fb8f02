//! A TCP (or TLS) connection we open and keep: the stream is framed into datagrams like a
//! file. On refusal, end, reset or a failed handshake it reconnects with exponential backoff
//! and jitter, and reports each state change once, not once per attempt.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ClientConnection;
use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use super::framed::{ByteInput, Framed, FramingSpec, Read, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::tls::{self, TlsClient, TlsSpec};
use crate::waker::{Interest, Wait, Waker};

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

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that ends sooner than this after it was made counts as a failed attempt:
/// the reconnect delay keeps growing instead of starting again from the minimum.
pub const SHORT_LIVED: Duration = Duration::from_secs(10);

pub fn start(
    spec: &TcpConnectSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    waker: Waker,
) -> Result<JoinHandle<()>> {
    let tls = spec.tls.as_ref().map(TlsClient::new).transpose()?;
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
                waker,
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
    waker: Waker,
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
            self.waker.clone(),
        );
        // Connections in a row that ended within SHORT_LIVED of being made. A peer that
        // accepts and then fails (a TLS server wanting a client certificate, a reset right
        // after accept) must not reset the backoff, or it would be retried every 0.5 s forever.
        let mut short_lived = 0u32;
        while !self.waker.is_stopped() {
            match self.connect() {
                Ok(mut transport) => {
                    Counters::add(&self.endpoint.counters.connects, 1);
                    // While connections keep failing at once, each is not announced again:
                    // the line below said so once.
                    if short_lived < 2 {
                        self.reporter.info(format!("connected to {}", self.name));
                    }
                    self.failing = None;
                    let connected_at = Instant::now();
                    let outcome = framed.pump(&mut transport, &mut buf);
                    if self.waker.is_stopped() {
                        break;
                    }
                    Counters::add(&self.endpoint.counters.disconnects, 1);
                    let why = match outcome {
                        Ok(_) => "closed by the peer".to_string(),
                        Err(e) => describe_os_error(&e),
                    };
                    let lasted = connected_at.elapsed();
                    if lasted >= SHORT_LIVED {
                        if short_lived >= 2 {
                            self.reporter.info(format!(
                                "connection to {} stayed up for {} s before it was lost",
                                self.name,
                                lasted.as_secs()
                            ));
                        }
                        short_lived = 0;
                        backoff = self.spec.backoff_min;
                    } else {
                        short_lived = short_lived.saturating_add(1);
                    }
                    match short_lived {
                        0 | 1 => self.reporter.warn(format!(
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
                }
                Err(Failure::Stopped) => break,
                Err(Failure::Reason(reason)) => {
                    // A refusal is a new state: the next connection that works is announced.
                    short_lived = 0;
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
            let pause = self.jittered(backoff);
            if !self.waker.sleep(pause) {
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

    fn connect_to(&self, addr: SocketAddr) -> std::result::Result<TcpStream, Failure> {
        let fail = |e: io::Error| Failure::Reason(describe_os_error(&e));
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        // A dead peer (host gone, cable pulled) is noticed within about a minute.
        let keepalive = TcpKeepalive::new()
            .with_time(Duration::from_secs(30))
            .with_interval(Duration::from_secs(10))
            .with_retries(3);
        let _ = socket.set_tcp_keepalive(&keepalive);
        let _ = socket.set_keepalive(true);
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EINPROGRESS)
                    || e.kind() == io::ErrorKind::WouldBlock =>
            {
                match self
                    .waker
                    .wait(socket.as_raw_fd(), Interest::Write, Some(CONNECT_TIMEOUT))
                {
                    Wait::Ready => {}
                    Wait::TimedOut => return Err(Failure::Reason("connection timed out".into())),
                    Wait::Stopped => return Err(Failure::Stopped),
                }
                if let Ok(Some(e)) | Err(e) = socket.take_error() {
                    return Err(fail(e));
                }
            }
            Err(e) => return Err(fail(e)),
        }
        Ok(socket.into())
    }

    fn secure(&self, stream: TcpStream) -> std::result::Result<Transport, Failure> {
        match &self.tls {
            None => Ok(Transport::Plain {
                stream,
                waker: self.waker.clone(),
            }),
            Some(tls) => {
                let conn = ClientConnection::new(tls.config.clone(), tls.server_name.clone())
                    .map_err(|e| Failure::Reason(format!("TLS setup failed: {e}")))?;
                let mut t = Transport::Tls {
                    stream,
                    conn: Box::new(conn),
                    waker: self.waker.clone(),
                    buffered: 0,
                };
                match t.handshake() {
                    Ok(()) => Ok(t),
                    Err(Failure::Stopped) => Err(Failure::Stopped),
                    Err(Failure::Reason(why)) => {
                        Err(Failure::Reason(format!("TLS handshake failed: {why}")))
                    }
                }
            }
        }
    }
}

/// A connected stream, plain or TLS, over a non-blocking socket polled with the stop signal.
enum Transport {
    Plain {
        stream: TcpStream,
        waker: Waker,
    },
    Tls {
        stream: TcpStream,
        conn: Box<ClientConnection>,
        waker: Waker,
        buffered: usize,
    },
}

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::other(tls::describe(&e))
}

impl Transport {
    fn handshake(&mut self) -> std::result::Result<(), Failure> {
        let Transport::Tls {
            stream,
            conn,
            waker,
            ..
        } = self
        else {
            return Ok(());
        };
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let os = |e: io::Error| Failure::Reason(describe_os_error(&e));
        while conn.is_handshaking() {
            flush_tls(stream, conn, waker).map_err(os)?;
            if !conn.is_handshaking() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match waker.wait(stream.as_raw_fd(), Interest::Read, Some(left)) {
                Wait::Ready => {}
                Wait::TimedOut => return Err(Failure::Reason("timed out".into())),
                Wait::Stopped => return Err(Failure::Stopped),
            }
            match conn.read_tls(stream) {
                Ok(0) => return Err(Failure::Reason("the server closed the connection".into())),
                Ok(_) => {
                    if let Err(e) = conn.process_new_packets() {
                        // Tell the server why, then give up.
                        let _ = flush_tls(stream, conn, waker);
                        return Err(Failure::Reason(tls::describe(&e)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(os(e)),
            }
        }
        flush_tls(stream, conn, waker).map_err(os)
    }
}

/// Writes what rustls has queued (handshake, alerts, key updates).
fn flush_tls(stream: &mut TcpStream, conn: &mut ClientConnection, waker: &Waker) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if waker.wait(stream.as_raw_fd(), Interest::Write, Some(CONNECT_TIMEOUT))
                    != Wait::Ready
                {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "cannot write to the server",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}

impl ByteInput for Transport {
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Read> {
        match self {
            Transport::Plain { stream, waker } => {
                match waker.wait(stream.as_raw_fd(), Interest::Read, timeout) {
                    Wait::Stopped => return Ok(Read::Stopped),
                    Wait::TimedOut => return Ok(Read::TimedOut),
                    Wait::Ready => {}
                }
                match stream.read(buf) {
                    Ok(0) => Ok(Read::End),
                    Ok(n) => Ok(Read::Data(n)),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        Ok(Read::TimedOut)
                    }
                    Err(e) => Err(e),
                }
            }
            Transport::Tls {
                stream,
                conn,
                waker,
                buffered,
            } => loop {
                match conn.reader().read(buf) {
                    Ok(0) => return Ok(Read::End),
                    Ok(n) => {
                        *buffered = buffered.saturating_sub(n);
                        return Ok(Read::Data(n));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Read::End),
                    Err(e) => return Err(e),
                }
                flush_tls(stream, conn, waker)?;
                match waker.wait(stream.as_raw_fd(), Interest::Read, timeout) {
                    Wait::Stopped => return Ok(Read::Stopped),
                    Wait::TimedOut => return Ok(Read::TimedOut),
                    Wait::Ready => {}
                }
                match conn.read_tls(stream) {
                    Ok(0) => return Ok(Read::End),
                    Ok(_) => {
                        let state = conn.process_new_packets().map_err(tls_io_error)?;
                        *buffered = state.plaintext_bytes_to_read();
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }

    fn more_now(&mut self) -> bool {
        match self {
            Transport::Plain { stream, .. } => crate::io::fd::readable_now(stream.as_raw_fd()),
            Transport::Tls {
                stream, buffered, ..
            } => *buffered > 0 || crate::io::fd::readable_now(stream.as_raw_fd()),
        }
    }
}
