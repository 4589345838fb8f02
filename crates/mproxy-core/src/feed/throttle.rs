//! The throttle stage: at most one line per key per interval.
//!
//! Keys: `mmsi`, the ship's MMSI from the 6-bit payload of AIS position reports (types 1,
//! 2, 3, 18, 19, 27); other AIS types and non-AIS lines pass untouched (static data and
//! safety messages are not "sampled" data, and a line without an MMSI has no key).
//! `sentence`, the talker and type (`GPGGA`, `AIVDM`); lines that are not `$`/`!`
//! sentences pass. `line`, the line without its TAG block and line ending (with it, the
//! `c:` time would make every line new). Fragments of AIS multipart messages pass for any
//! key: a part of a message is not a message, and dropping one would break it.
//!
//! `first` (the default) passes the first line of a key and drops (`throttled`) the others
//! until `interval` has passed since. `latest` holds the newest line per key and sends what
//! it holds at the end of each interval (one line per datagram), from a timer of the stage;
//! a line replaced by a newer one is `throttled`. At the route's stop what is held is sent:
//! it is what the interval's end would have sent, and stopping is not a reason to lose it.
//!
//! Table: at most [`THROTTLE_ENTRIES`] keys and [`THROTTLE_BYTES`] (held lines with
//! `latest`); the oldest are evicted when full (`evicted`), and a held line evicted is
//! dropped and counted as `throttled` too.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::table::{Table, ENTRY_OVERHEAD};
use crate::nmea::ais::{position_report_mmsi, Vdm};
use crate::nmea::sentence::Line;

/// Most keys at once (ships, sentence types, lines).
pub(crate) const THROTTLE_ENTRIES: usize = 65_536;
/// Most bytes of keys and held lines.
pub(crate) const THROTTLE_BYTES: usize = THROTTLE_ENTRIES * ENTRY_OVERHEAD + (4 << 20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleKey {
    Mmsi,
    Sentence,
    #[default]
    Line,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleKeep {
    #[default]
    First,
    Latest,
}

/// The default has no interval, which [`crate::InputStagesSpec::check`] refuses: it is there
/// so that a spec can name only what it sets (`..Default::default()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSpec {
    pub key: ThrottleKey,
    #[serde(deserialize_with = "super::seconds")]
    pub interval: Duration,
    #[serde(default)]
    pub keep: ThrottleKeep,
    /// What is done with the lines the key does not apply to (other AIS types, sentences
    /// that are not AIS with key `mmsi`, multipart fragments, lines that are not sentences):
    /// passed on (the default), or dropped and counted in `throttled` for a feed of only
    /// what the key names. Blank lines always pass.
    #[serde(default)]
    pub others: ThrottleOthers,
}

/// See [`ThrottleSpec::others`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleOthers {
    #[default]
    Pass,
    Drop,
}

struct Slot {
    at: Instant,
    /// With `latest`: the newest line, its order of arrival, its sender.
    held: Option<(u64, Vec<u8>, Option<SocketAddr>)>,
}

pub(crate) enum Verdict {
    Pass,
    /// Dropped or held: counted already.
    Taken,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ThrottleTally {
    pub throttled: u64,
    pub evicted: u64,
}

pub(crate) struct Throttle {
    spec: ThrottleSpec,
    table: Table<Slot>,
    hashes: RandomState,
    arrivals: u64,
    pub(crate) tally: ThrottleTally,
}

impl Throttle {
    pub(crate) fn new(spec: &ThrottleSpec) -> Throttle {
        Throttle::with_caps(spec, THROTTLE_ENTRIES, THROTTLE_BYTES)
    }

    pub(crate) fn with_caps(spec: &ThrottleSpec, entries: usize, bytes: usize) -> Throttle {
        Throttle {
            spec: *spec,
            table: Table::new(entries, bytes),
            hashes: RandomState::new(),
            arrivals: 0,
            tally: ThrottleTally::default(),
        }
    }

    pub(crate) fn interval(&self) -> Duration {
        self.spec.interval
    }

    pub(crate) fn keeps_latest(&self) -> bool {
        self.spec.keep == ThrottleKeep::Latest
    }

    #[cfg(test)]
    pub(crate) fn table_size(&self) -> (usize, usize) {
        (self.table.len(), self.table.bytes())
    }

    /// The line's key, or `None` for a line that passes untouched.
    fn key(&self, line: &[u8]) -> Option<u64> {
        let parts = Line::parse(line);
        if parts.is_blank() {
            return None;
        }
        let sentence = parts.sentence();
        let vdm = sentence.as_ref().and_then(Vdm::parse);
        if vdm.is_some_and(|v| v.is_multipart()) {
            return None;
        }
        let mut h = self.hashes.build_hasher();
        match self.spec.key {
            ThrottleKey::Mmsi => h.write_u32(position_report_mmsi(&vdm?)?),
            ThrottleKey::Sentence => h.write(sentence?.address()),
            ThrottleKey::Line => h.write(parts.text),
        }
        Some(h.finish())
    }

    /// For a line the key does not apply to that reached it another way (a multipart
    /// message the dedup stage released whole): true, and counted, when `others` drops it.
    pub(crate) fn drop_other(&mut self) -> bool {
        let drop = self.spec.others == ThrottleOthers::Drop;
        if drop {
            self.tally.throttled += 1;
        }
        drop
    }

    pub(crate) fn judge(&mut self, line: &[u8], from: Option<SocketAddr>, now: Instant) -> Verdict {
        let Some(key) = self.key(line) else {
            if self.spec.others == ThrottleOthers::Drop && !Line::parse(line).is_blank() {
                self.tally.throttled += 1;
                return Verdict::Taken;
            }
            return Verdict::Pass;
        };
        let tally = &mut self.tally;
        if self.spec.keep == ThrottleKeep::First {
            let interval = self.spec.interval;
            self.table
                .expire(|s| now.duration_since(s.at) >= interval, |_| {});
            if self.table.get(key).is_some() {
                tally.throttled += 1;
                return Verdict::Taken;
            }
            self.table.insert(
                key,
                Slot {
                    at: now,
                    held: None,
                },
                0,
                &mut |_| {
                    tally.evicted += 1;
                },
            );
            return Verdict::Pass;
        }
        self.arrivals += 1;
        let mut held = Some((self.arrivals, line.to_vec(), from));
        let replaced = match self.table.get_mut(key) {
            Some(slot) => {
                slot.held = held.take();
                true
            }
            None => false,
        };
        let mut lost = |s: Slot| {
            tally.evicted += 1;
            if s.held.is_some() {
                tally.throttled += 1;
            }
        };
        if replaced {
            self.table.resize(key, line.len(), &mut lost);
            tally.throttled += 1;
        } else {
            self.table
                .insert(key, Slot { at: now, held }, line.len(), &mut lost);
        }
        Verdict::Taken
    }

    /// With `latest`: the held lines, in the order they arrived; the table is left empty
    /// (a new interval begins).
    pub(crate) fn take_held(&mut self) -> Vec<(Vec<u8>, Option<SocketAddr>)> {
        let mut held: Vec<_> = self
            .table
            .drain()
            .into_iter()
            .filter_map(|s| s.held)
            .collect();
        held.sort_unstable_by_key(|(arrival, _, _)| *arrival);
        held.into_iter()
            .map(|(_, line, from)| (line, from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A1: &[u8] = b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n";
    const A2: &[u8] = b"!AIVDM,1,1,,A,177KQJ5000G?tO`K>RA1wUbN0TKI,0*5C\n";
    const B: &[u8] = b"!AIVDM,1,1,,A,B52K>;h00Fc>jpUlNV@ikwpUoP06,0*4C\n";
    const BASE: &[u8] = b"!AIVDM,1,1,,A,403OviQuMGCqWrRO9>E6fE700@GO,0*4D\n";
    const GGA: &[u8] = b"$GPGGA,1*00\n";

    fn spec(key: ThrottleKey, keep: ThrottleKeep) -> ThrottleSpec {
        ThrottleSpec {
            key,
            interval: Duration::from_secs(10),
            keep,
            ..Default::default()
        }
    }

    fn passed(t: &mut Throttle, lines: &[&[u8]], now: Instant) -> Vec<usize> {
        (0..lines.len())
            .filter(|&i| matches!(t.judge(lines[i], None, now), Verdict::Pass))
            .collect()
    }

    #[test]
    fn first_per_mmsi_and_others_pass() {
        let mut t = Throttle::new(&spec(ThrottleKey::Mmsi, ThrottleKeep::First));
        let now = Instant::now();
        // A1 and A2 are the same ship; BASE (type 4) and GGA have no key.
        assert_eq!(
            passed(&mut t, &[A1, A2, B, BASE, BASE, GGA, GGA], now),
            vec![0, 2, 3, 4, 5, 6]
        );
        assert_eq!(t.tally.throttled, 1);
        assert_eq!(
            passed(&mut t, &[A2], now + Duration::from_secs(9)),
            Vec::<usize>::new()
        );
        assert_eq!(
            passed(&mut t, &[A2], now + Duration::from_secs(10)),
            vec![0]
        );
    }

    #[test]
    fn others_drop_keeps_only_what_the_key_names() {
        let mut t = Throttle::new(&ThrottleSpec {
            others: ThrottleOthers::Drop,
            ..spec(ThrottleKey::Mmsi, ThrottleKeep::First)
        });
        let now = Instant::now();
        let frag: &[u8] = b"!AIVDM,2,2,1,A,88888888880,2*25\n";
        // A1 and B are position reports; BASE (type 4), GGA, a fragment and text are not.
        assert_eq!(
            passed(&mut t, &[A1, BASE, GGA, frag, b"hi\n", b"\n", B, A2], now),
            vec![0, 5, 6]
        );
        // BASE, GGA, the fragment and the text dropped as others, A2 as A1's ship again.
        assert_eq!(t.tally.throttled, 5);
    }

    #[test]
    fn by_sentence_and_by_line() {
        let now = Instant::now();
        let mut t = Throttle::new(&spec(ThrottleKey::Sentence, ThrottleKeep::First));
        assert_eq!(
            passed(&mut t, &[A1, B, GGA, b"$GPGGA,2*00\n", b"hi\n"], now),
            vec![0, 2, 4]
        );
        let mut t = Throttle::new(&spec(ThrottleKey::Line, ThrottleKeep::First));
        let tagged: &[u8] = b"\\c:1*00\\$GPGGA,1*00\r\n";
        assert_eq!(passed(&mut t, &[GGA, tagged, A1, A1], now), vec![0, 2]);
        // Multipart fragments pass for every key.
        let frag: &[u8] = b"!AIVDM,2,2,1,A,88888888880,2*25\n";
        assert_eq!(passed(&mut t, &[frag, frag], now), vec![0, 1]);
    }

    #[test]
    fn latest_holds_the_newest_per_key_in_arrival_order() {
        let mut t = Throttle::new(&spec(ThrottleKey::Mmsi, ThrottleKeep::Latest));
        let now = Instant::now();
        assert_eq!(passed(&mut t, &[A1, B, A2, GGA], now), vec![3]);
        let held: Vec<Vec<u8>> = t.take_held().into_iter().map(|(l, _)| l).collect();
        assert_eq!(held, vec![B.to_vec(), A2.to_vec()]);
        assert_eq!(t.tally.throttled, 1);
        assert!(t.take_held().is_empty());
    }

    #[test]
    fn a_flood_of_keys_stays_within_the_caps() {
        let mut t = Throttle::with_caps(
            &spec(ThrottleKey::Line, ThrottleKeep::Latest),
            50,
            50 * ENTRY_OVERHEAD + 500,
        );
        let now = Instant::now();
        for i in 0..5_000 {
            let line = format!("$GPXXX,{i}*00\n");
            t.judge(line.as_bytes(), None, now);
            let (entries, bytes) = t.table_size();
            assert!(entries <= 50 && bytes <= 50 * ENTRY_OVERHEAD + 500);
        }
        let held = t.take_held().len() as u64;
        // Every line is held, sent, or counted.
        assert_eq!(t.tally.throttled + held, 5_000);
        assert_eq!(t.tally.evicted, 5_000 - held);
    }
}
