//! Keep-alives and preambles: the lines an output sends that are not the stream.
//!
//! Aggregators mark a feed offline, or drop its connection, when it is quiet for a while
//! (AIS-catcher #225, #647), and some want a station key or a login at the start of every
//! connection (AIS-catcher #635, kplex #11). A keep-alive is a line sent after an output sent
//! nothing for `after`; a preamble is a line sent at every (re)connect before any data.
//!
//! Both are UTF-8 text from the user; a line ending (`\r\n`, NMEA's) is added when the text
//! does not end with `\n`, so a line is always a whole line. Stream outputs (TCP clients,
//! kept connections, connect-out outputs) time their keep-alives in their own poll loops;
//! datagram outputs (UDP) get [`KeepAliveSink`], a thread of its own that sleeps on the
//! route's stop signal (no busy waiting) and hands the line to the output as one datagram,
//! through the same sealing as the stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Sink;
use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::stats::{Counters, Endpoint};
use crate::stop::StopToken;

/// The longest preamble or keep-alive line, its line ending included (the schema says so
/// first; this is the last line of defence).
pub const MAX_LINE_BYTES: usize = 1024;

/// A line as sent: the text with a line ending (`\r\n` unless it ends with `\n` already).
pub fn line_bytes(text: &str) -> Result<Vec<u8>> {
    let mut line = text.as_bytes().to_vec();
    if !line.ends_with(b"\n") {
        line.extend_from_slice(b"\r\n");
    }
    if line.len() > MAX_LINE_BYTES || text.is_empty() {
        return Err(Error::invalid(format!(
            "a keep-alive or preamble line must have 1 to {} bytes with its line ending, not {}",
            MAX_LINE_BYTES,
            line.len()
        )));
    }
    Ok(line)
}

/// A line sent after an output was quiet (sent nothing) for `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAliveSpec {
    /// With its line ending (see [`line_bytes`]).
    pub line: Vec<u8>,
    pub after: Duration,
}

impl KeepAliveSpec {
    pub fn new(text: &str, after: Duration) -> Result<Self> {
        if after.is_zero() {
            return Err(Error::invalid(
                "a keep-alive's quiet time must be more than 0 s",
            ));
        }
        Ok(KeepAliveSpec {
            line: line_bytes(text)?,
            after,
        })
    }
}

/// When an output last sent something, readable and settable from any thread.
struct Quiet {
    started: Instant,
    /// Milliseconds since `started` of the last send.
    last_ms: AtomicU64,
}

impl Quiet {
    fn touch(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A datagram output that sends `spec.line` as a datagram of its own after it was handed
/// nothing for `spec.after`. Counted in `keepAlives` of each of the output's endpoints.
pub(crate) struct KeepAliveSink {
    inner: Arc<dyn Sink>,
    quiet: Arc<Quiet>,
    stop: StopToken,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl KeepAliveSink {
    /// `endpoints`: the inner sink's own (its destinations), where keep-alives are counted.
    pub(crate) fn new(
        inner: Arc<dyn Sink>,
        spec: &KeepAliveSpec,
        endpoints: Vec<Arc<Endpoint>>,
        stop: StopToken,
    ) -> Result<Self> {
        let quiet = Arc::new(Quiet {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        });
        let thread = {
            let (inner, quiet, stop, spec) =
                (inner.clone(), quiet.clone(), stop.clone(), spec.clone());
            let name = endpoints
                .first()
                .map_or_else(String::new, |e| e.name.clone());
            std::thread::Builder::new()
                .name(format!("mproxy-keepalive {name}"))
                .spawn(move || {
                    let mut batch = Batch::with_capacity(spec.line.len(), 1);
                    batch.push(&spec.line);
                    loop {
                        let due = quiet.last() + spec.after;
                        let now = Instant::now();
                        if now < due {
                            if !stop.sleep(due - now) {
                                break;
                            }
                            continue;
                        }
                        quiet.touch();
                        inner.deliver(&batch);
                        for e in &endpoints {
                            Counters::add(&e.counters.keep_alives, 1);
                        }
                    }
                })
                .map_err(|e| Error::os("cannot start a keep-alive thread", &e))?
        };
        Ok(KeepAliveSink {
            inner,
            quiet,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl Sink for KeepAliveSink {
    fn deliver(&self, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        self.quiet.touch();
        self.inner.deliver(batch);
    }

    /// After the route's stop (which ends the timer): no keep-alive follows the last batch.
    fn finish(&self) {
        self.stop.stop();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.inner.finish();
    }

    fn reopen(&self) {
        self.inner.reopen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gets_its_ending_once_and_is_bounded() {
        assert_eq!(line_bytes("$PING").unwrap(), b"$PING\r\n");
        assert_eq!(line_bytes("key\n").unwrap(), b"key\n");
        assert_eq!(line_bytes("key\r\n").unwrap(), b"key\r\n");
        assert!(line_bytes("").is_err());
        assert!(line_bytes(&"x".repeat(MAX_LINE_BYTES - 2)).is_ok());
        assert!(line_bytes(&"x".repeat(MAX_LINE_BYTES - 1)).is_err());
        assert!(KeepAliveSpec::new("x", Duration::ZERO).is_err());
    }

    /// Records every datagram it is handed.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<u8>>>);
    impl Sink for Recorder {
        fn deliver(&self, batch: &Batch) {
            let mut seen = self.0.lock().unwrap();
            seen.extend(batch.datagrams().map(<[u8]>::to_vec));
        }
        fn finish(&self) {}
    }

    #[test]
    fn a_quiet_output_gets_the_line_and_the_timer_ends_with_the_stop() {
        let recorder = Arc::new(Recorder::default());
        let endpoint = Endpoint::new("udp-destination", "x");
        let stop = StopToken::new();
        let spec = KeepAliveSpec::new("$PING", Duration::from_millis(20)).unwrap();
        let sink = KeepAliveSink::new(
            recorder.clone(),
            &spec,
            vec![endpoint.clone()],
            stop.clone(),
        )
        .unwrap();
        let mut batch = Batch::with_capacity(16, 1);
        batch.push(b"data\n");
        sink.deliver(&batch);
        while endpoint.counters.keep_alives.load(Ordering::Relaxed) < 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.stop();
        sink.finish();
        let seen = recorder.0.lock().unwrap().clone();
        let kept = endpoint.counters.keep_alives.load(Ordering::Relaxed) as usize;
        assert_eq!(seen[0], b"data\n");
        assert_eq!(seen.len(), 1 + kept);
        assert!(seen[1..].iter().all(|d| d == b"$PING\r\n"));
    }
}
