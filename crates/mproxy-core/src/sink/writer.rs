//! Appending datagram payloads to a file or to stdout, off the receiving thread.
//!
//! `deliver` copies a batch's payloads into one chunk and queues it; a writer thread
//! writes chunks as they come (one write per batch, so data reaches the OS within one batch
//! of arriving, far inside the 200 ms promise). The queue is bounded: with
//! [`Overflow::Drop`] a full queue drops the batch and counts it, so receiving never waits
//! on a disk; with [`Overflow::Wait`] the producer waits, for inputs that can be paced
//! (a file being read for `--tee`).
//!
//! A file output may be rotated and its old files pruned ([`Rotate`], [`Keep`]; see
//! [`super::rotate`] for the names and rules), and reopened on request
//! ([`Sink::reopen`], for logrotate's `postrotate`): both happen on the writer thread
//! between two chunks, so every chunk lands whole in exactly one file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write as _};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::rotate::Output;
pub use super::rotate::{Clock, Keep, Rotate};
use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::stats::{Counters, Endpoint, Registry};
use crate::stop::StopToken;
use crate::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Drop,
    Wait,
}

#[derive(Debug, Clone)]
pub struct WriterSpec {
    /// A file path, or "-" for stdout.
    pub path: String,
    pub overflow: Overflow,
    /// How many bytes may wait for the writer.
    pub queue_bytes: usize,
    /// When the file is rotated (a file path only); `None`: it grows.
    pub rotate: Option<Rotate>,
    /// Which rotated files are kept (needs `rotate`); `None`: all.
    pub keep: Option<Keep>,
    /// The clock rotation goes by: the system's, unless a test drives it.
    pub clock: Clock,
}

impl WriterSpec {
    /// Appends to `path` ("-": stdout), dropping when the queue is full, no rotation.
    pub fn new(path: impl Into<String>) -> Self {
        WriterSpec {
            path: path.into(),
            overflow: Overflow::Drop,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            rotate: None,
            keep: None,
            clock: Clock::system(),
        }
    }
}

pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct QueueState {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    closed: bool,
    /// The output is to be reopened before the next chunk is written.
    reopen: bool,
}

struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when a chunk arrives or the queue closes (the writer waits on it).
    filled: Condvar,
    /// Signalled when the writer took a chunk (waiting producers wait on it).
    drained: Condvar,
    cap: usize,
}

pub struct WriterSink {
    queue: Arc<Queue>,
    thread: Mutex<Option<JoinHandle<()>>>,
    endpoint: Arc<Endpoint>,
    overflow: Overflow,
}

impl WriterSink {
    /// Opens (creates, appends to) the file now, so a bad path (or a rotation that cannot
    /// be) fails the start.
    pub fn new(
        spec: &WriterSpec,
        kind: &'static str,
        registry: &Registry,
        reporter: Reporter,
        stop: StopToken,
    ) -> Result<Self> {
        let output = Output::open(
            &spec.path,
            spec.rotate,
            spec.keep,
            spec.clock.clone(),
            reporter.clone(),
        )?;
        let name = output.name().to_string();
        let endpoint = registry.register(kind, name.clone());
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            filled: Condvar::new(),
            drained: Condvar::new(),
            cap: spec.queue_bytes.max(1),
        });
        let thread = {
            let queue = queue.clone();
            let endpoint = endpoint.clone();
            std::thread::Builder::new()
                .name(format!("mproxy-writer {name}"))
                .spawn(move || write_loop(queue, output, endpoint, reporter, stop))
                .map_err(|e| Error::os("cannot start a writer thread", &e))?
        };
        Ok(WriterSink {
            queue,
            thread: Mutex::new(Some(thread)),
            endpoint,
            overflow: spec.overflow,
        })
    }
}

impl Sink for WriterSink {
    fn deliver(&self, batch: &Batch) {
        let bytes = batch.byte_count();
        let datagrams = batch.datagram_count() as u64;
        if bytes == 0 {
            return;
        }
        let mut chunk = Vec::with_capacity(bytes);
        batch.append_payload_to(&mut chunk);
        let c = &self.endpoint.counters;
        c.add_in(datagrams, bytes as u64);
        let Ok(mut state) = self.queue.state.lock() else {
            return;
        };
        if self.overflow == Overflow::Wait {
            while !state.closed && state.bytes > 0 && state.bytes + bytes > self.queue.cap {
                state = match self.queue.drained.wait(state) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        }
        if state.closed || (state.bytes > 0 && state.bytes + bytes > self.queue.cap) {
            Counters::add(&c.queue_drops, datagrams);
            Counters::add(&c.bytes_dropped, bytes as u64);
            return;
        }
        state.bytes += bytes;
        state.chunks.push_back(chunk);
        self.queue.filled.notify_one();
    }

    /// Asks the writer thread to close and reopen its path before it writes the next chunk
    /// (at once when it is idle): chunks delivered after this call go to the new file.
    fn reopen(&self) {
        if let Ok(mut state) = self.queue.state.lock() {
            state.reopen = true;
            self.queue.filled.notify_all();
        }
    }

    fn finish(&self) {
        if let Ok(mut state) = self.queue.state.lock() {
            state.closed = true;
            self.queue.filled.notify_all();
            self.queue.drained.notify_all();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// What the writer thread found to do.
enum Work {
    Chunk(Vec<u8>),
    Reopen,
    /// Nothing came before the output's next tick (a rotation boundary, a prune).
    Tick,
}

fn write_loop(
    queue: Arc<Queue>,
    mut output: Output,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    stop: StopToken,
) {
    let c = &endpoint.counters;
    let name = output.name().to_string();
    let mut failing = false;
    // Set when, during a stop, the reader stopped taking data: the rest is dropped (and
    // counted) at once instead of waiting for it chunk by chunk.
    let mut abandoned = false;
    // A file left from an earlier period is rotated before anything else is written.
    output.tick();
    loop {
        let work = {
            let Ok(mut state) = queue.state.lock() else {
                return;
            };
            loop {
                // Before the next chunk, so what was delivered after a reopen request goes
                // to the new file.
                if std::mem::take(&mut state.reopen) {
                    break Work::Reopen;
                }
                if let Some(chunk) = state.chunks.pop_front() {
                    state.bytes -= chunk.len();
                    queue.drained.notify_all();
                    break Work::Chunk(chunk);
                }
                if state.closed {
                    return;
                }
                match output.next_tick() {
                    None => {
                        state = match queue.filled.wait(state) {
                            Ok(s) => s,
                            Err(_) => return,
                        };
                    }
                    Some(nap) => {
                        let (s, waited) = match queue.filled.wait_timeout(state, nap) {
                            Ok(r) => r,
                            Err(_) => return,
                        };
                        state = s;
                        if waited.timed_out() && state.chunks.is_empty() && !state.reopen {
                            break Work::Tick;
                        }
                    }
                }
            }
        };
        let chunk = match work {
            Work::Reopen => {
                output.reopen();
                continue;
            }
            Work::Tick => {
                output.tick();
                continue;
            }
            Work::Chunk(chunk) => chunk,
        };
        if abandoned {
            Counters::add(&c.bytes_dropped, chunk.len() as u64);
            continue;
        }
        output.before_write(chunk.len());
        let mut written = 0;
        let result = write_all(&mut output.file, &chunk, &stop, STALL_LIMIT, &mut written);
        output.after_write(written);
        c.bytes_out.fetch_add(written as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                if failing {
                    failing = false;
                    reporter.info(format!("writing to {name} works again"));
                }
            }
            Err(e) => {
                Counters::add(&c.write_errors, 1);
                Counters::add(&c.bytes_dropped, (chunk.len() - written) as u64);
                abandoned = e.kind() == io::ErrorKind::TimedOut && stop.is_stopped();
                if !failing {
                    failing = true;
                    reporter.error(format!(
                        "cannot write to {name}: {} (counting lost bytes, will keep trying)",
                        describe_os_error(&e)
                    ));
                }
            }
        }
    }
}

/// How long a stopping writer waits for a reader that takes nothing (a stalled stdout).
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// Writes all of `bytes`. Pipes, terminals and sockets are waited on for room first, and
/// when such a descriptor is blocking (as an inherited stdout usually is) at most
/// [`sys::PIPE_ATOMIC_WRITE`] bytes go per write, which a pipe with room always takes
/// whole: so no write blocks for long, and once the route is stopping a reader that takes
/// nothing for `stall_limit` makes the write give up (`TimedOut`) instead of holding the
/// shutdown forever. `written` counts what went out, also when it fails part way.
fn write_all(
    output: &mut File,
    mut bytes: &[u8],
    stop: &StopToken,
    stall_limit: Duration,
    written: &mut usize,
) -> io::Result<()> {
    let careful = !output.metadata().is_ok_and(|m| m.is_file());
    let blocking = careful && !sys::is_nonblocking(output);
    let mut stalled = Duration::ZERO;
    let slice = Duration::from_millis(100);
    while !bytes.is_empty() {
        if careful && !sys::wait_writable(output, slice)? {
            if stop.is_stopped() {
                stalled += slice;
                if stalled >= stall_limit {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the reader stopped taking data",
                    ));
                }
            }
            continue;
        }
        let len = if blocking {
            bytes.len().min(sys::PIPE_ATOMIC_WRITE)
        } else {
            bytes.len()
        };
        match output.write(&bytes[..len]) {
            Ok(n) => {
                bytes = &bytes[n..];
                *written += n;
                stalled = Duration::ZERO;
            }
            // Waited for again at the top (only pipes and the like say WouldBlock).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
