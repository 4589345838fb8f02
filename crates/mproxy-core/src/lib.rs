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
//! - [`sys`]: the OS layer. Every `unsafe` block and every OS-specific `cfg` of the crate is
//!   there (batched UDP, the error queue, socket options, files, terminals); everything else
//!   is the same on every OS.
//! - [`stop`] / [`poller`]: a route's stop signal, and waiting for readiness (mio) together
//!   with it, so stopping never waits on a timer.
//! - [`interface`] / [`udp_socket`]: interface lookup, UDP socket creation, multicast setup.
//! - [`batch`]: the unit of work; [`cidr`]: IP networks, for allow lists and rules alike.
//! - [`framing`]: stream bytes to datagrams; [`pacing`]: spreading a fast input over time.
//! - [`source`] / [`sink`] / [`route`]: the engine.
//! - [`bus_key`]: authenticated encryption of the datagrams mproxies send each other.
//! - [`tcp`]: accepting TCP clients under a listener's rules (allow list, per-address cap,
//!   client limit); [`tls`]: TLS on listeners (server) and on connections (client).

// Every `unsafe` block is in `sys` (allowed there alone) and says why it is sound.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod batch;
pub mod bus_key;
pub mod cidr;
pub mod error;
pub mod event;
pub mod framing;
pub mod interface;
pub mod pacing;
pub mod poller;
pub mod route;
pub mod sink;
pub mod source;
pub mod stats;
pub mod stop;
#[allow(unsafe_code)]
pub mod sys;
pub mod tcp;
pub mod tls;
pub mod udp_socket;

pub use error::{Error, ErrorKind, Result};
