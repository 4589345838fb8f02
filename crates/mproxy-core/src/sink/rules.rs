//! Routing rules per output: which datagrams an output gets, decided once per batch.
//!
//! A rule set sits in front of one output (or one balance group of outputs) as a sink of
//! its own, so outputs without rules keep the plain path and pay nothing. Its rules run in
//! a fixed order, each on the datagrams the previous one passed: source (`from`, a list of
//! addresses or CIDR blocks), `prefix` (bytes the datagram starts with), `match` (a regular
//! expression over the bytes), `sample` (1 in N), then `balance` (each datagram to exactly
//! one member: round robin, or by a hash of the sender's address so one exporter always
//! reaches the same collector).
//!
//! Per batch, the datagrams (GRO segments split apart) are listed as pieces in a scratch
//! list, each rule narrows the list in one pass, and its counters are added once; what is
//! left is copied into a scratch batch per target (no allocation once the scratch has
//! grown) - or, when every datagram passed and nothing is balanced, the batch goes on as it
//! is. Sampling and round robin count across batches and threads with one atomic add per
//! batch, so "1 in 10" and "50/50" are exact over any run.
//!
//! Regular expressions are the `regex` crate's (linear time in the input, no
//! backtracking), compiled with a size limit so a hostile pattern cannot take memory.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use regex::bytes::{Regex, RegexBuilder};

use super::Sink;
use crate::batch::Batch;
pub(crate) use crate::cidr::Cidr;
use crate::error::{Error, Result};
use crate::event::Reporter;
use crate::stats::{Counters, Endpoint, Registry};

/// Compiled program and lazy DFA limits for a `match` pattern, each.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a balance group spreads datagrams over its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// In turn: over any run, each member gets its share to within one datagram.
    RoundRobin,
    /// By the sender's IP address (not its port: an exporter keeps its address across
    /// restarts, not its port); datagrams without a sender go to the first member.
    SourceHash,
}

impl Balance {
    fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round-robin",
            Balance::SourceHash => "source-hash",
        }
    }
}

/// The rules of one output or balance group, as given; absent parts keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSpec {
    /// Keep datagrams whose sender lies in one of these blocks (empty: no source rule).
    pub from: Vec<Cidr>,
    pub prefix: Option<Vec<u8>>,
    /// A regular expression over the datagram's bytes (unanchored unless it says `^`).
    pub pattern: Option<String>,
    /// Keep 1 datagram in this many (the first, the N+1th, ...); 0 is refused, 1 keeps all.
    pub sample: Option<u64>,
}

impl RuleSpec {
    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
            && self.prefix.is_none()
            && self.pattern.is_none()
            && self.sample.is_none()
    }
}

/// Compiles a `match` pattern with the size limits; the error is one line.
pub fn compile_pattern(pattern: &str) -> std::result::Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("the pattern is too large (over {limit} bytes compiled)")
            }
            // The syntax error's own text spans several lines with a caret; its last line
            // says what is wrong.
            other => {
                let text = other.to_string();
                let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
                format!(
                    "not a valid regular expression ({})",
                    last.trim().trim_start_matches("error: ")
                )
            }
        })
}

enum Test {
    From(Vec<Cidr>),
    Prefix(Vec<u8>),
    Match(Regex),
    Sample { every: u64, seen: AtomicU64 },
}

struct Rule {
    test: Test,
    endpoint: Arc<Endpoint>,
}

/// One datagram of the batch being filtered: where its bytes are, who sent it.
#[derive(Clone, Copy)]
struct Piece {
    offset: usize,
    len: usize,
    from: Option<SocketAddr>,
}

impl Rule {
    fn keeps(&self, batch: &Batch, p: &Piece) -> bool {
        let bytes = || &batch.buf[p.offset..p.offset + p.len];
        match &self.test {
            Test::From(blocks) => p
                .from
                .is_some_and(|a| blocks.iter().any(|b| b.contains(a.ip()))),
            Test::Prefix(prefix) => bytes().starts_with(prefix),
            Test::Match(re) => re.is_match(bytes()),
            Test::Sample { .. } => true,
        }
    }

    /// Narrows `pieces` to what this rule passes and counts, once.
    fn apply(&self, batch: &Batch, pieces: &mut Vec<Piece>) {
        let before = pieces.len();
        if before == 0 {
            return;
        }
        let bytes_in: usize = pieces.iter().map(|p| p.len).sum();
        if let Test::Sample { every, seen } = &self.test {
            let base = seen.fetch_add(before as u64, Ordering::Relaxed);
            let mut i = base;
            pieces.retain(|_| {
                let keep = i % every == 0;
                i += 1;
                keep
            });
        } else {
            pieces.retain(|p| self.keeps(batch, p));
        }
        let after = pieces.len() as u64;
        let c = &self.endpoint.counters;
        c.add_in(before as u64, bytes_in as u64);
        Counters::add(&c.matched, after);
        Counters::add(&c.passed, after);
        Counters::add(&c.filtered, before as u64 - after);
    }
}

/// Spreads what passed the rules over the members of a balance group.
struct Balancer {
    mode: Balance,
    next: AtomicU64,
    endpoint: Arc<Endpoint>,
}

impl Balancer {
    fn member(&self, base: u64, i: u64, from: Option<SocketAddr>, members: usize) -> usize {
        match self.mode {
            Balance::RoundRobin => ((base + i) % members as u64) as usize,
            Balance::SourceHash => match from {
                Some(addr) => (source_hash(addr.ip()) % members as u64) as usize,
                None => 0,
            },
        }
    }
}

/// FNV-1a over the address's octets: fixed (the same member for the same exporter across
/// restarts of mproxy, unlike a randomly seeded hasher) and spreads neighbouring
/// addresses.
pub(crate) fn source_hash(ip: IpAddr) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    match ip.to_canonical() {
        IpAddr::V4(v4) => eat(&v4.octets()),
        IpAddr::V6(v6) => eat(&v6.octets()),
    }
    hash
}

/// Reusable per-delivery space: one per thread delivering at once.
#[derive(Default)]
struct Scratch {
    pieces: Vec<Piece>,
    batches: Vec<Batch>,
}

/// An output (or a balance group of outputs) behind its rules.
pub(crate) struct RuledSink {
    rules: Vec<Rule>,
    balancer: Option<Balancer>,
    /// One target, or one per balance member.
    targets: Vec<Arc<dyn Sink>>,
    /// The outputs' own endpoints, charged with `filtered` (not for a balance group: a
    /// datagram its rules drop belongs to none of the members; see its rule endpoints).
    outputs: Vec<Arc<Endpoint>>,
    spare: Mutex<Vec<Scratch>>,
    /// Says once that rules keep datagrams from this output (they are counted, not lost).
    name: String,
    reporter: Reporter,
    reported: AtomicBool,
}

impl RuledSink {
    /// `name` names the output or group in the rule endpoints ("127.0.0.1:9000 prefix
    /// !AIVDM"); `outputs` are the endpoints the target sinks registered. A bad pattern or
    /// a sample of 0 is an invalid-argument error.
    pub(crate) fn new(
        spec: &RuleSpec,
        balance: Option<Balance>,
        name: &str,
        targets: Vec<Arc<dyn Sink>>,
        outputs: Vec<Arc<Endpoint>>,
        registry: &Registry,
        reporter: Reporter,
    ) -> Result<RuledSink> {
        let mut rules = Vec::new();
        let mut add = |test: Test, what: String| {
            rules.push(Rule {
                test,
                endpoint: registry.register("rule", format!("{name} {what}")),
            })
        };
        if !spec.from.is_empty() {
            let list: Vec<String> = spec.from.iter().map(Cidr::to_string).collect();
            add(
                Test::From(spec.from.clone()),
                format!("from {}", list.join(",")),
            );
        }
        if let Some(prefix) = &spec.prefix {
            let shown = String::from_utf8_lossy(prefix).into_owned();
            add(Test::Prefix(prefix.clone()), format!("prefix {shown}"));
        }
        if let Some(pattern) = &spec.pattern {
            let re = compile_pattern(pattern).map_err(|e| Error::invalid(format!("match: {e}")))?;
            add(Test::Match(re), format!("match {pattern}"));
        }
        match spec.sample {
            Some(0) => {
                return Err(Error::invalid(
                    "sample: 0 is not a number of datagrams (at least 1)",
                ))
            }
            Some(1) | None => {}
            Some(every) => add(
                Test::Sample {
                    every,
                    seen: AtomicU64::new(0),
                },
                format!("sample 1/{every}"),
            ),
        }
        let balancer = balance.map(|mode| Balancer {
            mode,
            next: AtomicU64::new(0),
            endpoint: registry.register("rule", format!("{name} {}", mode.as_str())),
        });
        Ok(RuledSink {
            rules,
            outputs: if balancer.is_some() {
                Vec::new()
            } else {
                outputs
            },
            balancer,
            targets,
            spare: Mutex::new(Vec::new()),
            name: name.to_string(),
            reporter,
            reported: AtomicBool::new(false),
        })
    }

    fn filter(&self, batch: &Batch, scratch: &mut Scratch) {
        let pieces = &mut scratch.pieces;
        pieces.clear();
        for e in &batch.entries {
            if e.segment == 0 || e.len <= e.segment {
                pieces.push(Piece {
                    offset: e.offset,
                    len: e.len,
                    from: e.from,
                });
            } else {
                let mut at = 0;
                while at < e.len {
                    let len = e.segment.min(e.len - at);
                    pieces.push(Piece {
                        offset: e.offset + at,
                        len,
                        from: e.from,
                    });
                    at += len;
                }
            }
        }
        let total = pieces.len();
        for rule in &self.rules {
            rule.apply(batch, pieces);
        }
        let filtered = (total - pieces.len()) as u64;
        if filtered > 0 && !self.reported.swap(true, Ordering::Relaxed) {
            self.reporter.info(format!(
                "routing rules of {} keep datagrams from it (counted as filtered in the stats)",
                self.name
            ));
        }
        if filtered > 0 {
            for o in &self.outputs {
                Counters::add(&o.counters.filtered, filtered);
            }
        }
        let Some(balancer) = &self.balancer else {
            if pieces.len() == total {
                // Everything passed: the batch goes on as it is, uncopied.
                for t in &self.targets {
                    t.deliver(batch);
                }
            } else if !pieces.is_empty() {
                scratch.batches.resize_with(1, Batch::default);
                let out = &mut scratch.batches[0];
                out.clear();
                for p in pieces.iter() {
                    out.push_from(&batch.buf[p.offset..p.offset + p.len], p.from);
                }
                for t in &self.targets {
                    t.deliver(out);
                }
            }
            return;
        };
        if pieces.is_empty() {
            return;
        }
        let members = self.targets.len();
        let n = pieces.len() as u64;
        let bytes: usize = pieces.iter().map(|p| p.len).sum();
        let base = match balancer.mode {
            Balance::RoundRobin => balancer.next.fetch_add(n, Ordering::Relaxed),
            Balance::SourceHash => 0,
        };
        scratch.batches.resize_with(members, Batch::default);
        scratch.batches.iter_mut().for_each(Batch::clear);
        for (i, p) in pieces.iter().enumerate() {
            let m = balancer.member(base, i as u64, p.from, members);
            scratch.batches[m].push_from(&batch.buf[p.offset..p.offset + p.len], p.from);
        }
        let c = &balancer.endpoint.counters;
        c.add_in(n, bytes as u64);
        Counters::add(&c.matched, n);
        Counters::add(&c.passed, n);
        for (target, out) in self.targets.iter().zip(&scratch.batches) {
            if !out.is_empty() {
                target.deliver(out);
            }
        }
    }
}

impl Sink for RuledSink {
    fn deliver(&self, batch: &Batch) {
        let taken = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut scratch = taken.unwrap_or_default();
        self.filter(batch, &mut scratch);
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(scratch);
        }
    }

    fn finish(&self) {
        for t in &self.targets {
            t.finish();
        }
    }

    fn reopen(&self) {
        for t in &self.targets {
            t.reopen();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    use crate::sink::test_sinks::Keep;

    fn addr(text: &str) -> SocketAddr {
        text.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// 20 lines: AIS types 1, 2, 3 and 5 in turn (each `!AIVDM`), and a `$GPGGA` after each.
    fn feed() -> Batch {
        let mut b = Batch::default();
        let payloads = [
            "13u?etPv2;0n:dDPwUM1U1Cb069D",
            "23u?etPv2;0n:dD",
            "33u?etPv2;0n",
            "55?MbV02;H;s",
        ];
        for i in 0..10 {
            let p = payloads[i % 4];
            let ais = format!("!AIVDM,1,1,,A,{p},0*00");
            b.push_from(
                ais.as_bytes(),
                Some(addr(if i % 2 == 0 {
                    "192.0.2.7:1000"
                } else {
                    "198.51.100.1:1000"
                })),
            );
            b.push_from(b"$GPGGA,123519,4807.038,N", Some(addr("[2001:db8::1]:5")));
        }
        b
    }

    fn counts(registry: &Registry) -> Vec<(String, u64, u64, u64, u64)> {
        registry
            .snapshot()
            .into_iter()
            .filter(|e| e.kind == "rule")
            .map(|e| {
                let c = e.counters;
                (e.name, c.datagrams_in, c.matched, c.passed, c.filtered)
            })
            .collect()
    }

    fn ruled(
        spec: RuleSpec,
        balance: Option<Balance>,
        members: usize,
    ) -> (RuledSink, Vec<Arc<Keep>>, Registry, Arc<Endpoint>) {
        let registry = Registry::default();
        let output = registry.register("udp-destination", "out");
        let keeps: Vec<Arc<Keep>> = (0..members).map(|_| Arc::new(Keep::default())).collect();
        let targets = keeps.iter().map(|k| k.clone() as Arc<dyn Sink>).collect();
        let sink = RuledSink::new(
            &spec,
            balance,
            "out",
            targets,
            vec![output.clone()],
            &registry,
            Reporter::silent(),
        );
        match sink {
            Ok(s) => (s, keeps, registry, output),
            Err(e) => unreachable!("{}", e.message),
        }
    }

    #[test]
    fn cidr_parses_and_contains() {
        let c = Cidr::parse("192.0.2.0/24").unwrap_or_else(|e| unreachable!("{e}"));
        assert!(c.contains("192.0.2.255".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(!c.contains("192.0.3.1".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(c.contains("::ffff:192.0.2.9".parse().unwrap_or(IpAddr::from([0; 4]))));
        let v6 = Cidr::parse("2001:db8::/32").unwrap_or_else(|e| unreachable!("{e}"));
        assert!(v6.contains("2001:db8:1::5".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(!v6.contains("192.0.2.1".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert_eq!(
            Cidr::parse("10.1.2.3").map(|c| c.to_string()),
            Ok("10.1.2.3/32".into())
        );
        assert_eq!(
            Cidr::parse("0.0.0.0/0").map(|c| c.contains(IpAddr::from([8, 8, 8, 8]))),
            Ok(true)
        );
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err("10.0.0.0/33: the prefix length must be 0 to 32".into())
        );
        assert_eq!(
            Cidr::parse("nope/8"),
            Err("nope/8 is not an IP address or CIDR block (192.0.2.0/24)".into())
        );
    }

    #[test]
    fn prefix_and_pattern_count_exactly() {
        let spec = RuleSpec {
            prefix: Some(b"!AIVDM".to_vec()),
            pattern: Some("^!AIVDM,1,1,,[AB],[1-3]".into()),
            ..Default::default()
        };
        let (sink, keeps, registry, output) = ruled(spec, None, 1);
        sink.deliver(&feed());
        // 10 AIS lines pass the prefix; types 1,2,3 of the cycle 1,2,3,5 are 8 of them.
        assert_eq!(keeps[0].texts().len(), 8);
        assert!(keeps[0].texts().iter().all(|t| !t.contains(",A,5")));
        assert_eq!(
            counts(&registry),
            vec![
                ("out prefix !AIVDM".into(), 20, 10, 10, 10),
                ("out match ^!AIVDM,1,1,,[AB],[1-3]".into(), 10, 8, 8, 2),
            ]
        );
        assert_eq!(output.counters.filtered.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn source_rule_matches_blocks_of_both_families() {
        let spec = RuleSpec {
            from: vec![
                Cidr::parse("192.0.2.0/24").unwrap_or_else(|e| unreachable!("{e}")),
                Cidr::parse("2001:db8::/32").unwrap_or_else(|e| unreachable!("{e}")),
            ],
            ..Default::default()
        };
        let (sink, keeps, registry, _) = ruled(spec, None, 1);
        let mut batch = feed();
        batch.push(b"no sender");
        sink.deliver(&batch);
        assert_eq!(keeps[0].texts().len(), 15);
        assert_eq!(
            counts(&registry),
            vec![("out from 192.0.2.0/24,2001:db8::/32".into(), 21, 15, 15, 6)]
        );
    }

    #[test]
    fn sampling_is_exact_across_batches() {
        let spec = RuleSpec {
            sample: Some(10),
            ..Default::default()
        };
        let (sink, keeps, registry, _) = ruled(spec, None, 1);
        for _ in 0..7 {
            sink.deliver(&feed()); // 20 each: 140 in all
        }
        assert_eq!(keeps[0].texts().len(), 14);
        assert_eq!(
            counts(&registry),
            vec![("out sample 1/10".into(), 140, 14, 14, 126)]
        );
    }

    #[test]
    fn round_robin_is_exact_and_source_hash_sticks() {
        let (sink, keeps, registry, _) = ruled(RuleSpec::default(), Some(Balance::RoundRobin), 2);
        sink.deliver(&feed());
        sink.deliver(&feed());
        assert_eq!(keeps[0].texts().len(), 20);
        assert_eq!(keeps[1].texts().len(), 20);
        assert_eq!(
            counts(&registry),
            vec![("out round-robin".into(), 40, 40, 40, 0)]
        );

        let (sink, keeps, _, _) = ruled(RuleSpec::default(), Some(Balance::SourceHash), 3);
        for _ in 0..3 {
            sink.deliver(&feed());
        }
        let mut seen: Vec<(usize, SocketAddr)> = Vec::new();
        for (i, k) in keeps.iter().enumerate() {
            for f in k.senders().into_iter().flatten() {
                seen.push((i, f));
            }
        }
        assert_eq!(seen.len(), 60);
        for (i, from) in &seen {
            assert_eq!(*i as u64, source_hash(from.ip()) % 3);
        }
    }

    #[test]
    fn segments_are_judged_one_by_one_and_everything_passing_is_not_copied() {
        let mut batch = Batch::default();
        batch.buf.extend_from_slice(b"!AIxx$GPxx!AIyy");
        batch.entries.push(crate::batch::Entry {
            offset: 0,
            len: 15,
            segment: 5,
            from: None,
        });
        let spec = RuleSpec {
            prefix: Some(b"!AI".to_vec()),
            ..Default::default()
        };
        let (sink, keeps, _, _) = ruled(spec, None, 1);
        sink.deliver(&batch);
        assert_eq!(keeps[0].texts(), vec!["!AIxx", "!AIyy"]);
    }

    #[test]
    fn bad_pattern_and_zero_sample_are_refused_in_one_line() {
        let registry = Registry::default();
        let make = |spec: RuleSpec| {
            RuledSink::new(
                &spec,
                None,
                "out",
                Vec::new(),
                Vec::new(),
                &registry,
                Reporter::silent(),
            )
            .err()
            .map(|e| e.message)
        };
        assert_eq!(
            make(RuleSpec {
                pattern: Some("([".into()),
                ..Default::default()
            }),
            Some("match: not a valid regular expression (unclosed character class)".into())
        );
        assert_eq!(
            make(RuleSpec {
                pattern: Some("\\w{1000}{1000}".into()),
                ..Default::default()
            }),
            Some("match: the pattern is too large (over 1048576 bytes compiled)".into())
        );
        assert_eq!(
            make(RuleSpec {
                sample: Some(0),
                ..Default::default()
            }),
            Some("sample: 0 is not a number of datagrams (at least 1)".into())
        );
    }
}

/// What a rule set costs per datagram, apart from the sockets: `cargo test --release -p
/// mproxy-core rule_cost -- --ignored --nocapture`. Prints; asserts nothing about time.
#[cfg(test)]
mod cost {
    use super::*;
    use std::time::Instant;

    use crate::sink::test_sinks::Discard;

    #[test]
    #[ignore]
    fn rule_cost() {
        let mut batch = Batch::default();
        for _ in 0..64 {
            batch.push_from(&[b'm'; 100], None);
        }
        let cases: Vec<(&str, RuleSpec)> = vec![
            (
                "prefix (all pass)",
                RuleSpec {
                    prefix: Some(b"mm".to_vec()),
                    ..Default::default()
                },
            ),
            (
                "prefix (none pass)",
                RuleSpec {
                    prefix: Some(b"!A".to_vec()),
                    ..Default::default()
                },
            ),
            (
                "sample 1/10",
                RuleSpec {
                    sample: Some(10),
                    ..Default::default()
                },
            ),
            (
                "match ^m+$",
                RuleSpec {
                    pattern: Some("^m+$".into()),
                    ..Default::default()
                },
            ),
        ];
        for (what, spec) in cases {
            let registry = Registry::default();
            let sink = RuledSink::new(
                &spec,
                None,
                "x",
                vec![Arc::new(Discard)],
                Vec::new(),
                &registry,
                Reporter::silent(),
            );
            let Ok(sink) = sink else { continue };
            let rounds = 200_000;
            let started = Instant::now();
            for _ in 0..rounds {
                sink.deliver(&batch);
            }
            let ns = started.elapsed().as_nanos() as f64 / (rounds as f64 * 64.0);
            println!("{what}: {ns:.1} ns per datagram");
        }
    }
}
