//! The read-frame-deliver loop shared by every byte-stream source (files, stdin, devices,
//! TCP and TLS connections): read what is there, send complete datagrams, send complete
//! lines when input pauses, send a partial line after the linger.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::batch::Batch;
use crate::framing::{Framer, Framing};
use crate::pacing::Pacer;
use crate::sink::Fanout;
use crate::stats::Endpoint;
use crate::waker::Waker;

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Data(usize),
    /// The input ended (EOF, peer closed).
    End,
    /// Nothing arrived within the timeout.
    TimedOut,
    /// The route is stopping.
    Stopped,
}

/// A byte stream that can wait for input together with the route's stop signal.
pub trait ByteInput {
    /// Reads into `buf`, waiting at most `timeout` (`None`: until data, end or stop).
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Read>;
    /// Whether more input is ready now (so complete lines can wait to be packed).
    fn more_now(&mut self) -> bool;
}

#[derive(Debug, Clone, Copy)]
pub struct FramingSpec {
    pub framing: Framing,
    pub max_datagram: usize,
    pub linger: Duration,
    /// Bytes per second; 0 = unpaced.
    pub rate: u64,
}

pub const READ_SIZE: usize = 128 * 1024;

pub struct Framed {
    framer: Framer,
    out: Batch,
    pacer: Pacer,
    linger: Duration,
    fanout: Fanout,
    endpoint: Arc<Endpoint>,
    waker: Waker,
}

impl Framed {
    pub fn new(spec: &FramingSpec, fanout: Fanout, endpoint: Arc<Endpoint>, waker: Waker) -> Self {
        Framed {
            framer: Framer::new(spec.framing, spec.max_datagram),
            out: Batch::with_capacity(READ_SIZE + spec.max_datagram, 128),
            pacer: Pacer::new(spec.rate),
            linger: spec.linger,
            fanout,
            endpoint,
            waker,
        }
    }

    /// How long the next read may wait before the partial line must go out.
    pub fn linger_timeout(&self) -> Option<Duration> {
        (self.framer.pending_len() > 0).then_some(self.linger)
    }

    /// Frames freshly read bytes; `paused` says no more input is ready right now.
    pub fn take(&mut self, bytes: &[u8], paused: bool) {
        self.endpoint.counters.add_in(0, bytes.len() as u64);
        self.framer.push(bytes, &mut self.out);
        if paused {
            self.framer.flush_lines(&mut self.out);
        }
        self.deliver();
    }

    /// The linger expired or the input ended: everything held goes out.
    pub fn flush(&mut self) {
        self.framer.flush_all(&mut self.out);
        self.deliver();
    }

    fn deliver(&mut self) {
        if self.out.is_empty() {
            return;
        }
        self.endpoint.counters.add_out(
            self.out.datagram_count() as u64,
            self.out.byte_count() as u64,
        );
        self.fanout.deliver(&self.out);
        self.pacer.pace(self.out.byte_count() as u64, &self.waker);
        self.out.clear();
    }

    /// Reads `input` until it ends or the route stops, framing as it goes. What is held when
    /// it returns has been flushed.
    pub fn pump(&mut self, input: &mut dyn ByteInput, buf: &mut [u8]) -> io::Result<Read> {
        let result = loop {
            match input.read(buf, self.linger_timeout()) {
                Ok(Read::Data(n)) => {
                    let paused = !input.more_now();
                    self.take(&buf[..n], paused);
                }
                Ok(Read::TimedOut) => self.flush(),
                Ok(end) => break Ok(end),
                Err(e) => break Err(e),
            }
        };
        self.flush();
        result
    }
}
