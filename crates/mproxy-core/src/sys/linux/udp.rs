//! Batched UDP on Linux: `recvmmsg` and `sendmmsg` (one syscall per batch in each
//! direction), UDP GSO on send (one stack traversal per run of equal-sized datagrams), the
//! socket's drop counter on receive, and the error queue that names the destination an ICMP
//! error was about.
//!
//! Written by hand because no maintained crate fits: quinn-udp sends to one destination per
//! call, has no drop counter and forces don't-fragment; nix's `sendmmsg` shares one control
//! message across all messages (our runs each need their own segment size) and ties its
//! headers to the data's lifetime, so they cannot be reused across batches.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

use socket2::{SockAddr, Socket};

use super::cmsg::{self, ControlBuffer, Incoming, Outgoing};
use crate::batch::{Batch, Entry, SLOT_SIZE};
use crate::sys::send_errors::{is_message_too_long, is_reported_icmp};
use crate::sys::udp_common::{send_each, RecvOutcome, SendOutcome, MAX_ICMP_RETRIES, RECV_BATCH};

/// Room per received message for the drop counter (and a GRO segment size, were GRO on).
const CONTROL_SIZE: usize = 64;
/// The kernel's limit on messages per `sendmmsg` call (UIO_MAXIOV).
const MAX_SEND_MESSAGES: usize = 1024;
/// The kernel's limit on segments in one GSO send (UDP_MAX_SEGMENTS on older kernels).
const MAX_GSO_SEGMENTS: usize = 64;
/// The most payload one GSO send may carry (a UDP datagram's limit, with room to spare).
const MAX_GSO_BYTES: usize = 65_000;

/// Receive state reused across calls: headers, vectors and control space for one batch.
pub(crate) struct Receiver {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    control: Vec<u8>,
    /// Each message's sender.
    names: Vec<socket2::SockAddrStorage>,
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
    pub(crate) fn new() -> Self {
        // SAFETY: mmsghdr is a plain C struct for which all-zero is a valid value.
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
            names: (0..RECV_BATCH)
                .map(|_| socket2::SockAddrStorage::zeroed())
                .collect(),
        }
    }

    /// Fills `batch` with whatever is queued on `socket`, up to one batch, without waiting.
    /// Returns `WouldBlock` when nothing is queued.
    pub(crate) fn recv(
        &mut self,
        socket: &impl AsFd,
        batch: &mut Batch,
    ) -> io::Result<RecvOutcome> {
        let need = RECV_BATCH * SLOT_SIZE;
        if batch.buf.len() < need {
            batch.buf.resize(need, 0);
        }
        batch.entries.clear();
        let base = batch.buf.as_mut_ptr();
        for (i, iov) in self.iovs.iter_mut().enumerate() {
            *iov = libc::iovec {
                // SAFETY: slot i lies inside batch.buf, which holds RECV_BATCH slots.
                iov_base: unsafe { base.add(i * SLOT_SIZE) }.cast(),
                iov_len: SLOT_SIZE,
            };
        }
        // Pointers into iovs and control are taken once, after iovs was last written, so
        // none of them is invalidated by a later mutable borrow.
        let iovs = self.iovs.as_mut_ptr();
        let control = self.control.as_mut_ptr();
        let names = self.names.as_mut_ptr();
        for (i, entry) in self.hdrs.iter_mut().enumerate() {
            let hdr = &mut entry.msg_hdr;
            // SAFETY: i < RECV_BATCH, the length of names; SockAddrStorage is
            // repr(transparent) over sockaddr_storage.
            hdr.msg_name = unsafe { names.add(i) }.cast();
            hdr.msg_namelen = std::mem::size_of::<socket2::SockAddrStorage>() as libc::socklen_t;
            // SAFETY: i < RECV_BATCH, the length of iovs and of the control regions.
            hdr.msg_iov = unsafe { iovs.add(i) };
            hdr.msg_iovlen = 1;
            // SAFETY: control region i lies inside self.control.
            hdr.msg_control = unsafe { control.add(i * CONTROL_SIZE) }.cast();
            hdr.msg_controllen = CONTROL_SIZE as _;
            hdr.msg_flags = 0;
            entry.msg_len = 0;
        }
        let fd = socket.as_fd().as_raw_fd();
        let n = loop {
            // SAFETY: every header points at live buffers set up above, sized as declared.
            let rc = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    RECV_BATCH as libc::c_uint,
                    // The flags are a c_int on glibc, a c_uint on musl.
                    libc::MSG_DONTWAIT as _,
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
        for (i, hdr) in self.hdrs[..n].iter().enumerate() {
            let len = (hdr.msg_len as usize).min(SLOT_SIZE);
            if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                outcome.truncated += 1;
            }
            // One datagram per entry: UDP GRO stays off, because the kernel counts a dropped
            // coalesced packet as one drop, and drops must be counted per datagram.
            let name = std::mem::replace(&mut self.names[i], socket2::SockAddrStorage::zeroed());
            // SAFETY: the kernel wrote a socket address of msg_namelen bytes into names[i].
            let from = unsafe { SockAddr::new(name, hdr.msg_hdr.msg_namelen) }.as_socket();
            batch.entries.push(Entry {
                offset: i * SLOT_SIZE,
                len,
                segment: 0,
                from,
            });
            outcome.datagrams += 1;
            outcome.bytes += len;
        }
        if let Some(last) = self.hdrs[..n].last() {
            cmsg::decode(&last.msg_hdr, |m| {
                if let Incoming::DropCounter(total) = m {
                    outcome.kernel_drops_total = Some(total as u64);
                }
            });
        }
        Ok(outcome)
    }
}

/// A run of datagrams one message carries: `first..end` of the batch, cut by GSO into
/// `segment`-sized datagrams (0: a single datagram, a plain send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: usize,
    end: usize,
    segment: usize,
    bytes: u64,
}

/// Splits datagram lengths into runs one GSO send can carry: equal sizes, only the last of a
/// run may be shorter, at most MAX_GSO_SEGMENTS and MAX_GSO_BYTES.
fn plan_runs(lens: &[usize], gso: bool, runs: &mut Vec<Run>) {
    runs.clear();
    let mut i = 0;
    while i < lens.len() {
        let size = lens[i];
        let mut end = i + 1;
        let mut total = size;
        if gso && size > 0 {
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
        runs.push(Run {
            first: i,
            end,
            segment: if end - i > 1 { size } else { 0 },
            bytes: total as u64,
        });
        i = end;
    }
}

/// Errors that mean "this path cannot do GSO" rather than "this destination refused":
/// no offload (EIO), no support (EOPNOTSUPP, ENOPROTOOPT), or segments that do not fit the
/// path's MTU (EINVAL, EMSGSIZE), which GSO will not fragment but a plain send will.
fn gso_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
    )
}

/// Whether this kernel takes UDP GSO at all (Linux 4.18+): setting a socket-wide segment
/// size succeeds only where UDP_SEGMENT is understood. Reset to 0 (per-send only) after.
pub(crate) fn gso_supported(socket: &Socket) -> bool {
    use nix::sys::socket::{setsockopt, sockopt::UdpGsoSegment};
    setsockopt(socket, UdpGsoSegment, &1400).is_ok()
        && setsockopt(socket, UdpGsoSegment, &0).is_ok()
}

/// Per-socket send state: whether GSO works on its path, and the scratch space one batch
/// needs (vectors, headers, runs), reused so the hot path allocates nothing.
pub(crate) struct SendState {
    gso: bool,
    lens: Vec<usize>,
    runs: Vec<Run>,
    iovs: Vec<libc::iovec>,
    controls: Vec<(ControlBuffer, usize)>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in iovs and hdrs are only set up and used within one `send` call
// by the thread holding the state; they are cleared before it returns.
unsafe impl Send for SendState {}

impl SendState {
    /// `gso`: whether the socket's path takes GSO (see [`gso_supported`]).
    pub(crate) fn new(gso: bool) -> Self {
        SendState {
            gso,
            lens: Vec::new(),
            runs: Vec::new(),
            iovs: Vec::new(),
            controls: Vec::new(),
            hdrs: Vec::new(),
        }
    }

    /// False once a path refused GSO.
    pub(crate) fn gso(&self) -> bool {
        self.gso
    }

    /// Sends every datagram of `batch` to every destination in `dests`, in as few
    /// `sendmmsg` calls as the kernel allows, one message per run of equal-sized datagrams
    /// with GSO. A path that refuses GSO turns it off for this socket and its run is sent
    /// datagram by datagram. A refused datagram is counted against its destination and
    /// skipped, so one bad destination never holds up the others; a message that met an
    /// ICMP error reported for an earlier datagram is sent again once.
    /// `connected`: the socket is connected to the only destination, so messages carry no
    /// address and the kernel reuses its cached route.
    pub(crate) fn send(
        &mut self,
        socket: &Socket,
        batch: &Batch,
        dests: &[SockAddr],
        connected: bool,
        outcomes: &mut [SendOutcome],
    ) {
        self.lens.clear();
        self.lens.extend(batch.datagrams().map(<[u8]>::len));
        if self.lens.is_empty() || dests.is_empty() {
            return;
        }
        plan_runs(&self.lens, self.gso, &mut self.runs);
        // Vectors and control buffers are read-only to the kernel, so every destination's
        // messages share them.
        self.iovs.clear();
        self.iovs.extend(batch.datagrams().map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        }));
        self.controls.clear();
        for run in &self.runs {
            let mut buf = ControlBuffer::new();
            let len = if run.segment > 0 {
                cmsg::encode(&mut buf, Outgoing::UdpSegment(run.segment as u16))
            } else {
                0
            };
            self.controls.push((buf, len));
        }
        let per_dest = self.runs.len();
        let total = per_dest * dests.len();
        self.hdrs.clear();
        // Raw pointers taken once, after the vectors were last written, so none is
        // invalidated by a later borrow while the headers hold them.
        let iovs = self.iovs.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        for addr in dests {
            for (r, run) in self.runs.iter().enumerate() {
                // SAFETY: r < runs.len() == controls.len().
                let (control, control_len) = unsafe { &mut *controls.add(r) };
                // SAFETY: all-zero is a valid mmsghdr; the fields set below point at live
                // data (the address, the vectors, the control buffers) that outlive the
                // calls in this function.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                if !connected {
                    h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
                    h.msg_hdr.msg_namelen = addr.len();
                }
                // SAFETY: run.first < iovs.len().
                h.msg_hdr.msg_iov = unsafe { iovs.add(run.first) };
                h.msg_hdr.msg_iovlen = (run.end - run.first) as _;
                if *control_len > 0 {
                    h.msg_hdr.msg_control = control.0.as_mut_ptr().cast();
                    h.msg_hdr.msg_controllen = *control_len as _;
                }
                self.hdrs.push(h);
            }
        }
        let fd = socket.as_raw_fd();
        let mut m = 0;
        // Sends of message m that met an earlier datagram's ICMP error: each such error is
        // consumed by the send it fails, and another may arrive meanwhile under load.
        let mut retries = 0;
        // Whether message m was already sent again after "message too long".
        let mut size_retried = false;
        while m < total {
            let count = (total - m).min(MAX_SEND_MESSAGES);
            // SAFETY: hdrs[m..m+count] are initialised headers pointing at live buffers.
            let rc = unsafe {
                libc::sendmmsg(fd, self.hdrs.as_mut_ptr().add(m), count as libc::c_uint, 0)
            };
            if rc > 0 {
                for k in m..m + rc as usize {
                    let run = &self.runs[k % per_dest];
                    let o = &mut outcomes[k / per_dest];
                    o.datagrams += (run.end - run.first) as u64;
                    o.bytes += run.bytes;
                }
                m += rc as usize;
                retries = 0;
                size_retried = false;
                if (rc as usize) < count && m < total {
                    // The kernel stops a batch at the first refused message and reports no
                    // error (it may have been a pending ICMP error, now consumed): have the
                    // error queue read, which still holds it.
                    outcomes[m / per_dest].icmp_reported += 1;
                }
                continue;
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            let dest = m / per_dest;
            // "Message too long" may be a path-MTU report about an earlier datagram: tried
            // once more before it counts (or turns GSO off), like any other reported error.
            let pending_size = is_message_too_long(&err) && retries == 0 && !size_retried;
            size_retried |= pending_size;
            if (is_reported_icmp(&err) && retries < MAX_ICMP_RETRIES) || pending_size {
                // The error is about an earlier datagram and is now consumed; this message
                // was not refused. The error queue says whose it was.
                outcomes[dest].icmp_reported += 1;
                retries += 1;
                continue;
            }
            retries = 0;
            size_retried = false;
            let run = self.runs[m % per_dest];
            if run.segment > 0 {
                // A run fails as a whole; sent one by one, most of it may still go. Only a
                // path that cannot do GSO turns it off.
                if gso_unsupported(&err) {
                    self.gso = false;
                }
                let datagrams = batch.datagrams().skip(run.first).take(run.end - run.first);
                send_each(
                    socket,
                    datagrams,
                    &dests[dest],
                    connected,
                    &mut outcomes[dest],
                );
            } else {
                let o = &mut outcomes[dest];
                o.errors += 1;
                o.first_error.get_or_insert(err);
            }
            m += 1;
        }
        // Nothing may keep pointers into this batch past the call.
        self.iovs.clear();
        self.hdrs.clear();
    }
}

/// Reads every error queued on `socket` (`IP_RECVERR`), without waiting, handing each ICMP
/// error to `each` with the destination of the datagram it was about.
pub(crate) fn drain_errors(socket: &Socket, mut each: impl FnMut(SocketAddr, io::Error)) {
    let fd = socket.as_raw_fd();
    // Room for the piece of the original datagram the error carries; only the header and
    // the address matter.
    let mut payload = [0u8; 512];
    let mut control = [0u64; 64];
    for _ in 0..4096 {
        // SAFETY: recvmsg writes a socket address of at most `*len` bytes into the storage
        // and sets `*len` to its real length, as try_init requires; the header points at
        // live, correctly sized locals.
        let received = unsafe {
            SockAddr::try_init(|storage, len| {
                let mut iov = libc::iovec {
                    iov_base: payload.as_mut_ptr().cast(),
                    iov_len: payload.len(),
                };
                let mut hdr: libc::msghdr = std::mem::zeroed();
                hdr.msg_name = storage.cast();
                hdr.msg_namelen = *len;
                hdr.msg_iov = &mut iov;
                hdr.msg_iovlen = 1;
                hdr.msg_control = control.as_mut_ptr().cast();
                hdr.msg_controllen = std::mem::size_of_val(&control) as _;
                if libc::recvmsg(fd, &mut hdr, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) < 0 {
                    return Err(io::Error::last_os_error());
                }
                *len = hdr.msg_namelen;
                let mut found = None;
                cmsg::decode(&hdr, |m| {
                    if let Incoming::ExtendedError { errno, icmp: true } = m {
                        found = Some(errno);
                    }
                });
                Ok(found)
            })
        };
        match received {
            Ok((Some(errno), addr)) => {
                if let Some(dest) = addr.as_socket() {
                    each(dest, cmsg::errno_error(errno));
                }
            }
            Ok((None, _)) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(lens: &[usize], gso: bool) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        plan_runs(lens, gso, &mut out);
        out.iter().map(|r| (r.first, r.end, r.segment)).collect()
    }

    #[test]
    fn runs_are_equal_sizes_with_a_shorter_last() {
        assert_eq!(
            runs(&[10, 10, 10, 4, 10, 10], true),
            vec![(0, 4, 10), (4, 6, 10)]
        );
        assert_eq!(runs(&[10, 20, 20, 20], true), vec![(0, 1, 0), (1, 4, 20)]);
        assert_eq!(
            runs(&[5, 0, 5], true),
            vec![(0, 1, 0), (1, 2, 0), (2, 3, 0)]
        );
        assert_eq!(runs(&[10, 10], false), vec![(0, 1, 0), (1, 2, 0)]);
        let many = vec![1000; 200];
        let planned = runs(&many, true);
        assert!(planned
            .iter()
            .all(|&(a, b, _)| b - a <= MAX_GSO_SEGMENTS && (b - a) * 1000 <= MAX_GSO_BYTES));
        assert_eq!(planned.iter().map(|&(a, b, _)| b - a).sum::<usize>(), 200);
    }
}
