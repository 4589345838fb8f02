//! What a failed send means on Linux, where the error queue names the destination an ICMP
//! error was about (`sys::send_errors` on this OS).

use std::io;

/// ICMP errors about sent datagrams are read from an error queue that names their
/// destination ([`drain_errors`]). Without it, only a connected socket learns of them, as
/// an error on its next send.
pub(crate) const HAS_ERROR_QUEUE: bool = true;

/// Errors a send returns for an earlier datagram: an ICMP error that arrived since the last
/// send (the socket's pending error). The message that met it was not sent; with the error
/// queue on, the error itself is read from there and charged to the destination it names.
pub(crate) fn is_reported_icmp(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EPROTO
        )
    )
}

/// "Message too long": larger than the path (or the protocol) takes. With the error queue
/// on, a path-MTU report about an earlier datagram also fails the next send this way.
pub(crate) fn is_message_too_long(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EMSGSIZE)
}
