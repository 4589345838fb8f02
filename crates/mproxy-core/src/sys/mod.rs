//! The OS layer: every `unsafe` block and every operating-system `cfg` of the core is in
//! this module, behind one small surface that is the same on every OS.
//!
//! Laid out as mio's `src/sys/mod.rs` and quinn-udp's `imp` are: the portable part is written
//! here once, and each OS module provides the rest under the same names, re-exported with
//! one glob per module, so no list of names is kept twice and no function body above the OS
//! modules branches on `cfg`. What every target must provide (a missing item fails that
//! target's build, which `npm run check:platforms` compiles):
//!
//! - Batched UDP (`linux` on Linux, `udp_single` elsewhere): `Receiver` (one batch per call;
//!   `recvmmsg` on Linux), `SendState` (per-socket send state; `sendmmsg` with GSO on Linux),
//!   `drain_errors` (ICMP errors from the socket's error queue), `gso_supported`,
//!   `is_reported_icmp`, `is_message_too_long`, `HAS_DROP_COUNTER`, `HAS_ERROR_QUEUE`.
//! - Socket options beyond the portable set (same modules): `grow_recv_buffer`,
//!   `grow_send_buffer`, `enable_drop_counter`, `enable_error_queue`,
//!   `deliver_joined_groups_only`, `udp_drop_totals`, `default_ipv6_multicast_device`; no-ops
//!   (reported as not granted, or unknown) where the OS has no such thing.
//! - Everything else (`unix` or `windows`): files, stdio, terminals and devices (`open_input`,
//!   `open_output`, `stdin`, `stdout`, `readable_now`, `wait_writable`, `is_nonblocking`,
//!   `PIPE_ATOMIC_WRITE`, `register_readable`, `deregister`, `RawTerminal`, `baud_supported`,
//!   `terminal_speed`, `is_char_device`, `file_identity`, `is_hangup`, `is_absent`,
//!   `not_a_regular_file`, `shared_file_problem`), sockets (`share_port`,
//!   `rebind_after_restart`, `ignore_udp_resets`, `interface_index`, `is_no_such_device`,
//!   `tcp_keepalive`, `group_bind_addr`) and the service manager (`notify_service_manager`,
//!   `monotonic_usec`).
//!
//! Nothing here imports the engine: the only module of the crate used below this line is
//! [`crate::batch`], the buffer type that receive fills and send reads, which itself imports
//! nothing (`scripts/check-core-modules.mjs`, run by `npm run lint`, keeps both so).
//! Readiness and wake-ups are mio's (epoll, kqueue, IOCP) and sockets are socket2's: both
//! portable already, used directly above this layer.

use std::io;

use socket2::{SockAddr, Socket};

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

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use self::linux::*;

#[cfg(not(target_os = "linux"))]
mod udp_single;
#[cfg(not(target_os = "linux"))]
pub use self::udp_single::*;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use self::unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use self::windows::*;
