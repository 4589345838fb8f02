//! A listening TCP address whose clients each receive the route's datagram payloads as one
//! stream, from the moment they connect.
//!
//! `deliver` (on the receiving thread) copies a batch once into a shared chunk and wakes
//! the output thread; that thread accepts clients, queues each chunk for every client and
//! writes with non-blocking sockets under `poll`. Every client has a bounded queue: one
//! that does not keep up is disconnected (counted, reported once per client), so no client
//! slows the reader or the others.
//!
//! The thread does not stop with the route's stop signal but when the sink is finished,
//! after every source has delivered its last batch; it then writes what clients still have
//! queued, for a bounded time, and counts what it could not deliver.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::io::fd::poll_fds;
use crate::notify::Notify;
use crate::stats::{Counters, Endpoint, Registry};
use crate::tcp_accept::{self, Acceptor};

#[derive(Debug, Clone)]
pub struct TcpOutputSpec {
    pub addr: SocketAddr,
    pub max_clients: usize,
    /// Bytes a client may fall behind before it is disconnected.
    pub client_queue_bytes: usize,
}

/// Chunks are shared between clients, so this bounds memory once, not once per client:
/// generous, so that a reader that is merely busy for a moment is not thrown out.
pub const DEFAULT_CLIENT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_CLIENTS: usize = 1024;
/// Chunks waiting for the output thread, beyond which new batches are dropped (counted).
const HANDOFF_LIMIT_BYTES: usize = 64 * 1024 * 1024;

type Chunk = Arc<Vec<u8>>;

struct Handoff {
    chunks: Mutex<(Vec<Chunk>, usize)>,
    notify: Notify,
    /// Set by `finish`: no more batches will come.
    closing: AtomicBool,
}

/// How long a stopping output keeps writing what its clients still have queued.
const FINAL_WRITE_LIMIT: Duration = Duration::from_secs(2);

pub struct TcpOutputSink {
    handoff: Arc<Handoff>,
    endpoint: Arc<Endpoint>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub local_addr: SocketAddr,
}

impl TcpOutputSink {
    pub fn new(spec: &TcpOutputSpec, registry: &Registry, reporter: Reporter) -> Result<Self> {
        let listener = tcp_accept::bind(spec.addr)?;
        let local_addr = listener.local_addr().unwrap_or(spec.addr);
        let endpoint = registry.register("tcp-output", local_addr.to_string());
        let handoff = Arc::new(Handoff {
            chunks: Mutex::new((Vec::new(), 0)),
            notify: Notify::new()?,
            closing: AtomicBool::new(false),
        });
        let thread = {
            let (handoff, endpoint, spec) = (handoff.clone(), endpoint.clone(), spec.clone());
            std::thread::Builder::new()
                .name(format!("mproxy-tcp-out {local_addr}"))
                .spawn(move || {
                    Output {
                        acceptor: Acceptor::new(listener, spec.max_clients),
                        spec,
                        handoff,
                        endpoint,
                        reporter,
                        clients: Vec::new(),
                    }
                    .run()
                })
                .map_err(|e| Error::os("cannot start a TCP output thread", &e))?
        };
        Ok(TcpOutputSink {
            handoff,
            endpoint,
            thread: Mutex::new(Some(thread)),
            local_addr,
        })
    }
}

impl Sink for TcpOutputSink {
    fn deliver(&self, batch: &Batch) {
        let bytes = batch.byte_count();
        if bytes == 0 {
            return;
        }
        let c = &self.endpoint.counters;
        c.add_in(batch.datagram_count() as u64, bytes as u64);
        let mut chunk = Vec::with_capacity(bytes);
        batch.append_payload_to(&mut chunk);
        let Ok(mut pending) = self.handoff.chunks.lock() else {
            return;
        };
        if pending.1 + bytes > HANDOFF_LIMIT_BYTES {
            Counters::add(&c.queue_drops, batch.datagram_count() as u64);
            Counters::add(&c.bytes_dropped, bytes as u64);
            return;
        }
        pending.0.push(Arc::new(chunk));
        pending.1 += bytes;
        drop(pending);
        self.handoff.notify.signal();
    }

    fn finish(&self) {
        self.handoff.closing.store(true, Ordering::SeqCst);
        self.handoff.notify.signal();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    queue: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    written: usize,
    queued: usize,
}

struct Output {
    acceptor: Acceptor,
    spec: TcpOutputSpec,
    handoff: Arc<Handoff>,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    clients: Vec<Client>,
}

enum Flow {
    Open,
    Closed(Option<String>),
}

impl Output {
    fn run(&mut self) {
        loop {
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.clients.len() + 2);
            fds.push(self.acceptor.pollfd());
            fds.push(libc::pollfd {
                fd: self.handoff.notify.fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            for c in &self.clients {
                let events = if c.queue.is_empty() {
                    libc::POLLIN
                } else {
                    libc::POLLIN | libc::POLLOUT
                };
                fds.push(libc::pollfd {
                    fd: c.stream.as_raw_fd(),
                    events,
                    revents: 0,
                });
            }
            if poll_fds(&mut fds, self.acceptor.timeout()).is_err() {
                break;
            }
            // New chunks are handed out after the clients were served, so that evictions
            // do not reorder the clients while `fds` still describes them.
            let woken = fds[1].revents != 0;
            if woken {
                self.handoff.notify.drain();
                if self.handoff.closing.load(Ordering::SeqCst) {
                    break;
                }
            }
            let mut closed: Vec<(usize, Option<String>)> = Vec::new();
            for (i, client) in self.clients.iter_mut().enumerate() {
                let revents = fds.get(i + 2).map_or(0, |f| f.revents);
                let mut flow = Flow::Open;
                if revents & libc::POLLIN != 0 {
                    flow = drain_input(client);
                }
                if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    flow = Flow::Closed(None);
                }
                if matches!(flow, Flow::Open) && !client.queue.is_empty() {
                    flow = write_queue(client, &self.endpoint.counters);
                }
                if let Flow::Closed(why) = flow {
                    closed.push((i, why));
                }
            }
            for (i, why) in closed.into_iter().rev() {
                let client = self.clients.swap_remove(i);
                self.count_undelivered(&client);
                Counters::add(&self.endpoint.counters.disconnects, 1);
                let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
                self.reporter.info(format!(
                    "{}: TCP client {} left{why}",
                    self.endpoint.name, client.peer
                ));
            }
            if woken {
                self.distribute();
            }
            if fds[0].revents != 0 {
                let clients = &mut self.clients;
                self.acceptor.accept_all(
                    clients.len(),
                    &self.endpoint,
                    &self.reporter,
                    |stream, peer| {
                        let _ = stream.set_nodelay(true);
                        clients.push(Client {
                            stream,
                            peer,
                            queue: VecDeque::new(),
                            written: 0,
                            queued: 0,
                        });
                    },
                );
            }
        }
        self.write_remaining();
    }

    /// Stopping: everything that was delivered goes to the clients that can take it within
    /// the limit; what they cannot take is counted as dropped.
    fn write_remaining(&mut self) {
        self.distribute();
        let deadline = Instant::now() + FINAL_WRITE_LIMIT;
        let mut done: Vec<Client> = Vec::new();
        loop {
            let (finished, pending): (Vec<Client>, Vec<Client>) = std::mem::take(&mut self.clients)
                .into_iter()
                .partition(|c| c.queue.is_empty());
            done.extend(finished);
            self.clients = pending;
            let now = Instant::now();
            if self.clients.is_empty() || now >= deadline {
                break;
            }
            let mut fds: Vec<libc::pollfd> = self
                .clients
                .iter()
                .map(|c| libc::pollfd {
                    fd: c.stream.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                })
                .collect();
            if poll_fds(&mut fds, Some(deadline - now)).is_err() {
                break;
            }
            let mut failed: Vec<usize> = Vec::new();
            for (i, client) in self.clients.iter_mut().enumerate() {
                let revents = fds[i].revents;
                let broken = revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
                if broken
                    || (revents != 0
                        && matches!(
                            write_queue(client, &self.endpoint.counters),
                            Flow::Closed(_)
                        ))
                {
                    failed.push(i);
                }
            }
            for i in failed.into_iter().rev() {
                let client = self.clients.swap_remove(i);
                self.count_undelivered(&client);
            }
        }
        for client in std::mem::take(&mut self.clients) {
            self.count_undelivered(&client);
        }
        // Closing a socket with unread input resets it, and a reset throws away what the
        // kernel has not sent yet: read what clients sent, then end our side in order.
        for mut client in done {
            let _ = drain_input(&mut client);
            let _ = client.stream.shutdown(std::net::Shutdown::Write);
        }
    }

    fn count_undelivered(&self, client: &Client) {
        if client.queued > 0 {
            Counters::add(&self.endpoint.counters.bytes_dropped, client.queued as u64);
        }
    }

    fn distribute(&mut self) {
        let chunks = match self.handoff.chunks.lock() {
            Ok(mut pending) => {
                pending.1 = 0;
                std::mem::take(&mut pending.0)
            }
            Err(_) => return,
        };
        if chunks.is_empty() {
            return;
        }
        let limit = self.spec.client_queue_bytes;
        let mut evicted: Vec<usize> = Vec::new();
        for (i, client) in self.clients.iter_mut().enumerate() {
            for chunk in &chunks {
                client.queued += chunk.len();
                client.queue.push_back(chunk.clone());
            }
            // Judge a client by what it cannot take now, not by how much arrived at once.
            let _ = write_queue(client, &self.endpoint.counters);
            if client.queued > limit {
                evicted.push(i);
            }
        }
        for i in evicted.into_iter().rev() {
            let client = self.clients.swap_remove(i);
            self.count_undelivered(&client);
            Counters::add(&self.endpoint.counters.evicted, 1);
            Counters::add(&self.endpoint.counters.disconnects, 1);
            self.reporter.warn(format!(
                "{}: disconnected TCP client {}: it fell {} bytes behind (limit {limit})",
                self.endpoint.name, client.peer, client.queued
            ));
        }
    }
}

/// Clients are not expected to send; what they do send is read and dropped. The end of
/// their stream means they left: a peer that closed and one that only shut down its sending
/// side look the same here, and cleaning up at once matters more (a listener that must not
/// send should keep its side open, as `nc -d` or `ncat --recv-only` do).
fn drain_input(client: &mut Client) -> Flow {
    let mut scratch = [0u8; 4096];
    // Bounded, so a client that floods us cannot keep this thread from the others.
    for _ in 0..16 {
        match client.stream.read(&mut scratch) {
            Ok(0) => return Flow::Closed(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flow::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Flow::Closed(Some(describe_os_error(&e))),
        }
    }
    Flow::Open
}

fn write_queue(client: &mut Client, counters: &Counters) -> Flow {
    while let Some(front) = client.queue.front() {
        match client.stream.write(&front[client.written..]) {
            Ok(n) => {
                counters.add_out(0, n as u64);
                client.written += n;
                client.queued -= n;
                if client.written == front.len() {
                    client.queue.pop_front();
                    client.written = 0;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flow::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Flow::Closed(Some(describe_os_error(&e))),
        }
    }
    Flow::Open
}
