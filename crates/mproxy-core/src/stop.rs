//! A route's stop signal: one-shot, seen by every thread of the route at once.
//!
//! Threads that wait for readiness do so in a [`Poller`](crate::poller::Poller), which
//! subscribes a mio waker here, so a stop wakes them the moment it happens (no sleeping
//! loops, no timers); threads that only sleep (pacing, reconnect backoff) sleep on a
//! condition variable a stop notifies.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct StopToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    next_id: AtomicU64,
    /// Pollers to wake, by subscription id.
    wakers: Mutex<Vec<(u64, Arc<mio::Waker>)>>,
    sleep: Mutex<()>,
    woken: Condvar,
}

/// Ends a subscription when dropped.
pub struct Subscription {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut wakers) = self.inner.wakers.lock() {
            wakers.retain(|(id, _)| *id != self.id);
        }
    }
}

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the route: every subscribed poller and every sleeper wakes. Idempotent.
    pub fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(wakers) = self.inner.wakers.lock() {
            for (_, waker) in wakers.iter() {
                let _ = waker.wake();
            }
        }
        let _guard = self.inner.sleep.lock();
        self.inner.woken.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Wakes `waker` when the route stops (at once if it already has).
    pub fn subscribe(&self, waker: Arc<mio::Waker>) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut wakers) = self.inner.wakers.lock() {
            wakers.push((id, waker.clone()));
        }
        if self.is_stopped() {
            let _ = waker.wake();
        }
        Subscription {
            inner: self.inner.clone(),
            id,
        }
    }

    /// Sleeps for `duration` unless the route stops first; returns false if it stopped.
    pub fn sleep(&self, duration: Duration) -> bool {
        // Checked: a duration past the clock's range means until stopped.
        let deadline = Instant::now().checked_add(duration);
        let Ok(mut guard) = self.inner.sleep.lock() else {
            return !self.is_stopped();
        };
        while !self.is_stopped() {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                // Woken by a stop; a spurious wakeup waits again.
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                break;
            }
            guard = match self.inner.woken.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(_) => break,
            };
        }
        !self.is_stopped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_ends_a_sleep_at_once() {
        let stop = StopToken::new();
        let s = stop.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || s.sleep(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(50));
        stop.stop();
        assert!(!t.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!stop.sleep(Duration::from_millis(1)));
    }
}
