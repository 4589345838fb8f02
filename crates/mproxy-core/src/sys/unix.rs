//! Unix (Linux, macOS, the BSDs): files, pipes, terminals and devices opened so that a
//! service never blocks on them and never gains a controlling terminal, readiness for them
//! through mio where the kernel's poller takes them, raw mode and line speed for serial
//! receivers, and what tells a device that went away or a file that was replaced.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, BaudRate, SetArg, SpecialCharacterIndices, Termios};

/// Opens for reading, never blocking and never making a terminal device our controlling
/// terminal (a service started without one would get SIGHUP when the device is unplugged).
/// Non-blocking, a FIFO opens at once even with no writer yet (the reader then waits for
/// readiness, where a stop reaches it), and a serial port does not wait for carrier.
pub(crate) fn open_input(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
}

/// Creates or appends to an output file; a device as output does not become our
/// controlling terminal either.
pub(crate) fn open_output(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// Our own descriptor for stdin (a duplicate: closing it leaves the process's stdin open).
pub(crate) fn stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

/// Our own descriptor for stdout, written directly (no buffering in between).
pub(crate) fn stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

fn poll_one(file: &File, events: PollFlags, timeout: Duration) -> io::Result<bool> {
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(file.as_fd(), events)];
    loop {
        match poll(&mut fds, timeout) {
            Ok(n) => return Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether a read would return at once (data, or the end of the input).
pub(crate) fn readable_now(file: &File) -> bool {
    poll_one(file, PollFlags::POLLIN, Duration::ZERO).unwrap_or(true)
}

/// Waits up to `timeout` for room to write; false if there was none.
pub(crate) fn wait_writable(file: &File, timeout: Duration) -> io::Result<bool> {
    poll_one(file, PollFlags::POLLOUT, timeout)
}

/// Whether the descriptor is in non-blocking mode (Node puts its own stdio pipes in it, and
/// shares them with us).
pub(crate) fn is_nonblocking(file: &File) -> bool {
    nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|flags| flags & libc::O_NONBLOCK != 0)
}

/// What a pipe with room always takes whole in one write.
pub(crate) const PIPE_ATOMIC_WRITE: usize = libc::PIPE_BUF;

/// Registers a file, pipe, terminal or device for read readiness. `Ok(false)`: this kind
/// of descriptor cannot be polled here (a regular file under epoll, a terminal under
/// macOS's kqueue); the caller reads it another way.
pub(crate) fn register_readable(
    registry: &Registry,
    file: &File,
    token: Token,
) -> io::Result<bool> {
    match registry.register(&mut SourceFd(&file.as_raw_fd()), token, Interest::READABLE) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::EINVAL | libc::ENOTSUP)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn deregister(registry: &Registry, file: &File) {
    let _ = registry.deregister(&mut SourceFd(&file.as_raw_fd()));
}

/// A terminal device (a serial receiver) in raw mode while it is read, so the line
/// discipline passes bytes through unchanged: no CR-to-NL translation, no XON/XOFF, no echo
/// back to the device. The port's speed is kept unless one is asked for; the old settings
/// come back on drop (through a duplicate descriptor, so they are restored even after the
/// reader closed its own).
pub(crate) struct RawTerminal {
    device: File,
    saved: Termios,
}

impl RawTerminal {
    /// `Ok(None)` when `file` is not a terminal, or refuses raw mode and no speed was asked
    /// for (raw mode is then best effort, as it always was). With `speed` (bits per second,
    /// input and output alike) the speed must be one [`baud_supported`] knows and the device
    /// must take it, read back to be sure: otherwise an error.
    pub(crate) fn enter(file: &File, speed: Option<u32>) -> io::Result<Option<RawTerminal>> {
        let Ok(saved) = termios::tcgetattr(file) else {
            return match speed {
                Some(_) => Err(io::Error::from_raw_os_error(libc::ENOTTY)),
                None => Ok(None),
            };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let Some(speed) = speed else {
            if termios::tcsetattr(file, SetArg::TCSANOW, &raw).is_err() {
                return Ok(None);
            }
            return Ok(Some(RawTerminal {
                device: file.try_clone()?,
                saved,
            }));
        };
        let rate = baud_rate(speed).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a speed this system supports",
            )
        })?;
        termios::cfsetspeed(&mut raw, rate)?;
        termios::tcsetattr(file, SetArg::TCSANOW, &raw)?;
        let guard = RawTerminal {
            device: file.try_clone()?,
            saved,
        };
        // tcsetattr succeeds when any part of the change was made: read the speed back.
        if terminal_speed(file)? != Some(speed) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the device did not take this speed",
            ));
        }
        Ok(Some(guard))
    }
}

impl RawTerminal {
    /// Puts the device's settings back now (dropping the guard does the same).
    pub(crate) fn restore(self) {
        drop(self);
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.device, SetArg::TCSANOW, &self.saved);
    }
}

/// Line speeds in bits per second, and the `BaudRate` each one is set with. Linux's speed
/// constants are codes (B9600 is 13), so the table is written out; elsewhere nix's
/// `BaudRate` values are the speeds themselves.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn baud_rate(speed: u32) -> Option<BaudRate> {
    use BaudRate::*;
    Some(match speed {
        50 => B50,
        75 => B75,
        110 => B110,
        134 => B134,
        150 => B150,
        200 => B200,
        300 => B300,
        600 => B600,
        1200 => B1200,
        1800 => B1800,
        2400 => B2400,
        4800 => B4800,
        9600 => B9600,
        19200 => B19200,
        38400 => B38400,
        57600 => B57600,
        115200 => B115200,
        230400 => B230400,
        460800 => B460800,
        500000 => B500000,
        576000 => B576000,
        921600 => B921600,
        1000000 => B1000000,
        1152000 => B1152000,
        1500000 => B1500000,
        2000000 => B2000000,
        #[cfg(not(target_arch = "sparc64"))]
        2500000 => B2500000,
        #[cfg(not(target_arch = "sparc64"))]
        3000000 => B3000000,
        #[cfg(not(target_arch = "sparc64"))]
        3500000 => B3500000,
        #[cfg(not(target_arch = "sparc64"))]
        4000000 => B4000000,
        _ => return None,
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn baud_rate(speed: u32) -> Option<BaudRate> {
    // 0 would hang the line up.
    if speed == 0 {
        return None;
    }
    BaudRate::try_from(libc::speed_t::from(speed)).ok()
}

/// Whether `speed` (bits per second) is a line speed this system can set.
pub fn baud_supported(speed: u32) -> bool {
    baud_rate(speed).is_some()
}

/// A terminal's input speed in bits per second; `None` when it is not a terminal or its
/// speed is not one of the standard ones.
pub fn terminal_speed(file: &File) -> io::Result<Option<u32>> {
    let Ok(current) = termios::tcgetattr(file) else {
        return Ok(None);
    };
    let raw = libc::termios::from(current);
    // SAFETY: cfgetispeed only reads the termios structure it is given, which lives on our
    // stack for the whole call. (nix's own wrapper panics on a non-standard speed.)
    let code = unsafe { libc::cfgetispeed(&raw) };
    Ok(speed_from_code(code))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn speed_from_code(code: libc::speed_t) -> Option<u32> {
    const SPEEDS: [u32; 30] = [
        50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
        115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
        2500000, 3000000, 3500000, 4000000,
    ];
    SPEEDS
        .into_iter()
        .find(|s| baud_rate(*s).is_some_and(|r| r as libc::speed_t == code))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn speed_from_code(code: libc::speed_t) -> Option<u32> {
    u32::try_from(code).ok().filter(|s| baud_rate(*s).is_some())
}

/// A character device: a serial port, a USB receiver, as opposed to a regular file, a FIFO
/// or a socket.
pub(crate) fn is_char_device(meta: &Metadata) -> bool {
    meta.file_type().is_char_device()
}

/// What tells one file from another that took its path: device and inode.
pub(crate) fn file_identity(meta: &Metadata) -> Option<(u64, u64)> {
    Some((meta.dev(), meta.ino()))
}

/// A read error that means the device went away: a serial line hung up, a USB receiver was
/// unplugged, the other end of a pseudo-terminal closed.
pub(crate) fn is_hangup(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EIO | libc::ENXIO | libc::ENODEV)
    )
}

/// An open error that means the device is not there (yet): no such file, no device behind
/// the node, or one that is still going away.
pub(crate) fn is_absent(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || is_hangup(err)
}

/// Several sockets may bind one multicast group and port, each receiving every datagram.
pub(crate) fn share_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// The index of an interface by name, for interfaces that have no address to list.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok().filter(|i| *i != 0)
}

/// "No such device": an interface that went away or cannot take the request.
pub(crate) fn is_no_such_device(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENODEV)
}

/// A restarted listener can bind its port while old connections linger in TIME_WAIT.
pub(crate) fn rebind_after_restart(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_address(true)
}

/// What a path that is not a regular file is, in words.
pub(crate) fn not_a_regular_file(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = meta.file_type();
    if meta.is_dir() {
        "it is a directory"
    } else if kind.is_fifo() {
        "it is a FIFO, not a regular file"
    } else if kind.is_char_device() {
        "it is a character device, not a regular file"
    } else if kind.is_block_device() {
        "it is a block device, not a regular file"
    } else if kind.is_socket() {
        "it is a socket, not a regular file"
    } else {
        "it is not a regular file"
    }
}

/// Why a secret file (a bus key) is not private enough: readable or writable by the group
/// or by others. `None` when only its owner can use it.
pub(crate) fn shared_file_problem(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt as _;
    (meta.permissions().mode() & 0o077 != 0)
        .then_some("it is readable or writable by group or others; make it private (chmod 600)")
}

/// Sends `state` (`READY=1`, `RELOADING=1\nMONOTONIC_USEC=...`, `STOPPING=1`) to the service
/// manager's notification socket `socket` (systemd's `NOTIFY_SOCKET`): a path, or `@name` for
/// an abstract socket (Linux). One datagram from an unbound unix datagram socket.
pub fn notify_service_manager(socket: &str, state: &str) -> io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let sender = UnixDatagram::unbound()?;
    if let Some(name) = socket.strip_prefix('@') {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sender.send_to_addr(state.as_bytes(), &addr)?;
            return Ok(());
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract unix sockets exist on Linux only",
            ));
        }
    }
    sender.send_to(state.as_bytes(), socket)?;
    Ok(())
}

/// `CLOCK_MONOTONIC` in microseconds, as systemd's `MONOTONIC_USEC=` wants it.
pub fn monotonic_usec() -> io::Result<u64> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
    let secs = u64::try_from(now.tv_sec()).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec()).unwrap_or(0);
    Ok(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

/// Unix reports ICMP errors on an unconnected UDP socket only where asked (the error queue):
/// nothing to turn off. See the Windows version.
pub(crate) fn ignore_udp_resets(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

/// TCP keep-alive: the first probe after `time` idle, then every `interval`, giving up
/// after `retries` unanswered probes.
pub(crate) fn tcp_keepalive(
    time: std::time::Duration,
    interval: std::time::Duration,
    retries: u32,
) -> socket2::TcpKeepalive {
    socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval(interval)
        .with_retries(retries)
}

/// The address a group listener binds: the group itself, which filters out unicast to the
/// same port.
pub(crate) fn group_bind_addr(group: std::net::SocketAddr) -> std::net::SocketAddr {
    group
}

/// How an IPv4 group join names its interface: by index (`ip_mreqn`).
pub(crate) fn ipv4_membership_interface(
    index: u32,
    _address: Option<std::net::Ipv4Addr>,
) -> socket2::InterfaceIndexOrAddress {
    socket2::InterfaceIndexOrAddress::Index(index)
}
