//! Opening a TCP (or TLS) connection without blocking the route: resolve again, connect with
//! a deadline, shake hands, all while the route's stop can end the wait. Shared by the
//! connections we keep as sources (`source::tcp_connect`) and the outputs that connect out
//! (`sink::connect_out`), which differ only in which way the bytes then go.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};
use rustls::ClientConnection;
use socket2::SockRef;

use crate::error::describe_os_error;
use crate::poller::{Poller, Wait};
use crate::tls::{self, TlsClient};

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The token the connection is registered with in its thread's poller.
pub(crate) const CONNECTION: Token = Token(0);

/// `host:port`, with an IPv6 literal in brackets.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Why a connection attempt did not produce a stream.
pub(crate) enum Failure {
    /// The route is stopping: nothing to report.
    Stopped,
    Reason(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Reason(reason)
    }
}

/// Where to connect, and how.
pub(crate) struct Dialer {
    /// Host name or IP as given; resolved again before every attempt.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The address resolved at start, used when a later resolution fails.
    pub(crate) addr: SocketAddr,
    pub(crate) tls: Option<TlsClient>,
}

impl Dialer {
    /// How the connection is named in stats and the log: `[tls://]HOST:PORT`.
    pub(crate) fn name(&self) -> String {
        let scheme = if self.tls.is_some() { "tls://" } else { "" };
        format!("{scheme}{}", join_host_port(&self.host, self.port))
    }

    /// Every address to try, in the resolver's order. An IP literal is used as given (with
    /// its interface scope); a name is resolved again, falling back to the start's answer.
    fn candidates(&self) -> Vec<SocketAddr> {
        if self.host.parse::<std::net::IpAddr>().is_ok() {
            return vec![self.addr];
        }
        match (self.host.as_str(), self.port).to_socket_addrs() {
            Ok(addrs) => {
                let all: Vec<SocketAddr> = addrs.collect();
                if all.is_empty() {
                    vec![self.addr]
                } else {
                    all
                }
            }
            Err(_) => vec![self.addr],
        }
    }

    /// A connected (and, with TLS, handshaken) transport, registered with `poller` for
    /// reading and writing under [`CONNECTION`].
    pub(crate) fn dial(&self, poller: &mut Poller) -> Result<Transport, Failure> {
        let mut last = String::from("no address to connect to");
        for addr in self.candidates() {
            match connect_to(addr, poller) {
                Ok(stream) => return self.secure(stream, poller),
                Err(Failure::Stopped) => return Err(Failure::Stopped),
                Err(Failure::Reason(why)) => last = why,
            }
        }
        Err(Failure::Reason(last))
    }

    fn secure(&self, mut stream: TcpStream, poller: &mut Poller) -> Result<Transport, Failure> {
        let Some(tls) = &self.tls else {
            return Ok(Transport::Plain { stream });
        };
        let conn = match ClientConnection::new(tls.config.clone(), tls.server_name.clone()) {
            Ok(conn) => conn,
            Err(e) => {
                let _ = poller.registry().deregister(&mut stream);
                return Err(Failure::Reason(format!("TLS setup failed: {e}")));
            }
        };
        let mut transport = Transport::Tls {
            stream,
            conn: Box::new(conn),
        };
        match transport.handshake(poller) {
            Ok(()) => Ok(transport),
            Err(failure) => {
                transport.close(poller);
                Err(match failure {
                    Failure::Stopped => Failure::Stopped,
                    Failure::Reason(why) => Failure::Reason(format!("TLS handshake failed: {why}")),
                })
            }
        }
    }
}

/// Connects without blocking, registered with the poller (until the transport closes).
fn connect_to(addr: SocketAddr, poller: &mut Poller) -> Result<TcpStream, Failure> {
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
    poller
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
        if poller.wait(Some(left)) == Wait::Stopped {
            break Err(Failure::Stopped);
        }
    };
    match result {
        Ok(()) => Ok(stream),
        Err(failure) => {
            let _ = poller.registry().deregister(&mut stream);
            Err(failure)
        }
    }
}

/// A connected stream, plain or TLS, over a non-blocking socket registered with a poller.
pub(crate) enum Transport {
    Plain {
        stream: TcpStream,
    },
    Tls {
        stream: TcpStream,
        conn: Box<ClientConnection>,
    },
}

pub(crate) fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::other(tls::describe(&e))
}

/// Most bytes handed to a TLS session at once: what it encrypts is written before more is
/// taken, so the session's buffer stays this small.
const TLS_WRITE_SLICE: usize = 16 * 1024;

impl Transport {
    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream().peer_addr().ok()
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        match self {
            Transport::Plain { stream } | Transport::Tls { stream, .. } => stream,
        }
    }

    /// Ends the registration (the socket closes when the transport is dropped).
    pub(crate) fn close(&mut self, poller: &mut Poller) {
        let stream = match self {
            Transport::Plain { stream } | Transport::Tls { stream, .. } => stream,
        };
        let _ = poller.registry().deregister(stream);
    }

    /// Ends our side in order (TLS: a close_notify first), so the peer sees an end, not a
    /// reset, and what the kernel still has to send is sent.
    pub(crate) fn shut_down(&mut self) {
        if let Transport::Tls { stream, conn } = self {
            conn.send_close_notify();
            let _ = conn.write_tls(stream);
        }
        let _ = self.stream().shutdown(std::net::Shutdown::Write);
    }

    fn handshake(&mut self, poller: &mut Poller) -> Result<(), Failure> {
        let Transport::Tls { stream, conn } = self else {
            return Ok(());
        };
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let os = |e: io::Error| Failure::Reason(describe_os_error(&e));
        while conn.is_handshaking() {
            flush_tls(stream, conn, poller).map_err(os)?;
            if !conn.is_handshaking() {
                break;
            }
            match conn.read_tls(stream) {
                Ok(0) => return Err(Failure::Reason("the server closed the connection".into())),
                Ok(_) => {
                    if let Err(e) = conn.process_new_packets() {
                        // Tell the server why, then give up.
                        let _ = flush_tls(stream, conn, poller);
                        return Err(Failure::Reason(tls::describe(&e)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match poller.wait(Some(left)) {
                        Wait::Ready => {}
                        Wait::TimedOut => return Err(Failure::Reason("timed out".into())),
                        Wait::Stopped => return Err(Failure::Stopped),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(os(e)),
            }
        }
        flush_tls(stream, conn, poller).map_err(os)
    }

    /// Writes what it can of `buf` now, without waiting: the bytes taken (`WouldBlock` when
    /// none could be). With TLS, what the session already holds goes first.
    pub(crate) fn write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain { stream } => loop {
                match stream.write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => return other,
                }
            },
            Transport::Tls { stream, conn } => {
                write_tls_now(stream, conn)?;
                if conn.wants_write() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = conn
                    .writer()
                    .write(&buf[..buf.len().min(TLS_WRITE_SLICE)])?;
                // Sent as far as the socket takes it; the rest goes before the next write.
                match write_tls_now(stream, conn) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(n),
                }
            }
        }
    }

    /// Whether a TLS session still holds bytes for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        matches!(self, Transport::Tls { conn, .. } if conn.wants_write())
    }

    /// Writes what a TLS session holds, as far as the socket takes it now.
    pub(crate) fn flush_now(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain { .. } => Ok(()),
            Transport::Tls { stream, conn } => match write_tls_now(stream, conn) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                other => other,
            },
        }
    }

    /// Reads and throws away what the peer sent (an output's peer is not expected to say
    /// anything that matters); `Ok(false)` when the peer ended the stream.
    pub(crate) fn discard_input(&mut self) -> io::Result<bool> {
        let mut scratch = [0u8; 4096];
        // Bounded, so a peer that floods us cannot hold the thread.
        for _ in 0..16 {
            match self {
                Transport::Plain { stream } => match stream.read(&mut scratch) {
                    Ok(0) => return Ok(false),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                Transport::Tls { stream, conn } => {
                    match conn.read_tls(stream) {
                        Ok(0) => return Ok(false),
                        Ok(_) => {
                            conn.process_new_packets().map_err(tls_io_error)?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                    loop {
                        match conn.reader().read(&mut scratch) {
                            Ok(0) => return Ok(false),
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(true)
    }
}

/// Writes what a TLS session holds until it is empty or the socket is full (`WouldBlock`).
fn write_tls_now(stream: &mut TcpStream, conn: &mut ClientConnection) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes what rustls has queued (handshake, alerts, key updates), waiting for room.
pub(crate) fn flush_tls(
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
