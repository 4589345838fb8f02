//! A rate cap in front of one output: at most so many bytes and/or datagrams a second reach
//! it, with a burst after a quiet time (aggregators and small consumers take a feed at their
//! pace, not at the pace of a burst from a receiver).
//!
//! A source never waits for a cap: `deliver` puts what arrives in a queue bounded in bytes,
//! and what does not fit is dropped and counted (`capped`, and its bytes in `bytesDropped`,
//! on the cap's own endpoint of kind "stage"), with one log line when dropping starts. A
//! thread per capped output takes datagrams from the queue as the cap's token buckets
//! ([`crate::pacing::TokenBucket`]) allow and hands them on in batches. At a stop the queue
//! is still sent at the cap for up to [`FINISH_LIMIT`]; what is left then is dropped and
//! counted too.
//!
//! The cap sits after the output's routing rules: what the rules keep from the output never
//! takes room in the queue or a share of the rate (see `crate::output`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Sink;
use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::event::Reporter;
use crate::pacing::TokenBucket;
use crate::stats::{Counters, Endpoint, Registry};

/// How long a stopping route still sends what a cap has queued.
pub(crate) const FINISH_LIMIT: Duration = Duration::from_secs(5);
/// The most datagrams one hand-on carries.
const BATCH_DATAGRAMS: usize = 1024;

/// A rate cap as given. A rate of 0 leaves that measure uncapped (at least one is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCap {
    pub bytes_per_second: u64,
    pub datagrams_per_second: u64,
    /// How much may go at once after a quiet time, as a time at the cap (1 s: a second's
    /// worth); at least one datagram.
    pub burst: Duration,
    /// Bytes that may wait for the cap; beyond, datagrams are dropped (counted). A datagram
    /// takes its length (an empty one, 1 byte), so entries are bounded too.
    pub queue_bytes: usize,
}

pub const DEFAULT_RATE_BURST: Duration = Duration::from_secs(1);
pub const DEFAULT_RATE_QUEUE_BYTES: usize = 1024 * 1024;

impl RateCap {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.bytes_per_second > 0 {
            parts.push(format!("max-rate {}B/s", self.bytes_per_second));
        }
        if self.datagrams_per_second > 0 {
            parts.push(format!("max-datagram-rate {}/s", self.datagrams_per_second));
        }
        parts.join(" ")
    }

    fn buckets(&self) -> (Option<TokenBucket>, Option<TokenBucket>) {
        let burst = self.burst.as_secs_f64();
        let bucket = |rate: u64| {
            (rate > 0)
                .then(|| TokenBucket::new(rate, (rate as f64 * burst).min(u64::MAX as f64) as u64))
        };
        (
            bucket(self.bytes_per_second),
            bucket(self.datagrams_per_second),
        )
    }
}

struct Queued {
    bytes: Box<[u8]>,
    from: Option<SocketAddr>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    /// What the queue holds, as counted against the bound.
    held: usize,
    /// Set by `finish`: send what is queued until then, then drop the rest.
    closing_by: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    filled: Condvar,
    endpoint: Arc<Endpoint>,
}

pub(crate) struct RateCapSink {
    shared: Arc<Shared>,
    bound: usize,
    next: Arc<dyn Sink>,
    thread: Mutex<Option<JoinHandle<()>>>,
    name: String,
    reporter: Reporter,
    reported: AtomicBool,
}

impl RateCapSink {
    /// `name` names the output (the cap's endpoint is "NAME max-rate ..."); `next` is what
    /// the cap feeds. Starts the cap's thread.
    pub(crate) fn new(
        cap: &RateCap,
        name: &str,
        next: Arc<dyn Sink>,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<RateCapSink> {
        if cap.bytes_per_second == 0 && cap.datagrams_per_second == 0 {
            return Err(Error::invalid(
                "a rate cap needs a byte rate, a datagram rate or both (above 0)",
            ));
        }
        let full = format!("{name} {}", cap.describe());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            filled: Condvar::new(),
            endpoint: registry.register("stage", full.clone()),
        });
        let (bytes, datagrams) = cap.buckets();
        let thread = {
            let shared = shared.clone();
            let next = next.clone();
            let reporter = reporter.clone();
            std::thread::Builder::new()
                .name(format!("mproxy-cap {name}"))
                .spawn(move || send_loop(&shared, next.as_ref(), bytes, datagrams, &reporter))
                .map_err(|e| Error::os("cannot start a rate cap's thread", &e))?
        };
        Ok(RateCapSink {
            shared,
            bound: cap.queue_bytes.max(1),
            next,
            thread: Mutex::new(Some(thread)),
            name: full,
            reporter,
            reported: AtomicBool::new(false),
        })
    }
}

impl Sink for RateCapSink {
    fn deliver(&self, batch: &Batch) {
        let c = &self.shared.endpoint.counters;
        let (mut dropped, mut dropped_bytes) = (0u64, 0u64);
        {
            let Ok(mut state) = self.shared.state.lock() else {
                return;
            };
            for e in &batch.entries {
                let bytes = batch.entry_bytes(e);
                let step = if e.segment == 0 {
                    bytes.len().max(1)
                } else {
                    e.segment
                };
                let pieces = bytes.chunks(step).chain(bytes.is_empty().then_some(bytes));
                for piece in pieces {
                    c.add_in(1, piece.len() as u64);
                    let cost = piece.len().max(1);
                    if state.closing_by.is_none() && state.held + cost <= self.bound {
                        state.held += cost;
                        state.queue.push_back(Queued {
                            bytes: piece.into(),
                            from: e.from,
                        });
                    } else {
                        dropped += 1;
                        dropped_bytes += piece.len() as u64;
                    }
                }
            }
            self.shared.filled.notify_one();
        }
        if dropped > 0 {
            Counters::add(&c.capped, dropped);
            Counters::add(&c.bytes_dropped, dropped_bytes);
            if !self.reported.swap(true, Ordering::Relaxed) {
                self.reporter.warn(format!(
                    "{}: more arrives than the cap lets through and its queue of {} bytes is full; dropping (counted as capped in the stats)",
                    self.name, self.bound
                ));
            }
        }
    }

    /// Sends what is queued at the cap for up to [`FINISH_LIMIT`], then finishes the output.
    fn finish(&self) {
        if let Ok(mut state) = self.shared.state.lock() {
            if state.closing_by.is_none() {
                state.closing_by = Some(Instant::now() + FINISH_LIMIT);
            }
            self.shared.filled.notify_all();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.next.finish();
    }

    fn reopen(&self) {
        self.next.reopen();
    }
}

/// Hands queued datagrams on as the buckets allow, until closed and empty (or past the
/// closing limit: the rest is dropped and counted).
fn send_loop(
    shared: &Shared,
    next: &dyn Sink,
    mut bytes: Option<TokenBucket>,
    mut datagrams: Option<TokenBucket>,
    reporter: &Reporter,
) {
    let c = &shared.endpoint.counters;
    let mut out = Batch::default();
    loop {
        out.clear();
        {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            let mut wait = None;
            let now = Instant::now();
            while out.entries.len() < BATCH_DATAGRAMS {
                let Some(front) = state.queue.front() else {
                    break;
                };
                let len = front.bytes.len() as u64;
                let due = bytes
                    .as_mut()
                    .map_or(Duration::ZERO, |b| b.wait_for(len, now))
                    .max(
                        datagrams
                            .as_mut()
                            .map_or(Duration::ZERO, |d| d.wait_for(1, now)),
                    );
                if !due.is_zero() {
                    wait = Some(due);
                    break;
                }
                bytes.iter_mut().for_each(|b| b.take(len));
                datagrams.iter_mut().for_each(|d| d.take(1));
                if let Some(q) = state.queue.pop_front() {
                    state.held -= q.bytes.len().max(1);
                    out.push_from(&q.bytes, q.from);
                }
            }
            if out.is_empty() {
                match state.closing_by {
                    Some(_) if state.queue.is_empty() => return,
                    Some(limit) if now >= limit => {
                        let left = state.queue.len() as u64;
                        let left_bytes: usize = state.queue.iter().map(|q| q.bytes.len()).sum();
                        state.queue.clear();
                        state.held = 0;
                        Counters::add(&c.capped, left);
                        Counters::add(&c.bytes_dropped, left_bytes as u64);
                        reporter.warn(format!(
                            "{}: stopping; {left} datagrams still queued for the cap were dropped (counted as capped)",
                            shared.endpoint.name
                        ));
                        return;
                    }
                    _ => {}
                }
                let nap = match (wait, state.closing_by) {
                    (Some(w), Some(limit)) => Some(w.min(limit.saturating_duration_since(now))),
                    (Some(w), None) => Some(w),
                    (None, Some(limit)) => Some(limit.saturating_duration_since(now)),
                    (None, None) => None,
                };
                // Woken by a delivery, a stop, or when the buckets allow the next datagram.
                match nap {
                    Some(nap) => drop(shared.filled.wait_timeout(state, nap)),
                    None => drop(shared.filled.wait(state)),
                }
                continue;
            }
        }
        c.add_out(out.entries.len() as u64, out.byte_count() as u64);
        next.deliver(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    /// A sink that keeps what it is given and says when it has `want` datagrams.
    #[derive(Default)]
    struct Keep {
        got: Mutex<Vec<Vec<u8>>>,
        more: Condvar,
    }

    impl Sink for Keep {
        fn deliver(&self, batch: &Batch) {
            let mut got = self.got.lock().unwrap_or_else(|e| e.into_inner());
            got.extend(batch.datagrams().map(<[u8]>::to_vec));
            self.more.notify_all();
        }
        fn finish(&self) {}
    }

    impl Keep {
        fn wait_for(&self, want: usize) -> Vec<Vec<u8>> {
            let mut got = self.got.lock().unwrap_or_else(|e| e.into_inner());
            while got.len() < want {
                got = self.more.wait(got).unwrap_or_else(|e| e.into_inner());
            }
            got.clone()
        }
    }

    fn flood(n: usize) -> Batch {
        let mut b = Batch::default();
        for i in 0..n {
            b.push(format!("line {i:03}\n").as_bytes()); // 9 bytes each
        }
        b
    }

    #[test]
    fn a_flood_queues_to_the_bound_then_drops_and_counts_exactly() {
        let registry = Registry::default();
        let keep = Arc::new(Keep::default());
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let seen = events.clone();
        let reporter = Reporter::new(Arc::new(move |e| {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(e);
        }));
        let cap = RateCap {
            bytes_per_second: 0,
            datagrams_per_second: 1_000_000,
            burst: Duration::from_secs(1),
            queue_bytes: 90,
        };
        let sink = RateCapSink::new(&cap, "out", keep.clone(), &registry, reporter);
        let Ok(sink) = sink else {
            unreachable!("a cap with a rate starts")
        };
        // One batch of 100: ten fit the queue (90 bytes), 90 are dropped before the
        // thread can take any.
        sink.deliver(&flood(100));
        let got = keep.wait_for(10);
        sink.finish();
        let expected: Vec<Vec<u8>> = (0..10)
            .map(|i| format!("line {i:03}\n").into_bytes())
            .collect();
        assert_eq!(got, expected);
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.len(), 1);
        let e = &snapshot[0];
        assert_eq!(
            (e.kind, e.name.as_str()),
            ("stage", "out max-datagram-rate 1000000/s")
        );
        let c = e.counters;
        assert_eq!((c.datagrams_in, c.datagrams_out, c.capped), (100, 10, 90));
        assert_eq!((c.bytes_in, c.bytes_out, c.bytes_dropped), (900, 90, 810));
        let warnings: Vec<String> = events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|e| match e {
                Event::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            warnings,
            vec!["out max-datagram-rate 1000000/s: more arrives than the cap lets through and its queue of 90 bytes is full; dropping (counted as capped in the stats)".to_string()]
        );
    }

    #[test]
    fn a_stop_drops_what_the_cap_cannot_send_in_time_and_counts_it() {
        let registry = Registry::default();
        let keep = Arc::new(Keep::default());
        // One datagram a second, a burst of one: the first goes, the rest wait.
        let cap = RateCap {
            bytes_per_second: 0,
            datagrams_per_second: 1,
            burst: Duration::ZERO,
            queue_bytes: 1 << 20,
        };
        let Ok(sink) = RateCapSink::new(&cap, "out", keep.clone(), &registry, Reporter::silent())
        else {
            unreachable!("a cap with a rate starts")
        };
        sink.deliver(&flood(20));
        keep.wait_for(1);
        // Closing at once (no 5 s wait): the limit is moved to now.
        if let Ok(mut state) = sink.shared.state.lock() {
            state.closing_by = Some(Instant::now());
        }
        sink.finish();
        let c = registry.snapshot()[0].counters;
        assert_eq!(c.datagrams_in, 20);
        assert_eq!(c.datagrams_out + c.capped, 20);
        assert!(c.datagrams_out >= 1);
    }

    #[test]
    fn a_cap_without_a_rate_is_refused() {
        let cap = RateCap {
            bytes_per_second: 0,
            datagrams_per_second: 0,
            burst: DEFAULT_RATE_BURST,
            queue_bytes: DEFAULT_RATE_QUEUE_BYTES,
        };
        let made = RateCapSink::new(
            &cap,
            "out",
            Arc::new(Keep::default()),
            &Registry::default(),
            Reporter::silent(),
        );
        assert_eq!(
            made.err().map(|e| e.message),
            Some("a rate cap needs a byte rate, a datagram rate or both (above 0)".into())
        );
    }
}
