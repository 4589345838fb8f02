//! One datagram per syscall, for systems without `recvmmsg`/`sendmmsg` (macOS, Windows):
//! the same surface as Linux's batched module, so everything above is the same. The socket
//! options only Linux has are no-ops here, reported as not granted (or unknown).

use std::io;
use std::net::SocketAddr;

use socket2::{SockAddr, Socket};

use super::udp_common::{send_each, RecvOutcome, SendOutcome, RECV_BATCH};
use crate::batch::{Batch, Entry, SLOT_SIZE};

#[derive(Default)]
pub(crate) struct Receiver;

impl Receiver {
    pub(crate) fn new() -> Self {
        Receiver
    }

    /// Up to one batch of what is queued, without waiting; `WouldBlock` when nothing is.
    pub(crate) fn recv(
        &mut self,
        socket: &mio::net::UdpSocket,
        batch: &mut Batch,
    ) -> io::Result<RecvOutcome> {
        let need = RECV_BATCH * SLOT_SIZE;
        if batch.buf.len() < need {
            batch.buf.resize(need, 0);
        }
        batch.entries.clear();
        let mut outcome = RecvOutcome::default();
        for i in 0..RECV_BATCH {
            let slot = &mut batch.buf[i * SLOT_SIZE..(i + 1) * SLOT_SIZE];
            match socket.recv_from(slot) {
                Ok((len, from)) => {
                    batch.entries.push(Entry {
                        offset: i * SLOT_SIZE,
                        len,
                        segment: 0,
                        from: Some(from),
                    });
                    outcome.datagrams += 1;
                    outcome.bytes += len;
                }
                // Windows' report of an ICMP refusal of an earlier send from this socket
                // (where SIO_UDP_CONNRESET could not be turned off): not an error of
                // receiving, and no datagram; the send side counts refusals.
                Err(e) if is_reset(&e) => continue,
                Err(e) if outcome.datagrams == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(outcome)
    }
}

/// Windows' codes for an ICMP refusal reported on a later receive; none elsewhere.
#[cfg(windows)]
const RESETS: &[i32] = &[10054, 10052]; // WSAECONNRESET, WSAENETRESET
#[cfg(not(windows))]
const RESETS: &[i32] = &[];

fn is_reset(err: &io::Error) -> bool {
    err.raw_os_error()
        .is_some_and(|code| RESETS.contains(&code))
}

pub(crate) fn drain_errors(_socket: &Socket, _each: impl FnMut(SocketAddr, io::Error)) {}

/// No GSO on this path.
pub(crate) fn gso_supported(_socket: &Socket) -> bool {
    false
}

/// Per-socket send state; nothing to keep without GSO.
pub(crate) struct SendState;

impl SendState {
    pub(crate) fn new(_gso: bool) -> Self {
        SendState
    }

    pub(crate) fn gso(&self) -> bool {
        false
    }

    /// One `send` per datagram and destination.
    pub(crate) fn send(
        &mut self,
        socket: &Socket,
        batch: &Batch,
        dests: &[SockAddr],
        connected: bool,
        outcomes: &mut [SendOutcome],
    ) {
        for (addr, outcome) in dests.iter().zip(outcomes.iter_mut()) {
            send_each(socket, batch.datagrams(), addr, connected, outcome);
        }
    }
}

/// No drop counter here: the kernel's drops are unknown, not zero.
pub(crate) const HAS_DROP_COUNTER: bool = false;

/// Asks for `bytes` of receive buffer (within the system limit) and returns what the
/// kernel really granted.
pub fn grow_recv_buffer(socket: &Socket, bytes: usize) -> usize {
    let _ = socket.set_recv_buffer_size(bytes);
    socket.recv_buffer_size().unwrap_or(0)
}

/// Same for the send side.
pub fn grow_send_buffer(socket: &Socket, bytes: usize) -> usize {
    let _ = socket.set_send_buffer_size(bytes);
    socket.send_buffer_size().unwrap_or(0)
}

/// No per-batch drop counter to turn on.
pub(crate) fn enable_drop_counter(_socket: &Socket) -> bool {
    false
}

/// No error queue to turn on.
pub(crate) fn enable_error_queue(_socket: &Socket, _ipv6: bool) -> bool {
    false
}

/// A group listener already receives only the groups it joined.
pub(crate) fn deliver_joined_groups_only(_socket: &Socket, _ipv6: bool) -> io::Result<()> {
    Ok(())
}

/// The OS does not say how many datagrams it dropped: unknown for every socket.
pub fn udp_drop_totals(sockets: &[socket2::SockRef<'_>]) -> Vec<Option<u64>> {
    vec![None; sockets.len()]
}

/// The kernel chooses the IPv6 multicast interface at send time; nothing to read before.
pub(crate) fn default_ipv6_multicast_device() -> Option<String> {
    None
}
