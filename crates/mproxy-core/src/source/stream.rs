//! A byte stream (regular file, FIFO, character device such as a serial receiver, or stdin)
//! read until its end and framed into datagrams.
//!
//! Regular files are read back to back, so datagrams are packed full. Anything else may
//! pause: when no more input is ready the complete lines go out at once, and a partial
//! line follows after `linger`, so interactive and serial input is never held back.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::framing::{Framer, Framing};
use crate::pacing::Pacer;
use crate::sink::Fanout;
use crate::source::FiniteSources;
use crate::stats::{Endpoint, Registry};
use crate::waker::{Interest, Wait, Waker};

#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// A path, or "-" for stdin.
    pub path: String,
    pub framing: Framing,
    pub max_datagram: usize,
    pub linger: Duration,
    /// Bytes per second to pace sending to; 0 sends as fast as the input is read.
    pub rate: u64,
}

pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);
const READ_SIZE: usize = 128 * 1024;

pub struct StreamSource {
    pub thread: JoinHandle<()>,
    /// Set for a FIFO, whose open blocks until a writer appears; stopping opens it for
    /// writing once to release that open.
    pub fifo_path: Option<String>,
}

enum Input {
    Stdin,
    Opened(std::fs::File),
    /// Opened on the source's own thread because opening blocks.
    Fifo(String),
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
    let fifo_path = match &input {
        Input::Fifo(p) => Some(p.clone()),
        _ => None,
    };
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
            reader.run(input);
            finite.one_ended();
        })
        .map_err(|e| Error::os("cannot start an input thread", &e))?;
    Ok(StreamSource { thread, fifo_path })
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
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_fifo() {
            return Ok((Input::Fifo(path.to_string()), false));
        }
    }
    let file = std::fs::File::open(path).map_err(|e| Error::file(path, &e))?;
    Ok((Input::Opened(file), meta.is_file()))
}

/// Releases a source blocked opening a FIFO that has no writer.
pub fn release_fifo(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
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
    fn run(&mut self, input: Input) {
        let file = match input {
            Input::Stdin => None,
            Input::Opened(f) => Some(f),
            Input::Fifo(path) => match std::fs::File::open(&path) {
                Ok(f) if !self.waker.is_stopped() => Some(f),
                Ok(_) => return,
                Err(e) => {
                    self.reporter
                        .error(format!("cannot open {path}: {}", describe_os_error(&e)));
                    return;
                }
            },
        };
        self.read_all(file);
    }

    fn deliver(&self, out: &mut Batch, pacer: &mut Pacer) {
        if !out.is_empty() {
            self.fanout.deliver(out);
            pacer.pace(out.byte_count() as u64, &self.waker);
            out.clear();
        }
    }

    #[cfg(unix)]
    fn read_all(&mut self, file: Option<std::fs::File>) {
        use std::os::fd::AsRawFd;
        let fd = file.as_ref().map_or(0, |f| f.as_raw_fd());
        let mut framer = Framer::new(self.spec.framing, self.spec.max_datagram);
        let mut pacer = Pacer::new(self.spec.rate);
        let mut buf = vec![0u8; READ_SIZE];
        let mut out = Batch::with_capacity(READ_SIZE + self.spec.max_datagram, 128);
        loop {
            if !self.regular {
                let linger = (framer.pending_len() > 0).then_some(self.spec.linger);
                match self.waker.wait(fd, Interest::Read, linger) {
                    Wait::Stopped => break,
                    Wait::TimedOut => {
                        framer.flush_all(&mut out);
                        self.deliver(&mut out, &mut pacer);
                        continue;
                    }
                    Wait::Ready => {}
                }
            } else if self.waker.is_stopped() {
                break;
            }
            let n = match crate::io::fd::read(fd, &mut buf, &self.waker) {
                Ok(Some(0)) | Ok(None) => break,
                Ok(Some(n)) => n,
                Err(e) => {
                    self.reporter.error(format!(
                        "reading {} failed: {}",
                        self.endpoint.name,
                        describe_os_error(&e)
                    ));
                    break;
                }
            };
            self.endpoint.counters.add_in(0, n as u64);
            framer.push(&buf[..n], &mut out);
            if !self.regular && !crate::io::fd::readable_now(fd) {
                framer.flush_lines(&mut out);
            }
            self.count_out(&out);
            self.deliver(&mut out, &mut pacer);
        }
        framer.flush_all(&mut out);
        self.count_out(&out);
        self.deliver(&mut out, &mut pacer);
    }

    #[cfg(not(unix))]
    fn read_all(&mut self, file: Option<std::fs::File>) {
        use std::io::Read;
        let mut framer = Framer::new(self.spec.framing, self.spec.max_datagram);
        let mut pacer = Pacer::new(self.spec.rate);
        let mut buf = vec![0u8; READ_SIZE];
        let mut out = Batch::with_capacity(READ_SIZE + self.spec.max_datagram, 128);
        let mut stdin = std::io::stdin();
        let mut file = file;
        loop {
            let read = match file.as_mut() {
                Some(f) => f.read(&mut buf),
                None => stdin.read(&mut buf),
            };
            let n = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    self.reporter.error(format!(
                        "reading {} failed: {}",
                        self.endpoint.name,
                        describe_os_error(&e)
                    ));
                    break;
                }
            };
            self.endpoint.counters.add_in(0, n as u64);
            framer.push(&buf[..n], &mut out);
            framer.flush_lines(&mut out);
            self.count_out(&out);
            self.deliver(&mut out, &mut pacer);
            if self.waker.is_stopped() {
                break;
            }
        }
        framer.flush_all(&mut out);
        self.count_out(&out);
        self.deliver(&mut out, &mut pacer);
    }

    /// An input's "out" counters are the datagrams it framed.
    fn count_out(&self, out: &Batch) {
        self.endpoint
            .counters
            .add_out(out.datagram_count() as u64, out.byte_count() as u64);
    }
}
