//! The unit of work: one buffer holding several datagrams, and where each one lies in it.
//!
//! A received batch is what one `recvmmsg` returned, each datagram in its own fixed-size
//! slot; a framed batch is datagrams packed back to back. Sinks see both the same way. An
//! entry may carry several equal-sized segments (`segment`, as UDP GRO delivers them and GSO
//! sends them), so datagram boundaries survive coalescing.

/// A receive slot holds the largest UDP payload there is (65,507 bytes over IPv4, 65,527 over
/// IPv6), so nothing is cut; a datagram that still does not fit is counted as truncated.
pub(crate) const SLOT_SIZE: usize = 64 * 1024;

use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub offset: usize,
    pub len: usize,
    /// Size of each segment when the entry holds several datagrams; 0 for a single one.
    pub segment: usize,
    /// Who sent it: the UDP sender or the TCP peer; `None` for files, stdin and datagrams
    /// injected from JavaScript. Taps report it and rules by source match on it.
    pub from: Option<SocketAddr>,
}

impl Entry {
    /// How many datagrams the entry stands for.
    pub fn datagrams(&self) -> usize {
        if self.segment == 0 || self.len == 0 {
            1
        } else {
            self.len.div_ceil(self.segment)
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub buf: Vec<u8>,
    pub entries: Vec<Entry>,
    /// Who made the entries that have no `from`: an input's name (a path, `stdin`) or `js`
    /// for datagrams injected from JavaScript. Kept across `clear()`: a batch is reused by
    /// one producer. Taps report it as the sender.
    pub origin: Option<Arc<str>>,
}

impl Batch {
    pub fn with_capacity(bytes: usize, entries: usize) -> Self {
        Batch {
            buf: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
            origin: None,
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one datagram at the end of the buffer.
    pub fn push(&mut self, datagram: &[u8]) {
        self.push_from(datagram, None);
    }

    /// Appends one datagram and who sent it.
    pub fn push_from(&mut self, datagram: &[u8], from: Option<SocketAddr>) {
        let offset = self.buf.len();
        self.buf.extend_from_slice(datagram);
        self.entries.push(Entry {
            offset,
            len: datagram.len(),
            segment: 0,
            from,
        });
    }

    pub fn entry_bytes(&self, entry: &Entry) -> &[u8] {
        &self.buf[entry.offset..entry.offset + entry.len]
    }

    /// Every datagram, segments split apart.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries.iter().flat_map(move |e| {
            let bytes = self.entry_bytes(e);
            let step = if e.segment == 0 {
                bytes.len().max(1)
            } else {
                e.segment
            };
            bytes
                .chunks(step)
                .chain(if bytes.is_empty() { Some(bytes) } else { None })
        })
    }

    pub fn datagram_count(&self) -> usize {
        self.entries.iter().map(Entry::datagrams).sum()
    }

    pub fn byte_count(&self) -> usize {
        self.entries.iter().map(|e| e.len).sum()
    }

    /// The payloads back to back, as a file or a TCP stream receives them.
    pub fn append_payload_to(&self, out: &mut Vec<u8>) {
        for e in &self.entries {
            out.extend_from_slice(self.entry_bytes(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_split_segments_and_keep_empty_ones() {
        let mut b = Batch::default();
        b.push(b"abc");
        b.push(b"");
        b.buf.extend_from_slice(b"1234567");
        b.entries.push(Entry {
            offset: 3,
            len: 7,
            segment: 3,
            from: None,
        });
        let all: Vec<&[u8]> = b.datagrams().collect();
        assert_eq!(all, vec![&b"abc"[..], b"", b"123", b"456", b"7"]);
        assert_eq!(b.datagram_count(), 5);
        assert_eq!(b.byte_count(), 10);
        let mut flat = Vec::new();
        b.append_payload_to(&mut flat);
        assert_eq!(flat, b"abc1234567");
    }
}
