//! Where datagrams go. A sink is shared by every source thread of a route; `deliver` is
//! called once per batch and must not block on anything slower than the network (slow
//! consumers sit behind a bounded queue on a thread of their own).

pub(crate) mod connect_out;
pub(crate) mod keep_alive;
pub(crate) mod line_stages;
pub(crate) mod rate_cap;
pub(crate) mod rotate;
pub(crate) mod rules;
pub(crate) mod seal;
pub(crate) mod tap;
pub(crate) mod tcp_output;
#[cfg(test)]
pub(crate) mod test_sinks;
pub(crate) mod udp;
pub(crate) mod writer;

use std::sync::Arc;

use crate::batch::Batch;

pub trait Sink: Send + Sync {
    fn deliver(&self, batch: &Batch);
    /// Called once, after every source has stopped: deliver what is queued, then stop.
    fn finish(&self);
    /// Close and reopen output files (after logrotate moved them away); batches delivered
    /// after this call go to the reopened files. Sinks without files ignore it.
    fn reopen(&self) {}
}

/// The sinks of a route; every batch goes to each of them.
#[derive(Clone, Default)]
pub struct Fanout {
    sinks: Arc<Vec<Arc<dyn Sink>>>,
}

impl Fanout {
    pub fn new(sinks: Vec<Arc<dyn Sink>>) -> Self {
        Fanout {
            sinks: Arc::new(sinks),
        }
    }

    pub fn deliver(&self, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        for sink in self.sinks.iter() {
            sink.deliver(batch);
        }
    }

    pub fn reopen(&self) {
        for sink in self.sinks.iter() {
            sink.reopen();
        }
    }

    pub fn finish(&self) {
        for sink in self.sinks.iter() {
            sink.finish();
        }
    }
}
