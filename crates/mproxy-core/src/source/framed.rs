//! The read-frame-deliver loop shared by every byte-stream source (files, stdin, devices,
//! TCP and TLS connections): read what is there, send complete datagrams, send complete
//! lines when input pauses, send a partial line after the linger.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::batch::Batch;
use crate::framing::{Framer, Framing};
use crate::pacing::Pacer;
use crate::poller::Wait;
use crate::replay::{time_of, BadTime, ReplayClock, TimeSource, Timed};
use crate::sink::Fanout;
use crate::stats::Endpoint;
use crate::stop::StopToken;

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    Data(usize),
    /// The input ended (EOF, peer closed).
    End,
    /// Nothing is there right now: the input paused.
    Pending,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The input ended (EOF, peer closed).
    Input,
    /// The route is stopping.
    Stopped,
}

/// A byte stream read without blocking, which can wait for more together with the route's
/// stop signal.
pub(crate) trait ByteInput {
    /// Reads what is there into `buf` without waiting.
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read>;
    /// Waits until more may be readable, `timeout` passes (`None`: no limit) or the route
    /// stops. Called only after `read_now` said `Pending`.
    fn wait(&mut self, timeout: Option<Duration>) -> Wait;
}

#[derive(Debug, Clone, Copy)]
pub struct FramingSpec {
    pub framing: Framing,
    pub max_datagram: usize,
    pub linger: Duration,
    /// Bytes per second; 0 = unpaced.
    pub rate: u64,
    /// Datagrams per second; 0 = unpaced. Paced per batch, as the bytes are: a batch is
    /// what one read of at most 128 KiB made.
    pub datagram_rate: u64,
    /// Send each line at its recorded time (the client's `replay`); `None`: as read.
    pub replay: Option<ReplaySpec>,
}

/// Replaying a recorded log: where each line's time is, and how much faster than recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplaySpec {
    pub times: TimeSource,
    /// 1: the recorded timing; 2: twice as fast. Positive and finite (checked by the schema).
    pub speed: f64,
}

/// Longest line replay holds while it waits for the line's end; a longer one is replayed in
/// parts of this size (the later parts with the first part's time), so memory stays bounded.
const REPLAY_LINE_LIMIT: usize = 64 * 1024;

/// A replay in progress: the line being read, and the clock that says when lines are due.
struct Replaying {
    spec: ReplaySpec,
    clock: ReplayClock,
    /// The start of the line being read (up to [`REPLAY_LINE_LIMIT`]).
    line: Vec<u8>,
    /// `line` continues a line already replayed in part: it has no time of its own.
    continuing: bool,
    /// Lines replayed so far (for messages: the line a bad time is on).
    lines: u64,
    /// When the first line went.
    started: Option<Instant>,
}

pub(crate) const READ_SIZE: usize = 128 * 1024;

/// With a datagram rate, what is read is framed and sent this much at a time: a whole read
/// (128 KiB, some 2,000 AIS lines) sent at once would be a burst no receiver's buffer takes,
/// however well the bursts are spaced.
const PACED_SLICE: usize = 4096;

pub(crate) struct Framed {
    framer: Framer,
    out: Batch,
    pacer: Pacer,
    linger: Duration,
    fanout: Fanout,
    endpoint: Arc<Endpoint>,
    stop: StopToken,
    /// The TCP peer, stamped on every datagram (taps and rules by source see it).
    peer: Option<SocketAddr>,
    /// How much of a read is framed and sent at once (all of it, unless datagrams are paced).
    slice: usize,
    replay: Option<Replaying>,
}

impl Framed {
    pub(crate) fn new(
        spec: &FramingSpec,
        fanout: Fanout,
        endpoint: Arc<Endpoint>,
        stop: StopToken,
    ) -> Self {
        let mut out = Batch::with_capacity(READ_SIZE + spec.max_datagram, 128);
        // Datagrams of a file, device or stdin carry no address: the input's name stands in.
        out.origin = Some(endpoint.name.as_str().into());
        Framed {
            framer: Framer::new(spec.framing, spec.max_datagram),
            out,
            pacer: Pacer::new(spec.rate, spec.datagram_rate),
            linger: spec.linger,
            fanout,
            endpoint,
            stop,
            peer: None,
            slice: if spec.datagram_rate > 0 {
                PACED_SLICE
            } else {
                usize::MAX
            },
            replay: spec.replay.map(|spec| Replaying {
                spec,
                clock: ReplayClock::new(spec.speed),
                line: Vec::new(),
                continuing: false,
                lines: 0,
                started: None,
            }),
        }
    }

    /// Datagrams framed from now on come from `peer`.
    pub(crate) fn set_peer(&mut self, peer: Option<SocketAddr>) {
        self.peer = peer;
    }

    /// How long the next read may wait before the partial line must go out.
    pub(crate) fn linger_timeout(&self) -> Option<Duration> {
        (self.framer.pending_len() > 0).then_some(self.linger)
    }

    /// Frames freshly read bytes.
    pub(crate) fn take(&mut self, bytes: &[u8]) {
        self.endpoint.counters.add_in(0, bytes.len() as u64);
        for part in bytes.chunks(self.slice) {
            self.framer.push(part, &mut self.out);
            self.deliver();
        }
    }

    /// Frames freshly read bytes of a replay: each line when it is due. Returns false if
    /// the route stopped while a line waited.
    fn take_replayed(&mut self, bytes: &[u8]) -> io::Result<bool> {
        self.endpoint.counters.add_in(0, bytes.len() as u64);
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(replay) = self.replay.as_mut() else {
                break;
            };
            let room = REPLAY_LINE_LIMIT - replay.line.len();
            let (part, ended) = match rest.iter().take(room).position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None if rest.len() >= room => (&rest[..room], false),
                None => (rest, false),
            };
            replay.line.extend_from_slice(part);
            rest = &rest[part.len()..];
            let whole = ended || replay.line.len() >= REPLAY_LINE_LIMIT;
            if whole && !self.send_replayed_line(ended)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sends the line held (whole when `ended`, else its first part) at its time.
    fn send_replayed_line(&mut self, ended: bool) -> io::Result<bool> {
        let Some(replay) = self.replay.as_mut() else {
            return Ok(true);
        };
        let line = std::mem::take(&mut replay.line);
        let (time, send): (Option<f64>, &[u8]) = if replay.continuing {
            (None, &line)
        } else {
            replay.lines += 1;
            match time_of(&line, replay.spec.times) {
                Ok(Timed { time, send }) => (time, send),
                Err(BadTime(why)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "replay {}: line {}: {why}",
                            replay.spec.times.as_str(),
                            replay.lines
                        ),
                    ))
                }
            }
        };
        replay.continuing = !ended;
        let due = replay.clock.due(time);
        let started = *replay.started.get_or_insert_with(Instant::now);
        let wait = due.saturating_sub(started.elapsed());
        if !wait.is_zero() {
            // What is due before this line goes now, then the wait.
            self.pause();
            if !self.stop.sleep(wait) {
                return Ok(false);
            }
        }
        self.framer.push(send, &mut self.out);
        self.deliver();
        if let Some(replay) = self.replay.as_mut() {
            let mut line = line;
            line.clear();
            replay.line = line;
        }
        Ok(true)
    }

    /// The input ended: a last line without its end is replayed too.
    fn finish_replay(&mut self) -> io::Result<bool> {
        match &self.replay {
            Some(r) if !r.line.is_empty() => self.send_replayed_line(true),
            _ => Ok(true),
        }
    }

    /// The input paused: complete lines go out now instead of waiting to be packed.
    pub(crate) fn pause(&mut self) {
        self.framer.flush_lines(&mut self.out);
        self.deliver();
    }

    /// The linger expired or the input ended: everything held goes out.
    pub(crate) fn flush(&mut self) {
        self.framer.flush_all(&mut self.out);
        self.deliver();
    }

    fn deliver(&mut self) {
        if self.out.is_empty() {
            return;
        }
        if self.peer.is_some() {
            for e in &mut self.out.entries {
                e.from = self.peer;
            }
        }
        self.endpoint.counters.add_out(
            self.out.datagram_count() as u64,
            self.out.byte_count() as u64,
        );
        self.fanout.deliver(&self.out);
        self.pacer.pace(
            self.out.byte_count() as u64,
            self.out.datagram_count() as u64,
            &self.stop,
        );
        self.out.clear();
    }

    /// Reads `input` until it ends or the route stops, framing as it goes: complete lines
    /// go out when the input pauses, a partial line after the linger. What is held when it
    /// returns has been flushed.
    pub(crate) fn pump(&mut self, input: &mut dyn ByteInput, buf: &mut [u8]) -> io::Result<End> {
        // When what is held goes out if no more bytes come. Kept across wake-ups that bring
        // no data (a writable event, a poller that reports readiness again, as Wine's does):
        // the linger runs from the last bytes, not from the last wake-up.
        let mut linger_deadline: Option<Instant> = None;
        let result = loop {
            if self.stop.is_stopped() {
                break Ok(End::Stopped);
            }
            match input.read_now(buf) {
                Ok(Read::Data(n)) if self.replay.is_some() => match self.take_replayed(&buf[..n]) {
                    Ok(true) => {}
                    Ok(false) => break Ok(End::Stopped),
                    Err(e) => break Err(e),
                },
                Ok(Read::Data(n)) => {
                    self.take(&buf[..n]);
                    linger_deadline = None;
                }
                Ok(Read::End) => match self.finish_replay() {
                    Ok(true) => break Ok(End::Input),
                    Ok(false) => break Ok(End::Stopped),
                    Err(e) => break Err(e),
                },
                Ok(Read::Pending) => {
                    self.pause();
                    let now = Instant::now();
                    let left = self.linger_timeout().map(|linger| {
                        let deadline = *linger_deadline
                            .get_or_insert_with(|| now.checked_add(linger).unwrap_or(now));
                        deadline.saturating_duration_since(now)
                    });
                    if left == Some(Duration::ZERO) {
                        self.flush();
                        linger_deadline = None;
                        continue;
                    }
                    match input.wait(left) {
                        Wait::Stopped => break Ok(End::Stopped),
                        Wait::TimedOut => {
                            self.flush();
                            linger_deadline = None;
                        }
                        Wait::Ready => {}
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.flush();
        result
    }
}
