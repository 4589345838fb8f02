//! Files, FIFOs, devices and stdin as a [`ByteInput`].

#![cfg(unix)]

use std::io;
use std::time::Duration;

use super::framed::{ByteInput, Read};
use crate::waker::{Interest, Wait, Waker};

pub struct FdInput {
    pub fd: libc::c_int,
    /// Regular files are always ready: no poll, and no pauses to flush lines on.
    pub regular: bool,
    pub waker: Waker,
}

impl ByteInput for FdInput {
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Read> {
        if self.regular {
            if self.waker.is_stopped() {
                return Ok(Read::Stopped);
            }
        } else {
            match self.waker.wait(self.fd, Interest::Read, timeout) {
                Wait::Stopped => return Ok(Read::Stopped),
                Wait::TimedOut => return Ok(Read::TimedOut),
                Wait::Ready => {}
            }
        }
        match crate::io::fd::read(self.fd, buf, &self.waker)? {
            None => Ok(Read::Stopped),
            Some(0) => Ok(Read::End),
            Some(n) => Ok(Read::Data(n)),
        }
    }

    fn more_now(&mut self) -> bool {
        self.regular || crate::io::fd::readable_now(self.fd)
    }
}
