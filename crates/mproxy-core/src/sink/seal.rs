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

pub struct SealingSink<S: Sink> {
    inner: S,
    sealer: Sealer,
    spare: Mutex<Vec<Batch>>,
    reporter: Reporter,
}

impl<S: Sink> SealingSink<S> {
    pub fn new(inner: S, keys: Arc<Keyring>, reporter: Reporter) -> Result<Self> {
        Ok(SealingSink {
            inner,
            sealer: Sealer::new(keys)?,
            spare: Mutex::new(Vec::new()),
            reporter,
        })
    }
}

impl<S: Sink> Sink for SealingSink<S> {
    fn deliver(&self, batch: &Batch) {
        let taken = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut sealed = taken.unwrap_or_default();
        if self.sealer.seal_batch(batch, &mut sealed) {
            self.inner.deliver(&sealed);
        } else {
            self.reporter
                .error("the system gave no randomness for the bus key: a batch was not sent");
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
