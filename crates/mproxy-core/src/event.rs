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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log {
        level: Level,
        message: String,
    },
    /// Every finite source (file, stdin) reached its end and was delivered to the sinks.
    Finished,
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

    pub fn finished(&self) {
        (self.callback)(Event::Finished);
    }
}
