//! The dedup stage: a message seen within the window (across every input of the route) is
//! dropped (`duplicates`). The window runs from the first copy: later copies do not extend
//! it.
//!
//! A message's key is its sentence without the TAG block and without the checksum; for AIS
//! (`VDM`/`VDO`) only the sentence type, the payload and the fill bits of every fragment
//! count: the channel letter differs between receivers hearing A and B, the sequential id
//! is each receiver's own, and the checksum changes with both.
//!
//! AIS multipart messages are reassembled first, per source address and sequential id: the
//! fragments are held until the last arrives, then the whole message is judged and sent
//! (every fragment, in order, where the last one was) or dropped together. An incomplete
//! one (a fragment missing, out of order, or a new message with the same id) is dropped and
//! its fragments counted (`multipartIncomplete`): a part of a message is of no use to a
//! decoder and could be joined with the wrong fragments downstream; another receiver's
//! complete copy is what gets through. One waits at most [`MULTIPART_TIMEOUT`] (or the
//! window, if shorter): the fragments of one AIS message go out in consecutive slots and
//! arrive within milliseconds.
//!
//! Tables (see `table.rs`): seen keys at most [`SEEN_ENTRIES`] entries and
//! [`SEEN_BYTES`]; assemblies at most [`ASSEMBLY_ENTRIES`] and [`ASSEMBLY_BYTES`] of held
//! fragments. When full, the oldest are evicted (`evicted`): a seen key evicted early lets a
//! later copy through; an evicted assembly's fragments are dropped and counted as
//! `multipartIncomplete` too.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::table::{Table, ENTRY_OVERHEAD};
use crate::nmea::ais::Vdm;
use crate::nmea::sentence::Line;

/// Most message keys remembered (at 64 bytes each, 4 MiB).
pub(crate) const SEEN_ENTRIES: usize = 65_536;
pub(crate) const SEEN_BYTES: usize = SEEN_ENTRIES * ENTRY_OVERHEAD;
/// Most multipart messages being reassembled at once.
pub(crate) const ASSEMBLY_ENTRIES: usize = 4_096;
/// Most bytes of held fragments (and their entries).
pub(crate) const ASSEMBLY_BYTES: usize = 1 << 20;
/// Longest wait for a multipart message's last fragment.
pub(crate) const MULTIPART_TIMEOUT: Duration = Duration::from_secs(5);

/// Duplicate suppression over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupSpec {
    #[serde(deserialize_with = "super::seconds")]
    pub window: Duration,
}

struct Assembly {
    started: Instant,
    count: u8,
    next: u8,
    fragments: Vec<Vec<u8>>,
    bytes: usize,
    key: std::hash::DefaultHasher,
}

/// What became of a line.
pub(crate) enum Outcome {
    Pass,
    /// Dropped as a duplicate, held as a fragment, or dropped as an incomplete multipart:
    /// counted already.
    Taken,
    /// The last fragment completed a message that is no duplicate: every fragment, in order.
    Released(Vec<Vec<u8>>),
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DedupTally {
    pub duplicates: u64,
    pub incomplete: u64,
    pub evicted: u64,
}

pub(crate) struct Dedup {
    window: Duration,
    timeout: Duration,
    seen: Table<Instant>,
    assemblies: Table<Assembly>,
    hashes: RandomState,
    pub(crate) tally: DedupTally,
}

impl Dedup {
    pub(crate) fn new(spec: &DedupSpec) -> Dedup {
        Dedup::with_caps(
            spec,
            (SEEN_ENTRIES, SEEN_BYTES),
            (ASSEMBLY_ENTRIES, ASSEMBLY_BYTES),
        )
    }

    pub(crate) fn with_caps(
        spec: &DedupSpec,
        seen: (usize, usize),
        assemblies: (usize, usize),
    ) -> Dedup {
        Dedup {
            window: spec.window,
            timeout: spec.window.min(MULTIPART_TIMEOUT),
            seen: Table::new(seen.0, seen.1),
            assemblies: Table::new(assemblies.0, assemblies.1),
            hashes: RandomState::new(),
            tally: DedupTally::default(),
        }
    }

    /// Multipart messages being reassembled now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.assemblies.len()
    }

    #[cfg(test)]
    pub(crate) fn table_sizes(&self) -> [(usize, usize); 2] {
        [
            (self.seen.len(), self.seen.bytes()),
            (self.assemblies.len(), self.assemblies.bytes()),
        ]
    }

    fn expire(&mut self, now: Instant) {
        let window = self.window;
        self.seen
            .expire(|at| now.duration_since(*at) >= window, |_| {});
        let timeout = self.timeout;
        let tally = &mut self.tally;
        self.assemblies.expire(
            |a| now.duration_since(a.started) >= timeout,
            |a| tally.incomplete += a.fragments.len() as u64,
        );
    }

    /// Whether `key` was seen within the window (and remembers it if not).
    fn seen_before(&mut self, key: u64, now: Instant) -> bool {
        if self
            .seen
            .get(key)
            .is_some_and(|at| now.duration_since(*at) < self.window)
        {
            return true;
        }
        let tally = &mut self.tally;
        self.seen.insert(key, now, 0, &mut |_| tally.evicted += 1);
        false
    }

    pub(crate) fn judge(&mut self, line: &[u8], from: Option<SocketAddr>, now: Instant) -> Outcome {
        self.expire(now);
        let parts = Line::parse(line);
        if parts.is_blank() {
            return Outcome::Pass;
        }
        let sentence = parts.sentence();
        let vdm = sentence.as_ref().and_then(Vdm::parse);
        let mut h = self.hashes.build_hasher();
        match (&vdm, &sentence) {
            (Some(v), _) if v.is_multipart() => return self.fragment(line, v, from, now),
            (Some(v), _) => {
                h.write(v.address);
                h.write_u8(1);
                add_fragment(&mut h, v);
            }
            (None, Some(s)) => h.write(s.body),
            (None, None) => h.write(parts.text),
        }
        if self.seen_before(h.finish(), now) {
            self.tally.duplicates += 1;
            Outcome::Taken
        } else {
            Outcome::Pass
        }
    }

    fn fragment(
        &mut self,
        line: &[u8],
        v: &Vdm<'_>,
        from: Option<SocketAddr>,
        now: Instant,
    ) -> Outcome {
        let mut id = self.hashes.build_hasher();
        std::hash::Hash::hash(&from, &mut id);
        id.write(v.address);
        id.write(v.seq);
        let id = id.finish();
        if v.number == 1 {
            if let Some(old) = self.assemblies.remove(id) {
                evict_uncounted(&mut self.tally, old);
            }
            return self.start(id, line, v, now);
        }
        let fits = self
            .assemblies
            .get(id)
            .is_some_and(|a| a.count == v.count && a.next == v.number);
        if !fits {
            if let Some(old) = self.assemblies.remove(id) {
                evict_uncounted(&mut self.tally, old);
            }
            self.tally.incomplete += 1;
            return Outcome::Taken;
        }
        let Some(a) = self.assemblies.get_mut(id) else {
            return Outcome::Taken;
        };
        a.fragments.push(line.to_vec());
        a.bytes += line.len();
        a.next += 1;
        add_fragment(&mut a.key, v);
        if v.number < v.count {
            let held = a.bytes;
            let tally = &mut self.tally;
            self.assemblies.resize(id, held, &mut |a: Assembly| {
                tally.evicted += 1;
                tally.incomplete += a.fragments.len() as u64;
            });
            return Outcome::Taken;
        }
        let Some(a) = self.assemblies.remove(id) else {
            return Outcome::Taken;
        };
        if self.seen_before(a.key.finish(), now) {
            self.tally.duplicates += a.fragments.len() as u64;
            Outcome::Taken
        } else {
            Outcome::Released(a.fragments)
        }
    }

    fn start(&mut self, id: u64, line: &[u8], v: &Vdm<'_>, now: Instant) -> Outcome {
        let mut key = self.hashes.build_hasher();
        key.write(v.address);
        key.write_u8(v.count);
        add_fragment(&mut key, v);
        let a = Assembly {
            started: now,
            count: v.count,
            next: 2,
            fragments: vec![line.to_vec()],
            bytes: line.len(),
            key,
        };
        let held = a.bytes;
        let tally = &mut self.tally;
        self.assemblies.insert(id, a, held, &mut |old: Assembly| {
            tally.evicted += 1;
            tally.incomplete += old.fragments.len() as u64;
        });
        Outcome::Taken
    }

    /// At the route's stop: what is still being reassembled is incomplete.
    pub(crate) fn finish(&mut self) {
        for a in self.assemblies.drain() {
            self.tally.incomplete += a.fragments.len() as u64;
        }
    }
}

/// An assembly replaced or broken (not evicted for room): its fragments are incomplete.
fn evict_uncounted(tally: &mut DedupTally, old: Assembly) {
    tally.incomplete += old.fragments.len() as u64;
}

fn add_fragment(h: &mut impl Hasher, v: &Vdm<'_>) {
    h.write(v.payload);
    h.write_u8(b',');
    h.write(v.fill);
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: DedupSpec = DedupSpec {
        window: Duration::from_secs(10),
    };

    fn addr(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([192, 0, 2, 1], port)))
    }

    fn run(d: &mut Dedup, lines: &[(&[u8], u16)], now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for (line, port) in lines {
            match d.judge(line, addr(*port), now) {
                Outcome::Pass => out.push(String::from_utf8_lossy(line).into_owned()),
                Outcome::Taken => {}
                Outcome::Released(all) => {
                    out.extend(all.iter().map(|l| String::from_utf8_lossy(l).into_owned()))
                }
            }
        }
        out
    }

    #[test]
    fn channels_tags_and_checksums_do_not_make_a_message_new() {
        let mut d = Dedup::new(&WINDOW);
        let now = Instant::now();
        let got = run(
            &mut d,
            &[
                (b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n", 1),
                (
                    b"\\s:r2*00\\!AIVDM,1,1,,B,13u?etPv2;0n:dDPwUM1U1Cb069D,0*20\r\n",
                    2,
                ),
                (b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069E,0*22\r\n", 1),
                (b"$GPGGA,1*00\n", 1),
                (b"$GPGGA,1*00\r\n", 2),
            ],
            now,
        );
        assert_eq!(
            got,
            vec![
                "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n",
                "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069E,0*22\r\n",
                "$GPGGA,1*00\n",
            ]
        );
        assert_eq!(d.tally.duplicates, 2);
        // After the window, the same message is new again.
        let later = run(
            &mut d,
            &[(b"$GPGGA,1*00\n", 1)],
            now + Duration::from_secs(10),
        );
        assert_eq!(later.len(), 1);
    }

    #[test]
    fn multipart_messages_are_judged_whole() {
        let mut d = Dedup::new(&WINDOW);
        let now = Instant::now();
        let a1: &[u8] =
            b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n";
        let a2: &[u8] = b"!AIVDM,2,2,1,A,88888888880,2*25\n";
        let b1: &[u8] =
            b"!AIVDM,2,1,7,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n";
        let b2: &[u8] = b"!AIVDM,2,2,7,B,88888888880,2*25\n";
        // Receiver 1's copy, interleaved with receiver 2's (other id, other channel).
        let got = run(&mut d, &[(a1, 1), (b1, 2), (a2, 1), (b2, 2)], now);
        assert_eq!(
            got,
            vec![String::from_utf8_lossy(a1), String::from_utf8_lossy(a2)]
        );
        assert_eq!((d.tally.duplicates, d.tally.incomplete), (2, 0));
        // A second fragment without its first, and a first never completed.
        let c2: &[u8] = b"!AIVDM,2,2,3,A,99999999990,2*25\n";
        let c1: &[u8] =
            b"!AIVDM,2,1,4,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp9,0*1C\n";
        assert!(run(&mut d, &[(c2, 1), (c1, 1)], now).is_empty());
        assert_eq!(d.tally.incomplete, 1);
        assert_eq!(d.held(), 1);
        // It times out after the window (at most 5 s), counted.
        run(
            &mut d,
            &[(b"$GPGGA,2*00\n", 1)],
            now + Duration::from_secs(6),
        );
        assert_eq!((d.tally.incomplete, d.held()), (2, 0));
    }

    #[test]
    fn tables_stay_within_their_caps_under_a_flood() {
        let mut d = Dedup::with_caps(
            &WINDOW,
            (100, 100 * ENTRY_OVERHEAD),
            (10, 10 * ENTRY_OVERHEAD + 1000),
        );
        let now = Instant::now();
        for i in 0..10_000 {
            let line = format!("$GPXXX,{i}*00\n");
            run(&mut d, &[(line.as_bytes(), 1)], now);
            let first = format!("!AIVDM,2,1,{},A,5{i},0*00\n", i % 10);
            run(&mut d, &[(first.as_bytes(), (i % 1000) as u16)], now);
            for (entries, bytes) in d.table_sizes() {
                assert!(entries <= 100 && bytes <= 100 * ENTRY_OVERHEAD);
            }
            assert!(d.table_sizes()[1].0 <= 10);
        }
        // 10,000 keys into 100 slots, 10,000 assemblies into 10.
        assert_eq!(d.tally.evicted, 9_900 + 9_990);
        assert_eq!(d.tally.incomplete, 9_990);
        assert_eq!(d.tally.duplicates, 0);
    }
}
