//! Route events as JavaScript receives them: one discriminated type (`kind` says which),
//! with string enums for levels, client actions and outcomes, so TypeScript switches on
//! them without casting.

use std::sync::Arc;

use mproxy_core::event::{ClientAction as CoreAction, Event, Level, Notice, Outcome, Reporter};
use napi::bindgen_prelude::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

/// How serious a log entry is.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// What happened to a client of a TCP listener.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    Joined,
    Left,
    /// Disconnected for falling too far behind (TCP outputs).
    Evicted,
    /// Turned away at a limit.
    Refused,
}

/// How a route's finite inputs ended: read to their end and sent, closed before the end,
/// or a read failed (the error was logged).
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    Complete,
    Stopped,
    Failed,
}

/// What a route reports to its owner, outside the data path.
#[napi(discriminant = "kind", discriminant_case = "lowercase")]
#[derive(Debug, PartialEq, Eq)]
pub enum RouteEvent {
    /// A state change or a survived fault, in words (options named as `{optionName}`).
    Log { level: LogLevel, message: String },
    /// Every finite input ended.
    Finished { outcome: InputOutcome },
    /// A kept TCP/TLS connection was made; `address`: what it connects to, as given.
    Connect {
        address: String,
        peer: Option<String>,
    },
    /// A kept connection was lost, or could not be made.
    Disconnect { address: String, reason: String },
    /// A client of a TCP listener (`listener`: its bound address) joined, left, was
    /// evicted or refused.
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

impl From<Event> for RouteEvent {
    fn from(event: Event) -> Self {
        match event {
            Event::Finished(outcome) => RouteEvent::Finished {
                outcome: match outcome {
                    Outcome::Complete => InputOutcome::Complete,
                    Outcome::Stopped => InputOutcome::Stopped,
                    Outcome::Failed => InputOutcome::Failed,
                },
            },
            Event::Log { level, message } => RouteEvent::Log {
                level: match level {
                    Level::Info => LogLevel::Info,
                    Level::Warn => LogLevel::Warn,
                    Level::Error => LogLevel::Error,
                },
                message,
            },
            Event::Notice(notice) => notice.into(),
        }
    }
}

impl From<Notice> for RouteEvent {
    fn from(notice: Notice) -> Self {
        match notice {
            Notice::Connect { address, peer } => RouteEvent::Connect { address, peer },
            Notice::Disconnect { address, reason } => RouteEvent::Disconnect { address, reason },
            Notice::Client {
                listener,
                peer,
                action,
                reason,
            } => RouteEvent::Client {
                listener,
                peer,
                action: match action {
                    CoreAction::Joined => ClientAction::Joined,
                    CoreAction::Left => ClientAction::Left,
                    CoreAction::Evicted => ClientAction::Evicted,
                    CoreAction::Refused => ClientAction::Refused,
                },
                reason,
            },
            Notice::Unreachable { address, reason } => RouteEvent::Unreachable { address, reason },
            Notice::Reachable { address } => RouteEvent::Reachable { address },
        }
    }
}

// The callback's type is spelled out wherever it is used: the type definitions napi generates
// are written from the signature's tokens, and a Rust type alias there would reach the .d.ts
// as a name nothing declares.
/// A reporter whose events go to `callback`, on the JavaScript thread, without blocking the
/// route's threads.
pub(crate) fn reporter_for(
    callback: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> Reporter {
    let callback = Arc::new(callback);
    Reporter::new(Arc::new(move |event: Event| {
        callback.call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_fields() {
        let event: RouteEvent = Event::Notice(Notice::Client {
            listener: "127.0.0.1:1".into(),
            peer: "127.0.0.1:2".into(),
            action: CoreAction::Evicted,
            reason: Some("slow".into()),
        })
        .into();
        assert_eq!(
            event,
            RouteEvent::Client {
                listener: "127.0.0.1:1".into(),
                peer: "127.0.0.1:2".into(),
                action: ClientAction::Evicted,
                reason: Some("slow".into()),
            }
        );
        assert_eq!(
            RouteEvent::from(Event::Finished(Outcome::Failed)),
            RouteEvent::Finished {
                outcome: InputOutcome::Failed
            }
        );
    }
}
