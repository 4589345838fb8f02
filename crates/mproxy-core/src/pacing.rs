//! Pacing a sender to a byte rate. UDP has no flow control: a client reading a file can
//! outrun every receiver, and what a receiver cannot take the kernel drops. Spreading the
//! batches over time keeps a file transfer within what relays and servers can absorb.

use std::time::{Duration, Instant};

use crate::stop::StopToken;

pub(crate) struct Pacer {
    bytes_per_second: u64,
    started: Option<Instant>,
    sent: u64,
}

impl Pacer {
    /// `bytes_per_second == 0` means unpaced.
    pub(crate) fn new(bytes_per_second: u64) -> Self {
        Pacer {
            bytes_per_second,
            started: None,
            sent: 0,
        }
    }

    /// How long to wait before the batch after `bytes` more may go.
    pub(crate) fn delay_after(&mut self, bytes: u64, now: Instant) -> Duration {
        if self.bytes_per_second == 0 || bytes == 0 {
            return Duration::ZERO;
        }
        let started = *self.started.get_or_insert(now);
        self.sent = self.sent.saturating_add(bytes);
        // When the bytes sent are due, counted from the start: durations only, no
        // `Instant + Duration` (which panics past the platform's range), and a schedule too
        // long for a Duration is as long as one can be.
        let due = Duration::try_from_secs_f64(self.sent as f64 / self.bytes_per_second as f64)
            .unwrap_or(Duration::MAX);
        let elapsed = now.saturating_duration_since(started);
        if due > elapsed {
            due - elapsed
        } else {
            // Far behind schedule (input paused): start a new schedule, so a pause is not
            // followed by an unpaced burst to catch up.
            if elapsed - due > Duration::from_millis(100) {
                self.started = Some(now);
                self.sent = 0;
            }
            Duration::ZERO
        }
    }

    /// Sleeps for the pacing delay; returns false if the route stopped meanwhile.
    pub(crate) fn pace(&mut self, bytes: u64, stop: &StopToken) -> bool {
        let delay = self.delay_after(bytes, Instant::now());
        if delay.is_zero() {
            return !stop.is_stopped();
        }
        stop.sleep(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_spread_to_the_rate() {
        let mut p = Pacer::new(1_000_000);
        let t0 = Instant::now();
        assert_eq!(p.delay_after(100_000, t0), Duration::from_millis(100));
        // 50 ms later the next 100 kB is due at 200 ms.
        assert_eq!(
            p.delay_after(100_000, t0 + Duration::from_millis(50)),
            Duration::from_millis(150)
        );
    }

    #[test]
    fn a_schedule_past_any_duration_does_not_panic() {
        let mut p = Pacer::new(1);
        let t0 = Instant::now();
        assert_eq!(p.delay_after(u64::MAX, t0), Duration::MAX);
        // The count saturates instead of wrapping around to a small delay.
        assert_eq!(p.delay_after(u64::MAX, t0), Duration::MAX);
    }

    #[test]
    fn unpaced_never_waits_and_pauses_do_not_cause_bursts() {
        let mut free = Pacer::new(0);
        assert_eq!(free.delay_after(10_000_000, Instant::now()), Duration::ZERO);
        let mut p = Pacer::new(1_000_000);
        let t0 = Instant::now();
        p.delay_after(1000, t0);
        // After a 10 s pause the schedule restarts: the next batch is paced from now.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(p.delay_after(100_000, later), Duration::ZERO);
        assert_eq!(p.delay_after(100_000, later), Duration::from_millis(100));
    }
}
