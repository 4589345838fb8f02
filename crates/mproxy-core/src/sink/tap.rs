//! Taps: copies of every datagram a route carries, for a consumer outside the data path
//! (JavaScript's `handle.messages()`).
//!
//! A route always has one [`Taps`] sink, present from the start because a route's fan-out
//! never changes; it holds the taps attached right now, and costs one atomic load per batch
//! when there are none. Each [`Tap`] is a bounded queue (in datagrams, and in bytes as a
//! second guard) that the source threads append to and the consumer empties in one call
//! ([`Tap::take`]), so data crosses to the consumer once per batch at most, however many
//! datagrams it holds. When the consumer falls behind, the tap drops what does not fit and
//! counts it (`tap_drops`); the sockets and the other outputs never wait for a tap.
//!
//! The consumer is told there is something to take through a wake function, called only
//! when it asked and found the queue empty: at most one wake is in flight per tap.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::Sink;
use crate::batch::Batch;
use crate::event::Reporter;
use crate::stats::{Counters, Endpoint, Registry};

/// Bytes a tap holds at most, whatever its high-water mark: large datagrams cannot make a
/// tap hold gigabytes.
pub(crate) const MAX_TAP_BYTES: usize = 64 * 1024 * 1024;

/// Tells the consumer that a tap it found empty has something to take, or has ended.
pub(crate) type WakeFn = Box<dyn Fn() + Send + Sync>;

/// Who sent a datagram, as a tap reports it.
#[derive(Clone, PartialEq, Eq, Hash)]
enum SourceKey {
    Addr(SocketAddr),
    Name(Arc<str>),
}

impl SourceKey {
    fn text(&self) -> String {
        match self {
            SourceKey::Addr(a) => a.to_string(),
            SourceKey::Name(n) => n.to_string(),
        }
    }
}

/// What a consumer takes in one call: the datagrams back to back, the length of each, and
/// who sent each (an index into `sources`, each distinct sender written once).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TapChunk {
    pub data: Vec<u8>,
    pub lengths: Vec<u32>,
    pub sources: Vec<String>,
    pub source_of: Vec<u32>,
}

#[derive(Default)]
struct Queue {
    data: Vec<u8>,
    lengths: Vec<u32>,
    source_of: Vec<u32>,
    sources: Vec<SourceKey>,
    index: HashMap<SourceKey, u32>,
    /// The consumer found the queue empty and waits for a wake.
    waiting: bool,
    closed: bool,
    /// The tap dropped since it started: its first drop is logged, not every one.
    has_dropped: bool,
}

impl Queue {
    fn source_index(&mut self, key: SourceKey) -> u32 {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = self.sources.len() as u32;
        self.sources.push(key.clone());
        self.index.insert(key, i);
        i
    }
}

/// One consumer's queue.
pub struct Tap {
    id: u64,
    high_water_mark: usize,
    queue: Mutex<Queue>,
    /// Dropped when the tap closes, so a consumer's callback is released at once.
    wake: Mutex<Option<WakeFn>>,
    /// The route's "tap" endpoint, shared by all its taps.
    endpoint: Arc<Endpoint>,
    drops: AtomicU64,
}

/// What [`Tap::take`] found.
pub enum Take {
    Chunk(TapChunk),
    /// Nothing yet: the wake function is called when there is.
    Empty,
    /// The tap was closed (detached, or its route stopped) and everything was taken.
    Ended,
}

impl Tap {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Datagrams this tap dropped.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Appends what fits of `batch`; returns true if this is the tap's first drop.
    fn offer(&self, batch: &Batch) -> bool {
        let mut wake = false;
        let mut first_drop = false;
        let (mut kept, mut kept_bytes, mut dropped, mut dropped_bytes) = (0u64, 0u64, 0u64, 0u64);
        {
            let Ok(mut q) = self.queue.lock() else {
                return false;
            };
            if q.closed {
                return false;
            }
            let was_empty = q.lengths.is_empty();
            // Consecutive datagrams mostly share a sender: look it up once per run.
            let mut last: Option<(Option<SocketAddr>, u32)> = None;
            for e in &batch.entries {
                let bytes = batch.entry_bytes(e);
                let step = if e.segment == 0 {
                    bytes.len().max(1)
                } else {
                    e.segment
                };
                let index = match last {
                    Some((from, i)) if from == e.from => i,
                    _ => {
                        let key = match e.from {
                            Some(a) => SourceKey::Addr(a),
                            // Every producer names itself; "unknown" would be a bug.
                            None => SourceKey::Name(
                                batch.origin.clone().unwrap_or_else(|| Arc::from("unknown")),
                            ),
                        };
                        let i = q.source_index(key);
                        last = Some((e.from, i));
                        i
                    }
                };
                let pieces = bytes.chunks(step).chain(bytes.is_empty().then_some(bytes));
                for datagram in pieces {
                    if q.lengths.len() >= self.high_water_mark
                        || q.data.len() + datagram.len() > MAX_TAP_BYTES
                    {
                        dropped += 1;
                        dropped_bytes += datagram.len() as u64;
                        continue;
                    }
                    q.data.extend_from_slice(datagram);
                    q.lengths.push(datagram.len() as u32);
                    q.source_of.push(index);
                    kept += 1;
                    kept_bytes += datagram.len() as u64;
                }
            }
            if dropped > 0 && !q.has_dropped {
                q.has_dropped = true;
                first_drop = true;
            }
            if was_empty && kept > 0 && q.waiting {
                q.waiting = false;
                wake = true;
            }
        }
        let c = &self.endpoint.counters;
        c.add_in(kept + dropped, kept_bytes + dropped_bytes);
        if dropped > 0 {
            Counters::add(&c.tap_drops, dropped);
            Counters::add(&c.bytes_dropped, dropped_bytes);
            self.drops.fetch_add(dropped, Ordering::Relaxed);
        }
        if wake {
            self.wake();
        }
        first_drop
    }

    fn wake(&self) {
        if let Ok(w) = self.wake.lock() {
            if let Some(w) = w.as_ref() {
                w();
            }
        }
    }

    /// Everything queued, in one chunk. When there is nothing, the consumer is woken once
    /// there is (or once the tap ends).
    pub fn take(&self) -> Take {
        let Ok(mut q) = self.queue.lock() else {
            return Take::Ended;
        };
        if q.lengths.is_empty() {
            if q.closed {
                return Take::Ended;
            }
            q.waiting = true;
            return Take::Empty;
        }
        let chunk = TapChunk {
            data: std::mem::take(&mut q.data),
            lengths: std::mem::take(&mut q.lengths),
            source_of: std::mem::take(&mut q.source_of),
            sources: q.sources.iter().map(SourceKey::text).collect(),
        };
        q.sources.clear();
        q.index.clear();
        drop(q);
        self.endpoint
            .counters
            .add_out(chunk.lengths.len() as u64, chunk.data.len() as u64);
        Take::Chunk(chunk)
    }

    /// Ends the tap: nothing more is appended, what is queued can still be taken, then
    /// [`Take::Ended`]. A waiting consumer is woken a last time; then the wake function is
    /// released. Idempotent.
    pub fn close(&self) {
        let waiting = match self.queue.lock() {
            Ok(mut q) => {
                let waiting = !q.closed && q.waiting;
                q.closed = true;
                q.waiting = false;
                waiting
            }
            Err(_) => false,
        };
        if waiting {
            self.wake();
        }
        if let Ok(mut w) = self.wake.lock() {
            w.take();
        }
    }
}

/// The sink that holds a route's taps.
pub struct Taps {
    /// How many taps are attached: the whole cost of a route without taps is reading this.
    active: AtomicUsize,
    /// Replaced, never changed in place: a delivery clones the `Arc`, not the list.
    list: Mutex<Arc<Vec<Arc<Tap>>>>,
    finished: Mutex<bool>,
    next_id: AtomicU64,
    registry: Registry,
    /// Registered on the first attach, so routes never tapped show no tap endpoint.
    endpoint: OnceLock<Arc<Endpoint>>,
    reporter: Reporter,
}

impl Taps {
    pub fn new(registry: &Registry, reporter: Reporter) -> Self {
        Taps {
            active: AtomicUsize::new(0),
            list: Mutex::new(Arc::new(Vec::new())),
            finished: Mutex::new(false),
            next_id: AtomicU64::new(1),
            registry: registry.clone(),
            endpoint: OnceLock::new(),
            reporter,
        }
    }

    /// A new tap holding at most `high_water_mark` datagrams (at least 1). On a route that
    /// has stopped, the tap is already ended.
    pub fn attach(&self, high_water_mark: usize, wake: WakeFn) -> Arc<Tap> {
        let endpoint = self
            .endpoint
            .get_or_init(|| self.registry.register("tap", "messages()"))
            .clone();
        let tap = Arc::new(Tap {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            high_water_mark: high_water_mark.max(1),
            queue: Mutex::new(Queue::default()),
            wake: Mutex::new(Some(wake)),
            endpoint,
            drops: AtomicU64::new(0),
        });
        let finished = self.finished.lock().map(|f| *f).unwrap_or(true);
        if finished {
            tap.close();
            return tap;
        }
        if let Ok(mut list) = self.list.lock() {
            let mut taps = Vec::clone(&list);
            taps.push(tap.clone());
            self.active.store(taps.len(), Ordering::Release);
            *list = Arc::new(taps);
        }
        tap
    }

    /// Closes `tap` and takes it off the route.
    pub fn detach(&self, tap: &Tap) {
        tap.close();
        if let Ok(mut list) = self.list.lock() {
            let taps: Vec<Arc<Tap>> = list.iter().filter(|t| t.id != tap.id).cloned().collect();
            self.active.store(taps.len(), Ordering::Release);
            *list = Arc::new(taps);
        }
    }

    /// How many taps are attached.
    pub fn len(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sink for Taps {
    fn deliver(&self, batch: &Batch) {
        if self.active.load(Ordering::Acquire) == 0 {
            return;
        }
        // The current list, so a slow append never holds up attach and detach.
        let taps = match self.list.lock() {
            Ok(list) => Arc::clone(&list),
            Err(_) => return,
        };
        for tap in taps.iter() {
            if tap.offer(batch) {
                self.reporter.warn(format!(
                    "messages() #{}: JavaScript is not keeping up; datagrams that do not fit \
                     its queue ({} datagrams) are dropped and counted in tapDrops",
                    tap.id, tap.high_water_mark
                ));
            }
        }
    }

    /// The route stopped: every tap ends once its consumer has taken what is queued.
    fn finish(&self) {
        if let Ok(mut f) = self.finished.lock() {
            *f = true;
        }
        let taps = match self.list.lock() {
            Ok(mut list) => std::mem::take(&mut *list),
            Err(_) => return,
        };
        self.active.store(0, Ordering::Release);
        for tap in taps.iter() {
            tap.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Entry;
    use std::sync::atomic::AtomicUsize;

    fn counting_wake() -> (Arc<AtomicUsize>, WakeFn) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        (
            n,
            Box::new(move || {
                m.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    fn chunk(take: Take) -> TapChunk {
        match take {
            Take::Chunk(c) => c,
            Take::Empty => panic!("empty"),
            Take::Ended => panic!("ended"),
        }
    }

    #[test]
    fn taps_copy_split_and_name_senders_and_drop_what_does_not_fit() {
        let registry = Registry::default();
        let taps = Taps::new(&registry, Reporter::silent());
        let mut b = Batch::default();
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        b.push_from(b"one", Some(a));
        b.buf.extend_from_slice(b"2233");
        b.entries.push(Entry {
            offset: 3,
            len: 4,
            segment: 2,
            from: Some(a),
        });
        b.push(b"file");
        b.origin = Some("in.txt".into());
        // No tap: nothing registered, nothing copied.
        taps.deliver(&b);
        assert!(registry.snapshot().is_empty());

        let (woken, wake) = counting_wake();
        let tap = taps.attach(5, wake);
        assert!(matches!(tap.take(), Take::Empty));
        taps.deliver(&b);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        taps.deliver(&b); // only one more fits
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        let c = chunk(tap.take());
        assert_eq!(c.data, b"one2233fileone");
        assert_eq!(c.lengths, vec![3, 2, 2, 4, 3]);
        assert_eq!(
            c.sources,
            vec!["127.0.0.1:5000".to_string(), "in.txt".into()]
        );
        assert_eq!(c.source_of, vec![0, 0, 0, 1, 0]);
        assert_eq!(tap.drops(), 3);
        let s = &registry.snapshot()[0];
        assert_eq!((s.kind, s.name.as_str()), ("tap", "messages()"));
        assert_eq!(s.counters.datagrams_in, 8);
        assert_eq!(s.counters.datagrams_out, 5);
        assert_eq!(s.counters.tap_drops, 3);
        assert_eq!(s.counters.bytes_dropped, 2 + 2 + 4);

        taps.detach(&tap);
        assert!(taps.is_empty());
        taps.deliver(&b);
        assert!(matches!(tap.take(), Take::Ended));
    }

    #[test]
    fn finishing_ends_taps_after_what_is_queued_and_wakes_waiters() {
        let taps = Taps::new(&Registry::default(), Reporter::silent());
        let (woken_a, wake_a) = counting_wake();
        let (woken_b, wake_b) = counting_wake();
        let a = taps.attach(10, wake_a);
        let b = taps.attach(10, wake_b);
        assert!(matches!(b.take(), Take::Empty));
        let mut batch = Batch::default();
        batch.push(b"x");
        taps.deliver(&batch);
        assert_eq!(woken_b.load(Ordering::SeqCst), 1);
        assert!(matches!(b.take(), Take::Chunk(_)));
        assert!(matches!(b.take(), Take::Empty));
        taps.deliver(&batch);
        taps.finish();
        assert_eq!(woken_a.load(Ordering::SeqCst), 0);
        assert_eq!(chunk(a.take()).data, b"xx");
        assert!(matches!(a.take(), Take::Ended));
        assert_eq!(chunk(b.take()).data, b"x");
        assert!(matches!(b.take(), Take::Ended));
        let late = taps.attach(10, Box::new(|| {}));
        assert!(matches!(late.take(), Take::Ended));
    }
}
