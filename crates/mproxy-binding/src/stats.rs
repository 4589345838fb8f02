//! Counters as JavaScript reads them. `EndpointStats` and `Totals` are made from the core's
//! one table of counters (`mproxy_core::counter_table!`): a counter added there appears here,
//! in the published types, in the totals and in the metrics, with nothing else to edit.
//! Numbers are doubles: exact up to 2^53, far beyond any count.

use mproxy_core::stats::{self as core, EndpointSnapshot};
use napi::bindgen_prelude::Env;
use napi_derive::napi;

use crate::errors::{NativeError, Result};
use crate::guard::guarded;
use crate::options::Wire;

/// What an endpoint is: a UDP listening socket, a UDP destination, an input read from a
/// file, device or stdin, the output file (or stdout), the `--tee` copy, a client's local
/// copy of what it sent, a kept TCP/TLS connection, a TCP listener whose clients are inputs,
/// a TCP output listener, a TCP output that connects out, the taps of `messages()` (all of a route's together), what
/// `send()` was given, or one routing rule of an output (named `OUTPUT RULE`, e.g.
/// `127.0.0.1:9921 prefix !AIVDM`), one input stage (`checksum`, `tag`, `dedup`,
/// `throttle`: its `datagramsIn`/`datagramsOut` count lines), or one per-output stage
/// (`OUTPUT STAGE`: a tag strip, the re-framing to one line per datagram, a rate cap).
#[napi(string_enum = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    UdpListener,
    UdpDestination,
    Input,
    File,
    Tee,
    Copy,
    TcpConnection,
    TcpListener,
    TcpOutput,
    /// A TCP/TLS output that connects out to an aggregator and keeps the connection.
    TcpConnectOutput,
    Tap,
    Send,
    Rule,
    Stage,
}

/// Every kind, in the order of `mproxy_core::stats::ENDPOINT_KINDS`.
const KINDS: [(EndpointKind, &str); 14] = [
    (EndpointKind::UdpListener, "udp-listener"),
    (EndpointKind::UdpDestination, "udp-destination"),
    (EndpointKind::Input, "input"),
    (EndpointKind::File, "file"),
    (EndpointKind::Tee, "tee"),
    (EndpointKind::Copy, "copy"),
    (EndpointKind::TcpConnection, "tcp-connection"),
    (EndpointKind::TcpListener, "tcp-listener"),
    (EndpointKind::TcpOutput, "tcp-output"),
    (EndpointKind::TcpConnectOutput, "tcp-connect-output"),
    (EndpointKind::Tap, "tap"),
    (EndpointKind::Send, "send"),
    (EndpointKind::Rule, "rule"),
    (EndpointKind::Stage, "stage"),
];

impl EndpointKind {
    fn of(kind: &str) -> Result<EndpointKind> {
        KINDS
            .iter()
            .find(|(_, name)| *name == kind)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                NativeError::internal(format!(
                    "internal error: an endpoint of unknown kind {kind}"
                ))
            })
    }

    fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, name)| name)
    }
}

/// A counter (in `camelCase`, as in `EndpointStats`) and how it is exported as a metric.
#[napi(object)]
pub struct CounterName {
    pub field: String,
    /// Exported as `mproxy_<metric>_total`.
    pub metric: String,
    pub help: String,
    /// Whether this OS can tell it (`kernelDrops` cannot be on macOS and Windows).
    pub known: bool,
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! endpoint_stats {
    (
        in_totals { $( $(#[doc = $tdoc:tt])* $tfield:ident: $trule:ident, $tmetric:literal, $thelp:literal; )* }
        in_totals_unless_unknown { $( $(#[doc = $udoc:tt])* $ufield:ident: $urule:ident if $uknown:expr, $umetric:literal, $uhelp:literal; )* }
        per_endpoint { $( $(#[doc = $pdoc:tt])* $pfield:ident, $pmetric:literal, $phelp:literal; )* }
    ) => {
        /// Counters of one endpoint. Numbers are doubles: exact up to 2^53, far beyond any count.
        #[napi(object, use_nullable = true)]
        pub struct EndpointStats {
            /// What the endpoint is.
            pub kind: EndpointKind,
            /// Its address, path or URL, e.g. `127.0.0.1:9920`, `ais.log`, `tls://host:443`.
            pub name: String,
            /// The receive buffer the kernel granted a listener, in bytes (null elsewhere).
            pub buffer_bytes: Option<f64>,
            $( $(#[doc = $tdoc])* pub $tfield: f64, )*
            $( $(#[doc = $udoc])* pub $ufield: Option<f64>, )*
            $( $(#[doc = $pdoc])* pub $pfield: f64, )*
            /// Destinations: datagrams sent there were refused or lost recently (no quiet second since).
            pub unreachable: bool,
            /// UDP listeners: the wire form it accepts, `sealed` (with the bus key) or `plain` (null elsewhere).
            pub wire: Option<Wire>,
        }

        /// The sum of every endpoint's counters, the way a person reads a transfer: datagrams
        /// in where they entered, out where they left, losses wherever they happened.
        #[napi(object, use_nullable = true)]
        pub struct Totals {
            $( $(#[doc = $tdoc])* pub $tfield: f64, )*
            $( $(#[doc = $udoc])* pub $ufield: Option<f64>, )*
        }

        pub(crate) fn endpoint_stats(e: EndpointSnapshot) -> Result<EndpointStats> {
            let c = e.counters;
            Ok(EndpointStats {
                kind: EndpointKind::of(e.kind)?,
                name: e.name,
                buffer_bytes: e.buffer_bytes.map(|b| b as f64),
                $( $tfield: c.$tfield as f64, )*
                $( $ufield: c.$ufield.map(|n| n as f64), )*
                $( $pfield: c.$pfield as f64, )*
                unreachable: e.unreachable,
                wire: e.wire.map(Wire::from),
            })
        }

        /// Back to the core's reading, to sum (counts are whole numbers below 2^53).
        fn snapshot_of(e: &EndpointStats) -> EndpointSnapshot {
            let count = |n: f64| n as u64;
            EndpointSnapshot {
                kind: e.kind.as_str(),
                name: e.name.clone(),
                buffer_bytes: e.buffer_bytes.map(count),
                counters: core::CounterSnapshot {
                    $( $tfield: count(e.$tfield), )*
                    $( $ufield: e.$ufield.map(count), )*
                    $( $pfield: count(e.$pfield), )*
                },
                unreachable: e.unreachable,
                wire: e.wire.map(Into::into),
            }
        }

        fn js_totals(t: core::Totals) -> Totals {
            Totals {
                $( $tfield: t.$tfield as f64, )*
                $( $ufield: t.$ufield.map(|n| n as f64), )*
            }
        }
    };
}

mproxy_core::counter_table!(endpoint_stats);

/// The totals of `all` endpoints (of one handle). A reverse proxy's two routes are joined by
/// the group: `entered` (its inputs half) counts what came in, `left` (its outputs half)
/// what went out, so each datagram counts in once and out once. Absent: `all`.
#[napi]
pub fn totals(
    env: &Env,
    all: Vec<EndpointStats>,
    entered: Option<Vec<EndpointStats>>,
    left: Option<Vec<EndpointStats>>,
) -> napi::Result<Totals> {
    guarded(env, || {
        let all: Vec<_> = all.iter().map(snapshot_of).collect();
        let part = |list: Option<Vec<EndpointStats>>| -> Option<Vec<EndpointSnapshot>> {
            list.map(|l| l.iter().map(snapshot_of).collect())
        };
        let entered = part(entered);
        let left = part(left);
        Ok(js_totals(core::Totals::of(
            &all,
            entered.as_deref().unwrap_or(&all),
            left.as_deref().unwrap_or(&all),
        )))
    })
}

/// Every counter, in the order metrics list them.
#[napi]
pub fn counters(env: &Env) -> napi::Result<Vec<CounterName>> {
    guarded(env, || {
        Ok(core::COUNTERS
            .iter()
            .map(|c| CounterName {
                field: camel_case(c.field),
                metric: c.metric.to_string(),
                help: c.help.to_string(),
                known: c.known,
            })
            .collect())
    })
}

/// The counters this OS cannot tell (`kernelDrops` on macOS and Windows): null in every
/// endpoint's stats and in the totals there.
#[napi]
pub fn unknown_counters(env: &Env) -> napi::Result<Vec<String>> {
    guarded(env, || {
        Ok(core::unknown_counters()
            .into_iter()
            .map(camel_case)
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_core_registers_has_a_name() {
        let names: Vec<_> = KINDS.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, core::ENDPOINT_KINDS);
        for name in core::ENDPOINT_KINDS {
            assert_eq!(EndpointKind::of(name).map(EndpointKind::as_str), Ok(*name));
        }
        assert!(EndpointKind::of("nonsense").is_err());
    }

    #[test]
    fn names_are_camel_case() {
        assert_eq!(camel_case("refused_not_allowed"), "refusedNotAllowed");
        assert_eq!(camel_case("filtered"), "filtered");
    }
}
