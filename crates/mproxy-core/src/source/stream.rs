//! A byte stream (regular file, FIFO, character device such as a serial receiver, or stdin)
//! read until its end and framed into datagrams.
//!
//! Regular files are read back to back, so datagrams are packed full. Anything else may
//! pause: when no more input is ready the complete lines go out at once, and a partial
//! line follows after `linger`, so interactive and serial input is never held back.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{describe_os_error, Error, Result};
use crate::event::{Outcome, Reporter};
use crate::sink::Fanout;
#[cfg(unix)]
use crate::source::fd_input::FdInput;
#[cfg(unix)]
use crate::source::framed::Read;
use crate::source::framed::{Framed, FramingSpec, READ_SIZE};
use crate::source::FiniteSources;
use crate::stats::{Endpoint, Registry};
use crate::waker::Waker;

#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// A path, or "-" for stdin.
    pub path: String,
    /// How the bytes become datagrams, and the pace they are sent at.
    pub framing: FramingSpec,
}

pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

pub struct StreamSource {
    pub thread: JoinHandle<()>,
}

enum Input {
    Stdin,
    Opened(std::fs::File),
}

pub fn start(
    spec: &StreamSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    waker: Waker,
    finite: FiniteSources,
) -> Result<StreamSource> {
    let (input, regular) = open(&spec.path)?;
    let name = if spec.path == "-" {
        "stdin".to_string()
    } else {
        spec.path.clone()
    };
    let endpoint = registry.register("input", name);
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-input {}", spec.path))
        .spawn(move || {
            let mut reader = Reader {
                spec,
                endpoint,
                fanout,
                reporter,
                waker,
                regular,
            };
            let outcome = reader.run(input);
            finite.one_ended(outcome);
        })
        .map_err(|e| Error::os("cannot start an input thread", &e))?;
    Ok(StreamSource { thread })
}

fn open(path: &str) -> Result<(Input, bool)> {
    if path == "-" {
        return Ok((Input::Stdin, false));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, &e))?;
    if meta.is_dir() {
        return Err(Error::new(
            crate::ErrorKind::File,
            format!("cannot open {path}: it is a directory"),
        ));
    }
    let file = open_read(path).map_err(|e| Error::file(path, &e))?;
    Ok((Input::Opened(file), meta.is_file()))
}

/// Opens for reading, never blocking and never making a terminal device our controlling
/// terminal (a service started without one would get SIGHUP when the device is unplugged).
/// Non-blocking, a FIFO opens at once even with no writer yet (the reader then waits in
/// `poll`, where a stop reaches it), and a serial port does not wait for carrier.
fn open_read(path: &str) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// A terminal device (a serial receiver) put in raw mode while it is read, so the line
/// discipline passes bytes through unchanged: no CR-to-NL translation, no XON/XOFF, no
/// echo back to the device. The port's speed is kept; the old settings come back on drop.
#[cfg(unix)]
struct RawTerminal {
    fd: libc::c_int,
    saved: libc::termios,
}

#[cfg(unix)]
impl RawTerminal {
    fn enter(fd: libc::c_int) -> Option<RawTerminal> {
        // SAFETY: isatty/tcgetattr/tcsetattr on a descriptor we own, with termios values
        // that tcgetattr initialised.
        unsafe {
            if libc::isatty(fd) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(fd, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawTerminal { fd, saved })
        }
    }
}

#[cfg(unix)]
impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores settings read from this same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

struct Reader {
    spec: StreamSpec,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    waker: Waker,
    regular: bool,
}

impl Reader {
    fn run(&mut self, input: Input) -> Outcome {
        let file = match input {
            Input::Stdin => None,
            Input::Opened(f) => Some(f),
        };
        // Only devices named by --path; a terminal on stdin is a person typing. Declared
        // after `file`, so the settings are restored before the device is closed.
        #[cfg(unix)]
        let _raw = file
            .as_ref()
            .and_then(|f| RawTerminal::enter(std::os::fd::AsRawFd::as_raw_fd(f)));
        let mut framed = Framed::new(
            &self.spec.framing,
            self.fanout.clone(),
            self.endpoint.clone(),
            self.waker.clone(),
        );
        let mut buf = vec![0u8; READ_SIZE];
        match self.read_all(file.as_ref(), &mut framed, &mut buf) {
            Ok(outcome) => outcome,
            Err(e) => {
                self.reporter.error(format!(
                    "reading {} failed: {}",
                    self.endpoint.name,
                    describe_os_error(&e)
                ));
                Outcome::Failed
            }
        }
    }

    #[cfg(unix)]
    fn read_all(
        &mut self,
        file: Option<&std::fs::File>,
        framed: &mut Framed,
        buf: &mut [u8],
    ) -> std::io::Result<Outcome> {
        use std::os::fd::AsRawFd;
        let fd = file.as_ref().map_or(0, |f| f.as_raw_fd());
        let mut input = FdInput {
            fd,
            regular: self.regular,
            waker: self.waker.clone(),
        };
        Ok(match framed.pump(&mut input, buf)? {
            Read::Stopped => Outcome::Stopped,
            _ => Outcome::Complete,
        })
    }

    /// Without poll there is no linger: complete lines go out after every read.
    #[cfg(not(unix))]
    fn read_all(
        &mut self,
        file: Option<&std::fs::File>,
        framed: &mut Framed,
        buf: &mut [u8],
    ) -> std::io::Result<Outcome> {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut file = file;
        while !self.waker.is_stopped() {
            let n = match file.as_mut() {
                Some(f) => f.read(buf)?,
                None => stdin.read(buf)?,
            };
            if n == 0 {
                break;
            }
            framed.take(&buf[..n], true);
        }
        framed.flush();
        Ok(if self.waker.is_stopped() {
            Outcome::Stopped
        } else {
            Outcome::Complete
        })
    }
}
