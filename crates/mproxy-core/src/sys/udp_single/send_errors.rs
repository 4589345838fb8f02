//! What a failed send means without an error queue (macOS, Windows): only a connected
//! socket learns of an ICMP error, on its next send (`sys::send_errors` on these OSes).

use std::io;

/// No error queue: only a connected socket learns of an ICMP error, on its next send.
pub(crate) const HAS_ERROR_QUEUE: bool = false;

/// No error queue here: a connected socket reports an ICMP error on its next send
/// ([`is_reported_icmp`]), an unconnected one not at all.
pub(crate) fn is_reported_icmp(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
    )
}

/// "Message too long".
#[cfg(windows)]
const EMSGSIZE: i32 = 10040; // WSAEMSGSIZE
#[cfg(not(windows))]
const EMSGSIZE: i32 = libc::EMSGSIZE;

/// "Message too long": larger than the path (or the protocol) takes.
pub(crate) fn is_message_too_long(err: &io::Error) -> bool {
    err.raw_os_error() == Some(EMSGSIZE)
}
