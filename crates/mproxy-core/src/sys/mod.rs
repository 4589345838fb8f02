//! The OS layer: every `unsafe` block and every operating-system `cfg` of the core is in
//! this module, behind one small surface that is the same on every OS.
//!
//! - Batched UDP: [`Receiver`] (one batch per call; `recvmmsg` on Linux), [`SendState`]
//!   (per-socket send state; `sendmmsg` with GSO on Linux), [`drain_errors`] (ICMP errors
//!   from the socket's error queue, Linux), one datagram per call elsewhere.
//! - Socket options beyond the portable set: forced buffer sizes, the drop counter, the
//!   error queue, joined-groups-only delivery; no-ops (reported as not granted) where the
//!   OS has no such thing.
//! - Files, stdio, terminals and devices: opening without blocking or a controlling
//!   terminal, readiness through mio where the kernel's poller takes them, raw mode and line
//!   speed, a device's hang-up, a file's identity (to notice it was replaced).
//! - The service manager: systemd's readiness notifications (`NOTIFY_SOCKET`, a unix
//!   datagram socket) and the monotonic clock they quote; no-ops on Windows.
//!
//! Readiness and wake-ups are mio's (epoll, kqueue, IOCP) and sockets are socket2's: both
//! portable already, used directly above this layer.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{SockAddr, Socket};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod udp_single;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
pub use linux::udp::{
    drain_errors, gso_supported, is_message_too_long, is_reported_icmp, Receiver, SendState,
};
#[cfg(not(target_os = "linux"))]
pub use udp_single::{
    drain_errors, gso_supported, is_message_too_long, is_reported_icmp, Receiver, SendState,
};
#[cfg(unix)]
pub use unix::{
    baud_supported, deregister, file_identity, ignore_udp_resets, interface_index, is_absent,
    is_char_device, is_hangup, is_no_such_device, is_nonblocking, monotonic_usec,
    not_a_regular_file, notify_service_manager, open_input, open_output, readable_now,
    rebind_after_restart, register_readable, share_port, shared_file_problem, stdin, stdout,
    terminal_speed, wait_writable, RawTerminal, PIPE_ATOMIC_WRITE,
};
#[cfg(windows)]
pub use windows::{
    baud_supported, deregister, file_identity, ignore_udp_resets, interface_index, is_absent,
    is_char_device, is_hangup, is_no_such_device, is_nonblocking, monotonic_usec,
    not_a_regular_file, notify_service_manager, open_input, open_output, readable_now,
    rebind_after_restart, register_readable, share_port, shared_file_problem, stdin, stdout,
    terminal_speed, wait_writable, RawTerminal, PIPE_ATOMIC_WRITE,
};

/// How often one datagram is sent again after meeting ICMP errors about earlier ones before
/// its own failure is believed (each send consumes one pending error).
pub(crate) const MAX_ICMP_RETRIES: usize = 16;

/// How many datagrams one receive call may return.
pub const RECV_BATCH: usize = 64;

/// Whether the kernel counts the datagrams it drops on a full receive buffer
/// ([`enable_drop_counter`], [`udp_drop_totals`]): Linux only.
pub const HAS_DROP_COUNTER: bool = cfg!(target_os = "linux");

/// Whether ICMP errors about sent datagrams are read from an error queue that names their
/// destination ([`drain_errors`]). Without it, only a connected socket learns of them, as
/// an error on its next send.
pub const HAS_ERROR_QUEUE: bool = cfg!(target_os = "linux");

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
    /// Sends that met an ICMP error about an earlier datagram (and were sent again).
    pub icmp_reported: u64,
}

impl SendOutcome {
    pub fn clear(&mut self) {
        *self = SendOutcome::default();
    }
}

/// Sends datagrams one syscall each to one destination, counting into `outcome`: the
/// portable path, and Linux's fallback for a GSO run a path refused. A send that meets an
/// ICMP error about an earlier datagram is tried once more.
pub fn send_each<'a>(
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

/// Asks for `bytes` of receive buffer, beyond the system limit where we are allowed to, and
/// returns what the kernel really granted.
pub fn grow_recv_buffer(socket: &Socket, bytes: usize) -> usize {
    #[cfg(target_os = "linux")]
    let forced = linux::force_recv_buffer(socket, bytes);
    #[cfg(not(target_os = "linux"))]
    let forced = false;
    if !forced {
        let _ = socket.set_recv_buffer_size(bytes);
    }
    socket.recv_buffer_size().unwrap_or(0)
}

/// Same for the send side.
pub fn grow_send_buffer(socket: &Socket, bytes: usize) -> usize {
    #[cfg(target_os = "linux")]
    let forced = linux::force_send_buffer(socket, bytes);
    #[cfg(not(target_os = "linux"))]
    let forced = false;
    if !forced {
        let _ = socket.set_send_buffer_size(bytes);
    }
    socket.send_buffer_size().unwrap_or(0)
}

/// Turns on the per-batch drop counter where the OS keeps one; false where it does not.
pub fn enable_drop_counter(socket: &Socket) -> bool {
    #[cfg(target_os = "linux")]
    return linux::enable_drop_counter(socket);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        false
    }
}

/// Queues ICMP errors about sent datagrams on the socket (see [`HAS_ERROR_QUEUE`]).
pub fn enable_error_queue(socket: &Socket, ipv6: bool) -> bool {
    #[cfg(target_os = "linux")]
    return linux::enable_error_queue(socket, ipv6);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, ipv6);
        false
    }
}

/// A group listener receives only the groups it joined (Linux otherwise delivers every
/// group any socket on the host joined on that port); elsewhere that is already so.
pub fn deliver_joined_groups_only(socket: &Socket, ipv6: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    return linux::deliver_joined_groups_only(socket, ipv6);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, ipv6);
        Ok(())
    }
}

/// Each socket's running total of datagrams the kernel dropped, read without receiving,
/// where the OS tells (None elsewhere).
pub fn udp_drop_totals(sockets: &[socket2::SockRef<'_>]) -> Vec<Option<u64>> {
    #[cfg(target_os = "linux")]
    return linux::udp_drop_totals(sockets);
    #[cfg(not(target_os = "linux"))]
    vec![None; sockets.len()]
}

/// The interface of the system's IPv6 multicast route, where the OS tells; elsewhere the
/// kernel decides at send time.
pub fn default_ipv6_multicast_device() -> Option<String> {
    #[cfg(target_os = "linux")]
    return linux::default_ipv6_multicast_device();
    #[cfg(not(target_os = "linux"))]
    None
}

/// TCP keep-alive: the first probe after `time` idle, then every `interval`, giving up
/// after `retries` unanswered probes where the OS lets the count be set.
pub fn tcp_keepalive(
    time: std::time::Duration,
    interval: std::time::Duration,
    retries: u32,
) -> socket2::TcpKeepalive {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval(interval);
    #[cfg(not(windows))]
    let keepalive = keepalive.with_retries(retries);
    #[cfg(windows)]
    let _ = retries;
    keepalive
}

/// The address a group listener binds: the group itself on Unix, which filters out unicast
/// to the same port; Windows only accepts the unspecified address there.
pub fn group_bind_addr(group: SocketAddr) -> SocketAddr {
    if cfg!(windows) {
        let ip = match group {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        SocketAddr::new(ip, group.port())
    } else {
        group
    }
}
