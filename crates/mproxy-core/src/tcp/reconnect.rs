//! Keeping a connection: the delay before the next attempt (exponential, with jitter) and
//! what is said about each state change, once, not once per attempt. Shared by the
//! connections we keep as sources (`source::tcp_connect`) and the outputs that connect out
//! (`sink::connect_out`), so both back off and log the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::{Notice, Reporter};
use crate::stats::{Counters, Endpoint};
use crate::stop::StopToken;

/// A connection that ends sooner than this after it was made counts as a failed attempt:
/// the reconnect delay keeps growing instead of starting again from the minimum.
pub(crate) const SHORT_LIVED: Duration = Duration::from_secs(10);

pub(crate) struct Reconnect {
    name: String,
    endpoint: Arc<Endpoint>,
    reporter: Reporter,
    backoff_min: Duration,
    backoff_max: Duration,
    /// The delay before the next attempt.
    backoff: Duration,
    rng: u64,
    /// The reason of the current run of failures, so it is reported once.
    failing: Option<String>,
    /// Connections in a row that ended within SHORT_LIVED of being made, and why the last
    /// one ended. A peer that accepts and then fails (a TLS server wanting a client
    /// certificate, a reset right after accept) must not reset the backoff, or it would be
    /// retried every 0.5 s forever; and it is reported once, not per attempt.
    short_lived: u32,
    flapping: Option<String>,
    connected_at: Instant,
    /// Why the last connection failed within SHORT_LIVED, if it did.
    failed_soon: Option<String>,
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    nanos | 1
}

impl Reconnect {
    pub(crate) fn new(
        name: String,
        endpoint: Arc<Endpoint>,
        reporter: Reporter,
        backoff_min: Duration,
        backoff_max: Duration,
    ) -> Self {
        Reconnect {
            name,
            endpoint,
            reporter,
            backoff_min,
            backoff_max,
            backoff: backoff_min,
            rng: seed(),
            failing: None,
            short_lived: 0,
            flapping: None,
            connected_at: Instant::now(),
            failed_soon: None,
        }
    }

    /// A connection was made (counted, announced unless connections keep failing at once).
    pub(crate) fn connected(&mut self, peer: Option<SocketAddr>) {
        Counters::add(&self.endpoint.counters.connects, 1);
        self.reporter.notice(Notice::Connect {
            address: self.name.clone(),
            peer: peer.map(|a| a.to_string()),
        });
        if self.short_lived < 2 {
            self.reporter.info(format!("connected to {}", self.name));
        }
        self.failing = None;
        self.connected_at = Instant::now();
    }

    /// The connection made last ended, not because the route stops.
    pub(crate) fn lost(&mut self, why: String) {
        Counters::add(&self.endpoint.counters.disconnects, 1);
        self.reporter.notice(Notice::Disconnect {
            address: self.name.clone(),
            reason: why.clone(),
        });
        let lasted = self.connected_at.elapsed();
        if lasted < SHORT_LIVED {
            self.failed_soon = Some(why);
            return;
        }
        if self.short_lived >= 2 {
            self.reporter.info(format!(
                "connection to {} stayed up for {} s before it was lost",
                self.name,
                lasted.as_secs()
            ));
        }
        self.short_lived = 0;
        self.flapping = None;
        self.backoff = self.backoff_min;
        self.reporter.warn(format!(
            "connection to {} lost ({why}); reconnecting",
            self.name
        ));
    }

    /// An attempt did not produce a connection.
    pub(crate) fn failed(&mut self, reason: String) {
        self.reporter.notice(Notice::Disconnect {
            address: self.name.clone(),
            reason: reason.clone(),
        });
        // The same failure seen while connecting (a reset that came before the connection
        // was ready): the same run of failures.
        if self.flapping.as_deref() == Some(reason.as_str()) {
            self.failed_soon = Some(reason);
            return;
        }
        // A refusal is a new state: the next connection that works is announced.
        self.short_lived = 0;
        self.flapping = None;
        if self.failing.as_deref() != Some(reason.as_str()) {
            self.reporter.warn(format!(
                "cannot connect to {}: {reason}; retrying every {:.1} s to {} s",
                self.name,
                self.backoff_min.as_secs_f64(),
                self.backoff_max.as_secs()
            ));
            self.failing = Some(reason);
        }
    }

    /// Waits before the next attempt (woken by `stop`); false when it stopped.
    pub(crate) fn pause(&mut self, stop: &StopToken) -> bool {
        if let Some(why) = self.failed_soon.take() {
            self.short_lived = self.short_lived.saturating_add(1);
            match self.short_lived {
                1 => self.reporter.warn(format!(
                    "connection to {} lost ({why}); reconnecting",
                    self.name
                )),
                2 => self.reporter.warn(format!(
                    "connection to {} keeps failing within {} s of connecting ({why}); reconnecting with growing delays up to {} s, without reporting each attempt",
                    self.name,
                    SHORT_LIVED.as_secs(),
                    self.backoff_max.as_secs()
                )),
                _ => {}
            }
            self.flapping = Some(why);
        }
        let pause = self.jittered(self.backoff);
        if !stop.sleep(pause) {
            return false;
        }
        self.backoff = (self.backoff * 2).min(self.backoff_max);
        true
    }

    /// ±20% so that many proxies do not reconnect in lockstep after a server restart.
    fn jittered(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let factor = 0.8 + (self.rng % 1000) as f64 / 2500.0;
        d.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Endpoint;

    #[test]
    fn the_delay_doubles_up_to_the_most_and_starts_again_after_a_lasting_connection() {
        let endpoint = Endpoint::new("tcp-connection", "x");
        let min = Duration::from_millis(1);
        let mut r = Reconnect::new(
            "x".into(),
            endpoint.clone(),
            Reporter::silent(),
            min,
            Duration::from_millis(4),
        );
        let stop = StopToken::new();
        for _ in 0..4 {
            r.failed("refused".into());
            assert!(r.pause(&stop));
        }
        assert_eq!(r.backoff, Duration::from_millis(4));
        r.connected(None);
        r.connected_at -= SHORT_LIVED;
        r.lost("reset".into());
        assert_eq!(r.backoff, min);
        assert_eq!(
            endpoint
                .counters
                .connects
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            endpoint
                .counters
                .disconnects
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        stop.stop();
        assert!(!r.pause(&stop));
    }
}
