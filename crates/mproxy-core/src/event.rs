//! What a route tells its owner, outside the data path: state changes and faults it
//! survived. Events are rare by construction (a state change is reported once, not once per
//! datagram), so the binding can forward each one to JavaScript.

use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// How the finite sources (files, stdin, devices) of a route ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Read to the end and delivered.
    Complete,
    /// Stopped before the end.
    Stopped,
    /// A read (or a late open) failed; the error was reported.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Stopped => "stopped",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log {
        level: Level,
        message: String,
    },
    /// Every finite source ended; the outcome is the worst of theirs.
    Finished(Outcome),
}

pub type EventFn = Arc<dyn Fn(Event) + Send + Sync>;

/// A cheap handle the threads of one route use to report.
#[derive(Clone)]
pub struct Reporter {
    callback: EventFn,
}

impl Reporter {
    pub fn new(callback: EventFn) -> Self {
        Reporter { callback }
    }

    pub fn silent() -> Self {
        Reporter {
            callback: Arc::new(|_| {}),
        }
    }

    pub fn info(&self, message: impl Into<String>) {
        (self.callback)(Event::Log {
            level: Level::Info,
            message: message.into(),
        });
    }

    pub fn warn(&self, message: impl Into<String>) {
        (self.callback)(Event::Log {
            level: Level::Warn,
            message: message.into(),
        });
    }

    pub fn error(&self, message: impl Into<String>) {
        (self.callback)(Event::Log {
            level: Level::Error,
            message: message.into(),
        });
    }

    pub fn finished(&self, outcome: Outcome) {
        (self.callback)(Event::Finished(outcome));
    }
}
