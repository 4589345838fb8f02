//! Batched datagram I/O. Linux moves a whole batch per syscall (`recvmmsg`, `sendmmsg`,
//! several destinations in one call); other systems fall back to one datagram per call
//! behind the same interface.

use std::io;
use std::net::SocketAddr;

#[cfg(unix)]
pub mod fd;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{gso_supported, send_to_many, Receiver};

#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(not(target_os = "linux"))]
pub use portable::{gso_supported, send_to_many, Receiver};

/// How many datagrams one receive call may return.
pub const RECV_BATCH: usize = 64;

/// What one receive call brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecvOutcome {
    pub datagrams: usize,
    pub bytes: usize,
    pub truncated: usize,
    /// The kernel's running total of datagrams dropped on this socket, where it says.
    pub kernel_drops_total: Option<u64>,
}

/// What sending one batch did for one destination.
#[derive(Debug, Default)]
pub struct SendOutcome {
    pub datagrams: u64,
    pub bytes: u64,
    pub errors: u64,
    /// The first error, so the caller can report a state change once.
    pub first_error: Option<io::Error>,
}

/// Sends datagrams one syscall each to one destination, counting into `outcome`: the
/// portable path, and Linux's fallback for a GSO run a path refused.
pub fn send_each<'a>(
    socket: &socket2::Socket,
    datagrams: impl IntoIterator<Item = &'a [u8]>,
    dest: &socket2::SockAddr,
    connected: bool,
    outcome: &mut SendOutcome,
) {
    for d in datagrams {
        let sent = if connected {
            socket.send(d)
        } else {
            socket.send_to(d, dest)
        };
        match sent {
            Ok(n) => {
                outcome.datagrams += 1;
                outcome.bytes += n as u64;
            }
            Err(e) => {
                outcome.errors += 1;
                outcome.first_error.get_or_insert(e);
            }
        }
    }
}

/// True for errors that mean "try again": the batch was not refused.
pub fn is_transient(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::Interrupted)
}

pub type Destination = (SocketAddr, socket2::SockAddr);
