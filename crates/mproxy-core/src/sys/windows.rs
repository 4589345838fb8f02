//! Windows: files and stdio through std handles. Consoles, pipes and serial ports cannot be
//! waited on through mio (it polls sockets only), so they are read by a blocking reader
//! (see `source::blocking_input`); terminals have no raw mode to set.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::io::AsHandle;
use std::time::Duration;

use mio::{Registry, Token};

pub(crate) fn open_input(path: &str) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

pub(crate) fn open_output(path: &str) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

pub(crate) fn stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_handle().try_clone_to_owned()?))
}

pub(crate) fn stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// Only asked of inputs registered for readiness, which never happens here.
pub(crate) fn readable_now(_file: &File) -> bool {
    true
}

/// Writes to a handle block until done; there is nothing to wait for first.
pub(crate) fn wait_writable(_file: &File, _timeout: Duration) -> io::Result<bool> {
    Ok(true)
}

pub(crate) fn is_nonblocking(_file: &File) -> bool {
    false
}

pub(crate) const PIPE_ATOMIC_WRITE: usize = 4096;

pub(crate) fn register_readable(
    _registry: &Registry,
    _file: &File,
    _token: Token,
) -> io::Result<bool> {
    Ok(false)
}

pub(crate) fn deregister(_registry: &Registry, _file: &File) {}

/// Never made: Windows has no raw mode to hold.
pub(crate) enum RawTerminal {}

impl RawTerminal {
    /// No raw mode or line speed is set here: a speed is refused before this is reached
    /// ([`baud_supported`] is false).
    pub(crate) fn enter(_file: &File, speed: Option<u32>) -> io::Result<Option<RawTerminal>> {
        match speed {
            Some(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            None => Ok(None),
        }
    }

    pub(crate) fn restore(self) {
        match self {}
    }
}

pub fn baud_supported(_speed: u32) -> bool {
    false
}

pub fn terminal_speed(_file: &File) -> io::Result<Option<u32>> {
    Ok(None)
}

/// COM ports are not reopened after a hang-up here.
pub(crate) fn is_char_device(_meta: &Metadata) -> bool {
    false
}

/// Replacement of a followed file is not detected here (truncation is).
pub(crate) fn file_identity(_meta: &Metadata) -> Option<(u64, u64)> {
    None
}

pub(crate) fn is_hangup(_err: &io::Error) -> bool {
    false
}

pub(crate) fn is_absent(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound
}

/// Windows shares a bound port through SO_REUSEADDR alone.
pub(crate) fn share_port(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

pub(crate) fn interface_index(_name: &str) -> Option<u32> {
    None
}

pub(crate) fn is_no_such_device(_err: &io::Error) -> bool {
    false
}

/// Windows binds a port with connections in TIME_WAIT anyway; its SO_REUSEADDR would let
/// another process take the port over, so it is left off.
pub(crate) fn rebind_after_restart(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

/// What a path that is not a regular file is, in words.
pub(crate) fn not_a_regular_file(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "it is a directory"
    } else {
        "it is not a regular file"
    }
}

/// Windows guards files with ACLs, not mode bits: a bus key's file is protected by its
/// folder's ACL (the README says so), and nothing is refused here.
pub(crate) fn shared_file_problem(_meta: &std::fs::Metadata) -> Option<&'static str> {
    None
}

/// There is no systemd here: a notification goes nowhere.
pub fn notify_service_manager(_socket: &str, _state: &str) -> io::Result<()> {
    Ok(())
}

/// Not used without systemd.
pub fn monotonic_usec() -> io::Result<u64> {
    Ok(0)
}

/// Windows reports an ICMP "port unreachable" (or "TTL expired") about an earlier send as an
/// error of the next receive on the same socket (WSAECONNRESET, WSAENETRESET): a listener
/// would stop for something a destination did. Both reports are turned off on every socket
/// that receives, as quinn-udp and others do; sending sockets keep them (a later send shows
/// the refusal, which is counted). Where the control is refused as unknown, this is a no-op.
pub(crate) fn ignore_udp_resets(socket: &socket2::Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        WSAIoctl, SIO_UDP_CONNRESET, SIO_UDP_NETRESET, SOCKET, SOCKET_ERROR, WSAEINVAL,
        WSAEOPNOTSUPP,
    };
    for code in [SIO_UDP_CONNRESET, SIO_UDP_NETRESET] {
        let off: u32 = 0; // a BOOL: FALSE
        let mut returned: u32 = 0;
        // SAFETY: the handle is the live socket borrowed for this call; the input buffer is
        // a 4-byte BOOL that outlives the call, there is no output buffer, and no overlapped
        // I/O or completion routine, so nothing is used after WSAIoctl returns.
        let rc = unsafe {
            WSAIoctl(
                socket.as_raw_socket() as SOCKET,
                code,
                (&off as *const u32).cast(),
                std::mem::size_of::<u32>() as u32,
                std::ptr::null_mut(),
                0,
                &mut returned,
                std::ptr::null_mut(),
                None,
            )
        };
        if rc == SOCKET_ERROR {
            let err = io::Error::last_os_error();
            // Wine refuses both (it runs on Linux sockets, which have no such reports), and
            // so may a Windows without one of them: the receive path steps over a reset
            // as well (udp_single), so nothing depends on this.
            if matches!(err.raw_os_error(), Some(WSAEOPNOTSUPP | WSAEINVAL)) {
                continue;
            }
            return Err(err);
        }
    }
    Ok(())
}

/// TCP keep-alive: the first probe after `time` idle, then every `interval`; Windows does
/// not let the number of probes be set (it gives up after its own count).
pub(crate) fn tcp_keepalive(
    time: std::time::Duration,
    interval: std::time::Duration,
    _retries: u32,
) -> socket2::TcpKeepalive {
    socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval(interval)
}

/// The address a group listener binds: Windows only accepts the unspecified address of the
/// group's family there.
pub(crate) fn group_bind_addr(group: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match group {
        std::net::SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        std::net::SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    std::net::SocketAddr::new(ip, group.port())
}

/// How an IPv4 group join names its interface: by its address where it has one. Windows
/// reads an index in `ip_mreq`'s address field (0.0.0.INDEX); Wine passes that on to Linux
/// as an address, which refuses it. The interface's own address, as
/// `set_multicast_if_v4_index` sends from, is understood by both.
pub(crate) fn ipv4_membership_interface(
    index: u32,
    address: Option<std::net::Ipv4Addr>,
) -> socket2::InterfaceIndexOrAddress {
    match address {
        Some(local) => socket2::InterfaceIndexOrAddress::Address(local),
        None => socket2::InterfaceIndexOrAddress::Index(index),
    }
}
