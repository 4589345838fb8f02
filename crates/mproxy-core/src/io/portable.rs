//! One datagram per syscall, for systems without `recvmmsg`/`sendmmsg`.

use std::io;
use std::mem::MaybeUninit;

use socket2::Socket;

use super::{Destination, RecvOutcome, SendOutcome, RECV_BATCH};
use crate::batch::{Batch, Entry, SLOT_SIZE};

#[derive(Default)]
pub struct Receiver;

impl Receiver {
    pub fn new() -> Self {
        Receiver
    }

    pub fn recv(&mut self, socket: &Socket, batch: &mut Batch) -> io::Result<RecvOutcome> {
        let need = RECV_BATCH * SLOT_SIZE;
        if batch.buf.len() < need {
            batch.buf.resize(need, 0);
        }
        batch.entries.clear();
        let mut outcome = RecvOutcome::default();
        for i in 0..RECV_BATCH {
            let slot = &mut batch.buf[i * SLOT_SIZE..(i + 1) * SLOT_SIZE];
            // SAFETY: u8 and MaybeUninit<u8> share layout; recv only writes into the slot.
            let slot: &mut [MaybeUninit<u8>] =
                unsafe { &mut *(slot as *mut [u8] as *mut [MaybeUninit<u8>]) };
            match socket.recv(slot) {
                Ok(len) => {
                    batch.entries.push(Entry {
                        offset: i * SLOT_SIZE,
                        len,
                        segment: 0,
                    });
                    outcome.datagrams += 1;
                    outcome.bytes += len;
                }
                Err(e) if outcome.datagrams == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(outcome)
    }
}

/// No GSO on this path.
pub fn gso_supported(_socket: &Socket) -> bool {
    false
}

/// One `send` per datagram and destination; `_gso` is for the Linux path.
pub fn send_to_many(
    socket: &Socket,
    batch: &Batch,
    dests: &[Destination],
    connected: bool,
    _gso: &std::sync::atomic::AtomicBool,
    outcomes: &mut [SendOutcome],
) {
    for ((_, addr), outcome) in dests.iter().zip(outcomes.iter_mut()) {
        super::send_each(socket, batch.datagrams(), addr, connected, outcome);
    }
}
