//! A TCP listener whose clients' streams become datagrams. One thread serves every client
//! with `poll` (no thread per connection); each client has its own framer, so a datagram
//! only ever holds one client's bytes and lines from different clients never interleave.

use std::io::{self, Read as _};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::framed::{Framed, FramingSpec, READ_SIZE};
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::sink::Fanout;
use crate::stats::{Counters, Endpoint, Registry};
use crate::tcp_accept::{self, Acceptor};
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

pub fn start(
    spec: &TcpListenSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    waker: Waker,
) -> Result<TcpListenSource> {
    let listener = tcp_accept::bind(spec.addr)?;
    let local_addr = listener.local_addr().unwrap_or(spec.addr);
    let endpoint = registry.register("tcp-listener", local_addr.to_string());
    let acceptor = Acceptor::new(listener, spec.max_clients);
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-tcp-in {local_addr}"))
        .spawn(move || serve(acceptor, spec, endpoint, fanout, reporter, waker))
        .map_err(|e| Error::os("cannot start a TCP listener thread", &e))?;
    Ok(TcpListenSource { local_addr, thread })
}

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    framed: Framed,
    /// When the partial line it holds must go out.
    linger_deadline: Option<Instant>,
}

fn serve(
    mut acceptor: Acceptor,
    spec: TcpListenSpec,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    waker: Waker,
) {
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0u8; READ_SIZE];
    let c = &endpoint.counters;
    loop {
        let now = Instant::now();
        let linger = clients
            .iter()
            .filter_map(|c| c.linger_deadline)
            .min()
            .map(|d| d.saturating_duration_since(now));
        let timeout = match (linger, acceptor.timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(clients.len() + 2);
        fds.push(acceptor.pollfd());
        fds.extend(clients.iter().map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        if waker.poll(&mut fds, timeout) == Wait::Stopped {
            break;
        }
        if fds[0].revents != 0 {
            acceptor.accept_all(clients.len(), &endpoint, &reporter, |stream, peer| {
                let framed = Framed::new(
                    &spec.framing,
                    fanout.clone(),
                    endpoint.clone(),
                    waker.clone(),
                );
                clients.push(Client {
                    stream,
                    peer,
                    framed,
                    linger_deadline: None,
                });
            });
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
