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

/// What happened to a TCP client of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    Joined,
    Left,
    /// Disconnected for falling too far behind (TCP outputs).
    Evicted,
    /// Turned away at a limit.
    Refused,
}

impl ClientAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAction::Joined => "joined",
            ClientAction::Left => "left",
            ClientAction::Evicted => "evicted",
            ClientAction::Refused => "refused",
        }
    }
}

/// A state change as data, for programs that act on it (the log line says the same in
/// words). One per change: every connection made or lost, every client joining or leaving,
/// every destination turning unreachable or reachable again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A kept TCP/TLS connection was made (`address`: what it connects to, as given).
    Connect {
        address: String,
        peer: Option<String>,
    },
    /// A kept connection was lost, or could not be made.
    Disconnect { address: String, reason: String },
    /// A client of a TCP listener (`listener`: its bound address).
    Client {
        listener: String,
        peer: String,
        action: ClientAction,
        reason: Option<String>,
    },
    /// Datagrams to a destination are being refused.
    Unreachable { address: String, reason: String },
    /// A destination takes datagrams again.
    Reachable { address: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log {
        level: Level,
        message: String,
    },
    /// Every finite source ended; the outcome is the worst of theirs.
    Finished(Outcome),
    Notice(Notice),
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

    pub fn notice(&self, notice: Notice) {
        (self.callback)(Event::Notice(notice));
    }

    pub fn finished(&self, outcome: Outcome) {
        (self.callback)(Event::Finished(outcome));
    }
}
