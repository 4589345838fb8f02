//! One error type for the whole core. Each kind maps to a stable code that JavaScript sees
//! as `error.code`, and every message names the address, interface or file involved.

use std::fmt;
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value in the route description is malformed or out of range.
    InvalidArgument,
    /// The address is already bound by another socket.
    AddressInUse,
    /// The address cannot be bound on this host.
    AddressNotAvailable,
    /// No route to a destination, or no interface to join a group on.
    NoRoute,
    /// A named interface does not exist.
    NoSuchInterface,
    /// A file or device could not be opened.
    File,
    /// Any other operating-system failure.
    Io,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "EMPROXY_INVALID_ARGUMENT",
            ErrorKind::AddressInUse => "EMPROXY_ADDRESS_IN_USE",
            ErrorKind::AddressNotAvailable => "EMPROXY_ADDRESS_NOT_AVAILABLE",
            ErrorKind::NoRoute => "EMPROXY_NO_ROUTE",
            ErrorKind::NoSuchInterface => "EMPROXY_NO_SUCH_INTERFACE",
            ErrorKind::File => "EMPROXY_FILE",
            ErrorKind::Io => "EMPROXY_IO",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The OS error number, where the OS refused something (JavaScript's `error.errno`).
    pub errno: Option<i32>,
    /// What was asked of the OS (`bind`, `connect`, `open`, ...), where known
    /// (JavaScript's `error.syscall`, as Node names its own).
    pub syscall: Option<&'static str>,
    /// The address or path concerned, where known (JavaScript's `error.address`).
    pub address: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            errno: None,
            syscall: None,
            address: None,
        }
    }

    /// Says what was asked of the OS, and of which address or path, for `error.syscall` and
    /// `error.address` in JavaScript.
    #[must_use]
    pub fn at(mut self, syscall: &'static str, address: impl fmt::Display) -> Self {
        self.syscall = Some(syscall);
        self.address = Some(address.to_string());
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Wraps an OS error, classifying it (by the portable `io::ErrorKind`, so Windows'
    /// socket error codes classify too) so callers can match on the kind.
    pub fn os(context: impl fmt::Display, err: &io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::AddrInUse => ErrorKind::AddressInUse,
            io::ErrorKind::AddrNotAvailable => ErrorKind::AddressNotAvailable,
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                ErrorKind::NoRoute
            }
            _ if crate::sys::is_no_such_device(err) => ErrorKind::NoRoute,
            _ => ErrorKind::Io,
        };
        Error {
            errno: err.raw_os_error(),
            ..Error::new(kind, format!("{context}: {}", describe_os_error(err)))
        }
    }

    pub fn file(path: &str, err: &io::Error) -> Self {
        Error {
            errno: err.raw_os_error(),
            ..Error::new(
                ErrorKind::File,
                format!("cannot open {path}: {}", describe_os_error(err)),
            )
            .at("open", path)
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// The OS text without Rust's " (os error N)" suffix, lower-cased at the start so it reads
/// well after a colon.
pub fn describe_os_error(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let text = text.trim_end().trim_end_matches('.');
    // The OS's sentence goes on ours ("cannot listen on X: address already in use"), so its
    // first word loses its capital; an acronym or a code ("OS Error 10048", "WSAEACCES")
    // keeps its letters.
    let first_word = text.split(' ').next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first_word.chars().skip(1).all(|c| !c.is_uppercase()) => {
            first.to_lowercase().collect::<String>() + chars.as_str()
        }
        _ => text.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_classified_and_readable() {
        let err = Error::os(
            "bind 127.0.0.1:9",
            &io::Error::new(io::ErrorKind::AddrInUse, "Address already in use"),
        );
        assert_eq!(err.kind, ErrorKind::AddressInUse);
        assert_eq!(err.message, "bind 127.0.0.1:9: address already in use");
    }

    #[test]
    fn os_errors_keep_the_number_the_call_and_the_address() {
        let refused = io::Error::from_raw_os_error(13);
        let err = Error::file("/x/y", &refused);
        assert_eq!(err.errno, Some(13));
        assert_eq!(err.syscall, Some("open"));
        assert_eq!(err.address.as_deref(), Some("/x/y"));
        let err = Error::os("cannot listen on 127.0.0.1:9", &refused).at("bind", "127.0.0.1:9");
        assert_eq!(
            (err.errno, err.syscall, err.address.as_deref()),
            (Some(13), Some("bind"), Some("127.0.0.1:9"))
        );
        // Not the OS's doing: nothing to tell.
        let err = Error::invalid("{keep}: too long");
        assert_eq!((err.errno, err.syscall, err.address), (None, None, None));
    }

    #[test]
    fn other_systems_texts_are_kept_readable() {
        let os = |text: &str| describe_os_error(&io::Error::other(text.to_string()));
        // Windows' own sentence, and Wine's when it has no text for a code.
        assert_eq!(
            os("Only one usage of each socket address (protocol/network address/port) is normally permitted. (os error 10048)"),
            "only one usage of each socket address (protocol/network address/port) is normally permitted"
        );
        assert_eq!(
            os("OS Error 10048 (FormatMessageW() returned error 317) (os error 10048)"),
            "OS Error 10048 (FormatMessageW() returned error 317)"
        );
        assert_eq!(os("WSAEACCES"), "WSAEACCES");
        assert_eq!(os(""), "");
    }
}
