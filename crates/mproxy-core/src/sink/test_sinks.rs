//! Sinks for the engine's unit tests, in one place: one that keeps what it is given, one
//! that only looks at it (for the cost printouts).

use std::net::SocketAddr;
use std::sync::Mutex;

use super::Sink;
use crate::batch::Batch;

/// Keeps every entry it is given, with who sent it.
#[derive(Default)]
pub(crate) struct Keep {
    got: Mutex<Vec<(Vec<u8>, Option<SocketAddr>)>>,
}

impl Sink for Keep {
    fn deliver(&self, batch: &Batch) {
        let mut got = self.got.lock().unwrap_or_else(|e| e.into_inner());
        for e in &batch.entries {
            got.push((batch.entry_bytes(e).to_vec(), e.from));
        }
    }
    fn finish(&self) {}
}

impl Keep {
    /// The entries as text, in the order given.
    pub(crate) fn texts(&self) -> Vec<String> {
        let got = self.got.lock().unwrap_or_else(|e| e.into_inner());
        got.iter()
            .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    /// Who sent each entry, in the order given.
    pub(crate) fn senders(&self) -> Vec<Option<SocketAddr>> {
        let got = self.got.lock().unwrap_or_else(|e| e.into_inner());
        got.iter().map(|(_, from)| *from).collect()
    }
}

/// Looks at each batch and keeps nothing.
pub(crate) struct Discard;

impl Sink for Discard {
    fn deliver(&self, batch: &Batch) {
        std::hint::black_box(batch.entries.len());
    }
    fn finish(&self) {}
}
