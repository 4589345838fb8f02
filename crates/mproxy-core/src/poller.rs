//! Waiting for readiness (mio: epoll, kqueue, IOCP) together with the route's stop signal,
//! and the wake-up one thread gives another.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Registry, Token};

use crate::error::{Error, Result};
use crate::stop::{StopToken, Subscription};

/// The token a poller's waker (a stop, or a [`Wakeup`]) wakes it with; sources use any
/// other. mio allows one waker per poll, so both share it.
const WAKE: Token = Token(usize::MAX);

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    Ready,
    TimedOut,
    Stopped,
}

/// One thread's readiness queue. mio reports edges: a source is ready once until an
/// operation on it returns `WouldBlock`, so callers read or write until then.
pub(crate) struct Poller {
    poll: Poll,
    events: Events,
    stop: StopToken,
    waker: Arc<mio::Waker>,
    _subscription: Subscription,
}

impl Poller {
    pub(crate) fn new(stop: &StopToken) -> Result<Self> {
        let fail = |e: io::Error| Error::os("cannot create a poller", &e);
        let poll = Poll::new().map_err(fail)?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(fail)?);
        Ok(Poller {
            _subscription: stop.subscribe(waker.clone()),
            waker,
            poll,
            events: Events::with_capacity(256),
            stop: stop.clone(),
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    pub(crate) fn stop_token(&self) -> &StopToken {
        &self.stop
    }

    /// A wake-up other threads can give this poller.
    pub(crate) fn wakeup(&self) -> Wakeup {
        Wakeup {
            waker: self.waker.clone(),
            pending: AtomicBool::new(false),
        }
    }

    /// Blocks until something registered is ready, the timeout passes, or the route stops.
    /// A stop wins over readiness, so a stopping thread does not start new work.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        if self.stop.is_stopped() {
            return Wait::Stopped;
        }
        loop {
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The poller itself failing means its descriptors are gone: wind down
                // rather than spin.
                Err(_) => return Wait::Stopped,
            }
        }
        if self.stop.is_stopped() {
            Wait::Stopped
        } else if self.events.is_empty() {
            Wait::TimedOut
        } else {
            Wait::Ready
        }
    }

    /// The sources the last wait found ready (their tokens), with what they are ready for.
    pub(crate) fn ready(&self) -> impl Iterator<Item = &mio::event::Event> {
        self.events.iter().filter(|e| e.token() != WAKE)
    }
}

/// A wake-up a producing thread gives a consuming thread that waits in a [`Poller`]
/// ([`Poller::wakeup`]); the consumer's wait then returns `Ready`. Wakes are coalesced: the
/// producer pays for a syscall only when the consumer has taken the last one, so a busy
/// producer costs almost nothing.
pub(crate) struct Wakeup {
    waker: Arc<mio::Waker>,
    pending: AtomicBool,
}

impl Wakeup {
    pub(crate) fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }

    /// Called by the consumer when woken, BEFORE it looks for work: a producer that adds
    /// work after this wakes it again, one that added work before finds it taken.
    pub(crate) fn clear(&self) {
        self.pending.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn stop_wakes_a_blocked_poller_at_once() {
        let stop = StopToken::new();
        let mut poller = Poller::new(&stop).unwrap();
        let s = stop.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s.stop();
        });
        assert_eq!(poller.wait(None), Wait::Stopped);
        t.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(poller.wait(Some(Duration::from_millis(1))), Wait::Stopped);
    }

    #[test]
    fn a_wait_times_out_and_a_wakeup_wakes() {
        let stop = StopToken::new();
        let mut poller = Poller::new(&stop).unwrap();
        assert_eq!(poller.wait(Some(Duration::from_millis(10))), Wait::TimedOut);
        let wakeup = poller.wakeup();
        wakeup.wake();
        wakeup.wake();
        assert_eq!(poller.wait(Some(Duration::from_secs(5))), Wait::Ready);
        assert_eq!(poller.ready().count(), 0);
    }
}
