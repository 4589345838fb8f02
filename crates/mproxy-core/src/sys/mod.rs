//! The OS layer: every `unsafe` block and every operating-system `cfg` of the core is in
//! this module, behind one small surface that is the same on every OS.
//!
//! Laid out as mio's `src/sys/mod.rs` and quinn-udp's `imp` are: the portable part is written
//! here once, and each OS module provides the rest under the same names, re-exported with
//! one glob per module, so no list of names is kept twice and no function body above the OS
//! modules branches on `cfg`. What every target must provide (a missing item fails that
//! target's build, which `npm run check:platforms` compiles):
//!
//! - Batched UDP (`linux` on Linux, `udp_single` elsewhere): `Receiver` (one batch per call;
//!   `recvmmsg` on Linux), `SendState` (per-socket send state; `sendmmsg` with GSO on Linux),
//!   `drain_errors` (ICMP errors from the socket's error queue), `gso_supported`,
//!   `HAS_DROP_COUNTER`; and in `send_errors` (its file chosen per OS) `is_reported_icmp`,
//!   `is_message_too_long`, `HAS_ERROR_QUEUE`.
//! - Socket options beyond the portable set (same modules): `grow_recv_buffer`,
//!   `grow_send_buffer`, `enable_drop_counter`, `enable_error_queue`,
//!   `deliver_joined_groups_only`, `udp_drop_totals`, `default_ipv6_multicast_device`; no-ops
//!   (reported as not granted, or unknown) where the OS has no such thing.
//! - Everything else (`unix` or `windows`): files, stdio, terminals and devices (`open_input`,
//!   `open_output`, `stdin`, `stdout`, `readable_now`, `wait_writable`, `is_nonblocking`,
//!   `PIPE_ATOMIC_WRITE`, `register_readable`, `deregister`, `RawTerminal`, `baud_supported`,
//!   `terminal_speed`, `is_char_device`, `file_identity`, `is_hangup`, `is_absent`,
//!   `not_a_regular_file`, `shared_file_problem`), sockets (`share_port`,
//!   `rebind_after_restart`, `ignore_udp_resets`, `interface_index`, `is_no_such_device`,
//!   `tcp_keepalive`, `group_bind_addr`, `ipv4_membership_interface`) and the service manager (`notify_service_manager`,
//!   `monotonic_usec`).
//!
//! Nothing here imports the engine: the only module of the crate used below this line is
//! [`crate::batch`], the buffer type that receive fills and send reads, which itself imports
//! nothing. Nor does anything below import this file back: the OS modules take the portable
//! part from `udp_common` and `send_errors` directly, so the modules form no cycle
//! (`scripts/check-core-modules.mjs`, run by `npm run lint`, keeps all three so).
//! Readiness and wake-ups are mio's (epoll, kqueue, IOCP) and sockets are socket2's: both
//! portable already, used directly above this layer.

/// What a failed send means on this OS: one module name, its file chosen per OS (as
/// quinn-udp chooses its `imp`), a leaf that both the portable send path and Linux's
/// batched one read.
#[cfg_attr(target_os = "linux", path = "linux/send_errors.rs")]
#[cfg_attr(not(target_os = "linux"), path = "udp_single/send_errors.rs")]
mod send_errors;
mod udp_common;

pub(crate) use self::send_errors::*;
pub(crate) use self::udp_common::*;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use self::linux::*;

#[cfg(not(target_os = "linux"))]
mod udp_single;
#[cfg(not(target_os = "linux"))]
pub use self::udp_single::*;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use self::unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use self::windows::*;
