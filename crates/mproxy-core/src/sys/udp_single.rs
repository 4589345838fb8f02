//! One datagram per syscall, for systems without `recvmmsg`/`sendmmsg` (macOS, Windows):
//! the same surface as Linux's batched module, so everything above is the same.

use std::io;
use std::net::SocketAddr;

use socket2::{SockAddr, Socket};

use crate::batch::{Batch, Entry, SLOT_SIZE};
use crate::sys::{RecvOutcome, SendOutcome, RECV_BATCH};

#[derive(Default)]
pub struct Receiver;

impl Receiver {
    pub fn new() -> Self {
        Receiver
    }

    /// Up to one batch of what is queued, without waiting; `WouldBlock` when nothing is.
    pub fn recv(
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

/// No error queue here: a connected socket reports an ICMP error on its next send
/// ([`is_reported_icmp`]), an unconnected one not at all.
pub fn is_reported_icmp(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
    )
}

fn is_reset(err: &io::Error) -> bool {
    #[cfg(windows)]
    const RESETS: &[i32] = &[10054, 10052]; // WSAECONNRESET, WSAENETRESET
    #[cfg(not(windows))]
    const RESETS: &[i32] = &[];
    err.raw_os_error()
        .is_some_and(|code| RESETS.contains(&code))
}

pub fn drain_errors(_socket: &Socket, _each: impl FnMut(SocketAddr, io::Error)) {}

/// No GSO on this path.
pub fn gso_supported(_socket: &Socket) -> bool {
    false
}

/// Per-socket send state; nothing to keep without GSO.
pub struct SendState;

impl SendState {
    pub fn new(_gso: bool) -> Self {
        SendState
    }

    pub fn gso(&self) -> bool {
        false
    }

    /// One `send` per datagram and destination.
    pub fn send(
        &mut self,
        socket: &Socket,
        batch: &Batch,
        dests: &[SockAddr],
        connected: bool,
        outcomes: &mut [SendOutcome],
    ) {
        for (addr, outcome) in dests.iter().zip(outcomes.iter_mut()) {
            crate::sys::send_each(socket, batch.datagrams(), addr, connected, outcome);
        }
    }
}

/// "Message too long": larger than the path (or the protocol) takes.
pub fn is_message_too_long(err: &io::Error) -> bool {
    #[cfg(windows)]
    const EMSGSIZE: i32 = 10040; // WSAEMSGSIZE
    #[cfg(not(windows))]
    const EMSGSIZE: i32 = libc::EMSGSIZE;
    err.raw_os_error() == Some(EMSGSIZE)
}
