//! Helpers shared by the integration tests (each test file is its own crate and includes
//! this module with `mod common;`): temporary files that go when the test does, the events
//! a route reports, waiting for a condition, and UDP ends to send to and read from.
//!
//! Waits are on conditions; their time limits are hang limits that a busy machine does not
//! reach, never timings.
#![allow(dead_code)] // each test file uses some of these

use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use mproxy_core::event::{Event, Level, Outcome, Reporter};
use mproxy_core::stats::CounterSnapshot;
use mproxy_core::{DestinationSpec, Framing, FramingSpec, Route};

/// How long a wait may take before the test fails as hung.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);

/// A directory of its own per test, removed when the test ends (also when it fails: the
/// panic drops it).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("mproxy-core-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A path inside the directory as the text a spec takes.
    pub fn text(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until `done` holds, failing the test after [`HANG_LIMIT`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a route reported, gathered as it comes.
pub struct Events(mpsc::Receiver<Event>, Vec<Event>);

/// A reporter whose events the test reads through the [`Events`] returned with it.
pub fn reporter() -> (Reporter, Events) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let reporter = Reporter::new(Arc::new(move |e| {
        let _ = tx.lock().unwrap().send(e);
    }));
    (reporter, Events(rx, Vec::new()))
}

impl Events {
    fn pull(&mut self) {
        self.1.extend(self.0.try_iter());
    }

    /// Every log line so far, with its level.
    pub fn logs(&mut self) -> Vec<(Level, String)> {
        self.pull();
        self.1
            .iter()
            .filter_map(|e| match e {
                Event::Log { level, message } => Some((*level, message.clone())),
                _ => None,
            })
            .collect()
    }

    /// How the route's finite inputs ended, so far.
    pub fn finished(&mut self) -> Vec<Outcome> {
        self.pull();
        self.1
            .iter()
            .filter_map(|e| match e {
                Event::Finished(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    /// Waits for the log line `text`.
    pub fn wait_for_log(&mut self, text: &str) {
        wait_until(text, || self.logs().iter().any(|(_, m)| m == text));
    }

    /// Waits for the first log line starting with `prefix` and returns it.
    pub fn wait_for_log_starting(&mut self, prefix: &str) -> String {
        let mut found = None;
        wait_until(prefix, || {
            found = self
                .logs()
                .into_iter()
                .map(|(_, m)| m)
                .find(|m| m.starts_with(prefix));
            found.is_some()
        });
        found.unwrap_or_default()
    }

    /// Waits until the route's finite inputs all ended, and says how.
    pub fn wait_finished(&mut self) -> Outcome {
        let mut outcome = None;
        wait_until("the route to finish", || {
            outcome = self.finished().first().copied();
            outcome.is_some()
        });
        outcome.unwrap_or(Outcome::Complete)
    }
}

/// The counters of the route's first endpoint of `kind` (`"file"`, `"tcp-listener"`, ...).
pub fn counters(route: &Route, kind: &str) -> CounterSnapshot {
    route
        .stats()
        .into_iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} endpoint"))
        .counters
}

/// Packed framing (length-prefixed datagrams) of at most `max_datagram` bytes.
pub fn packed(max_datagram: usize) -> FramingSpec {
    FramingSpec {
        framing: Framing::Packed,
        max_datagram,
        linger: Duration::from_millis(20),
        rate: 0,
        datagram_rate: 0,
        replay: None,
    }
}

/// A UDP socket on loopback to receive a route's output; a read waits at most the hang limit.
pub fn udp_sink() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(HANG_LIMIT)).unwrap();
    s
}

/// A route's UDP destination: `sink`.
pub fn destination(sink: &UdpSocket) -> DestinationSpec {
    DestinationSpec {
        addr: sink.local_addr().unwrap(),
        interface: None,
        ttl: 1,
        multicast_loop: true,
    }
}

/// Datagrams from `sink` until they hold `bytes` bytes in all, each as it came.
pub fn receive_datagrams(sink: &UdpSocket, bytes: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut total = 0;
    let mut buf = vec![0u8; 65536];
    while total < bytes {
        let n = sink
            .recv(&mut buf)
            .expect("a datagram within the hang limit");
        total += n;
        got.push(buf[..n].to_vec());
    }
    got
}

/// The bytes of datagrams from `sink` until there are `bytes` of them, end to end.
pub fn receive_bytes(sink: &UdpSocket, bytes: usize) -> Vec<u8> {
    receive_datagrams(sink, bytes).concat()
}
