//! Windows: files and stdio through std handles. Consoles, pipes and serial ports cannot be
//! waited on through mio (it polls sockets only), so they are read by a blocking reader
//! (see `source::blocking_input`); terminals have no raw mode to set.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::io::AsHandle;
use std::time::Duration;

use mio::{Registry, Token};

pub fn open_input(path: &str) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

pub fn open_output(path: &str) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

pub fn stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_handle().try_clone_to_owned()?))
}

pub fn stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// Only asked of inputs registered for readiness, which never happens here.
pub fn readable_now(_file: &File) -> bool {
    true
}

/// Writes to a handle block until done; there is nothing to wait for first.
pub fn wait_writable(_file: &File, _timeout: Duration) -> io::Result<bool> {
    Ok(true)
}

pub fn is_nonblocking(_file: &File) -> bool {
    false
}

pub const PIPE_ATOMIC_WRITE: usize = 4096;

pub fn register_readable(_registry: &Registry, _file: &File, _token: Token) -> io::Result<bool> {
    Ok(false)
}

pub fn deregister(_registry: &Registry, _file: &File) {}

pub struct RawTerminal;

impl RawTerminal {
    pub fn enter(_file: &File) -> Option<RawTerminal> {
        None
    }
}

/// Windows shares a bound port through SO_REUSEADDR alone.
pub fn share_port(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

pub fn interface_index(_name: &str) -> Option<u32> {
    None
}

pub fn is_no_such_device(_err: &io::Error) -> bool {
    false
}

/// Windows binds a port with connections in TIME_WAIT anyway; its SO_REUSEADDR would let
/// another process take the port over, so it is left off.
pub fn rebind_after_restart(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}
