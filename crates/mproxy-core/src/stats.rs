//! Counters per endpoint (a listening socket, a destination, a file, an input stream).
//! Every counter is a relaxed atomic: threads add, a snapshot reads, nobody locks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Counters {
    pub datagrams_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Sends the OS refused (unreachable, no buffer, ...); the datagram is lost for that
    /// destination only.
    pub send_errors: AtomicU64,
    /// Datagrams the kernel dropped before we could read them (socket buffer full).
    pub kernel_drops: AtomicU64,
    /// Datagrams larger than a receive slot; their tail was cut.
    pub truncated: AtomicU64,
    /// Datagrams dropped because a bounded queue in front of a slow consumer was full.
    pub queue_drops: AtomicU64,
    /// Writes to a file or stream that failed; the bytes are counted in `queue_drops`'s
    /// byte twin below.
    pub write_errors: AtomicU64,
    pub bytes_dropped: AtomicU64,
    pub connects: AtomicU64,
    pub disconnects: AtomicU64,
    /// TCP clients turned away because the limit of clients was reached.
    pub refused: AtomicU64,
    /// TCP clients disconnected because they did not keep up (their queue overflowed).
    pub evicted: AtomicU64,
    /// ICMP errors (port or host unreachable) a destination's host or a router sent back
    /// about datagrams we sent it: each stands for a datagram lost there.
    pub icmp_errors: AtomicU64,
    /// Datagrams a tap (`messages()` in JavaScript) dropped because JavaScript fell behind
    /// and its queue was full; the sockets and other outputs got them.
    pub tap_drops: AtomicU64,
    /// Datagrams dropped because they did not verify under the bus key (plain, another
    /// key, damaged).
    pub auth_failures: AtomicU64,
    /// Datagrams dropped because they verified but were delivered before (or are too old).
    pub replays: AtomicU64,
    /// TCP clients turned away because their address is not in the listener's allow list.
    pub refused_not_allowed: AtomicU64,
    /// TCP clients turned away because their address already had its most clients.
    pub refused_per_address: AtomicU64,
    /// TCP input clients disconnected because they sent nothing for the idle timeout.
    pub idle_timeouts: AtomicU64,
    /// TLS clients whose handshake failed (no or a refused certificate, not TLS, too slow).
    pub tls_failures: AtomicU64,
    /// Outputs: datagrams their routing rules kept from them. Rules: datagrams this rule
    /// dropped (see `sink::rules`).
    pub filtered: AtomicU64,
    /// Rules: datagrams the rule's test held for.
    pub matched: AtomicU64,
    /// Rules: datagrams that went on to the next rule or the output.
    pub passed: AtomicU64,
}

impl Counters {
    pub fn add_in(&self, datagrams: u64, bytes: u64) {
        self.datagrams_in.fetch_add(datagrams, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add_out(&self, datagrams: u64, bytes: u64) {
        self.datagrams_out.fetch_add(datagrams, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// For counters the kernel reports as a running total (SO_RXQ_OVFL).
    pub fn raise_to(counter: &AtomicU64, total: u64) {
        counter.fetch_max(total, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            datagrams_in: get(&self.datagrams_in),
            bytes_in: get(&self.bytes_in),
            datagrams_out: get(&self.datagrams_out),
            bytes_out: get(&self.bytes_out),
            send_errors: get(&self.send_errors),
            kernel_drops: KERNEL_DROPS_COUNTED.then(|| get(&self.kernel_drops)),
            truncated: get(&self.truncated),
            queue_drops: get(&self.queue_drops),
            write_errors: get(&self.write_errors),
            bytes_dropped: get(&self.bytes_dropped),
            connects: get(&self.connects),
            disconnects: get(&self.disconnects),
            refused: get(&self.refused),
            evicted: get(&self.evicted),
            icmp_errors: get(&self.icmp_errors),
            tap_drops: get(&self.tap_drops),
            auth_failures: get(&self.auth_failures),
            replays: get(&self.replays),
            refused_not_allowed: get(&self.refused_not_allowed),
            refused_per_address: get(&self.refused_per_address),
            idle_timeouts: get(&self.idle_timeouts),
            tls_failures: get(&self.tls_failures),
            filtered: get(&self.filtered),
            matched: get(&self.matched),
            passed: get(&self.passed),
        }
    }
}

/// Whether this OS tells how many datagrams its kernel dropped on a full receive buffer
/// (Linux does; macOS and Windows do not, and their snapshots say `None`).
pub const KERNEL_DROPS_COUNTED: bool = crate::sys::HAS_DROP_COUNTER;

/// The counters, by the names the TypeScript layer gives them, that this OS cannot tell.
pub fn unknown_counters() -> &'static [&'static str] {
    if KERNEL_DROPS_COUNTED {
        &[]
    } else {
        &["kernelDrops"]
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub send_errors: u64,
    /// `None` where the OS does not count them ([`KERNEL_DROPS_COUNTED`]): unknown, not 0.
    pub kernel_drops: Option<u64>,
    pub truncated: u64,
    pub queue_drops: u64,
    pub write_errors: u64,
    pub bytes_dropped: u64,
    pub connects: u64,
    pub disconnects: u64,
    pub refused: u64,
    pub evicted: u64,
    pub icmp_errors: u64,
    pub tap_drops: u64,
    pub auth_failures: u64,
    pub replays: u64,
    pub refused_not_allowed: u64,
    pub refused_per_address: u64,
    pub idle_timeouts: u64,
    pub tls_failures: u64,
    pub filtered: u64,
    pub matched: u64,
    pub passed: u64,
}

/// One endpoint's identity and counters.
#[derive(Debug)]
pub struct Endpoint {
    /// What the endpoint is: "udp-listener", "udp-destination", "file", "input", "tee", ...
    pub kind: &'static str,
    /// The address or path, as a person would write it.
    pub name: String,
    /// Socket buffer size the kernel granted, where one was asked for.
    pub buffer_bytes: Mutex<Option<u64>>,
    pub counters: Counters,
    /// For destinations: the last datagrams sent there were refused or lost, and there has
    /// not been a quiet period since.
    pub unreachable: AtomicBool,
}

impl Endpoint {
    pub fn new(kind: &'static str, name: impl Into<String>) -> Arc<Self> {
        Arc::new(Endpoint {
            kind,
            name: name.into(),
            buffer_bytes: Mutex::new(None),
            counters: Counters::default(),
            unreachable: AtomicBool::new(false),
        })
    }

    pub fn set_buffer_bytes(&self, bytes: u64) {
        if let Ok(mut slot) = self.buffer_bytes.lock() {
            *slot = Some(bytes);
        }
    }

    pub fn snapshot(&self) -> EndpointSnapshot {
        EndpointSnapshot {
            kind: self.kind,
            name: self.name.clone(),
            buffer_bytes: self.buffer_bytes.lock().ok().and_then(|b| *b),
            counters: self.counters.snapshot(),
            unreachable: self.unreachable.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EndpointSnapshot {
    pub kind: &'static str,
    pub name: String,
    pub buffer_bytes: Option<u64>,
    pub counters: CounterSnapshot,
    pub unreachable: bool,
}

/// The endpoints of one route, in the order they were created.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    endpoints: Arc<Mutex<Vec<Arc<Endpoint>>>>,
}

impl Registry {
    pub fn register(&self, kind: &'static str, name: impl Into<String>) -> Arc<Endpoint> {
        let endpoint = Endpoint::new(kind, name);
        if let Ok(mut list) = self.endpoints.lock() {
            list.push(endpoint.clone());
        }
        endpoint
    }

    /// How many endpoints there are (to pick out, with `since`, those a sink registered).
    pub fn len(&self) -> usize {
        self.endpoints.lock().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The endpoints registered after the first `start`, in order.
    pub fn since(&self, start: usize) -> Vec<Arc<Endpoint>> {
        self.endpoints
            .lock()
            .map(|l| l.iter().skip(start).cloned().collect())
            .unwrap_or_default()
    }

    pub fn snapshot(&self) -> Vec<EndpointSnapshot> {
        match self.endpoints.lock() {
            Ok(list) => list.iter().map(|e| e.snapshot()).collect(),
            Err(_) => Vec::new(),
        }
    }
}
