//! Pacing a sender to a byte rate and a datagram rate. UDP has no flow control: a client
//! reading a file can outrun every receiver, and what a receiver cannot take the kernel
//! drops. Spreading the batches over time keeps a file transfer within what relays and
//! servers can absorb. Bytes alone are not enough for short datagrams (one AIS line each):
//! a receiver's cost is per datagram, so the datagrams are paced too.
//!
//! Two shapes of it: a [`Pacer`] spreads a sender that can wait (a file being read) over
//! time from its start; a [`TokenBucket`] caps an output that cannot make its source wait
//! (a rate cap: what does not fit waits in a bounded queue), and allows a burst after a
//! quiet time, as consumers with a buffer of their own take one.

use std::time::{Duration, Instant};

use crate::stop::StopToken;

/// One schedule: so many units (bytes or datagrams) per second, counted from its start.
#[derive(Default)]
struct Schedule {
    per_second: u64,
    sent: u64,
}

impl Schedule {
    /// When the units sent so far are due, from the start (`None`: unpaced). Durations
    /// only, no `Instant + Duration` (which panics past the platform's range); a schedule
    /// too long for a Duration is as long as one can be.
    fn add(&mut self, units: u64) -> Option<Duration> {
        if self.per_second == 0 {
            return None;
        }
        self.sent = self.sent.saturating_add(units);
        Some(
            Duration::try_from_secs_f64(self.sent as f64 / self.per_second as f64)
                .unwrap_or(Duration::MAX),
        )
    }
}

pub(crate) struct Pacer {
    bytes: Schedule,
    datagrams: Schedule,
    started: Option<Instant>,
}

impl Pacer {
    /// A rate of 0 means that one is unpaced.
    pub(crate) fn new(bytes_per_second: u64, datagrams_per_second: u64) -> Self {
        Pacer {
            bytes: Schedule {
                per_second: bytes_per_second,
                sent: 0,
            },
            datagrams: Schedule {
                per_second: datagrams_per_second,
                sent: 0,
            },
            started: None,
        }
    }

    /// How long to wait before the batch after `bytes` in `datagrams` more may go: the
    /// later of the two schedules.
    pub(crate) fn delay_after(&mut self, bytes: u64, datagrams: u64, now: Instant) -> Duration {
        if bytes == 0 && datagrams == 0 {
            return Duration::ZERO;
        }
        let due = match (self.bytes.add(bytes), self.datagrams.add(datagrams)) {
            (None, None) => return Duration::ZERO,
            (a, b) => a.max(b).unwrap_or_default(),
        };
        let started = *self.started.get_or_insert(now);
        let elapsed = now.saturating_duration_since(started);
        if due > elapsed {
            due - elapsed
        } else {
            // Far behind schedule (input paused): start a new schedule, so a pause is not
            // followed by an unpaced burst to catch up.
            if elapsed - due > Duration::from_millis(100) {
                self.started = Some(now);
                self.bytes.sent = 0;
                self.datagrams.sent = 0;
            }
            Duration::ZERO
        }
    }

    /// Sleeps for the pacing delay; returns false if the route stopped meanwhile.
    pub(crate) fn pace(&mut self, bytes: u64, datagrams: u64, stop: &StopToken) -> bool {
        let delay = self.delay_after(bytes, datagrams, Instant::now());
        if delay.is_zero() {
            return !stop.is_stopped();
        }
        stop.sleep(delay)
    }
}

/// Up to `per_second` units a second, and up to `capacity` at once after a quiet time.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// Full at the start: the first `capacity` units go at once. A capacity below one unit
    /// is one unit.
    pub(crate) fn new(per_second: u64, capacity: u64) -> Self {
        let capacity = capacity.max(1) as f64;
        TokenBucket {
            per_second: per_second.max(1) as f64,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let last = *self.last.get_or_insert(now);
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = Some(now);
    }

    /// How long until `units` may go (zero: now). A unit larger than the capacity goes
    /// when the bucket is full, and leaves it in debt, repaid at the rate.
    pub(crate) fn wait_for(&mut self, units: u64, now: Instant) -> Duration {
        self.refill(now);
        let need = (units as f64).min(self.capacity);
        if self.tokens >= need {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64((need - self.tokens) / self.per_second)
            .unwrap_or(Duration::MAX)
            .max(Duration::from_micros(1))
    }

    /// Takes `units` (after [`wait_for`](Self::wait_for) said they may go).
    pub(crate) fn take(&mut self, units: u64) {
        self.tokens -= units as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_go_then_the_rate() {
        // 100 a second, 10 at once.
        let mut b = TokenBucket::new(100, 10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.wait_for(1, t0), Duration::ZERO);
            b.take(1);
        }
        assert_eq!(b.wait_for(1, t0), Duration::from_millis(10));
        // 50 ms later five more may go, not more.
        let later = t0 + Duration::from_millis(50);
        for _ in 0..5 {
            assert_eq!(b.wait_for(1, later), Duration::ZERO);
            b.take(1);
        }
        assert_eq!(b.wait_for(1, later), Duration::from_millis(10));
        // A long quiet time fills it to its capacity only.
        let quiet = later + Duration::from_secs(60);
        assert_eq!(b.wait_for(10, quiet), Duration::ZERO);
        b.take(10);
        assert_eq!(b.wait_for(1, quiet), Duration::from_millis(10));
    }

    #[test]
    fn a_unit_larger_than_the_bucket_goes_when_it_is_full_and_leaves_a_debt() {
        let mut b = TokenBucket::new(1000, 100);
        let t0 = Instant::now();
        assert_eq!(b.wait_for(1500, t0), Duration::ZERO);
        b.take(1500);
        // 1400 in debt, then 100 to refill: 1.5 s at 1000 a second.
        assert_eq!(b.wait_for(1500, t0), Duration::from_millis(1500));
    }

    #[test]
    fn batches_are_spread_to_the_rate() {
        let mut p = Pacer::new(1_000_000, 0);
        let t0 = Instant::now();
        assert_eq!(p.delay_after(100_000, 1, t0), Duration::from_millis(100));
        // 50 ms later the next 100 kB is due at 200 ms.
        assert_eq!(
            p.delay_after(100_000, 1, t0 + Duration::from_millis(50)),
            Duration::from_millis(150)
        );
    }

    #[test]
    fn a_schedule_past_any_duration_does_not_panic() {
        let mut p = Pacer::new(1, 0);
        let t0 = Instant::now();
        assert_eq!(p.delay_after(u64::MAX, 1, t0), Duration::MAX);
        // The count saturates instead of wrapping around to a small delay.
        assert_eq!(p.delay_after(u64::MAX, 1, t0), Duration::MAX);
    }

    #[test]
    fn unpaced_never_waits_and_pauses_do_not_cause_bursts() {
        let mut free = Pacer::new(0, 0);
        assert_eq!(
            free.delay_after(10_000_000, 1, Instant::now()),
            Duration::ZERO
        );
        let mut p = Pacer::new(1_000_000, 0);
        let t0 = Instant::now();
        p.delay_after(1000, 1, t0);
        // After a 10 s pause the schedule restarts: the next batch is paced from now.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(p.delay_after(100_000, 1, later), Duration::ZERO);
        assert_eq!(p.delay_after(100_000, 1, later), Duration::from_millis(100));
    }

    #[test]
    fn datagrams_are_paced_too_and_the_later_schedule_wins() {
        // 1000 datagrams a second, bytes unpaced: 100 datagrams are due at 100 ms.
        let mut p = Pacer::new(0, 1000);
        let t0 = Instant::now();
        assert_eq!(p.delay_after(6000, 100, t0), Duration::from_millis(100));
        // Both paced: 100 datagrams of 60 bytes at 10 kB/s are due at 600 ms, the bytes decide;
        // at 1 MB/s they are due at 6 ms, and the datagrams decide (100 ms).
        let mut both = Pacer::new(10_000, 1000);
        assert_eq!(both.delay_after(6000, 100, t0), Duration::from_millis(600));
        let mut short = Pacer::new(1_000_000, 1000);
        assert_eq!(short.delay_after(6000, 100, t0), Duration::from_millis(100));
    }
}
