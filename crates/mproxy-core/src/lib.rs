//! mproxy's data plane, free of any JavaScript binding.
//!
//! Every program is a [`route::Route`]: sources (UDP listeners, byte streams read through a
//! [`framing::Framer`]) feed batches of datagrams into a fan-out of sinks (UDP destinations,
//! file writers). A batch is what one `recvmmsg` returned or what one read of a stream framed,
//! so per-datagram work stays inside tight loops and syscalls are paid per batch.
//!
//! Module map:
//! - [`error`]: one error type whose kinds map to stable codes for JavaScript.
//! - [`stats`]: lock-free counters per endpoint, cheap snapshots.
//! - [`waker`]: a stop signal a blocked thread can poll on, so stopping never waits on a timer.
//! - [`interface`] / [`socket`]: interface lookup, socket creation, multicast setup.
//! - [`batch`] / [`io`]: the unit of work and batched receive/send per OS.
//! - [`framing`]: stream bytes to datagrams; [`pacing`]: spreading a fast input over time.
//! - [`source`] / [`sink`] / [`route`]: the engine.

pub mod batch;
pub mod error;
pub mod event;
pub mod framing;
pub mod interface;
pub mod io;
#[cfg(unix)]
pub mod notify;
pub mod pacing;
pub mod route;
pub mod sink;
pub mod socket;
pub mod source;
pub mod stats;
#[cfg(unix)]
pub mod tcp_accept;
pub mod tls;
pub mod waker;

pub use error::{Error, ErrorKind, Result};
