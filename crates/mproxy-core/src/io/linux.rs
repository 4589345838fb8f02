//! `recvmmsg`/`sendmmsg` on Linux: one syscall per batch in each direction.

use std::io;
use std::os::fd::AsRawFd;

use socket2::Socket;

use super::{Destination, RecvOutcome, SendOutcome, RECV_BATCH};
use crate::batch::{Batch, Entry, SLOT_SIZE};

const SO_RXQ_OVFL: libc::c_int = 40;
/// Room for the drop counter (and, later, a GRO segment size) per datagram.
const CONTROL_SIZE: usize = 64;
/// The kernel's limit on messages per `sendmmsg` call (UIO_MAXIOV).
const MAX_SEND_MESSAGES: usize = 1024;

/// Receive state reused across calls: headers, vectors and control space for one batch.
pub struct Receiver {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    control: Vec<u8>,
}

// SAFETY: the raw pointers inside are only set up and used within one `recv` call on the
// owning thread; between calls they are dead values.
unsafe impl Send for Receiver {}

impl Default for Receiver {
    fn default() -> Self {
        Self::new()
    }
}

impl Receiver {
    pub fn new() -> Self {
        // SAFETY: mmsghdr and iovec are plain C structs for which all-zero is a valid value.
        let hdrs = (0..RECV_BATCH)
            .map(|_| unsafe { std::mem::zeroed::<libc::mmsghdr>() })
            .collect();
        let iovs = (0..RECV_BATCH)
            .map(|_| libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            })
            .collect();
        Receiver {
            hdrs,
            iovs,
            control: vec![0; RECV_BATCH * CONTROL_SIZE],
        }
    }

    /// Fills `batch` with whatever is queued on `socket`, up to one batch, without waiting.
    /// Returns `WouldBlock` when nothing is queued.
    pub fn recv(&mut self, socket: &Socket, batch: &mut Batch) -> io::Result<RecvOutcome> {
        let need = RECV_BATCH * SLOT_SIZE;
        if batch.buf.len() < need {
            batch.buf.resize(need, 0);
        }
        batch.entries.clear();
        let base = batch.buf.as_mut_ptr();
        for (i, iov) in self.iovs.iter_mut().enumerate() {
            // SAFETY: slot i lies inside batch.buf, which holds RECV_BATCH slots.
            *iov = libc::iovec {
                iov_base: unsafe { base.add(i * SLOT_SIZE) } as *mut libc::c_void,
                iov_len: SLOT_SIZE,
            };
        }
        // Pointers into iovs and control are taken once, after iovs was last written, so
        // none of them is invalidated by a later mutable borrow.
        let iovs = self.iovs.as_mut_ptr();
        let control = self.control.as_mut_ptr();
        for (i, entry) in self.hdrs.iter_mut().enumerate() {
            let hdr = &mut entry.msg_hdr;
            hdr.msg_name = std::ptr::null_mut();
            hdr.msg_namelen = 0;
            // SAFETY: i < RECV_BATCH, the length of iovs and of the control regions.
            hdr.msg_iov = unsafe { iovs.add(i) };
            hdr.msg_iovlen = 1;
            // SAFETY: control region i lies inside self.control.
            hdr.msg_control = unsafe { control.add(i * CONTROL_SIZE) } as *mut libc::c_void;
            hdr.msg_controllen = CONTROL_SIZE as _;
            hdr.msg_flags = 0;
            entry.msg_len = 0;
        }
        let n = loop {
            // SAFETY: every header points at live buffers set up above, sized as declared.
            let rc = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    RECV_BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if rc >= 0 {
                break rc as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        };
        let mut outcome = RecvOutcome {
            datagrams: n,
            ..Default::default()
        };
        for i in 0..n {
            let hdr = &self.hdrs[i];
            let len = (hdr.msg_len as usize).min(SLOT_SIZE);
            if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                outcome.truncated += 1;
            }
            outcome.bytes += len;
            batch.entries.push(Entry {
                offset: i * SLOT_SIZE,
                len,
                segment: 0,
            });
        }
        if n > 0 {
            outcome.kernel_drops_total = read_drop_counter(&self.hdrs[n - 1].msg_hdr);
        }
        Ok(outcome)
    }
}

fn read_drop_counter(hdr: &libc::msghdr) -> Option<u64> {
    // SAFETY: walks the control messages the kernel wrote into this header's buffer using
    // the libc CMSG helpers, which bound every access by msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_RXQ_OVFL {
                let value = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const u32);
                return Some(value as u64);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

/// Sends every datagram of `batch` to every destination, in as few `sendmmsg` calls as the
/// kernel allows. A refused datagram is counted against its destination and skipped, so one
/// bad destination never holds up the others. `connected`: the socket is connected to the
/// only destination, so messages carry no address and the kernel reuses its cached route.
pub fn send_to_many(
    socket: &Socket,
    batch: &Batch,
    dests: &[Destination],
    connected: bool,
    outcomes: &mut [SendOutcome],
) {
    let per_dest = batch.datagram_count();
    if per_dest == 0 || dests.is_empty() {
        return;
    }
    let total = per_dest * dests.len();
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(total);
    for _ in dests {
        for d in batch.datagrams() {
            iovs.push(libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            });
        }
    }
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(total);
    for (k, iov) in iovs.iter_mut().enumerate() {
        let (_, addr) = &dests[k / per_dest];
        // SAFETY: all-zero is a valid mmsghdr; the fields set below point at live data
        // (the destination address and the batch) that outlive the sendmmsg calls.
        let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
        if !connected {
            h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_namelen = addr.len();
        }
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        hdrs.push(h);
    }
    let fd = socket.as_raw_fd();
    let mut i = 0;
    while i < total {
        let count = (total - i).min(MAX_SEND_MESSAGES);
        // SAFETY: hdrs[i..i+count] are initialised headers pointing at live buffers.
        let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr().add(i), count as libc::c_uint, 0) };
        if rc > 0 {
            for k in i..i + rc as usize {
                let o = &mut outcomes[k / per_dest];
                o.datagrams += 1;
                o.bytes += iovs[k].iov_len as u64;
            }
            i += rc as usize;
        } else {
            let err = io::Error::last_os_error();
            if super::is_transient(&err) {
                continue;
            }
            let o = &mut outcomes[i / per_dest];
            o.errors += 1;
            if o.first_error.is_none() {
                o.first_error = Some(err);
            }
            i += 1;
        }
    }
}
