//! A listening TCP address whose clients each receive the route's datagram payloads as one
//! stream, from the moment they connect.
//!
//! `deliver` (on the receiving thread) copies a batch once into a shared chunk and wakes
//! the output thread; that thread accepts clients, queues each chunk for every client and
//! writes with non-blocking sockets as its poller reports room. Every client has a bounded queue: one
//! that does not keep up is disconnected (counted, reported once per client), so no client
//! slows the reader or the others.
//!
//! The thread does not stop with the route's stop signal but when the sink is finished,
//! after every source has delivered its last batch; it then writes what clients still have
//! queued, for a bounded time, and counts what it could not deliver.
//!
//! The listener may speak TLS and admit only some addresses, as the TCP inputs do.
//!
//! A preamble line goes to every new client before any data (after its TLS handshake), and
//! a keep-alive line to a client that was sent nothing for the keep-alive's quiet time,
//! timed by the poll loop's own timeout (`sink::keep_alive`).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::{ClientAction, Notice, Reporter};
use crate::poller::{Poller, Wait, Wakeup};
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tcp::accept::{self, Acceptor, LogOnce, HANDSHAKE_LIMIT};
use crate::tcp::access::AccessSpec;
use crate::tls::{ClientStream, TlsServer, TlsServerSpec};

#[derive(Debug, Clone)]
pub struct TcpOutputSpec {
    pub addr: SocketAddr,
    pub max_clients: usize,
    /// Bytes a client may fall behind before it is disconnected.
    pub client_queue_bytes: usize,
    pub access: AccessSpec,
    pub tls: Option<TlsServerSpec>,
    /// Sent to every new client before any data (with its line end).
    pub preamble: Option<Vec<u8>>,
    /// Sent to a client that was sent nothing for this long.
    pub keep_alive: Option<super::keep_alive::KeepAliveSpec>,
}

/// Chunks are shared between clients, so this bounds memory once, not once per client:
/// generous, so that a reader that is merely busy for a moment is not thrown out.
pub const DEFAULT_CLIENT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_CLIENTS: usize = 1024;
/// Chunks waiting for the output thread, beyond which new batches are dropped (counted).
const HANDOFF_LIMIT_BYTES: usize = 64 * 1024 * 1024;

const LISTENER: Token = Token(0);

type Chunk = Arc<Vec<u8>>;

struct Handoff {
    chunks: Mutex<(Vec<Chunk>, usize)>,
    wakeup: Wakeup,
    /// Set by `finish`: no more batches will come.
    closing: AtomicBool,
}

/// How long a stopping output keeps writing what its clients still have queued.
const FINAL_WRITE_LIMIT: Duration = Duration::from_secs(2);

pub(crate) struct TcpOutputSink {
    handoff: Arc<Handoff>,
    endpoint: Arc<Endpoint>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub local_addr: SocketAddr,
}

impl TcpOutputSink {
    pub(crate) fn new(
        spec: &TcpOutputSpec,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<Self> {
        let tls = spec.tls.as_ref().map(TlsServer::new).transpose()?;
        let mut listener = accept::bind(spec.addr)?;
        let local_addr = listener.local_addr().unwrap_or(spec.addr);
        let endpoint = registry.register("tcp-output", local_addr.to_string());
        // Its own stop token, never stopped: this thread ends when the sink is finished,
        // after the sources delivered their last batch, not with the route's stop signal.
        let poller = Poller::new(&StopToken::new())?;
        poller
            .registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|e| Error::os(format!("cannot wait on TCP {local_addr}"), &e))?;
        let handoff = Arc::new(Handoff {
            chunks: Mutex::new((Vec::new(), 0)),
            wakeup: poller.wakeup(),
            closing: AtomicBool::new(false),
        });
        let thread = {
            let (handoff, endpoint, spec) = (handoff.clone(), endpoint.clone(), spec.clone());
            std::thread::Builder::new()
                .name(format!("mproxy-tcp-out {local_addr}"))
                .spawn(move || {
                    Output {
                        acceptor: Acceptor::new(
                            listener,
                            spec.max_clients,
                            spec.access.clone(),
                            tls,
                        ),
                        handoff,
                        endpoint,
                        reporter,
                        poller,
                        clients: HashMap::new(),
                        preamble: spec.preamble.clone().map(Arc::new),
                        keep_alive: spec
                            .keep_alive
                            .as_ref()
                            .map(|k| (Arc::new(k.line.clone()), k.after)),
                        spec,
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
        self.handoff.wakeup.wake();
    }

    fn finish(&self) {
        self.handoff.closing.store(true, Ordering::SeqCst);
        self.handoff.wakeup.wake();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

struct Client {
    stream: ClientStream,
    peer: SocketAddr,
    accepted_at: Instant,
    queue: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    written: usize,
    queued: usize,
    /// Readiness was reported for reading / writing and not yet used up (`WouldBlock`).
    readable: bool,
    writable: bool,
    /// When the client was last given something to send (data, preamble, keep-alive).
    last_sent: Instant,
}

struct Output {
    acceptor: Acceptor,
    spec: TcpOutputSpec,
    handoff: Arc<Handoff>,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    poller: Poller,
    clients: HashMap<usize, Client>,
    /// The preamble and keep-alive lines, shared by the clients' queues.
    preamble: Option<Chunk>,
    keep_alive: Option<(Chunk, Duration)>,
}

enum Flow {
    Open,
    Closed(Option<String>),
}

impl Output {
    fn run(&mut self) {
        let mut accept_now = true;
        loop {
            // New chunks first: woken or not, taking an empty list costs a lock.
            self.handoff.wakeup.clear();
            if self.handoff.closing.load(Ordering::SeqCst) {
                break;
            }
            self.distribute();
            let mut closed: Vec<(usize, Option<String>)> = Vec::new();
            for (token, client) in self.clients.iter_mut() {
                let mut flow = Flow::Open;
                if client.readable {
                    client.readable = false;
                    flow = drain_input(client);
                }
                if matches!(flow, Flow::Open) && client.stream.newly_established() {
                    self.reporter.info(format!(
                        "{}: TLS client {} connected",
                        self.endpoint.name, client.peer
                    ));
                }
                if matches!(flow, Flow::Open)
                    && client.writable
                    && (!client.queue.is_empty() || client.stream.wants_write())
                {
                    flow = write_queue(client, &self.endpoint.counters);
                }
                if matches!(flow, Flow::Open)
                    && client.stream.handshaking()
                    && client.accepted_at.elapsed() >= HANDSHAKE_LIMIT
                {
                    client.stream.handshake_timed_out(HANDSHAKE_LIMIT);
                    flow = Flow::Closed(None);
                }
                if let Flow::Closed(why) = flow {
                    closed.push((*token, why));
                }
            }
            for (token, why) in closed {
                if let Some(client) = self.clients.remove(&token) {
                    self.left(client, why);
                }
            }
            if accept_now || self.acceptor.due() {
                self.accept();
            }
            accept_now = false;
            let keep_alive = self.keep_alives();
            // A client read for its share of a turn may have more to say: come straight back.
            let timeout = if self.clients.values().any(|c| c.readable) {
                Some(Duration::ZERO)
            } else {
                let handshake = self
                    .clients
                    .values()
                    .filter(|c| c.stream.handshaking())
                    .map(|c| {
                        (c.accepted_at + HANDSHAKE_LIMIT).saturating_duration_since(Instant::now())
                    })
                    .min();
                [handshake, self.acceptor.timeout(), keep_alive]
                    .into_iter()
                    .flatten()
                    .min()
            };
            match self.poller.wait(timeout) {
                Wait::Stopped | Wait::TimedOut => {}
                Wait::Ready => {
                    for event in self.poller.ready() {
                        if event.token() == LISTENER {
                            accept_now = true;
                        } else if let Some(c) = self.clients.get_mut(&event.token().0) {
                            // An error or hang-up shows as readable: the read says which.
                            c.readable |=
                                event.is_readable() || event.is_read_closed() || event.is_error();
                            c.writable |= event.is_writable();
                        }
                    }
                }
            }
        }
        self.write_remaining();
    }

    fn accept(&mut self) {
        let admitted = self.acceptor.accept_registered(
            self.clients.len(),
            self.poller.registry(),
            Interest::READABLE | Interest::WRITABLE,
            &self.endpoint,
            &self.reporter,
        );
        for (token, mut stream, peer) in admitted {
            let _ = stream.socket().set_nodelay(true);
            // A TLS client speaks first (its hello): read at once in case it already did.
            let readable = stream.is_tls();
            let mut client = Client {
                stream,
                peer,
                accepted_at: Instant::now(),
                queue: VecDeque::new(),
                written: 0,
                queued: 0,
                readable,
                writable: true,
                last_sent: Instant::now(),
            };
            // First in its queue, so before any data (held there until a TLS handshake is done).
            if let Some(line) = &self.preamble {
                client.queued += line.len();
                client.queue.push_back(line.clone());
                Counters::add(&self.endpoint.counters.preambles, 1);
            }
            self.clients.insert(token, client);
        }
    }

    /// Gives a keep-alive to every client that was given nothing for the quiet time (and
    /// has nothing left to write: one waiting for room is not quiet, only slow); returns
    /// how long until the next one is due.
    fn keep_alives(&mut self) -> Option<Duration> {
        let (line, after) = self.keep_alive.clone()?;
        let now = Instant::now();
        let mut next: Option<Duration> = None;
        for client in self.clients.values_mut() {
            // Not before its handshake is done (its own limit bounds that wait).
            if client.stream.handshaking() {
                continue;
            }
            let mut due = client.last_sent + after;
            if due <= now {
                client.last_sent = now;
                due = now + after;
                if client.queue.is_empty() {
                    client.queued += line.len();
                    client.queue.push_back(line.clone());
                    Counters::add(&self.endpoint.counters.keep_alives, 1);
                    if client.writable {
                        // A failed write shows again, and is handled, on the next turn.
                        let _ = write_queue(client, &self.endpoint.counters);
                    }
                }
            }
            let left = due.saturating_duration_since(now);
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        next
    }

    fn left(&mut self, mut client: Client, why: Option<String>) {
        let _ = self.poller.registry().deregister(client.stream.socket());
        self.count_undelivered(&client);
        self.acceptor.release(client.peer);
        Counters::add(&self.endpoint.counters.disconnects, 1);
        let failure = client.stream.handshake_failure();
        self.reporter.notice(Notice::Client {
            listener: self.endpoint.name.clone(),
            peer: client.peer.to_string(),
            action: ClientAction::Left,
            reason: failure.clone().or_else(|| why.clone()),
        });
        if let Some(failure) = failure {
            Counters::add(&self.endpoint.counters.tls_failures, 1);
            let (name, peer) = (&self.endpoint.name, client.peer);
            self.acceptor.warn_once_a_minute(
                LogOnce::TlsFailure,
                peer.ip(),
                &self.reporter,
                || format!("{name}: TLS handshake with {peer} failed: {failure}"),
            );
            return;
        }
        let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
        self.reporter.info(format!(
            "{}: TCP client {} left{why}",
            self.endpoint.name, client.peer
        ));
    }

    /// Stopping: everything that was delivered goes to the clients that can take it within
    /// the limit; what they cannot take is counted as dropped.
    fn write_remaining(&mut self) {
        self.distribute();
        let deadline = Instant::now() + FINAL_WRITE_LIMIT;
        let mut done: Vec<Client> = Vec::new();
        loop {
            let tokens: Vec<usize> = self.clients.keys().copied().collect();
            for token in tokens {
                let Some(client) = self.clients.get_mut(&token) else {
                    continue;
                };
                if client.writable && (!client.queue.is_empty() || client.stream.wants_write()) {
                    if let Flow::Closed(_) = write_queue(client, &self.endpoint.counters) {
                        if let Some(mut client) = self.clients.remove(&token) {
                            let _ = self.poller.registry().deregister(client.stream.socket());
                            self.count_undelivered(&client);
                        }
                        continue;
                    }
                }
                if client.queue.is_empty() && !client.stream.wants_write() {
                    if let Some(mut client) = self.clients.remove(&token) {
                        let _ = self.poller.registry().deregister(client.stream.socket());
                        done.push(client);
                    }
                }
            }
            let now = Instant::now();
            if self.clients.is_empty() || now >= deadline {
                break;
            }
            if self.poller.wait(Some(deadline - now)) == Wait::Ready {
                for event in self.poller.ready() {
                    if let Some(c) = self.clients.get_mut(&event.token().0) {
                        c.writable |= event.is_writable() || event.is_error();
                    }
                }
            }
        }
        for (_, client) in std::mem::take(&mut self.clients) {
            self.count_undelivered(&client);
        }
        // Closing a socket with unread input resets it, and a reset throws away what the
        // kernel has not sent yet: read what clients sent, then end our side in order.
        for mut client in done {
            let _ = drain_input(&mut client);
            client.stream.close_notify();
            let _ = client.stream.socket().shutdown(std::net::Shutdown::Write);
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
        let now = Instant::now();
        for (token, client) in self.clients.iter_mut() {
            client.last_sent = now;
            for chunk in &chunks {
                client.queued += chunk.len();
                client.queue.push_back(chunk.clone());
            }
            // Judge a client by what it cannot take now, not by how much arrived at once.
            if client.writable {
                let _ = write_queue(client, &self.endpoint.counters);
            }
            if client.queued > limit {
                evicted.push(*token);
            }
        }
        for token in evicted {
            let Some(mut client) = self.clients.remove(&token) else {
                continue;
            };
            let _ = self.poller.registry().deregister(client.stream.socket());
            self.count_undelivered(&client);
            self.acceptor.release(client.peer);
            Counters::add(&self.endpoint.counters.evicted, 1);
            Counters::add(&self.endpoint.counters.disconnects, 1);
            self.reporter.warn(format!(
                "{}: disconnected TCP client {}: it fell {} bytes behind (limit {limit})",
                self.endpoint.name, client.peer, client.queued
            ));
            self.reporter.notice(Notice::Client {
                listener: self.endpoint.name.clone(),
                peer: client.peer.to_string(),
                action: ClientAction::Evicted,
                reason: Some(format!(
                    "fell {} bytes behind (limit {limit})",
                    client.queued
                )),
            });
        }
    }
}

/// Why a client that ended its stream left (its event's reason, and the log line's).
const CLOSED_BY_CLIENT: &str =
    "the client closed the connection (or its sending side: a reader that only listens keeps that open, as nc -d and ncat --recv-only do)";

/// Clients are not expected to send; what they do send is read and dropped. The end of
/// their stream means they left: a peer that closed and one that only shut down its sending
/// side look the same here, and cleaning up at once matters more (a listener that must not
/// send should keep its side open, as `nc -d` or `ncat --recv-only` do).
fn drain_input(client: &mut Client) -> Flow {
    let mut scratch = [0u8; 4096];
    // Bounded, so a client that floods us cannot keep this thread from the others; it is
    // read again next turn (its readiness is not used up).
    for _ in 0..16 {
        match client.stream.read(&mut scratch) {
            // Said in the log: a reader whose own input ended (`nc -N`, `ncat` without
            // `--recv-only`) closes its side, and is gone by its own doing, not ours.
            Ok(0) => return Flow::Closed(Some(CLOSED_BY_CLIENT.to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flow::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Flow::Closed(Some(describe_os_error(&e))),
        }
    }
    client.readable = true;
    Flow::Open
}

fn write_queue(client: &mut Client, counters: &Counters) -> Flow {
    // What a TLS session holds goes first (and alone, once the queue is empty).
    if let Err(e) = client.stream.flush() {
        return Flow::Closed(Some(describe_os_error(&e)));
    }
    if client.stream.wants_write() {
        client.writable = false;
        return Flow::Open;
    }
    // The stream waits in the queue until the handshake is done: handed to rustls before,
    // it would count as sent, and be lost unseen if the handshake then failed.
    if client.stream.handshaking() {
        return Flow::Open;
    }
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                client.writable = false;
                return Flow::Open;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Flow::Closed(Some(describe_os_error(&e))),
        }
    }
    Flow::Open
}
