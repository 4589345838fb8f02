//! Reading and writing plain descriptors (files, pipes, terminals, devices) the same way
//! whether or not someone else made them non-blocking: Node puts its own stdio pipes in
//! non-blocking mode, and those are shared with us.

#![cfg(unix)]

use std::io;
use std::time::Duration;

use crate::waker::{Interest, Wait, Waker};

/// Writes all of `bytes`, waiting for room when the descriptor is non-blocking and full.
/// Gives up (with `TimedOut`) once the route is stopping and the reader has taken nothing
/// for `stall_limit`, so a stuck consumer cannot hold a shutdown forever.
pub fn write_all(
    fd: libc::c_int,
    mut bytes: &[u8],
    waker: &Waker,
    stall_limit: Duration,
) -> io::Result<()> {
    let mut stalled = Duration::ZERO;
    let slice = Duration::from_millis(100);
    while !bytes.is_empty() {
        // SAFETY: writes from a valid slice to a descriptor the caller owns.
        let rc = unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) };
        if rc >= 0 {
            bytes = &bytes[rc as usize..];
            stalled = Duration::ZERO;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => {
                let mut fds = [libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                }];
                // SAFETY: one valid pollfd.
                let ready =
                    unsafe { libc::poll(fds.as_mut_ptr(), 1, slice.as_millis() as libc::c_int) };
                if ready == 0 && waker.is_stopped() {
                    stalled += slice;
                    if stalled >= stall_limit {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the reader stopped taking data",
                        ));
                    }
                }
            }
            _ => return Err(err),
        }
    }
    Ok(())
}

/// One read; waits for data when the descriptor is non-blocking. `Ok(None)` means the route
/// is stopping.
pub fn read(fd: libc::c_int, buf: &mut [u8], waker: &Waker) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: reads into a valid mutable slice from a descriptor the caller owns.
        let rc = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if rc >= 0 {
            return Ok(Some(rc as usize));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => {
                if waker.wait(fd, Interest::Read, None) == Wait::Stopped {
                    return Ok(None);
                }
            }
            _ => return Err(err),
        }
    }
}

/// True when a read would not block right now.
pub fn readable_now(fd: libc::c_int) -> bool {
    let mut fds = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) > 0 }
}
