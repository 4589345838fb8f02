//! Reading and writing plain descriptors (files, pipes, terminals, devices) the same way
//! whether or not someone else made them non-blocking: Node puts its own stdio pipes in
//! non-blocking mode, and those are shared with us.

#![cfg(unix)]

use std::io;
use std::time::Duration;

use crate::waker::{Interest, Wait, Waker};

/// Writes all of `bytes`. Pipes, terminals and sockets are polled for room first, and when
/// such a descriptor is blocking (as an inherited stdout usually is) at most PIPE_BUF bytes
/// go per write, which a pipe with room always takes whole: so no write blocks for long,
/// and once the route is stopping a reader that takes nothing for `stall_limit` makes the
/// write give up (`TimedOut`) instead of holding the shutdown forever.
/// `written` counts what went out, also when it fails part way.
pub fn write_all(
    fd: libc::c_int,
    mut bytes: &[u8],
    waker: &Waker,
    stall_limit: Duration,
    written: &mut usize,
) -> io::Result<()> {
    let careful = !is_regular_file(fd);
    let blocking = careful && !is_nonblocking(fd);
    let mut stalled = Duration::ZERO;
    let slice = Duration::from_millis(100);
    while !bytes.is_empty() {
        if careful {
            let mut fds = [libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            }];
            if poll_fds(&mut fds, Some(slice))? == 0 {
                if waker.is_stopped() {
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
        }
        let len = if blocking {
            bytes.len().min(libc::PIPE_BUF)
        } else {
            bytes.len()
        };
        // SAFETY: writes from a valid slice to a descriptor the caller owns.
        let rc = unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, len) };
        if rc >= 0 {
            bytes = &bytes[rc as usize..];
            *written += rc as usize;
            stalled = Duration::ZERO;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => {
                if !careful {
                    let mut fds = [libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    }];
                    poll_fds(&mut fds, Some(slice))?;
                }
            }
            _ => return Err(err),
        }
    }
    Ok(())
}

fn is_regular_file(fd: libc::c_int) -> bool {
    // SAFETY: fstat fills a zeroed stat structure for a descriptor the caller owns.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
    }
}

fn is_nonblocking(fd: libc::c_int) -> bool {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
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

/// `poll` on the given descriptors alone (no stop signal), retrying on EINTR. Returns the
/// number of ready descriptors, 0 on timeout.
pub fn poll_fds(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    loop {
        // SAFETY: fds is a valid, initialised slice of pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A pipe whose ends are non-blocking and not inherited by child processes: the stop
/// signal and the wake-ups are made of these. Returns [read end, write end].
pub fn nonblocking_pipe() -> io::Result<[libc::c_int; 2]> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid two-element array for pipe() to fill.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for fd in fds {
        // SAFETY: fd was just returned by pipe(); setting its flags is sound.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    Ok(fds)
}
