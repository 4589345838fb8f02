//! Control messages, typed: what we put into a `sendmmsg` header (a UDP GSO segment size)
//! and what the kernel puts into a received one (the socket's drop counter, an ICMP error
//! from the error queue). Every raw `CMSG_*` walk of the crate is here, bounded by the
//! header's `msg_controllen` through libc's helpers.

use std::io;

/// A control buffer with room for one small message, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(super) struct ControlBuffer(pub [u8; 32]);

impl ControlBuffer {
    pub(super) const fn new() -> Self {
        ControlBuffer([0; 32])
    }
}

/// What we send alongside a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outgoing {
    /// UDP GSO: the message's payload is cut into datagrams of this size (the last may be
    /// shorter) below the socket layer.
    UdpSegment(u16),
}

/// Writes `message` into `buf` and returns the number of bytes the header's
/// `msg_controllen` must say.
pub(super) fn encode(buf: &mut ControlBuffer, message: Outgoing) -> usize {
    let Outgoing::UdpSegment(size) = message;
    // SAFETY: the buffer is aligned for cmsghdr and larger than CMSG_SPACE(2); the header
    // and its data are written inside it through the libc CMSG helpers, which compute
    // every offset from the msghdr set up here.
    unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_control = buf.0.as_mut_ptr().cast();
        hdr.msg_controllen = buf.0.len() as _;
        let cmsg = libc::CMSG_FIRSTHDR(&hdr);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = libc::UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), size);
        libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as usize
    }
}

/// What the kernel told us alongside a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Incoming {
    /// `SO_RXQ_OVFL`: the running total of datagrams dropped on this socket.
    DropCounter(u32),
    /// `IP_RECVERR`/`IPV6_RECVERR`: an error for a datagram we sent earlier; `icmp` is true
    /// when it came from an ICMP message (a remote host or router said so).
    ExtendedError { errno: i32, icmp: bool },
    /// Anything else (ignored).
    Other,
}

/// Reads every control message of a received header.
pub(super) fn decode(hdr: &libc::msghdr, mut each: impl FnMut(Incoming)) {
    // SAFETY: walks the control messages the kernel wrote into this header's buffer with the
    // libc CMSG helpers, which bound every access by msg_controllen; data is read unaligned
    // and only when the message is long enough for it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            let level = (*cmsg).cmsg_level;
            let kind = (*cmsg).cmsg_type;
            let data_len = ((*cmsg).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            let data = libc::CMSG_DATA(cmsg);
            let message = match (level, kind) {
                (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) if data_len >= 4 => {
                    Incoming::DropCounter(std::ptr::read_unaligned(data.cast::<u32>()))
                }
                (libc::SOL_IP, libc::IP_RECVERR) | (libc::SOL_IPV6, libc::IPV6_RECVERR)
                    if data_len >= std::mem::size_of::<libc::sock_extended_err>() =>
                {
                    let err = std::ptr::read_unaligned(data.cast::<libc::sock_extended_err>());
                    Incoming::ExtendedError {
                        errno: err.ee_errno as i32,
                        icmp: err.ee_origin == libc::SO_EE_ORIGIN_ICMP
                            || err.ee_origin == libc::SO_EE_ORIGIN_ICMP6,
                    }
                }
                _ => Incoming::Other,
            };
            each(message);
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
}

/// The OS error an [`Incoming::ExtendedError`] stands for.
pub(super) fn errno_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_segment_size_decodes_as_other_and_walks_once() {
        let mut buf = ControlBuffer::new();
        let len = encode(&mut buf, Outgoing::UdpSegment(1400));
        assert!(len > 0 && len <= buf.0.len());
        // SAFETY: a zeroed msghdr pointing at our buffer, as the kernel would hand it back.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_control = buf.0.as_mut_ptr().cast();
        hdr.msg_controllen = len as _;
        let mut seen = Vec::new();
        decode(&hdr, |m| seen.push(m));
        assert_eq!(seen, vec![Incoming::Other]);
    }
}
