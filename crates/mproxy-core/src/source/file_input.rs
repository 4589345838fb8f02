//! Files, FIFOs, devices and stdin as a [`ByteInput`].
//!
//! A regular file is always ready: it is read back to back and never waited for. A pipe,
//! FIFO, terminal or device is waited for through the poller where the OS's poller takes
//! it; where it does not (a terminal under macOS's kqueue; consoles, pipes and serial ports
//! on Windows) a thread of its own does blocking reads and hands the bytes over.

use std::fs::File;
use std::io::{self, Read as _};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use mio::Token;

use super::framed::{ByteInput, Read};
use crate::error::{Error, Result};
use crate::poller::{Poller, Wait, Wakeup};
use crate::stop::StopToken;
use crate::sys;

const INPUT: Token = Token(0);
/// Chunks a blocking reader may have waiting: bounded, so a fast input waits for the framer.
const BLOCKING_CHUNKS: usize = 4;
/// How long a blocking reader rests when a descriptor it cannot wait on has nothing.
const BLOCKING_RETRY: Duration = Duration::from_millis(10);

pub(crate) struct FileInput {
    source: Source,
}

enum Source {
    Regular(File),
    Polled {
        file: File,
        poller: Poller,
    },
    Blocking {
        chunks: Receiver<io::Result<Vec<u8>>>,
        wakeup: Arc<Wakeup>,
        /// The chunk being handed out, and how far.
        held: Vec<u8>,
        at: usize,
        poller: Poller,
    },
}

impl FileInput {
    /// `regular`: a regular file (read back to back). `name` is for the reader thread.
    pub(crate) fn new(
        file: File,
        regular: bool,
        stop: &StopToken,
        name: &str,
    ) -> Result<FileInput> {
        if regular {
            return Ok(FileInput {
                source: Source::Regular(file),
            });
        }
        let poller = Poller::new(stop)?;
        let pollable = sys::register_readable(poller.registry(), &file, INPUT)
            .map_err(|e| Error::os(format!("cannot wait on {name}"), &e))?;
        if pollable {
            return Ok(FileInput {
                source: Source::Polled { file, poller },
            });
        }
        let (tx, rx) = mpsc::sync_channel(BLOCKING_CHUNKS);
        let wakeup = Arc::new(poller.wakeup());
        let stop = stop.clone();
        // Detached: a blocking read cannot be interrupted, so the thread ends at the input's
        // next byte or end after a stop, not at the stop itself.
        let reader_wakeup = wakeup.clone();
        std::thread::Builder::new()
            .name(format!("mproxy-read {name}"))
            .spawn(move || read_blocking(file, tx, reader_wakeup, stop))
            .map_err(|e| Error::os("cannot start an input reader thread", &e))?;
        Ok(FileInput {
            source: Source::Blocking {
                chunks: rx,
                wakeup,
                held: Vec::new(),
                at: 0,
                poller,
            },
        })
    }
}

fn read_blocking(
    mut file: File,
    tx: SyncSender<io::Result<Vec<u8>>>,
    wakeup: Arc<Wakeup>,
    stop: StopToken,
) {
    let mut buf = vec![0u8; super::framed::READ_SIZE];
    while !stop.is_stopped() {
        let chunk = match file.read(&mut buf) {
            Ok(n) => Ok(buf[..n].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stop.sleep(BLOCKING_RETRY);
                continue;
            }
            Err(e) => Err(e),
        };
        let last = !matches!(&chunk, Ok(c) if !c.is_empty());
        if tx.send(chunk).is_err() {
            return;
        }
        wakeup.wake();
        if last {
            return;
        }
    }
}

impl ByteInput for FileInput {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        match &mut self.source {
            Source::Regular(file) => read_file(file, buf),
            Source::Polled { file, .. } => {
                // Level-checked first, so a descriptor someone left in blocking mode (an
                // inherited stdin) is never read when empty.
                if !sys::readable_now(file) {
                    return Ok(Read::Pending);
                }
                read_file(file, buf)
            }
            Source::Blocking {
                chunks,
                wakeup,
                held,
                at,
                ..
            } => {
                if *at >= held.len() {
                    wakeup.clear();
                    match chunks.try_recv() {
                        Ok(Ok(chunk)) if chunk.is_empty() => return Ok(Read::End),
                        Ok(Ok(chunk)) => {
                            *held = chunk;
                            *at = 0;
                        }
                        Ok(Err(e)) => return Err(e),
                        Err(TryRecvError::Empty) => return Ok(Read::Pending),
                        Err(TryRecvError::Disconnected) => return Ok(Read::End),
                    }
                }
                let n = (held.len() - *at).min(buf.len());
                buf[..n].copy_from_slice(&held[*at..*at + n]);
                *at += n;
                Ok(Read::Data(n))
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        match &mut self.source {
            // Never pending.
            Source::Regular(_) => Wait::Ready,
            Source::Polled { poller, .. } | Source::Blocking { poller, .. } => poller.wait(timeout),
        }
    }
}

fn read_file(file: &mut File, buf: &mut [u8]) -> io::Result<Read> {
    loop {
        return match file.read(buf) {
            Ok(0) => Ok(Read::End),
            Ok(n) => Ok(Read::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Pending),
            Err(e) => Err(e),
        };
    }
}

impl Drop for FileInput {
    fn drop(&mut self) {
        if let Source::Polled { file, poller } = &self.source {
            sys::deregister(poller.registry(), file);
        }
    }
}
