//! Sending every batch to every UDP destination. Destinations that share an address family
//! and outgoing interface share one socket, so a batch reaches all of them in one
//! `sendmmsg`.
//!
//! Losses are charged to the destination they happened at: a datagram the local stack
//! refuses counts in `sendErrors`, one the destination's host (or a router) refuses with an
//! ICMP error counts in `icmpErrors`, read from the socket's error queue, which names the
//! destination even when several share the socket. A destination in trouble is reported
//! once, and as working again only after a quiet period, so the log never flaps; the others
//! are not held up.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket};

use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Result};
use crate::event::{Notice, Reporter};
use crate::stats::{Counters, Endpoint, Registry};
use crate::sys::{self, SendOutcome, SendState};
use crate::udp_socket::{self, DestinationSpec, SenderKey};

/// How long a destination must go without errors before it is reported as working again.
const QUIET_PERIOD: Duration = Duration::from_secs(1);

struct Destination {
    /// As resolved (an IPv6 group or link-local address carries its interface as scope).
    addr: SocketAddr,
    endpoint: Arc<Endpoint>,
    /// When the last error was seen, in milliseconds since the sink started.
    last_error_ms: AtomicU64,
}

/// Scratch space for one send call: reused across batches, one per thread sending at once.
struct Scratch {
    state: SendState,
    outcomes: Vec<SendOutcome>,
}

struct SenderGroup {
    socket: Socket,
    /// Connected to its only destination: sends skip the per-datagram route lookup.
    connected: bool,
    addrs: Vec<SockAddr>,
    dests: Vec<Destination>,
    /// Whether runs of equal datagrams go out as one GSO send; cleared if the path refuses.
    gso: AtomicBool,
    /// Idle scratch spaces: source threads deliver concurrently, each takes its own.
    spare: Mutex<Vec<Scratch>>,
}

pub(crate) struct UdpSink {
    groups: Vec<SenderGroup>,
    reporter: Reporter,
    started: Instant,
}

impl UdpSink {
    /// Resolves and route-checks every destination now, so a bad one fails the start.
    pub(crate) fn new(
        specs: &[DestinationSpec],
        send_buffer: usize,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<Self> {
        let mut by_key: HashMap<SenderKey, usize> = HashMap::new();
        let mut groups: Vec<SenderGroup> = Vec::new();
        for spec in specs {
            let resolved = udp_socket::resolve_destination(spec)?;
            let index = match by_key.get(&resolved.key) {
                Some(i) => *i,
                None => {
                    let sock = udp_socket::sender_socket(&resolved.key, send_buffer)?;
                    // A send never blocks a route for long, even if the kernel has no room.
                    let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
                    groups.push(SenderGroup {
                        gso: AtomicBool::new(sys::gso_supported(&sock)),
                        socket: sock,
                        connected: false,
                        addrs: Vec::new(),
                        dests: Vec::new(),
                        spare: Mutex::new(Vec::new()),
                    });
                    by_key.insert(resolved.key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let endpoint = registry.register("udp-destination", spec.addr.to_string());
            let group = &mut groups[index];
            group.addrs.push(SockAddr::from(resolved.addr));
            group.dests.push(Destination {
                addr: resolved.addr,
                endpoint,
                last_error_ms: AtomicU64::new(0),
            });
        }
        for group in &mut groups {
            if let [addr] = group.addrs.as_slice() {
                group.connected = group.socket.connect(addr).is_ok();
            }
        }
        Ok(UdpSink {
            groups,
            reporter,
            started: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Counts a loss at `dest`; the first of a run of troubles is reported.
    fn trouble(&self, dest: &Destination, why: &str) {
        dest.last_error_ms.store(self.now_ms(), Ordering::Relaxed);
        if !dest.endpoint.unreachable.swap(true, Ordering::Relaxed) {
            self.reporter.warn(format!(
                "sending to {} failed: {why} (counting lost datagrams, will keep trying)",
                dest.endpoint.name
            ));
            self.reporter.notice(Notice::Unreachable {
                address: dest.endpoint.name.clone(),
                reason: why.to_string(),
            });
        }
    }

    /// Charges the ICMP errors queued on the group's socket to the destinations they name.
    fn read_icmp_errors(&self, group: &SenderGroup) {
        sys::drain_errors(&group.socket, |addr, err| {
            let dest = if group.connected {
                group.dests.first()
            } else {
                group
                    .dests
                    .iter()
                    .find(|d| d.addr.ip() == addr.ip() && d.addr.port() == addr.port())
            };
            if let Some(dest) = dest {
                Counters::add(&dest.endpoint.counters.icmp_errors, 1);
                self.trouble(dest, &icmp_reason(&err));
            }
        });
    }

    fn account(&self, group: &SenderGroup, outcomes: &[SendOutcome]) {
        let mut icmp_reported = false;
        for (dest, outcome) in group.dests.iter().zip(outcomes) {
            let c = &dest.endpoint.counters;
            c.add_out(outcome.datagrams, outcome.bytes);
            if outcome.errors > 0 {
                Counters::add(&c.send_errors, outcome.errors);
                let why = outcome
                    .first_error
                    .as_ref()
                    .map(describe_os_error)
                    .unwrap_or_default();
                self.trouble(dest, &why);
            }
            if outcome.icmp_reported > 0 {
                icmp_reported = true;
                if !sys::HAS_ERROR_QUEUE {
                    // A connected socket's send said an earlier datagram was refused.
                    Counters::add(&c.icmp_errors, outcome.icmp_reported);
                    self.trouble(dest, "refused by the destination (ICMP)");
                }
            }
        }
        let troubled = group
            .dests
            .iter()
            .any(|d| d.endpoint.unreachable.load(Ordering::Relaxed));
        if sys::HAS_ERROR_QUEUE && (icmp_reported || troubled) {
            self.read_icmp_errors(group);
        }
        if troubled {
            let now = self.now_ms();
            for (dest, outcome) in group.dests.iter().zip(outcomes) {
                let quiet = now.saturating_sub(dest.last_error_ms.load(Ordering::Relaxed))
                    >= QUIET_PERIOD.as_millis() as u64;
                if quiet
                    && outcome.datagrams > 0
                    && dest.endpoint.unreachable.swap(false, Ordering::Relaxed)
                {
                    self.reporter.info(format!(
                        "sending to {} works again (no errors for {} s)",
                        dest.endpoint.name,
                        QUIET_PERIOD.as_secs()
                    ));
                    self.reporter.notice(Notice::Reachable {
                        address: dest.endpoint.name.clone(),
                    });
                }
            }
        }
    }
}

/// "port unreachable" reads better than "connection refused" for a datagram.
fn icmp_reason(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "port unreachable (ICMP from the destination)".into(),
        _ => format!("{} (ICMP)", describe_os_error(err)),
    }
}

impl Sink for UdpSink {
    fn deliver(&self, batch: &Batch) {
        for group in &self.groups {
            let taken = group.spare.lock().ok().and_then(|mut s| s.pop());
            let mut scratch = taken.unwrap_or_else(|| Scratch {
                state: SendState::new(group.gso.load(Ordering::Relaxed)),
                outcomes: Vec::new(),
            });
            scratch
                .outcomes
                .resize_with(group.dests.len(), SendOutcome::default);
            scratch.outcomes.iter_mut().for_each(SendOutcome::clear);
            scratch.state.send(
                &group.socket,
                batch,
                &group.addrs,
                group.connected,
                &mut scratch.outcomes,
            );
            if !scratch.state.gso() {
                group.gso.store(false, Ordering::Relaxed);
            }
            self.account(group, &scratch.outcomes);
            if let Ok(mut spare) = group.spare.lock() {
                spare.push(scratch);
            }
        }
    }

    /// ICMP errors about the last datagrams may have arrived after the last batch.
    fn finish(&self) {
        if sys::HAS_ERROR_QUEUE {
            for group in &self.groups {
                self.read_icmp_errors(group);
            }
        }
    }
}
