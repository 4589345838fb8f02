//! A TCP (or TLS) output that connects out, for aggregators that listen (MarineTraffic,
//! AISHub and the like take a feed on a TCP port) and stays connected: it reconnects with the
//! backoff of kept connections and says so in the same log lines (`tcp::reconnect`).
//!
//! `deliver` (on a receiving thread) appends each batch to one bounded queue; the output's
//! thread writes the queue to the connection with a non-blocking socket as its poller
//! reports room. While the aggregator is down or slow the queue fills; what does not fit is
//! dropped and counted (`queueDrops`, `bytesDropped`, a log line once per run of drops), so
//! memory stays bounded and no source waits for an aggregator. A short outage loses nothing:
//! what was queued goes out after the reconnect.
//!
//! At every connect a preamble line (a station key, a login) goes first; after the quiet time
//! with nothing written, a keep-alive line. A connection lost in the middle of a chunk (a
//! batch, or small batches together, up to 16 KiB) drops the rest of that chunk (counted in
//! `bytesDropped`), so the next connection starts on a datagram's boundary, after the
//! preamble.
//!
//! Like the TCP output listener, the thread ends when the sink is finished, after the
//! sources delivered their last batch: connected, it writes what is queued for a bounded
//! time; then it counts what is left as dropped.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Interest;

use super::keep_alive::KeepAliveSpec;
use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::poller::{Poller, Wait, Wakeup};
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::tcp::dial::{Dialer, Failure, Transport, CONNECTION};
use crate::tcp::reconnect::Reconnect;
use crate::tls::{TlsClient, TlsSpec};

#[derive(Debug, Clone)]
pub struct TcpConnectOutputSpec {
    /// Host name or IP as given; resolved again before every reconnect.
    pub host: String,
    pub port: u16,
    /// The address resolved at start, used when a later resolution fails.
    pub addr: SocketAddr,
    pub tls: Option<TlsSpec>,
    /// Bytes the queue holds while the aggregator is down or slow; beyond, new data is
    /// dropped (counted).
    pub queue_bytes: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Sent at every (re)connect before any data (with its line end).
    pub preamble: Option<Vec<u8>>,
    /// Sent after this long with nothing written.
    pub keep_alive: Option<KeepAliveSpec>,
}

/// Batches are appended to the last chunk queued while it stays within this size.
const COALESCE_BYTES: usize = 16 * 1024;

/// How long a finishing output keeps writing what is queued.
const FINAL_WRITE_LIMIT: Duration = Duration::from_secs(2);

/// A batch's bytes, and how many datagrams they are.
struct Chunk {
    bytes: Vec<u8>,
    datagrams: u64,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    bytes: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    wakeup: Wakeup,
    /// Set by `finish`: no more batches will come.
    closing: AtomicBool,
    /// In a run of drops (said once when it starts, and once when it ends).
    dropping: AtomicBool,
}

pub(crate) struct TcpConnectOutputSink {
    shared: Arc<Shared>,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    limit: usize,
    /// Stopped by `finish`: ends the reconnect wait and a connection attempt at once.
    finishing: StopToken,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// `[tls://]HOST:PORT`: the endpoint's name.
    pub(crate) name: String,
}

impl TcpConnectOutputSink {
    pub(crate) fn new(
        spec: &TcpConnectOutputSpec,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<Self> {
        let dialer = Dialer {
            host: spec.host.clone(),
            port: spec.port,
            addr: spec.addr,
            tls: spec.tls.as_ref().map(TlsClient::new).transpose()?,
        };
        let name = dialer.name();
        let endpoint = registry.register("tcp-connect-output", name.clone());
        let finishing = StopToken::new();
        let poller = Poller::new(&finishing)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wakeup: poller.wakeup(),
            closing: AtomicBool::new(false),
            dropping: AtomicBool::new(false),
        });
        let thread = {
            let mut writer = Writer {
                reconnect: Reconnect::new(
                    name.clone(),
                    endpoint.clone(),
                    reporter.clone(),
                    spec.backoff_min,
                    spec.backoff_max,
                ),
                dialer,
                shared: shared.clone(),
                endpoint: endpoint.clone(),
                reporter: reporter.clone(),
                poller,
                finishing: finishing.clone(),
                preamble: spec.preamble.clone(),
                keep_alive: spec.keep_alive.clone(),
                current: None,
            };
            std::thread::Builder::new()
                .name(format!("mproxy-tcp-out {name}"))
                .spawn(move || writer.run())
                .map_err(|e| Error::os("cannot start a TCP output thread", &e))?
        };
        Ok(TcpConnectOutputSink {
            shared,
            endpoint,
            reporter,
            limit: spec.queue_bytes,
            finishing,
            thread: Mutex::new(Some(thread)),
            name,
        })
    }
}

impl Sink for TcpConnectOutputSink {
    fn deliver(&self, batch: &Batch) {
        let bytes = batch.byte_count();
        if bytes == 0 {
            return;
        }
        let datagrams = batch.datagram_count() as u64;
        let c = &self.endpoint.counters;
        c.add_in(datagrams, bytes as u64);
        let Ok(mut queue) = self.shared.queue.lock() else {
            return;
        };
        if queue.bytes + bytes > self.limit {
            drop(queue);
            Counters::add(&c.queue_drops, datagrams);
            Counters::add(&c.bytes_dropped, bytes as u64);
            if !self.shared.dropping.swap(true, Ordering::Relaxed) {
                self.reporter.warn(format!(
                    "{}: the aggregator does not take the stream (down or slow) and the queue of {} bytes is full: dropping what does not fit (counted in queueDrops)",
                    self.name, self.limit
                ));
            }
            return;
        }
        // Small batches share a chunk, so the queue's bound is on its memory, not only on
        // its bytes: a flood of tiny batches does not make a chunk each.
        match queue.chunks.back_mut() {
            Some(back) if back.bytes.len() + bytes <= COALESCE_BYTES => {
                batch.append_payload_to(&mut back.bytes);
                back.datagrams += datagrams;
            }
            _ => {
                let mut chunk = Vec::with_capacity(bytes.max(COALESCE_BYTES.min(4 * bytes)));
                batch.append_payload_to(&mut chunk);
                queue.chunks.push_back(Chunk {
                    bytes: chunk,
                    datagrams,
                });
            }
        }
        queue.bytes += bytes;
        drop(queue);
        if self.shared.dropping.swap(false, Ordering::Relaxed) {
            self.reporter.info(format!(
                "{}: the queue has room again; no longer dropping",
                self.name
            ));
        }
        self.shared.wakeup.wake();
    }

    fn finish(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.finishing.stop();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// What the connection is writing now.
enum Current {
    Preamble(Vec<u8>),
    KeepAlive(Vec<u8>),
    Data(Chunk),
}

impl Current {
    fn bytes(&self) -> &[u8] {
        match self {
            Current::Preamble(b) | Current::KeepAlive(b) => b,
            Current::Data(c) => &c.bytes,
        }
    }
}

/// How serving one connection ended.
enum End {
    Lost(String),
    /// The sink is finished (what could be written was).
    Finished,
}

struct Writer {
    dialer: Dialer,
    shared: Arc<Shared>,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    reconnect: Reconnect,
    /// Waits for the connection, new batches (the shared wakeup) and `finishing`.
    poller: Poller,
    finishing: StopToken,
    preamble: Option<Vec<u8>>,
    keep_alive: Option<KeepAliveSpec>,
    /// What is being written, and how much of it is.
    current: Option<(Current, usize)>,
}

impl Writer {
    fn run(&mut self) {
        while !self.finishing.is_stopped() {
            match self.dialer.dial(&mut self.poller) {
                Ok(mut transport) => {
                    self.reconnect.connected(transport.peer_addr());
                    let end = self.serve(&mut transport);
                    transport.close(&mut self.poller);
                    match end {
                        End::Finished => {
                            self.finish_writing(transport);
                            break;
                        }
                        End::Lost(why) => {
                            self.drop_current();
                            self.reconnect.lost(why);
                        }
                    }
                }
                Err(Failure::Stopped) => break,
                Err(Failure::Reason(reason)) => self.reconnect.failed(reason),
            }
            if !self.reconnect.pause(&self.finishing) {
                break;
            }
        }
        self.drop_queued();
    }

    /// The next thing to write: what is being written, else the next batch queued.
    fn next(&mut self) -> bool {
        if self.current.is_none() {
            let chunk = self.shared.queue.lock().ok().and_then(|mut q| {
                let chunk = q.chunks.pop_front()?;
                q.bytes -= chunk.bytes.len();
                Some(chunk)
            });
            self.current = chunk.map(|c| (Current::Data(c), 0));
        }
        self.current.is_some()
    }

    /// Writes what there is until the socket is full; `Err` when the connection failed.
    fn write(&mut self, transport: &mut Transport) -> io::Result<()> {
        transport.flush_now()?;
        while !transport.wants_write() && self.next() {
            let Some((current, written)) = &mut self.current else {
                break;
            };
            match transport.write_now(&current.bytes()[*written..]) {
                Ok(n) => {
                    self.endpoint.counters.add_out(0, n as u64);
                    *written += n;
                    if *written == current.bytes().len() {
                        let c = &self.endpoint.counters;
                        match current {
                            Current::Preamble(_) => Counters::add(&c.preambles, 1),
                            Current::KeepAlive(_) => Counters::add(&c.keep_alives, 1),
                            Current::Data(_) => {}
                        }
                        self.current = None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn serve(&mut self, transport: &mut Transport) -> End {
        // Whatever the last connection left half-written went with it (drop_current).
        if let Some(line) = &self.preamble {
            self.current = Some((Current::Preamble(line.clone()), 0));
        }
        let mut last_sent = Instant::now();
        loop {
            self.shared.wakeup.clear();
            let before = self.endpoint.counters.bytes_out.load(Ordering::Relaxed);
            if let Err(e) = self.write(transport) {
                return End::Lost(describe_os_error(&e));
            }
            let now = Instant::now();
            if self.endpoint.counters.bytes_out.load(Ordering::Relaxed) != before {
                last_sent = now;
            }
            let idle = self.current.is_none() && !transport.wants_write();
            let mut timeout = None;
            if let Some(k) = &self.keep_alive {
                let due = last_sent + k.after;
                if idle && due <= now {
                    self.current = Some((Current::KeepAlive(k.line.clone()), 0));
                    last_sent = now;
                    continue;
                }
                // Not quiet while something waits for room: the next turn looks again.
                timeout = Some(if idle { due - now } else { k.after });
            }
            match self.poller.wait(timeout) {
                Wait::Stopped => return End::Finished,
                Wait::TimedOut => {}
                Wait::Ready => {
                    let peer_said = self.poller.ready().any(|e| {
                        e.token() == CONNECTION
                            && (e.is_readable() || e.is_read_closed() || e.is_error())
                    });
                    if peer_said {
                        match transport.discard_input() {
                            Ok(true) => {}
                            Ok(false) => return End::Lost("closed by the peer".into()),
                            Err(e) => return End::Lost(describe_os_error(&e)),
                        }
                    }
                }
            }
        }
    }

    /// Finished while connected: what is queued is written for a bounded time, with a
    /// poller of its own (the thread's is stopped), then our side ends in order.
    fn finish_writing(&mut self, mut transport: Transport) {
        let Ok(mut poller) = Poller::new(&StopToken::new()) else {
            return;
        };
        let registered = match &mut transport {
            Transport::Plain { stream } | Transport::Tls { stream, .. } => poller
                .registry()
                .register(stream, CONNECTION, Interest::READABLE | Interest::WRITABLE)
                .is_ok(),
        };
        if !registered {
            return;
        }
        let deadline = Instant::now() + FINAL_WRITE_LIMIT;
        loop {
            if self.write(&mut transport).is_err() {
                return;
            }
            if !self.next() && !transport.wants_write() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || poller.wait(Some(left)) == Wait::Stopped {
                break;
            }
        }
        transport.close(&mut poller);
        transport.shut_down();
    }

    /// The rest of what was being written when the connection was lost.
    fn drop_current(&mut self) {
        if let Some((Current::Data(chunk), written)) = self.current.take() {
            let left = chunk.bytes.len().saturating_sub(written);
            Counters::add(&self.endpoint.counters.bytes_dropped, left as u64);
        }
    }

    /// Finished: what the aggregator did not take is counted as dropped, and said.
    fn drop_queued(&mut self) {
        self.drop_current();
        let chunks = match self.shared.queue.lock() {
            Ok(mut q) => {
                q.bytes = 0;
                std::mem::take(&mut q.chunks)
            }
            Err(_) => return,
        };
        let (datagrams, bytes) = chunks.iter().fold((0, 0), |(d, b), c| {
            (d + c.datagrams, b + c.bytes.len() as u64)
        });
        if datagrams == 0 {
            return;
        }
        let c = &self.endpoint.counters;
        Counters::add(&c.queue_drops, datagrams);
        Counters::add(&c.bytes_dropped, bytes);
        self.reporter.warn(format!(
            "{}: stopped with {datagrams} datagrams ({bytes} bytes) the aggregator did not take: dropped (counted in queueDrops)",
            self.endpoint.name
        ));
    }
}
