//! Turning a byte stream into datagrams so that concatenating the datagrams gives the stream
//! back, byte for byte, whatever the reads looked like.
//!
//! - `Packed` (default): whole lines packed into datagrams of at most `max` bytes; a line
//!   longer than that is split.
//! - `Line`: exactly one line per datagram (split when longer than `max`).
//! - `Raw`: fixed chunks of `max` bytes, lines ignored.
//!
//! The framer holds back only what it must: [`Framer::push`] emits what is certain (a full
//! datagram); when input pauses the caller calls [`Framer::flush_lines`] (complete lines go
//! out now) and, after a short linger, [`Framer::flush_all`] (the partial line too).

use crate::batch::Batch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Packed,
    Line,
    Raw,
}

#[derive(Debug)]
pub struct Framer {
    mode: Framing,
    max: usize,
    pending: Vec<u8>,
}

fn last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

fn first_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

impl Framer {
    /// `max` is clamped to at least one byte.
    pub fn new(mode: Framing, max: usize) -> Self {
        Framer {
            mode,
            max: max.max(1),
            pending: Vec::new(),
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Takes `data` and emits every datagram that is complete whatever comes next.
    pub fn push(&mut self, data: &[u8], out: &mut Batch) {
        self.pending.extend_from_slice(data);
        let used = match self.mode {
            Framing::Packed => self.emit_packed(out, false),
            Framing::Line => self.emit_lines(out, false),
            Framing::Raw => self.emit_raw(out, false),
        };
        self.pending.drain(..used);
    }

    /// Input paused: send the complete lines now (raw chunks wait for the linger).
    pub fn flush_lines(&mut self, out: &mut Batch) {
        let used = match self.mode {
            Framing::Packed => self.emit_packed(out, true),
            Framing::Line => self.emit_lines(out, false),
            Framing::Raw => 0,
        };
        self.pending.drain(..used);
    }

    /// Linger expired or input ended: send everything held.
    pub fn flush_all(&mut self, out: &mut Batch) {
        for chunk in self.pending.chunks(self.max) {
            out.push(chunk);
        }
        self.pending.clear();
    }

    /// Full datagrams of whole lines; with `paused`, also the last short run of whole lines.
    fn emit_packed(&self, out: &mut Batch, paused: bool) -> usize {
        let mut start = 0;
        let bytes = &self.pending;
        loop {
            let rest = &bytes[start..];
            if rest.len() > self.max || (rest.len() == self.max && rest.last() == Some(&b'\n')) {
                let window = &rest[..self.max];
                let take = last_newline(window).map_or(self.max, |at| at + 1);
                out.push(&rest[..take]);
                start += take;
            } else if paused {
                match last_newline(rest) {
                    Some(at) => {
                        out.push(&rest[..=at]);
                        start += at + 1;
                    }
                    None => return start,
                }
            } else {
                return start;
            }
        }
    }

    fn emit_lines(&self, out: &mut Batch, _paused: bool) -> usize {
        let mut start = 0;
        let bytes = &self.pending;
        loop {
            let rest = &bytes[start..];
            let take = match first_newline(rest) {
                Some(at) => (at + 1).min(self.max),
                None if rest.len() >= self.max => self.max,
                None => return start,
            };
            out.push(&rest[..take]);
            start += take;
        }
    }

    fn emit_raw(&self, out: &mut Batch, _paused: bool) -> usize {
        let whole = self.pending.len() / self.max * self.max;
        for chunk in self.pending[..whole].chunks(self.max) {
            out.push(chunk);
        }
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(mode: Framing, max: usize, reads: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut f = Framer::new(mode, max);
        let mut out = Batch::default();
        for r in reads {
            f.push(r, &mut out);
        }
        f.flush_all(&mut out);
        out.datagrams().map(|d| d.to_vec()).collect()
    }

    #[test]
    fn packed_fills_datagrams_with_whole_lines() {
        let got = frame(
            Framing::Packed,
            10,
            &[b"aaa\nbbb\ncc", b"c\ndddddddddddd\ne\n"],
        );
        assert_eq!(
            got,
            vec![
                b"aaa\nbbb\n".to_vec(),
                b"ccc\n".to_vec(),
                b"dddddddddd".to_vec(),
                b"dd\ne\n".to_vec()
            ]
        );
    }

    #[test]
    fn packed_holds_a_short_run_until_paused() {
        let mut f = Framer::new(Framing::Packed, 100);
        let mut out = Batch::default();
        f.push(b"one\ntwo\npart", &mut out);
        assert!(out.is_empty());
        f.flush_lines(&mut out);
        assert_eq!(
            out.datagrams().collect::<Vec<_>>(),
            vec![&b"one\ntwo\n"[..]]
        );
        assert_eq!(f.pending_len(), 4);
        f.flush_all(&mut out);
        assert_eq!(out.datagrams().nth(1), Some(&b"part"[..]));
    }

    #[test]
    fn line_mode_sends_one_line_each() {
        let got = frame(Framing::Line, 4, &[b"a\nbb\nccccc\n"]);
        assert_eq!(
            got,
            vec![
                b"a\n".to_vec(),
                b"bb\n".to_vec(),
                b"cccc".to_vec(),
                b"c\n".to_vec()
            ]
        );
    }

    #[test]
    fn raw_mode_cuts_fixed_chunks() {
        let got = frame(Framing::Raw, 3, &[b"abcd", b"efg\nh"]);
        assert_eq!(
            got,
            vec![b"abc".to_vec(), b"def".to_vec(), b"g\nh".to_vec()]
        );
    }

    #[test]
    fn a_full_datagram_ending_in_newline_goes_at_once() {
        let mut f = Framer::new(Framing::Packed, 4);
        let mut out = Batch::default();
        f.push(b"abc\n", &mut out);
        assert_eq!(out.datagram_count(), 1);
    }

    fn input_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>, usize)> {
        // Bytes biased towards newlines so lines of every length appear.
        let byte = prop_oneof![3 => Just(b'\n'), 10 => any::<u8>()];
        (
            proptest::collection::vec(byte, 0..2000),
            proptest::collection::vec(1usize..300, 1..20),
            1usize..200,
        )
    }

    proptest! {
        #[test]
        fn concatenation_equals_input_in_every_mode((input, cuts, max) in input_and_cuts(), pause_every in 1usize..5) {
            for mode in [Framing::Packed, Framing::Line, Framing::Raw] {
                let mut f = Framer::new(mode, max);
                let mut out = Batch::default();
                let mut at = 0;
                let mut step = 0;
                while at < input.len() {
                    let len = cuts[step % cuts.len()].min(input.len() - at);
                    f.push(&input[at..at + len], &mut out);
                    at += len;
                    step += 1;
                    if step % pause_every == 0 {
                        f.flush_lines(&mut out);
                    }
                }
                f.flush_all(&mut out);
                let mut joined = Vec::new();
                for d in out.datagrams() {
                    prop_assert!(d.len() <= max, "{:?}: datagram of {} > {}", mode, d.len(), max);
                    prop_assert!(!d.is_empty());
                    joined.extend_from_slice(d);
                }
                prop_assert_eq!(&joined, &input);
                if mode == Framing::Line {
                    // No datagram holds the end of one line and the start of another.
                    for d in out.datagrams() {
                        if let Some(at) = first_newline(d) {
                            prop_assert_eq!(at, d.len() - 1);
                        }
                    }
                }
            }
        }

        #[test]
        fn packed_splits_lines_only_when_longer_than_max((input, cuts, max) in input_and_cuts()) {
            let mut f = Framer::new(Framing::Packed, max);
            let mut out = Batch::default();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= input.len() { break; }
                let len = (*c).min(input.len() - at);
                f.push(&input[at..at + len], &mut out);
                at += len;
            }
            f.flush_all(&mut out);
            let all: Vec<&[u8]> = out.datagrams().collect();
            // A datagram that does not end in a newline is either a piece of a line longer
            // than max (so it is full) or the stream's final bytes.
            for (i, d) in all.iter().enumerate() {
                if d.last() != Some(&b'\n') && i + 1 != all.len() {
                    prop_assert_eq!(d.len(), max);
                }
            }
        }
    }
}
