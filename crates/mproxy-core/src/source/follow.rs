//! A regular file followed like `tail -F`: read to its end, then wait for more.
//!
//! At the end of the file its size is polled ([`POLL`]) together with the route's stop
//! signal (no inotify: it works on every OS and on network file systems, and costs one
//! `stat` per interval). When the path names another file than the one open (replaced:
//! renamed away and created again, as log rotation does) the rest of the old file is read
//! first, then the new one from its start; when the file got shorter than what was read
//! (truncated in place, logrotate's `copytruncate`) it is read again from its start. A path
//! that is missing for a while (between the rename and the new file) is waited for; the old
//! file stays open meanwhile.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::time::{Duration, Instant};

use super::framed::{ByteInput, Read};
use crate::poller::Wait;
use crate::stop::StopToken;
use crate::sys;

/// How often the end of a followed file is looked at.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// What happened to the followed file, found at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The path names a new file; it is open now, read from its start.
    Replaced,
    /// The file got shorter than what was read; it is read again from its start.
    Truncated,
}

pub(crate) struct FollowInput {
    path: String,
    file: File,
    identity: Option<(u64, u64)>,
    /// How far the open file was read.
    pos: u64,
    stop: StopToken,
    /// A change found at the end of the file, not yet taken by [`FollowInput::take_change`].
    change: Option<Change>,
}

impl FollowInput {
    pub(crate) fn new(path: &str, file: File, stop: &StopToken) -> FollowInput {
        let identity = file.metadata().ok().and_then(|m| sys::file_identity(&m));
        FollowInput {
            path: path.to_string(),
            file,
            identity,
            pos: 0,
            stop: stop.clone(),
            change: None,
        }
    }

    /// The change that made the last read say `End` (the framing is flushed there, so a
    /// line never joins the end of one file to the start of the next).
    pub(crate) fn take_change(&mut self) -> Option<Change> {
        self.change.take()
    }

    /// Whether the path now names another file than the open one (false while it is
    /// missing: the old file is kept until a new one appears).
    fn replaced(&self) -> bool {
        let Some(open) = self.identity else {
            return false;
        };
        std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| sys::file_identity(&m))
            .is_some_and(|now| now != open)
    }

    fn truncated(&self) -> bool {
        self.file.metadata().is_ok_and(|m| m.len() < self.pos)
    }

    fn grew(&self) -> bool {
        self.file.metadata().is_ok_and(|m| m.len() > self.pos)
    }

    /// At the end of the open file: switches to what replaced it, or back to the start of
    /// a truncated file. `Ok(None)` with nothing changed, or when the file grew after the
    /// read that found its end (read that first: what was written to the old file before
    /// it was replaced is not left behind).
    fn look_for_change(&mut self) -> io::Result<Option<Change>> {
        // Replacement first, then growth: a file that grew before it was replaced is seen
        // to have grown.
        let replaced = self.replaced();
        if self.grew() {
            return Ok(None);
        }
        if replaced {
            match sys::open_input(&self.path) {
                Ok(file) => {
                    self.identity = file.metadata().ok().and_then(|m| sys::file_identity(&m));
                    self.file = file;
                    self.pos = 0;
                    return Ok(Some(Change::Replaced));
                }
                // Gone again between the two looks: the next poll sees what came instead.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        if self.truncated() {
            self.file.seek(SeekFrom::Start(0))?;
            self.pos = 0;
            return Ok(Some(Change::Truncated));
        }
        Ok(None)
    }
}

impl ByteInput for FollowInput {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        // A file that grew meanwhile is read again, a few times at most.
        let mut looks = 0;
        loop {
            return match self.file.read(buf) {
                Ok(0) => match self.look_for_change()? {
                    Some(change) => {
                        self.change = Some(change);
                        Ok(Read::End)
                    }
                    None if looks < 3 && self.grew() => {
                        looks += 1;
                        continue;
                    }
                    None => Ok(Read::Pending),
                },
                Ok(n) => {
                    self.pos += n as u64;
                    Ok(Read::Data(n))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Polls the file every [`POLL`] until it grew, was truncated or replaced (`Ready`),
    /// `timeout` passed (`TimedOut`) or the route stops.
    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let nap = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Wait::TimedOut;
                    }
                    left.min(POLL)
                }
                None => POLL,
            };
            if !self.stop.sleep(nap) {
                return Wait::Stopped;
            }
            if self.grew() || self.truncated() || self.replaced() {
                return Wait::Ready;
            }
        }
    }
}
