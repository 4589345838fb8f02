//! A TCP listener whose clients' streams become datagrams. One thread serves every client
//! with `poll` (no thread per connection); each client has its own framer, so a datagram
//! only ever holds one client's bytes and lines from different clients never interleave.

use std::io::{self, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::framed::{Framed, FramingSpec, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::waker::{Wait, Waker};

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
    socket
        .set_reuse_address(true)
        .map_err(|e| Error::os(&context, &e))?;
    socket
        .bind(&addr.into())
        .map_err(|e| Error::os(&context, &e))?;
    socket.listen(1024).map_err(|e| Error::os(&context, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::os(&context, &e))?;
    Ok(socket.into())
}

pub fn start(
    spec: &TcpListenSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    waker: Waker,
) -> Result<TcpListenSource> {
    let listener = bind(spec.addr)?;
    let local_addr = listener.local_addr().unwrap_or(spec.addr);
    let endpoint = registry.register("tcp-listener", local_addr.to_string());
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-tcp-in {local_addr}"))
        .spawn(move || serve(listener, spec, endpoint, fanout, reporter, waker))
        .map_err(|e| Error::os("cannot start a TCP listener thread", &e))?;
    Ok(TcpListenSource { local_addr, thread })
}

struct Client {
    stream: TcpStream,
    peer: String,
    framed: Framed,
    /// When the partial line it holds must go out.
    linger_deadline: Option<Instant>,
}

fn serve(
    listener: TcpListener,
    spec: TcpListenSpec,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    waker: Waker,
) {
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0u8; READ_SIZE];
    let mut refusing = false;
    let mut failing = false;
    let c = &endpoint.counters;
    loop {
        let now = Instant::now();
        let timeout = clients
            .iter()
            .filter_map(|c| c.linger_deadline)
            .min()
            .map(|d| d.saturating_duration_since(now));
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(clients.len() + 2);
        fds.push(libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.extend(clients.iter().map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        if waker.poll(&mut fds, timeout) == Wait::Stopped {
            break;
        }
        if fds[0].revents != 0 {
            accept_all(
                &listener,
                &spec,
                &mut clients,
                &fanout,
                &endpoint,
                &reporter,
                &waker,
                &mut refusing,
                &mut failing,
            );
        }
        let now = Instant::now();
        let mut closed: Vec<usize> = Vec::new();
        for (i, client) in clients.iter_mut().enumerate() {
            let ready = fds.get(i + 1).is_some_and(|f| f.revents != 0);
            if ready {
                match client.stream.read(&mut buf) {
                    Ok(0) => closed.push(i),
                    Ok(n) => {
                        let paused = !crate::io::fd::readable_now(client.stream.as_raw_fd());
                        client.framed.take(&buf[..n], paused);
                        client.linger_deadline = client.framed.linger_timeout().map(|d| now + d);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => {
                        reporter.warn(format!(
                            "TCP client {} on {}: {}",
                            client.peer,
                            endpoint.name,
                            describe_os_error(&e)
                        ));
                        closed.push(i);
                    }
                }
            } else if client.linger_deadline.is_some_and(|d| d <= now) {
                client.framed.flush();
                client.linger_deadline = None;
            }
        }
        for i in closed.into_iter().rev() {
            let mut client = clients.swap_remove(i);
            client.framed.flush();
            Counters::add(&c.disconnects, 1);
            reporter.info(format!(
                "{}: TCP client {} left",
                endpoint.name, client.peer
            ));
        }
        if refusing && clients.len() < spec.max_clients {
            refusing = false;
        }
    }
    // What clients sent before the stop is in the kernel: read it (within reason) so it is
    // delivered, and so closing does not reset connections with unread data.
    for mut client in clients {
        for _ in 0..64 {
            match client.stream.read(&mut buf) {
                Ok(n) if n > 0 => client.framed.take(&buf[..n], false),
                _ => break,
            }
        }
        client.framed.flush();
    }
}

#[allow(clippy::too_many_arguments)]
fn accept_all(
    listener: &TcpListener,
    spec: &TcpListenSpec,
    clients: &mut Vec<Client>,
    fanout: &Fanout,
    endpoint: &Arc<Endpoint>,
    reporter: &Reporter,
    waker: &Waker,
    refusing: &mut bool,
    failing: &mut bool,
) {
    let c = &endpoint.counters;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if clients.len() >= spec.max_clients {
                    Counters::add(&c.refused, 1);
                    if !*refusing {
                        *refusing = true;
                        reporter.warn(format!(
                            "{}: refusing TCP clients beyond the limit of {}",
                            endpoint.name, spec.max_clients
                        ));
                    }
                    continue;
                }
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                Counters::add(&c.connects, 1);
                *failing = false;
                reporter.info(format!("{}: TCP client {peer} connected", endpoint.name));
                let framed = Framed::new(
                    &spec.framing,
                    fanout.clone(),
                    endpoint.clone(),
                    waker.clone(),
                );
                clients.push(Client {
                    stream,
                    peer: peer.to_string(),
                    framed,
                    linger_deadline: None,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                // Out of descriptors and the like: the connection stays pending, so rest a
                // moment instead of spinning, and report the state once.
                if !*failing {
                    *failing = true;
                    reporter.warn(format!(
                        "{}: accept failed: {}",
                        endpoint.name,
                        describe_os_error(&e)
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
                return;
            }
        }
    }
}
