//! A wake-up one thread gives another that sleeps in `poll`: a non-blocking pipe written at
//! most once until the sleeper drains it, so a busy producer pays for almost no syscalls.

#![cfg(unix)]

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

pub struct Notify {
    read_fd: libc::c_int,
    write_fd: libc::c_int,
    signalled: AtomicBool,
}

impl Notify {
    pub fn new() -> Result<Self> {
        let fds = crate::io::fd::nonblocking_pipe()
            .map_err(|e| Error::os("create a wake-up pipe", &e))?;
        Ok(Notify {
            read_fd: fds[0],
            write_fd: fds[1],
            signalled: AtomicBool::new(false),
        })
    }

    /// The descriptor to poll for POLLIN.
    pub fn fd(&self) -> libc::c_int {
        self.read_fd
    }

    pub fn signal(&self) {
        if !self.signalled.swap(true, Ordering::AcqRel) {
            let byte = 1u8;
            // SAFETY: writes one byte from a valid local to our own pipe.
            unsafe { libc::write(self.write_fd, &byte as *const u8 as *const libc::c_void, 1) };
        }
    }

    /// Called by the sleeper after waking, before it looks for work. The pipe is emptied
    /// before the flag is cleared: cleared first, a signal landing in between would leave
    /// the flag set with an empty pipe, and every later signal would be skipped.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a valid local buffer from our own non-blocking pipe.
        while unsafe {
            libc::read(
                self.read_fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        } > 0
        {}
        self.signalled.store(false, Ordering::Release);
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        // SAFETY: both descriptors are owned here and closed once.
        unsafe {
            libc::close(self.read_fd);
            libc::close(self.write_fd);
        }
    }
}
