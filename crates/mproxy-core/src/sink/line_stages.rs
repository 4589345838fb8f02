//! Per-output line stages, for consumers that want clean, single lines: removing NMEA 4.10
//! TAG blocks from every line (OpenCPN and others drop tagged sentences), and re-framing to
//! one line per datagram (Signal K and OpenCPN read one sentence per datagram).
//!
//! Both run in one pass over a batch, in front of the output's routing rules (so rules see
//! clean lines), and each counts on its own endpoint of kind "stage" (`NAME
//! strip-tag-blocks`: datagrams in, those left with bytes after it, and the blocks removed
//! in `tagBlocksStripped`; `NAME one-line-per-datagram`: datagrams in and the datagrams
//! they became). A batch with
//! nothing to change (no backslash, at most one line per datagram) goes on uncopied.
//!
//! A line is what ends with `\n` (kept with it), or the rest of a datagram after its last
//! one. A line that was only a TAG block is empty after the strip and is not sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::Sink;
use crate::batch::{Batch, Entry};
use crate::nmea::tag_block;
use crate::stats::{Counters, Endpoint, Registry};

pub(crate) struct LineStages {
    /// Removing TAG blocks, when asked for.
    strip: Option<Arc<Endpoint>>,
    /// One line per datagram, when asked for.
    split: Option<Arc<Endpoint>>,
    next: Arc<dyn Sink>,
    /// Reusable output batches, one per thread delivering at once.
    spare: Mutex<Vec<Batch>>,
}

/// The lines of a datagram, each with its `\n`.
fn lines(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    datagram.split_inclusive(|&b| b == b'\n')
}

impl LineStages {
    /// `None` when neither stage is asked for. `name` names the output.
    pub(crate) fn new(
        strip_tag_blocks: bool,
        one_line_per_datagram: bool,
        name: &str,
        next: Arc<dyn Sink>,
        registry: &Registry,
    ) -> Option<LineStages> {
        if !strip_tag_blocks && !one_line_per_datagram {
            return None;
        }
        let stage =
            |on: bool, what: &str| on.then(|| registry.register("stage", format!("{name} {what}")));
        Some(LineStages {
            strip: stage(strip_tag_blocks, "strip-tag-blocks"),
            split: stage(one_line_per_datagram, "one-line-per-datagram"),
            next,
            spare: Mutex::new(Vec::new()),
        })
    }

    /// Whether the batch would come out as it is: no line has a TAG block to remove (none
    /// has a backslash) and no datagram has a line after its first.
    fn unchanged(&self, batch: &Batch) -> bool {
        pieces(batch).all(|(d, _)| {
            (self.strip.is_none() || !d.contains(&b'\\'))
                && (self.split.is_none()
                    || d.iter()
                        .position(|&b| b == b'\n')
                        .is_none_or(|at| at + 1 == d.len()))
        })
    }

    fn transform(&self, batch: &Batch, out: &mut Batch) {
        out.clear();
        out.origin = batch.origin.clone();
        // Datagrams and bytes into the stages, datagrams left with bytes after the strip
        // (into the split), and the blocks removed.
        let (mut datagrams_in, mut bytes_in) = (0u64, 0u64);
        let (mut kept_datagrams, mut kept_bytes, mut stripped) = (0u64, 0u64, 0u64);
        for (datagram, from) in pieces(batch) {
            datagrams_in += 1;
            bytes_in += datagram.len() as u64;
            let mut start = out.buf.len();
            let mut kept = 0usize;
            for line in lines(datagram) {
                let rest = if self.strip.is_some() {
                    let (tag, rest) = tag_block::split(line);
                    stripped += u64::from(tag.is_some());
                    rest
                } else {
                    line
                };
                kept += rest.len();
                out.buf.extend_from_slice(rest);
                if self.split.is_some() {
                    end_datagram(out, &mut start, from);
                }
            }
            if self.split.is_none() {
                end_datagram(out, &mut start, from);
            }
            kept_datagrams += u64::from(kept > 0);
            kept_bytes += kept as u64;
        }
        if let Some(e) = &self.strip {
            let c = &e.counters;
            c.add_in(datagrams_in, bytes_in);
            c.add_out(kept_datagrams, kept_bytes);
            Counters::add(&c.tag_blocks_stripped, stripped);
        }
        if let Some(e) = &self.split {
            let c = &e.counters;
            if self.strip.is_some() {
                c.add_in(kept_datagrams, kept_bytes);
            } else {
                c.add_in(datagrams_in, bytes_in);
            }
            c.add_out(out.entries.len() as u64, out.byte_count() as u64);
        }
    }
}

/// Closes the datagram begun at `start` (if it has bytes) and begins the next.
fn end_datagram(out: &mut Batch, start: &mut usize, from: Option<SocketAddr>) {
    let len = out.buf.len() - *start;
    if len > 0 {
        out.entries.push(Entry {
            offset: *start,
            len,
            segment: 0,
            from,
        });
    }
    *start = out.buf.len();
}

/// Every datagram of the batch (segments split apart), with its sender.
fn pieces(batch: &Batch) -> impl Iterator<Item = (&[u8], Option<SocketAddr>)> + '_ {
    batch.entries.iter().flat_map(move |e| {
        let bytes = batch.entry_bytes(e);
        let step = if e.segment == 0 {
            bytes.len().max(1)
        } else {
            e.segment
        };
        bytes.chunks(step).map(move |d| (d, e.from))
    })
}

impl Sink for LineStages {
    fn deliver(&self, batch: &Batch) {
        if self.unchanged(batch) {
            let n = batch.datagram_count() as u64;
            let bytes = batch.byte_count() as u64;
            for e in self.strip.iter().chain(&self.split) {
                e.counters.add_in(n, bytes);
                e.counters.add_out(n, bytes);
            }
            self.next.deliver(batch);
            return;
        }
        let taken = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut out = taken.unwrap_or_default();
        self.transform(batch, &mut out);
        if !out.is_empty() {
            self.next.deliver(&out);
        }
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(out);
        }
    }

    fn finish(&self) {
        self.next.finish();
    }

    fn reopen(&self) {
        self.next.reopen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sink::test_sinks::Keep;

    const TAGGED: &str =
        "\\s:rcv1,c:1700000000*5A\\!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n";
    const CLEAN: &str = "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n";
    const GGA: &str = "$GPGGA,123519,4807.038,N*47\r\n";

    fn stages(strip: bool, split: bool) -> (LineStages, Arc<Keep>, Registry) {
        let registry = Registry::default();
        let keep = Arc::new(Keep::default());
        match LineStages::new(strip, split, "out", keep.clone(), &registry) {
            Some(s) => (s, keep, registry),
            None => unreachable!("a stage was asked for"),
        }
    }

    fn counts(registry: &Registry) -> Vec<(String, u64, u64, u64, u64, u64)> {
        registry
            .snapshot()
            .into_iter()
            .map(|e| {
                let c = e.counters;
                (
                    e.name,
                    c.datagrams_in,
                    c.bytes_in,
                    c.datagrams_out,
                    c.bytes_out,
                    c.tag_blocks_stripped,
                )
            })
            .collect()
    }

    fn packed() -> Batch {
        let mut b = Batch::default();
        let from = "192.0.2.7:1000".parse().ok();
        b.push_from(format!("{TAGGED}{GGA}{TAGGED}").as_bytes(), from);
        b.push_from(GGA.as_bytes(), from);
        b
    }

    #[test]
    fn nothing_asked_for_is_no_stage() {
        let keep: Arc<dyn Sink> = Arc::new(Keep::default());
        assert!(LineStages::new(false, false, "out", keep, &Registry::default()).is_none());
    }

    #[test]
    fn tag_blocks_are_stripped_from_every_line_keeping_the_datagrams() {
        let (sink, keep, registry) = stages(true, false);
        sink.deliver(&packed());
        assert_eq!(
            keep.texts(),
            vec![format!("{CLEAN}{GGA}{CLEAN}"), GGA.to_string()]
        );
        let tag = TAGGED.len() - CLEAN.len();
        let bytes_in = (2 * TAGGED.len() + 2 * GGA.len()) as u64;
        assert_eq!(
            counts(&registry),
            vec![(
                "out strip-tag-blocks".into(),
                2,
                bytes_in,
                2,
                bytes_in - 2 * tag as u64,
                2
            )]
        );
    }

    #[test]
    fn packed_datagrams_become_one_line_each_with_their_sender() {
        let (sink, keep, registry) = stages(false, true);
        let mut batch = packed();
        batch.push(b"no newline at the end");
        sink.deliver(&batch);
        assert_eq!(
            keep.texts(),
            vec![TAGGED, GGA, TAGGED, GGA, "no newline at the end"]
        );
        let senders = keep.senders();
        let from = "192.0.2.7:1000".parse().ok();
        assert!(senders[..4].iter().all(|f| *f == from));
        assert_eq!(senders[4], None);
        let bytes = (2 * TAGGED.len() + 2 * GGA.len() + 21) as u64;
        assert_eq!(
            counts(&registry),
            vec![("out one-line-per-datagram".into(), 3, bytes, 5, bytes, 0)]
        );
    }

    #[test]
    fn both_make_clean_single_lines_and_a_bare_block_is_not_sent() {
        let (sink, keep, registry) = stages(true, true);
        let mut batch = packed();
        batch.push(b"\\s:only*00\\");
        sink.deliver(&batch);
        assert_eq!(keep.texts(), vec![CLEAN, GGA, CLEAN, GGA]);
        let names: Vec<String> = counts(&registry).into_iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            vec!["out strip-tag-blocks", "out one-line-per-datagram"]
        );
        let c = counts(&registry);
        // Datagrams: 3 in, 2 left with bytes (the bare block is not), 3 blocks removed;
        // the 2 became 4 lines.
        assert_eq!((c[0].1, c[0].3, c[0].5), (3, 2, 3));
        assert_eq!((c[1].1, c[1].3), (2, 4));
    }

    #[test]
    fn clean_single_lines_pass_uncopied_and_counted() {
        let (sink, keep, registry) = stages(true, true);
        let mut batch = Batch::default();
        batch.push(CLEAN.as_bytes());
        batch.push(GGA.as_bytes());
        sink.deliver(&batch);
        assert_eq!(keep.texts(), vec![CLEAN, GGA]);
        let c = counts(&registry);
        assert_eq!((c[0].1, c[0].3, c[0].5), (2, 2, 0));
        assert_eq!((c[1].1, c[1].3), (2, 2));
    }
}
