//! mproxy's data plane, free of any JavaScript binding.
//!
//! Every program is a [`Route`]: sources (UDP listeners, byte streams read through a
//! [`Framer`]) feed batches of datagrams into a fan-out of sinks (UDP destinations,
//! file writers). A batch is what one `recvmmsg` returned or what one read of a stream framed,
//! so per-datagram work stays inside tight loops and syscalls are paid per batch.
//!
//! The front door is this file: what the binding, the load generator and the integration
//! tests use is re-exported here, and every module behind it is private to the crate
//! (`unreachable_pub` warns of a `pub` that no one outside can reach). The exceptions are
//! [`error`], [`event`] and [`stats`]: the types that cross to JavaScript, public as modules.
//!
//! Module map:
//! - [`error`]: one error type whose kinds map to stable codes for JavaScript.
//! - [`stats`]: lock-free counters per endpoint, cheap snapshots.
//! - `sys`: the OS layer. Every `unsafe` block and every OS-specific `cfg` of the crate is
//!   there (batched UDP, the error queue, socket options, files, terminals); everything else
//!   is the same on every OS.
//! - `stop` / `poller`: a route's stop signal, and waiting for readiness (mio) together
//!   with it, so stopping never waits on a timer.
//! - `interface` / `udp_socket`: interface lookup, UDP socket creation, multicast setup.
//! - `batch`: the unit of work; `cidr`: IP networks, for allow lists and rules alike.
//! - `framing`: stream bytes to datagrams; `pacing`: spreading a fast input over time;
//!   `replay`: the recorded time of a log line, and when it is due in a replay.
//! - `nmea`: NMEA 0183 sentences and TAG blocks, for the sensor-feed stages; `feed`: those
//!   input stages (checksum, tag add, dedup, throttle), in front of a route's fan-out.
//! - `source` / `sink` / `route`: the engine; `output`: one description of every output
//!   (where it goes, and its stages and rules), built one way.
//! - `bus_key`: authenticated encryption of the datagrams mproxies send each other;
//!   `wire`: the form a UDP listener accepts (sealed with the key, or plain from sensors).
//! - `tcp`: accepting TCP clients under a listener's rules (allow list, per-address cap,
//!   client limit); `tls`: TLS on listeners (server) and on connections (client).

// Every `unsafe` block is in `sys` (allowed there alone) and says why it is sound.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(unreachable_pub)]

mod batch;
mod bus_key;
mod cidr;
pub mod error;
pub mod event;
mod feed;
mod framing;
mod interface;
mod nmea;
mod output;
mod pacing;
mod poller;
mod replay;
mod route;
mod sink;
mod source;
pub mod stats;
mod stop;
#[allow(unsafe_code)]
mod sys;
mod tcp;
mod tls;
mod udp_socket;
mod wire;

pub use crate::error::{Error, ErrorKind, Result};

// Routes and what they are made of.
pub use crate::output::{OutputShaping, OutputSpec, OutputTarget};
pub use crate::route::{Route, RouteSpec};
pub use crate::stop::StopToken;
// Inputs.
pub use crate::framing::{Framer, Framing};
pub use crate::replay::TimeSource;
pub use crate::source::framed::{FramingSpec, ReplaySpec};
pub use crate::source::inject::{Injector, Offer};
pub use crate::source::stream::{StreamSpec, DEFAULT_LINGER};
pub use crate::source::tcp_connect::TcpConnectSpec;
pub use crate::source::tcp_listen::TcpListenSpec;
pub use crate::udp_socket::{with_scope, DestinationSpec, ListenSpec, DEFAULT_SOCKET_BUFFER};
pub use crate::wire::Wire;
// Outputs and what goes between.
pub use crate::batch::{Batch, Entry};
pub use crate::cidr::Cidr;
pub use crate::feed::{
    ChecksumMode, DedupSpec, InputStagesSpec, TagSpec, TagTime, ThrottleKeep, ThrottleKey,
    ThrottleSpec,
};
pub use crate::sink::connect_out::TcpConnectOutputSpec;
pub use crate::sink::keep_alive::{line_bytes, KeepAliveSpec, MAX_LINE_BYTES};
pub use crate::sink::rate_cap::{RateCap, DEFAULT_RATE_BURST, DEFAULT_RATE_QUEUE_BYTES};
pub use crate::sink::rotate::{parse_rotated, stamp as rotation_stamp};
pub use crate::sink::rules::{compile_pattern, Balance, RuleSpec};
pub use crate::sink::tap::{Take, Tap, TapChunk, Taps};
pub use crate::sink::tcp_output::{TcpOutputSpec, DEFAULT_CLIENT_QUEUE_BYTES, DEFAULT_MAX_CLIENTS};
pub use crate::sink::writer::{
    Clock, Keep, Overflow, Rotate, WriterSink, WriterSpec, DEFAULT_QUEUE_BYTES,
};
pub use crate::sink::Sink;
// Listeners' rules, TLS and the bus key.
pub use crate::bus_key::{
    open_batch as open_bus_batch, read_key_file, Keyring, ReplayGuard, Sealer,
    KEY_LEN as BUS_KEY_LEN,
};
pub use crate::interface::resolve as resolve_interface;
pub use crate::tcp::access::AccessSpec;
pub use crate::tls::{TlsServerSpec, TlsSpec};

/// What the programs use of the OS layer beside routes: the service manager's notifications,
/// serial line speeds, and (for the load generator) socket buffers and the kernel's drops.
pub mod os {
    pub use crate::sys::{
        baud_supported, grow_recv_buffer, grow_send_buffer, monotonic_usec, notify_service_manager,
        terminal_speed, udp_drop_totals,
    };
}

/// What the hot-path benchmarks (`crates/mproxy-bench`, instruction counts under Callgrind)
/// drive directly, below a route: a rule set and a fan-out over sinks of the caller's, and
/// the relay's route. Not an API: hidden, and free to change with the engine (the bench
/// carries a copy of this module for revisions that predate it: `baseline_support.rs`).
#[doc(hidden)]
pub mod bench_support {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use crate::batch::Batch;
    use crate::error::Result;
    use crate::event::Reporter;
    use crate::output::OutputSpec;
    use crate::route::RouteSpec;
    use crate::sink::rules::{RuleSpec, RuledSink};
    use crate::sink::{Fanout, Sink};
    use crate::stats::Registry;
    use crate::udp_socket::{DestinationSpec, ListenSpec, DEFAULT_SOCKET_BUFFER};
    use crate::wire::Wire;

    /// `rules` in front of `target`, as a route puts them in front of one output.
    pub fn ruled(rules: &RuleSpec, target: Arc<dyn Sink>) -> Result<Arc<dyn Sink>> {
        let registry = Registry::default();
        let ruled = RuledSink::new(
            rules,
            None,
            "bench",
            vec![target],
            Vec::new(),
            &registry,
            Reporter::silent(),
        )?;
        Ok(Arc::new(ruled))
    }

    /// Delivers `batch` to every one of `sinks`, as a route's sources do.
    pub fn fan_out(sinks: Vec<Arc<dyn Sink>>, batch: &Batch) {
        Fanout::new(sinks).deliver(batch);
    }

    /// A relay: a UDP listener on `listen` to the UDP destination `to`, nothing between.
    pub fn relay_spec(listen: SocketAddr, to: SocketAddr) -> RouteSpec {
        RouteSpec {
            udp_listeners: vec![ListenSpec {
                addr: listen,
                interface: None,
                recv_buffer: DEFAULT_SOCKET_BUFFER,
                wire: Wire::Sealed,
            }],
            outputs: vec![OutputSpec::udp(vec![DestinationSpec {
                addr: to,
                interface: None,
                ttl: 1,
                multicast_loop: false,
            }])],
            ..Default::default()
        }
    }
}
