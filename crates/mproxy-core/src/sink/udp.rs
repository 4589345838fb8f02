//! Sending every batch to every UDP destination. Destinations that share an address family
//! and outgoing interface share one socket, so a batch reaches all of them in one
//! `sendmmsg`. A destination that refuses datagrams is counted and reported once per state
//! change; the others are not held up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socket2::{SockAddr, Socket};

use super::Sink;
use crate::batch::Batch;
use crate::error::{describe_os_error, Result};
use crate::event::Reporter;
use crate::io::{self, SendOutcome};
use crate::socket::{self, DestinationSpec, SenderKey};
use crate::stats::{Counters, Endpoint, Registry};

struct Target {
    endpoint: Arc<Endpoint>,
    failing: AtomicBool,
}

struct SenderGroup {
    socket: Socket,
    /// Connected to its only destination: sends skip the per-datagram route lookup.
    connected: bool,
    /// Whether runs of equal datagrams go out as one GSO send; cleared if the path refuses.
    gso: AtomicBool,
    dests: Vec<io::Destination>,
    targets: Vec<Target>,
}

pub struct UdpSink {
    groups: Vec<SenderGroup>,
    reporter: Reporter,
}

impl UdpSink {
    /// Resolves and route-checks every destination now, so a bad one fails the start.
    pub fn new(
        specs: &[DestinationSpec],
        send_buffer: usize,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<Self> {
        let mut by_key: HashMap<SenderKey, usize> = HashMap::new();
        let mut groups: Vec<SenderGroup> = Vec::new();
        for spec in specs {
            let resolved = socket::resolve_destination(spec)?;
            let index = match by_key.get(&resolved.key) {
                Some(i) => *i,
                None => {
                    let sock = socket::sender_socket(&resolved.key, send_buffer)?;
                    let gso = AtomicBool::new(io::gso_supported(&sock));
                    // A send never blocks a route for long, even if the kernel has no room.
                    let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
                    groups.push(SenderGroup {
                        socket: sock,
                        connected: false,
                        gso,
                        dests: Vec::new(),
                        targets: Vec::new(),
                    });
                    by_key.insert(resolved.key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let endpoint = registry.register("udp-destination", spec.addr.to_string());
            let group = &mut groups[index];
            group
                .dests
                .push((resolved.addr, SockAddr::from(resolved.addr)));
            group.targets.push(Target {
                endpoint,
                failing: AtomicBool::new(false),
            });
        }
        for group in &mut groups {
            if let [(_, addr)] = group.dests.as_slice() {
                group.connected = group.socket.connect(addr).is_ok();
            }
        }
        Ok(UdpSink { groups, reporter })
    }
}

impl Sink for UdpSink {
    fn deliver(&self, batch: &Batch) {
        for group in &self.groups {
            let mut outcomes: Vec<SendOutcome> =
                group.dests.iter().map(|_| SendOutcome::default()).collect();
            io::send_to_many(
                &group.socket,
                batch,
                &group.dests,
                group.connected,
                &group.gso,
                &mut outcomes,
            );
            for ((addr, _), (target, outcome)) in
                group.dests.iter().zip(group.targets.iter().zip(outcomes))
            {
                let c = &target.endpoint.counters;
                c.add_out(outcome.datagrams, outcome.bytes);
                if outcome.errors > 0 {
                    Counters::add(&c.send_errors, outcome.errors);
                    if !target.failing.swap(true, Ordering::Relaxed) {
                        let why = outcome
                            .first_error
                            .as_ref()
                            .map(describe_os_error)
                            .unwrap_or_default();
                        self.reporter.warn(format!("sending to {addr} failed: {why} (counting lost datagrams, will keep trying)"));
                    }
                } else if outcome.datagrams > 0 && target.failing.swap(false, Ordering::Relaxed) {
                    self.reporter.info(format!("sending to {addr} works again"));
                }
            }
        }
    }

    fn finish(&self) {}
}
