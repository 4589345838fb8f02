//! The portable part of UDP I/O, the same on every OS: what one receive or send call did,
//! and sending one datagram per call (the path of every OS without `sendmmsg`, and Linux's
//! fallback for a GSO run a path refused).

use std::io;

use socket2::{SockAddr, Socket};

use super::send_errors::{is_message_too_long, is_reported_icmp, HAS_ERROR_QUEUE};

/// How often one datagram is sent again after meeting ICMP errors about earlier ones before
/// its own failure is believed (each send consumes one pending error).
pub(crate) const MAX_ICMP_RETRIES: usize = 16;

/// How many datagrams one receive call may return.
pub(crate) const RECV_BATCH: usize = 64;

/// What one receive call brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvOutcome {
    pub datagrams: usize,
    pub bytes: usize,
    pub truncated: usize,
    /// The kernel's running total of datagrams dropped on this socket, where it says.
    pub kernel_drops_total: Option<u64>,
}

/// What sending one batch did for one destination.
#[derive(Debug, Default)]
pub(crate) struct SendOutcome {
    pub datagrams: u64,
    pub bytes: u64,
    pub errors: u64,
    /// The first error, so the caller can report a state change once.
    pub first_error: Option<io::Error>,
    /// Sends that met an ICMP error about an earlier datagram (and were sent again).
    pub icmp_reported: u64,
}

impl SendOutcome {
    pub(crate) fn clear(&mut self) {
        *self = SendOutcome::default();
    }
}

/// Sends datagrams one syscall each to one destination, counting into `outcome`: the
/// portable path, and Linux's fallback for a GSO run a path refused. A send that meets an
/// ICMP error about an earlier datagram is tried once more.
pub(crate) fn send_each<'a>(
    socket: &Socket,
    datagrams: impl IntoIterator<Item = &'a [u8]>,
    dest: &SockAddr,
    connected: bool,
    outcome: &mut SendOutcome,
) {
    for d in datagrams {
        let send = || {
            if connected {
                socket.send(d)
            } else {
                socket.send_to(d, dest)
            }
        };
        let mut sent = send();
        let mut size_retried = false;
        for _ in 0..MAX_ICMP_RETRIES {
            match &sent {
                Err(e) if is_reported_icmp(e) => {
                    outcome.icmp_reported += 1;
                    sent = send();
                }
                // "Message too long" may be a path-MTU report about an earlier datagram
                // (the path shrank); then this one goes through on a second try.
                Err(e) if is_message_too_long(e) && !size_retried => {
                    size_retried = true;
                    // Only where an error queue says whose report it was: elsewhere "too
                    // long" is this datagram's own, and a second failure counts it once.
                    if HAS_ERROR_QUEUE {
                        outcome.icmp_reported += 1;
                    }
                    sent = send();
                }
                _ => break,
            }
        }
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
