//! A stop signal that blocked threads can wait on together with their own descriptor.
//!
//! On Unix it is a pipe: stopping writes one byte and never reads it, so the read end stays
//! readable for every poller at once. Threads therefore block in `poll` on (their socket or
//! file, the pipe) and wake the moment either is ready: no sleeping loops, no timers.
//! Elsewhere it falls back to a flag checked between short socket timeouts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Waker {
    inner: Arc<Inner>,
}

struct Inner {
    stopped: AtomicBool,
    #[cfg(unix)]
    read_fd: libc::c_int,
    #[cfg(unix)]
    write_fd: libc::c_int,
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Ready,
    TimedOut,
    Stopped,
}

/// Which readiness to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

impl Waker {
    pub fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            let fds = crate::io::fd::nonblocking_pipe()
                .map_err(|e| Error::os("create stop signal", &e))?;
            Ok(Waker {
                inner: Arc::new(Inner {
                    stopped: AtomicBool::new(false),
                    read_fd: fds[0],
                    write_fd: fds[1],
                }),
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Waker {
                inner: Arc::new(Inner {
                    stopped: AtomicBool::new(false),
                }),
            })
        }
    }

    pub fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        #[cfg(unix)]
        {
            let byte = 1u8;
            // SAFETY: writes one byte from a valid local to our own pipe.
            unsafe {
                libc::write(
                    self.inner.write_fd,
                    &byte as *const u8 as *const libc::c_void,
                    1,
                )
            };
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Blocks until `fd` is ready for `interest`, the timeout passes, or the route stops.
    /// A stop wins over readiness, so a stopping thread does not start new work.
    #[cfg(unix)]
    pub fn wait(&self, fd: libc::c_int, interest: Interest, timeout: Option<Duration>) -> Wait {
        if self.is_stopped() {
            return Wait::Stopped;
        }
        let events = match interest {
            Interest::Read => libc::POLLIN,
            Interest::Write => libc::POLLOUT,
        };
        let mut fds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.inner.read_fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout_ms = match timeout {
            Some(t) => t.as_millis().min(i32::MAX as u128) as libc::c_int,
            None => -1,
        };
        loop {
            // SAFETY: fds is a valid array of two pollfd structures.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
            if rc < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                // poll itself failing means the descriptors are gone; treat as a stop so the
                // caller winds down instead of spinning.
                return Wait::Stopped;
            }
            if fds[1].revents != 0 || self.is_stopped() {
                return Wait::Stopped;
            }
            if rc == 0 {
                return Wait::TimedOut;
            }
            return Wait::Ready;
        }
    }

    /// Blocks until one of `fds` has an event, the timeout passes, or the route stops.
    /// The caller reads each entry's `revents` after `Wait::Ready`.
    #[cfg(unix)]
    pub fn poll(&self, fds: &mut Vec<libc::pollfd>, timeout: Option<Duration>) -> Wait {
        if self.is_stopped() {
            return Wait::Stopped;
        }
        fds.push(libc::pollfd {
            fd: self.inner.read_fd,
            events: libc::POLLIN,
            revents: 0,
        });
        let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
        let outcome = loop {
            // SAFETY: fds is a valid, initialised vector of pollfd structures.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
            if rc < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break Wait::Stopped;
            }
            break if rc == 0 { Wait::TimedOut } else { Wait::Ready };
        };
        let stop = fds.pop().is_some_and(|f| f.revents != 0);
        if stop || self.is_stopped() {
            Wait::Stopped
        } else {
            outcome
        }
    }

    /// Sleeps for `duration` unless the route stops first; returns false if it stopped.
    #[cfg(unix)]
    pub fn sleep(&self, duration: Duration) -> bool {
        // poll ignores a negative descriptor, leaving only the stop pipe and the timeout.
        self.wait(-1, Interest::Read, Some(duration)) != Wait::Stopped
    }

    #[cfg(not(unix))]
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = std::time::Instant::now() + duration;
        while std::time::Instant::now() < deadline {
            if self.is_stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10).min(duration));
        }
        !self.is_stopped()
    }

    /// Without poll, waits are emulated by the caller's socket timeouts; this only sleeps
    /// for the short slice those timeouts use.
    #[cfg(not(unix))]
    pub fn wait(&self, _fd: i64, _interest: Interest, timeout: Option<Duration>) -> Wait {
        if self.is_stopped() {
            return Wait::Stopped;
        }
        let slice = Duration::from_millis(50);
        std::thread::sleep(timeout.map_or(slice, |t| t.min(slice)));
        if self.is_stopped() {
            Wait::Stopped
        } else {
            Wait::Ready
        }
    }
}

#[cfg(unix)]
impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: both descriptors are owned by this struct and closed exactly once.
        unsafe {
            libc::close(self.read_fd);
            libc::close(self.write_fd);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn stop_wakes_a_blocked_waiter_at_once() {
        let waker = Waker::new().unwrap();
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let w = waker.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || w.wait(fds[0], Interest::Read, None));
        std::thread::sleep(Duration::from_millis(50));
        waker.stop();
        assert_eq!(t.join().unwrap(), Wait::Stopped);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            waker.wait(fds[0], Interest::Read, Some(Duration::from_millis(1))),
            Wait::Stopped
        );
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
