//! Unix (Linux, macOS, the BSDs): files, pipes, terminals and devices opened so that a
//! service never blocks on them and never gains a controlling terminal, readiness for them
//! through mio where the kernel's poller takes them, and raw mode for serial receivers.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg, SpecialCharacterIndices, Termios};

/// Opens for reading, never blocking and never making a terminal device our controlling
/// terminal (a service started without one would get SIGHUP when the device is unplugged).
/// Non-blocking, a FIFO opens at once even with no writer yet (the reader then waits for
/// readiness, where a stop reaches it), and a serial port does not wait for carrier.
pub fn open_input(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
}

/// Creates or appends to an output file; a device as output does not become our
/// controlling terminal either.
pub fn open_output(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// Our own descriptor for stdin (a duplicate: closing it leaves the process's stdin open).
pub fn stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

/// Our own descriptor for stdout, written directly (no buffering in between).
pub fn stdout() -> io::Result<File> {
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
pub fn readable_now(file: &File) -> bool {
    poll_one(file, PollFlags::POLLIN, Duration::ZERO).unwrap_or(true)
}

/// Waits up to `timeout` for room to write; false if there was none.
pub fn wait_writable(file: &File, timeout: Duration) -> io::Result<bool> {
    poll_one(file, PollFlags::POLLOUT, timeout)
}

/// Whether the descriptor is in non-blocking mode (Node puts its own stdio pipes in it, and
/// shares them with us).
pub fn is_nonblocking(file: &File) -> bool {
    nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|flags| flags & libc::O_NONBLOCK != 0)
}

/// What a pipe with room always takes whole in one write.
pub const PIPE_ATOMIC_WRITE: usize = libc::PIPE_BUF;

/// Registers a file, pipe, terminal or device for read readiness. `Ok(false)`: this kind
/// of descriptor cannot be polled here (a regular file under epoll, a terminal under
/// macOS's kqueue); the caller reads it another way.
pub fn register_readable(registry: &Registry, file: &File, token: Token) -> io::Result<bool> {
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

pub fn deregister(registry: &Registry, file: &File) {
    let _ = registry.deregister(&mut SourceFd(&file.as_raw_fd()));
}

/// A terminal device (a serial receiver) in raw mode while it is read, so the line
/// discipline passes bytes through unchanged: no CR-to-NL translation, no XON/XOFF, no echo
/// back to the device. The port's speed is kept; the old settings come back on drop (through
/// a duplicate descriptor, so they are restored even after the reader closed its own).
pub struct RawTerminal {
    device: File,
    saved: Termios,
}

impl RawTerminal {
    /// None when `file` is not a terminal or refuses raw mode.
    pub fn enter(file: &File) -> Option<RawTerminal> {
        let saved = termios::tcgetattr(file).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(file, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal {
            device: file.try_clone().ok()?,
            saved,
        })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.device, SetArg::TCSANOW, &self.saved);
    }
}

/// Several sockets may bind one multicast group and port, each receiving every datagram.
pub fn share_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// The index of an interface by name, for interfaces that have no address to list.
pub fn interface_index(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok().filter(|i| *i != 0)
}

/// "No such device": an interface that went away or cannot take the request.
pub fn is_no_such_device(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENODEV)
}

/// A restarted listener can bind its port while old connections linger in TIME_WAIT.
pub fn rebind_after_restart(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_address(true)
}
