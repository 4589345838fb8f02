//! The few Linux system calls std does not wrap: batched UDP send/receive (`sendmmsg`,
//! `recvmmsg`, one payload to one connected destination: simpler than the core's, which
//! this tool measures) and a stop flag set from SIGTERM/SIGINT. Socket buffers and drop
//! counts come from the core's OS layer.
//!
//! Every `unsafe` block here is a single FFI call or a pointer set-up whose invariants are
//! written next to it; the rest of the crate stays safe.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::Socket;

/// Socket buffers beyond the sysctl limit where we may, and the kernel's drop count: the
/// core's OS layer has both.
pub use mproxy_core::os::{grow_recv_buffer, grow_send_buffer};

/// Datagrams the kernel dropped on this socket because its receive buffer was full. `None`
/// if the kernel does not say. This is how the sink proves it was not itself the bottleneck.
pub fn socket_drops(socket: &Socket) -> Option<u64> {
    mproxy_core::os::udp_drop_totals(&[socket2::SockRef::from(socket)])
        .into_iter()
        .next()
        .flatten()
}

/// A reusable `sendmmsg` batch in which every message is the same payload. The destination
/// comes from `connect()`, so no per-message address is needed.
///
/// The headers hold raw pointers into `payload` and `iov`; both live in boxes owned by this
/// struct and are never resized, so the pointers stay valid for its whole life.
pub struct SendBatch {
    _payload: Box<[u8]>,
    _iov: Box<libc::iovec>,
    headers: Box<[libc::mmsghdr]>,
}

impl SendBatch {
    pub fn new(payload: Vec<u8>, batch: usize) -> SendBatch {
        let mut payload = payload.into_boxed_slice();
        let mut iov = Box::new(libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        });
        let iov_ptr: *mut libc::iovec = &mut *iov;
        let headers = (0..batch.max(1))
            .map(|_| {
                // SAFETY: mmsghdr is a plain C struct for which all-zero is a valid value
                // (null name, no control data, no flags).
                let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
                // All messages share one iovec: the kernel only reads it.
                header.msg_hdr.msg_iov = iov_ptr;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        SendBatch {
            _payload: payload,
            _iov: iov,
            headers,
        }
    }

    pub fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Sends up to `count` copies (at most the batch size) in one system call and returns how
    /// many the kernel accepted, which can be fewer than asked.
    pub fn send(&mut self, socket: &Socket, count: usize) -> io::Result<usize> {
        let count = count.min(self.headers.len());
        if count == 0 {
            return Ok(0);
        }
        // SAFETY: `headers` has at least `count` initialised entries whose pointers are valid
        // (see the struct comment); the kernel writes only their `msg_len` fields.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                count as libc::c_uint,
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc as usize)
        }
    }
}

/// What one `recvmmsg` call brought in.
#[derive(Default)]
pub struct Received {
    pub datagrams: u64,
    pub bytes: u64,
    /// Datagrams larger than the per-message buffer (counted, with their full length).
    pub truncated: u64,
}

/// A reusable `recvmmsg` batch: `batch` buffers of `buffer_size` bytes each, one iovec and
/// one header per buffer. Same pointer-stability argument as [`SendBatch`].
pub struct RecvBatch {
    _buffers: Box<[u8]>,
    _iovs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
}

impl RecvBatch {
    pub fn new(batch: usize, buffer_size: usize) -> RecvBatch {
        let batch = batch.max(1);
        let buffer_size = buffer_size.max(1);
        let mut buffers = vec![0u8; batch * buffer_size].into_boxed_slice();
        let base = buffers.as_mut_ptr();
        let mut iovs = (0..batch)
            .map(|i| libc::iovec {
                // SAFETY: i * buffer_size < batch * buffer_size, inside the allocation.
                iov_base: unsafe { base.add(i * buffer_size) }.cast(),
                iov_len: buffer_size,
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let headers = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: all-zero mmsghdr is valid (see SendBatch::new).
                let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        RecvBatch {
            _buffers: buffers,
            _iovs: iovs,
            headers,
        }
    }

    /// Waits for at least one datagram (bounded by the socket's SO_RCVTIMEO), then takes
    /// whatever else is already queued, up to the batch size, in the same call.
    pub fn receive(&mut self, socket: &Socket) -> io::Result<Received> {
        // MSG_TRUNC makes msg_len the datagram's real length even if it did not fit, so byte
        // counts stay true; MSG_WAITFORONE stops blocking once one datagram is in.
        let flags = libc::MSG_WAITFORONE | libc::MSG_TRUNC;
        // SAFETY: every header points at its own live iovec/buffer (see the struct comment);
        // the kernel writes into those buffers and the headers' length/flag fields only.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.headers.len() as libc::c_uint,
                // A c_int on glibc, a c_uint on musl.
                flags as _,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut got = Received::default();
        for header in self.headers.iter().take(rc as usize) {
            got.datagrams += 1;
            got.bytes += u64::from(header.msg_len);
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                got.truncated += 1;
            }
        }
        Ok(got)
    }
}

/// Set once SIGTERM or SIGINT arrives (or a subcommand decides to stop).
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    // Only an atomic store: the one thing that is safe to do in a signal handler.
    STOP.store(true, Ordering::SeqCst);
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGTERM and SIGINT to the stop flag. SA_RESTART is deliberately left out so a
/// blocked receive returns EINTR at once instead of waiting for its timeout.
pub fn install_stop_signals() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction with an empty mask and our async-signal-safe handler is
        // a valid argument; the old action is not requested.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction =
                on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
