//! Sealing in front of a sink: every batch is sealed under the bus key (see
//! [`crate::bus_key`]) once, then handed to the sink it wraps (the UDP destinations), so
//! every destination receives the same sealed datagrams and the engine keeps its shape.
//! Each delivering thread takes a scratch batch from a small pool: no allocation per batch
//! once the pool has warmed up.

use std::sync::{Arc, Mutex};

use super::Sink;
use crate::batch::Batch;
use crate::bus_key::{Keyring, Sealer};
use crate::error::Result;
use crate::event::Reporter;

pub(crate) struct SealingSink<S: Sink> {
    inner: S,
    sealer: Sealer,
    spare: Mutex<Vec<Batch>>,
    reporter: Reporter,
    /// Whether a failure to get randomness was reported.
    no_randomness: std::sync::atomic::AtomicBool,
}

impl<S: Sink> SealingSink<S> {
    pub(crate) fn new(inner: S, keys: Arc<Keyring>, reporter: Reporter) -> Result<Self> {
        Ok(SealingSink {
            inner,
            sealer: Sealer::new(keys)?,
            spare: Mutex::new(Vec::new()),
            reporter,
            no_randomness: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

impl<S: Sink> Sink for SealingSink<S> {
    fn deliver(&self, batch: &Batch) {
        let taken = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut sealed = taken.unwrap_or_default();
        if self.sealer.seal_batch(batch, &mut sealed) {
            self.inner.deliver(&sealed);
        } else if !self
            .no_randomness
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            // Said once: a system without randomness does not get it back batch by batch.
            self.reporter.error(
                "the system gave no randomness for the bus key: batches are not sent until it does",
            );
        }
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(sealed);
        }
    }

    fn finish(&self) {
        self.inner.finish();
    }

    fn reopen(&self) {
        self.inner.reopen();
    }
}
