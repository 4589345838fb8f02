//! Counters per endpoint (a listening socket, a destination, a file, an input stream).
//! Every counter is a relaxed atomic: threads add, a snapshot reads, nobody locks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::wire::Wire;

/// Every counter of an endpoint, declared once: this table makes [`Counters`] (the atomics),
/// [`CounterSnapshot`] (a reading), [`Totals`] (the sums), [`COUNTERS`] (names, metric names
/// and help texts for the binding and the metrics), and, through the binding's own use of
/// it, the JavaScript `EndpointStats` and `Totals` types. A new counter is one entry here.
///
/// Three sections: `in_totals` (each entry with the rule [`TotalRule`] it is summed by),
/// `in_totals_unless_unknown` (counters some OS cannot tell, each with the condition under
/// which it is known: `None` where it is not, never 0), and
/// `per_endpoint` (shown per endpoint only). Each entry: doc comment, `field: rule` (or
/// `field`; `field: rule if known`), the metric's name (`mproxy_<name>_total`) and its help text.
///
/// `callback!` receives the table; the caller's macro decides what to make of it. (The docs
/// are `#[doc = "..."]` attributes, not `///`: through `macro_rules!` a `///` comment becomes
/// a raw string, which napi's type generator does not read.)
#[macro_export]
macro_rules! counter_table {
    ($callback:path) => {
        $callback! {
            in_totals {
                #[doc = " Datagrams into this endpoint: received by a listener, or handed to an output."]
                datagrams_in: EnteredDatagrams, "datagrams_in", "Datagrams received (listeners) or framed (inputs, TCP streams), or handed to an output";
                #[doc = " Bytes that arrived or were read."]
                bytes_in: Entered, "bytes_in", "Bytes received, read or handed to an output";
                #[doc = " Datagrams out of this endpoint: sent, written, or framed from an input's bytes."]
                datagrams_out: LeftDatagrams, "datagrams_out", "Datagrams sent or delivered";
                #[doc = " Bytes sent on or written."]
                bytes_out: Left, "bytes_out", "Bytes sent or written";
                #[doc = " Datagrams a destination refused (no route, port unreachable, ...): the OS refused the send."]
                send_errors: Summed, "send_errors", "Datagrams the local stack refused to send (counted per destination)";
                #[doc = " ICMP errors (port or host unreachable) a destination's host or a router sent back about datagrams sent to this destination: each stands for a datagram lost there."]
                icmp_errors: Summed, "icmp_errors", "Datagrams a destination host or router refused with an ICMP error";
                #[doc = " Datagrams larger than the receive buffer (a receive slot), cut short."]
                truncated: Summed, "truncated", "Datagrams cut because they were larger than a receive slot";
                #[doc = " Datagrams dropped because the bounded queue in front of a slow writer or consumer was full."]
                queue_drops: Summed, "queue_drops", "Datagrams dropped because a bounded queue before a slow consumer was full";
                #[doc = " Writes to a file, stdout or TCP client that failed (their bytes are in `bytesDropped`)."]
                write_errors: Summed, "write_errors", "Failed writes to a file or stream";
                #[doc = " Bytes lost with dropped datagrams and failed writes."]
                bytes_dropped: Summed, "bytes_dropped", "Bytes that could not be delivered (queue drops, failed writes, evicted clients)";
                #[doc = " Datagrams `messages()` iterators (taps) missed because JavaScript fell behind (their queue was full); the sockets and other outputs got them."]
                tap_drops: Summed, "tap_drops", "Datagrams messages() taps dropped because JavaScript fell behind";
                #[doc = " Listeners with a bus key: datagrams dropped for not verifying (plain, another key, damaged). Not mproxy's data: nothing of the stream is lost."]
                auth_failures: Summed, "auth_failures", "Datagrams dropped because they did not verify under the bus key";
                #[doc = " Listeners with a bus key: verified datagrams dropped as replays (seen before, or too old)."]
                replays: Summed, "replays", "Datagrams dropped as replays under the bus key";
                #[doc = " Outputs: datagrams their routing rules kept from them (not for balance-group members: see the group's rules). Rules: datagrams this rule dropped. In totals: what rules kept from outputs, chosen, not lost."]
                filtered: ChosenByRules, "filtered", "Datagrams routing rules kept from an output (outputs), or dropped (kind \"rule\")";
                #[doc = " Input stage `checksum`: lines whose NMEA checksum (the sentence's or its TAG block's) was wrong or missing; dropped with `checksum: 'drop'`, passed with `'count'`. Chosen, not lost."]
                bad_checksum: Summed, "bad_checksum", "Lines with a wrong or missing NMEA checksum (input stage checksum)";
                #[doc = " Input stage `dedup`: lines dropped as copies of a message seen within the window. Chosen, not lost."]
                duplicates: Summed, "duplicates", "Lines dropped as duplicates within the window (input stage dedup)";
                #[doc = " Input stage `throttle`: lines dropped past one per key per interval (or replaced by a newer one with `keep: 'latest'`). Chosen, not lost."]
                throttled: Summed, "throttled", "Lines dropped past one per key per interval (input stage throttle)";
                #[doc = " Input stage `dedup`: fragments of AIS multipart messages that never completed (a fragment missing, out of order, timed out, or evicted), dropped."]
                multipart_incomplete: Summed, "multipart_incomplete", "Fragments of AIS multipart messages dropped incomplete (input stage dedup)";
                #[doc = " Rate caps (kind \"stage\"): datagrams dropped because more arrived than the cap lets through and its queue was full (their bytes are in `bytesDropped`)."]
                capped: Summed, "capped", "Datagrams an output's rate cap dropped because its queue was full";
            }
            in_totals_unless_unknown {
                #[doc = " Datagrams the kernel dropped because a socket's receive buffer was full; `null` where the OS does not count them (macOS, Windows: see `Stats.unknownCounters`), never a made-up 0."]
                kernel_drops: Summed if $crate::stats::KERNEL_DROPS_COUNTED, "kernel_drops", "Datagrams the kernel dropped because a receive buffer was full";
            }
            per_endpoint {
                #[doc = " TCP connections made (kept connections) or accepted (listeners)."]
                connects, "connects", "TCP connections made or accepted";
                #[doc = " TCP connections that ended."]
                disconnects, "disconnects", "TCP connections lost or closed";
                #[doc = " TCP clients refused at the client limit."]
                refused, "refused", "TCP clients refused at the client limit";
                #[doc = " TCP clients disconnected for falling behind (their queue overflowed); input stages `dedup` and `throttle`: entries evicted from their full tables (oldest first)."]
                evicted, "evicted", "TCP output clients disconnected for falling behind, or entries evicted from an input stage's full table";
                #[doc = " TCP clients refused because their address is not in the listener's allow list (`allow`)."]
                refused_not_allowed, "refused_not_allowed", "TCP clients refused because their address is not in the allow list";
                #[doc = " TCP clients refused because their address already had `maxClientsPerAddress` clients."]
                refused_per_address, "refused_per_address", "TCP clients refused because their address had its most clients already";
                #[doc = " TCP input clients closed because they sent nothing for `idleTimeout` seconds."]
                idle_timeouts, "idle_timeouts", "TCP input clients closed for sending nothing for the idle timeout";
                #[doc = " TLS clients whose handshake failed: no or a refused certificate, not TLS, or not done within 10 s."]
                tls_failures, "tls_failures", "TLS clients whose handshake failed (no or a refused certificate, not TLS, too slow)";
                #[doc = " Rules: datagrams the rule's test held for (a rule's `datagramsIn` is what reached it)."]
                matched, "rule_matched", "Datagrams a routing rule's test held for";
                #[doc = " Rules: datagrams that went on to the next rule or the output(s)."]
                passed, "rule_passed", "Datagrams a routing rule passed on";
                #[doc = " Keep-alive lines sent because the output (a UDP destination, a TCP output client, a kept connection, a connect-out output) sent nothing for `keepAliveAfter` seconds. Outputs count their bytes in `bytesOut` (UDP: also in `datagramsOut`); kept connections do not (theirs are what they framed)."]
                keep_alives, "keep_alives", "Keep-alive lines sent after a quiet time";
                #[doc = " Preamble lines sent: at each (re)connect of a kept connection or connect-out output, and to each new TCP output client."]
                preambles, "preambles", "Preamble lines sent at a connect or to a new client";
                #[doc = " Tag strip stages: NMEA 4.10 TAG blocks removed from lines."]
                tag_blocks_stripped, "tag_blocks_stripped", "NMEA TAG blocks an output's strip stage removed";
            }
        }
    };
}

/// How a counter is summed into [`Totals`], the way a person reads a transfer: a datagram
/// counts in once, where it entered (a source), and out once, where it left (a sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalRule {
    /// Over every endpoint.
    Summed,
    /// Over the sources (the endpoints datagrams enter by).
    Entered,
    /// Datagrams entering: a listener's `datagrams_in`, but what an input or a TCP stream
    /// framed (`datagrams_out`): its `datagrams_in` are chunks of bytes.
    EnteredDatagrams,
    /// Over the sinks (the endpoints datagrams leave by).
    Left,
    /// Datagrams leaving: a destination's `datagrams_out`, but what a file or a TCP output
    /// was handed (`datagrams_in`): their `datagrams_out` are writes.
    LeftDatagrams,
    /// Over the routing rules only (an output's own `filtered` repeats its rules').
    ChosenByRules,
}

/// The kinds of endpoint the engine registers (`Endpoint::kind`).
pub const ENDPOINT_KINDS: &[&str] = &[
    "udp-listener",
    "udp-destination",
    "input",
    "file",
    "tee",
    "copy",
    "tcp-connection",
    "tcp-listener",
    "tcp-output",
    "tcp-connect-output",
    "tap",
    "send",
    "rule",
    "stage",
];

/// Endpoints datagrams enter a route by.
const SOURCE_KINDS: &[&str] = &[
    "udp-listener",
    "input",
    "tcp-connection",
    "tcp-listener",
    "send",
];
/// Endpoints datagrams leave a route by (a tee or copy is a side copy, not the delivery).
const SINK_KINDS: &[&str] = &[
    "udp-destination",
    "file",
    "tcp-output",
    "tcp-connect-output",
    "tap",
];

impl TotalRule {
    /// Which endpoints the rule sums over: every one, or the entering or leaving ones of
    /// the lists `entered` and `left` (a reverse proxy counts its halves apart).
    fn over<'a>(
        self,
        all: &'a [EndpointSnapshot],
        entered: &'a [EndpointSnapshot],
        left: &'a [EndpointSnapshot],
    ) -> &'a [EndpointSnapshot] {
        match self {
            TotalRule::Summed | TotalRule::ChosenByRules => all,
            TotalRule::Entered | TotalRule::EnteredDatagrams => entered,
            TotalRule::Left | TotalRule::LeftDatagrams => left,
        }
    }

    /// What endpoint `e`, whose counter reads `value`, adds to the total.
    fn count(self, e: &EndpointSnapshot, value: u64) -> u64 {
        let kind = e.kind;
        let c = &e.counters;
        match self {
            TotalRule::Summed => value,
            TotalRule::Entered if SOURCE_KINDS.contains(&kind) => value,
            TotalRule::EnteredDatagrams if SOURCE_KINDS.contains(&kind) => {
                if kind == "input" || kind.starts_with("tcp-") {
                    c.datagrams_out
                } else {
                    value
                }
            }
            TotalRule::Left if SINK_KINDS.contains(&kind) => value,
            TotalRule::LeftDatagrams if SINK_KINDS.contains(&kind) => {
                if kind == "file" || kind == "tcp-output" || kind == "tcp-connect-output" {
                    c.datagrams_in
                } else {
                    value
                }
            }
            TotalRule::ChosenByRules if kind == "rule" => value,
            _ => 0,
        }
    }

    fn total(
        self,
        (all, entered, left): (
            &[EndpointSnapshot],
            &[EndpointSnapshot],
            &[EndpointSnapshot],
        ),
        read: impl Fn(&CounterSnapshot) -> u64,
    ) -> u64 {
        self.over(all, entered, left).iter().fold(0u64, |sum, e| {
            sum.saturating_add(self.count(e, read(&e.counters)))
        })
    }
}

/// A counter's names, for those who list every counter (the binding, the metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterInfo {
    /// The field, as in [`CounterSnapshot`] (`snake_case`).
    pub field: &'static str,
    /// The metric's name: exported as `mproxy_<metric>_total`.
    pub metric: &'static str,
    /// The metric's help text.
    pub help: &'static str,
    /// How it is summed into the totals, if it is.
    pub total: Option<TotalRule>,
    /// Whether this OS can tell it (`kernel_drops` is unknown on macOS and Windows).
    pub known: bool,
}

macro_rules! declare_counters {
    (
        in_totals { $( $(#[doc = $tdoc:tt])* $tfield:ident: $trule:ident, $tmetric:literal, $thelp:literal; )* }
        in_totals_unless_unknown { $( $(#[doc = $udoc:tt])* $ufield:ident: $urule:ident if $uknown:expr, $umetric:literal, $uhelp:literal; )* }
        per_endpoint { $( $(#[doc = $pdoc:tt])* $pfield:ident, $pmetric:literal, $phelp:literal; )* }
    ) => {
        /// The live counters of one endpoint (see [`counter_table!`]).
        #[derive(Debug, Default)]
        pub struct Counters {
            $( $(#[doc = $tdoc])* pub $tfield: AtomicU64, )*
            $( $(#[doc = $udoc])* pub $ufield: AtomicU64, )*
            $( $(#[doc = $pdoc])* pub $pfield: AtomicU64, )*
        }

        /// A reading of [`Counters`]. A counter this OS cannot tell is `None`: unknown, not 0.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct CounterSnapshot {
            $( $(#[doc = $tdoc])* pub $tfield: u64, )*
            $( $(#[doc = $udoc])* pub $ufield: Option<u64>, )*
            $( $(#[doc = $pdoc])* pub $pfield: u64, )*
        }

        /// The sums of a route's (or a handle's) endpoints, by each counter's [`TotalRule`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Totals {
            $( $(#[doc = $tdoc])* pub $tfield: u64, )*
            $( $(#[doc = $udoc])* pub $ufield: Option<u64>, )*
        }

        /// Every counter, in the order metrics list them.
        pub const COUNTERS: &[CounterInfo] = &[
            $( CounterInfo { field: stringify!($tfield), metric: $tmetric, help: $thelp, total: Some(TotalRule::$trule), known: true }, )*
            $( CounterInfo { field: stringify!($ufield), metric: $umetric, help: $uhelp, total: Some(TotalRule::$urule), known: $uknown }, )*
            $( CounterInfo { field: stringify!($pfield), metric: $pmetric, help: $phelp, total: None, known: true }, )*
        ];

        impl Counters {
            pub fn snapshot(&self) -> CounterSnapshot {
                let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
                CounterSnapshot {
                    $( $tfield: get(&self.$tfield), )*
                    $( $ufield: ($uknown).then(|| get(&self.$ufield)), )*
                    $( $pfield: get(&self.$pfield), )*
                }
            }
        }

        impl CounterSnapshot {
            /// Every counter by its field name, in [`COUNTERS`]' order (`None`: unknown).
            pub fn values(&self) -> Vec<(&'static str, Option<u64>)> {
                vec![
                    $( (stringify!($tfield), Some(self.$tfield)), )*
                    $( (stringify!($ufield), self.$ufield), )*
                    $( (stringify!($pfield), Some(self.$pfield)), )*
                ]
            }
        }

        impl Totals {
            /// The totals of `all` endpoints: counters that enter count over `entered`, those
            /// that leave over `left` (both `all` but for a reverse proxy, whose two halves are
            /// joined by the group: a datagram is counted in where it entered the process and
            /// out where it left it).
            pub fn of(
                all: &[EndpointSnapshot],
                entered: &[EndpointSnapshot],
                left: &[EndpointSnapshot],
            ) -> Totals {
                let lists = (all, entered, left);
                Totals {
                    $( $tfield: TotalRule::$trule.total(lists, |c| c.$tfield), )*
                    $( $ufield: ($uknown)
                        .then(|| TotalRule::$urule.total(lists, |c| c.$ufield.unwrap_or(0))), )*
                }
            }
        }
    };
}

counter_table!(declare_counters);

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
}

/// Whether this OS tells how many datagrams its kernel dropped on a full receive buffer
/// (Linux does; macOS and Windows do not, and their snapshots say `None`).
pub const KERNEL_DROPS_COUNTED: bool = crate::sys::HAS_DROP_COUNTER;

/// The counters (by field name) that this OS cannot tell.
pub fn unknown_counters() -> Vec<&'static str> {
    COUNTERS
        .iter()
        .filter(|c| !c.known)
        .map(|c| c.field)
        .collect()
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
    /// For UDP listeners: the wire form it accepts (set once, at bind).
    pub wire: OnceLock<Wire>,
}

impl Endpoint {
    pub fn new(kind: &'static str, name: impl Into<String>) -> Arc<Self> {
        Arc::new(Endpoint {
            kind,
            name: name.into(),
            buffer_bytes: Mutex::new(None),
            counters: Counters::default(),
            unreachable: AtomicBool::new(false),
            wire: OnceLock::new(),
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
            wire: self.wire.get().copied(),
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
    /// UDP listeners: the wire form it accepts.
    pub wire: Option<Wire>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(kind: &'static str, set: impl Fn(&Counters)) -> EndpointSnapshot {
        let e = Endpoint::new(kind, kind);
        set(&e.counters);
        e.snapshot()
    }

    #[test]
    fn totals_count_a_datagram_in_where_it_entered_and_out_where_it_left() {
        let endpoints = [
            endpoint("udp-listener", |c| c.add_in(3, 30)),
            // An input's datagrams_in are chunks read; what it framed is its datagrams_out.
            endpoint("input", |c| {
                c.add_in(1, 100);
                c.add_out(4, 100);
            }),
            endpoint("udp-destination", |c| {
                c.add_in(7, 130);
                c.add_out(7, 130);
                Counters::add(&c.send_errors, 1);
            }),
            // A file counts datagrams handed to it in, writes out.
            endpoint("file", |c| {
                c.add_in(7, 130);
                c.add_out(1, 130);
                Counters::add(&c.filtered, 9);
            }),
            endpoint("tee", |c| c.add_out(7, 130)),
            endpoint("rule", |c| {
                Counters::add(&c.filtered, 2);
                Counters::add(&c.matched, 5);
            }),
        ];
        let t = Totals::of(&endpoints, &endpoints, &endpoints);
        assert_eq!((t.datagrams_in, t.bytes_in), (7, 130));
        assert_eq!((t.datagrams_out, t.bytes_out), (14, 260));
        assert_eq!(t.send_errors, 1);
        // Only the rules' filtered counts (an output's repeats its rules').
        assert_eq!(t.filtered, 2);
        assert_eq!(t.kernel_drops, KERNEL_DROPS_COUNTED.then_some(0));
    }

    #[test]
    fn the_table_lists_every_counter_once() {
        let snapshot = CounterSnapshot::default();
        let fields: Vec<_> = snapshot.values().into_iter().map(|(f, _)| f).collect();
        let listed: Vec<_> = COUNTERS.iter().map(|c| c.field).collect();
        assert_eq!(fields, listed);
        let mut metrics: Vec<_> = COUNTERS.iter().map(|c| c.metric).collect();
        metrics.sort_unstable();
        metrics.dedup();
        assert_eq!(metrics.len(), COUNTERS.len());
        assert_eq!(unknown_counters().is_empty(), KERNEL_DROPS_COUNTED);
    }
}
