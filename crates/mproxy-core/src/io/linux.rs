//! `recvmmsg`/`sendmmsg` on Linux: one syscall per batch in each direction.

use std::io;
use std::os::fd::AsRawFd;

use socket2::Socket;

use super::{Destination, RecvOutcome, SendOutcome, RECV_BATCH};
use crate::batch::{Batch, Entry, SLOT_SIZE};

const SO_RXQ_OVFL: libc::c_int = 40;
/// Room for the drop counter (and a GRO segment size, were GRO turned on) per message.
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
        let mut outcome = RecvOutcome::default();
        for i in 0..n {
            let hdr = &self.hdrs[i];
            let len = (hdr.msg_len as usize).min(SLOT_SIZE);
            if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                outcome.truncated += 1;
            }
            // One datagram per entry: UDP GRO stays off, because the kernel counts a dropped
            // coalesced packet as one drop, and drops must be counted per datagram.
            let entry = Entry {
                offset: i * SLOT_SIZE,
                len,
                segment: 0,
            };
            outcome.datagrams += entry.datagrams();
            outcome.bytes += len;
            batch.entries.push(entry);
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

/// The kernel's limit on segments in one GSO send (UDP_MAX_SEGMENTS on older kernels).
const MAX_GSO_SEGMENTS: usize = 64;
/// The most payload one GSO send may carry (a UDP datagram's limit, with room to spare).
const MAX_GSO_BYTES: usize = 65_000;
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;

/// Whether this kernel takes UDP GSO at all (Linux 4.18+): setting a socket-wide segment
/// size succeeds only where UDP_SEGMENT is understood. Reset to 0 (per-send only) after.
pub fn gso_supported(socket: &Socket) -> bool {
    let set = |size: libc::c_int| {
        // SAFETY: passes a valid c_int and its size to setsockopt on a descriptor we own.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                SOL_UDP,
                UDP_SEGMENT,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    };
    set(1400) && set(0)
}

/// Splits datagram lengths into runs one GSO send can carry: equal sizes, only the last
/// of a run may be shorter, at most MAX_GSO_SEGMENTS and MAX_GSO_BYTES. Returns
/// (first, end, segment size) per run; a run of one has segment size 0 (a plain send).
fn plan_runs(lens: &[usize], gso: bool) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::with_capacity(if gso { 4 } else { lens.len() });
    let mut i = 0;
    while i < lens.len() {
        let size = lens[i];
        let mut end = i + 1;
        if gso && size > 0 {
            let mut total = size;
            while end < lens.len()
                && end - i < MAX_GSO_SEGMENTS
                && lens[end] > 0
                && lens[end] <= size
                && total + lens[end] <= MAX_GSO_BYTES
            {
                total += lens[end];
                end += 1;
                if lens[end - 1] < size {
                    break;
                }
            }
        }
        runs.push((i, end, if end - i > 1 { size } else { 0 }));
        i = end;
    }
    runs
}

/// A control buffer holding one UDP_SEGMENT message, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct SegmentControl([u8; 32]);

fn segment_control(segment: usize) -> (SegmentControl, usize) {
    let mut buf = SegmentControl([0; 32]);
    // SAFETY: the buffer is aligned for cmsghdr and larger than CMSG_SPACE(2); the header
    // and its data are written inside it through the libc CMSG helpers.
    let space = unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_control = buf.0.as_mut_ptr() as *mut libc::c_void;
        hdr.msg_controllen = buf.0.len() as _;
        let cmsg = libc::CMSG_FIRSTHDR(&hdr);
        (*cmsg).cmsg_level = SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut u16, segment as u16);
        libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as usize
    };
    (buf, space)
}

/// Errors that mean "this path cannot do GSO" rather than "this destination refused":
/// no offload (EIO), no support (EOPNOTSUPP, ENOPROTOOPT), or segments that do not fit the
/// path's MTU (EINVAL, EMSGSIZE), which GSO will not fragment but a plain send will.
fn gso_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EIO)
            | Some(libc::EINVAL)
            | Some(libc::EMSGSIZE)
            | Some(libc::EOPNOTSUPP)
            | Some(libc::ENOPROTOOPT)
    )
}

/// Sends every datagram of `batch` to every destination, in as few `sendmmsg` calls as the
/// kernel allows, and with UDP GSO (`gso`) one message per run of equal-sized datagrams,
/// so the network stack is walked once per run instead of once per datagram; the receiver
/// still sees the same datagrams. A path that refuses GSO turns it off (`gso` is cleared)
/// and its datagrams are sent one by one. A refused datagram is counted against its
/// destination and skipped, so one bad destination never holds up the others.
/// `connected`: the socket is connected to the only destination, so messages carry no
/// address and the kernel reuses its cached route.
pub fn send_to_many(
    socket: &Socket,
    batch: &Batch,
    dests: &[Destination],
    connected: bool,
    gso: &std::sync::atomic::AtomicBool,
    outcomes: &mut [SendOutcome],
) {
    use std::sync::atomic::Ordering;
    let datagrams: Vec<&[u8]> = batch.datagrams().collect();
    if datagrams.is_empty() || dests.is_empty() {
        return;
    }
    let lens: Vec<usize> = datagrams.iter().map(|d| d.len()).collect();
    let runs = plan_runs(&lens, gso.load(Ordering::Relaxed));
    // Vectors and control buffers are read-only to the kernel, so every destination's
    // messages share them.
    let mut iovs: Vec<libc::iovec> = datagrams
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    let mut controls: Vec<(SegmentControl, usize)> = runs
        .iter()
        .map(|&(_, _, segment)| {
            if segment > 0 {
                segment_control(segment)
            } else {
                (SegmentControl([0; 32]), 0)
            }
        })
        .collect();
    let per_dest = runs.len();
    let total = per_dest * dests.len();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(total);
    for (_, addr) in dests {
        for (r, &(first, end, _)) in runs.iter().enumerate() {
            // SAFETY: all-zero is a valid mmsghdr; the fields set below point at live data
            // (the address, the vectors, the control buffers) that outlive the calls.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            if !connected {
                h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
                h.msg_hdr.msg_namelen = addr.len();
            }
            // SAFETY: first < iovs.len().
            h.msg_hdr.msg_iov = unsafe { iovs.as_mut_ptr().add(first) };
            h.msg_hdr.msg_iovlen = (end - first) as _;
            let (control, space) = &mut controls[r];
            if *space > 0 {
                h.msg_hdr.msg_control = control.0.as_mut_ptr() as *mut libc::c_void;
                h.msg_hdr.msg_controllen = *space as _;
            }
            hdrs.push(h);
        }
    }
    let run_bytes = |r: usize| lens[runs[r].0..runs[r].1].iter().sum::<usize>() as u64;
    let fd = socket.as_raw_fd();
    let mut m = 0;
    while m < total {
        let count = (total - m).min(MAX_SEND_MESSAGES);
        // SAFETY: hdrs[m..m+count] are initialised headers pointing at live buffers.
        let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr().add(m), count as libc::c_uint, 0) };
        if rc > 0 {
            for k in m..m + rc as usize {
                let (first, end, _) = runs[k % per_dest];
                let o = &mut outcomes[k / per_dest];
                o.datagrams += (end - first) as u64;
                o.bytes += run_bytes(k % per_dest);
            }
            m += rc as usize;
            continue;
        }
        let err = io::Error::last_os_error();
        if super::is_transient(&err) {
            continue;
        }
        let (first, end, segment) = runs[m % per_dest];
        let dest = m / per_dest;
        if segment > 0 {
            // A run fails as a whole; sent one by one, most of it may still go (after a
            // pending ICMP error, say). Only a path that cannot do GSO turns it off.
            if gso_unsupported(&err) {
                gso.store(false, Ordering::Relaxed);
            }
            let run = datagrams[first..end].iter().copied();
            super::send_each(socket, run, &dests[dest].1, connected, &mut outcomes[dest]);
        } else {
            let o = &mut outcomes[dest];
            o.errors += 1;
            o.first_error.get_or_insert(err);
        }
        m += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_equal_sizes_with_a_shorter_last() {
        assert_eq!(
            plan_runs(&[10, 10, 10, 4, 10, 10], true),
            vec![(0, 4, 10), (4, 6, 10)]
        );
        assert_eq!(
            plan_runs(&[10, 20, 20, 20], true),
            vec![(0, 1, 0), (1, 4, 20)]
        );
        assert_eq!(
            plan_runs(&[5, 0, 5], true),
            vec![(0, 1, 0), (1, 2, 0), (2, 3, 0)]
        );
        assert_eq!(plan_runs(&[10, 10], false), vec![(0, 1, 0), (1, 2, 0)]);
        let many = vec![1000; 200];
        let runs = plan_runs(&many, true);
        assert!(runs
            .iter()
            .all(|&(a, b, _)| b - a <= MAX_GSO_SEGMENTS && (b - a) * 1000 <= MAX_GSO_BYTES));
        assert_eq!(runs.iter().map(|&(a, b, _)| b - a).sum::<usize>(), 200);
    }
}
