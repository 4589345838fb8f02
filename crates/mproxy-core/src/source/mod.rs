//! Where datagrams come from. Each source owns one thread that waits on its descriptor and
//! the route's stop signal, turns what it reads into batches and hands them to the fan-out.

pub(crate) mod file_input;
pub(crate) mod follow;
pub(crate) mod framed;
pub(crate) mod inject;
pub(crate) mod stream;
pub(crate) mod tcp_connect;
pub(crate) mod tcp_listen;
pub(crate) mod udp;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::event::{Outcome, Reporter};

/// Counts the finite sources (files, stdin) still running; the last one to end tells the
/// owner that the route's input is complete.
#[derive(Clone)]
pub(crate) struct FiniteSources {
    remaining: Arc<AtomicUsize>,
    worst: Arc<Mutex<Outcome>>,
    reporter: Reporter,
}

impl FiniteSources {
    pub(crate) fn new(count: usize, reporter: Reporter) -> Self {
        FiniteSources {
            remaining: Arc::new(AtomicUsize::new(count)),
            worst: Arc::new(Mutex::new(Outcome::Complete)),
            reporter,
        }
    }

    pub(crate) fn one_ended(&self, outcome: Outcome) {
        let worst = match self.worst.lock() {
            Ok(mut w) => {
                *w = (*w).max(outcome);
                *w
            }
            Err(_) => Outcome::Failed,
        };
        if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.reporter.finished(worst);
        }
    }
}
