//! The bounded table every stateful stage keeps its state in (seen messages, multipart
//! assemblies, throttled keys): capped in entries and in bytes, oldest first out.
//!
//! Keys are 64-bit keyed hashes of what identifies an entry (SipHash with a per-process
//! random key: a sender cannot make keys collide on purpose), so an entry's size is fixed
//! but for what it holds (fragments, a held line), which the caller states. When an insert
//! or a growth would pass a cap, the oldest entries go first and the caller is handed each
//! one (to count it). Expiry walks from the oldest too: entries are kept in the order they
//! were inserted or last touched, which is time order, so expiring stops at the first
//! entry still alive.
//!
//! The order is a queue of (key, stamp) with lazy deletion: a touched or removed entry
//! leaves a stale item behind, skipped when reached; the queue is rebuilt when stale items
//! outnumber live ones, so it stays within twice the entry cap.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// The map's hasher: keys are keyed SipHash values already, so they are used as they are
/// (hashing them again would only cost time).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// What an entry costs besides what it holds: its key, stamp, size and map slot, and its
/// place in the order queue (a bound for accounting, not an exact measure).
pub(crate) const ENTRY_OVERHEAD: usize = 64;

struct Slot<V> {
    stamp: u64,
    bytes: usize,
    value: V,
}

pub(crate) struct Table<V> {
    map: HashMap<u64, Slot<V>, BuildHasherDefault<Prehashed>>,
    order: VecDeque<(u64, u64)>,
    next_stamp: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl<V> Table<V> {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Table<V> {
        Table {
            map: HashMap::default(),
            order: VecDeque::new(),
            next_stamp: 0,
            bytes: 0,
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes accounted: every entry's overhead and what it holds.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn get(&self, key: u64) -> Option<&V> {
        self.map.get(&key).map(|s| &s.value)
    }

    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        self.map.get_mut(&key).map(|s| &mut s.value)
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Inserts (or replaces, moving it to the newest) `value`, holding `held` bytes beyond
    /// the entry's overhead; the oldest entries that no longer fit go to `evicted`.
    pub(crate) fn insert(&mut self, key: u64, value: V, held: usize, evicted: &mut impl FnMut(V)) {
        if let Some(old) = self.remove(key) {
            drop(old);
        }
        let stamp = self.stamp();
        let bytes = ENTRY_OVERHEAD + held;
        while !self.map.is_empty()
            && (self.map.len() >= self.max_entries || self.bytes + bytes > self.max_bytes)
        {
            match self.pop_oldest() {
                Some(v) => evicted(v),
                None => break,
            }
        }
        self.bytes += bytes;
        self.map.insert(
            key,
            Slot {
                stamp,
                bytes,
                value,
            },
        );
        self.order.push_back((key, stamp));
        self.compact();
    }

    /// Sets what an entry holds to `held` bytes (it grew or shrank), keeping its place;
    /// evicts the oldest (possibly itself) while over the byte cap.
    pub(crate) fn resize(&mut self, key: u64, held: usize, evicted: &mut impl FnMut(V)) {
        let Some(slot) = self.map.get_mut(&key) else {
            return;
        };
        let bytes = ENTRY_OVERHEAD + held;
        self.bytes = self.bytes - slot.bytes + bytes;
        slot.bytes = bytes;
        while self.bytes > self.max_bytes {
            match self.pop_oldest() {
                Some(v) => evicted(v),
                None => break,
            }
        }
    }

    /// Moves an entry to the newest end (it was used again now).
    #[cfg(test)]
    pub(crate) fn touch(&mut self, key: u64) {
        let stamp = self.stamp();
        if let Some(slot) = self.map.get_mut(&key) {
            slot.stamp = stamp;
            self.order.push_back((key, stamp));
            self.compact();
        }
    }

    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        let slot = self.map.remove(&key)?;
        self.bytes -= slot.bytes;
        Some(slot.value)
    }

    fn pop_oldest(&mut self) -> Option<V> {
        while let Some((key, stamp)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|s| s.stamp == stamp) {
                return self.remove(key);
            }
        }
        None
    }

    /// Removes the oldest entries while `expired` says so, handing each to `gone`.
    pub(crate) fn expire(&mut self, expired: impl Fn(&V) -> bool, mut gone: impl FnMut(V)) {
        while let Some(&(key, stamp)) = self.order.front() {
            match self.map.get(&key) {
                Some(s) if s.stamp == stamp => {
                    if !expired(&s.value) {
                        break;
                    }
                    self.order.pop_front();
                    if let Some(v) = self.remove(key) {
                        gone(v);
                    }
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Every entry, oldest first; the table is left empty.
    pub(crate) fn drain(&mut self) -> Vec<V> {
        let mut out = Vec::with_capacity(self.map.len());
        while let Some(v) = self.pop_oldest() {
            out.push(v);
        }
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
        out
    }

    /// Rebuilds the order queue once stale items outnumber live ones.
    fn compact(&mut self) {
        if self.order.len() <= 2 * self.map.len() + 64 {
            return;
        }
        let mut live: Vec<(u64, u64)> = self.map.iter().map(|(k, s)| (*k, s.stamp)).collect();
        live.sort_unstable_by_key(|&(_, stamp)| stamp);
        self.order = live.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first_at_either_cap() {
        let mut t: Table<u32> = Table::new(3, 10_000);
        let mut gone = Vec::new();
        for k in 0..5 {
            t.insert(k, k as u32, 0, &mut |v| gone.push(v));
        }
        assert_eq!(gone, vec![0, 1]);
        assert_eq!(t.len(), 3);
        t.touch(2);
        t.insert(9, 9, 0, &mut |v| gone.push(v));
        assert_eq!(gone, vec![0, 1, 3]);
        // Bytes: each entry costs its overhead and what it holds.
        let mut t: Table<u32> = Table::new(100, 3 * ENTRY_OVERHEAD + 30);
        let mut gone = Vec::new();
        t.insert(1, 1, 10, &mut |v| gone.push(v));
        t.insert(2, 2, 10, &mut |v| gone.push(v));
        t.insert(3, 3, 10, &mut |v| gone.push(v));
        assert!(gone.is_empty());
        t.resize(3, 20, &mut |v| gone.push(v));
        assert_eq!(gone, vec![1]);
        assert_eq!(t.bytes(), 2 * ENTRY_OVERHEAD + 30);
        assert_eq!(t.drain(), vec![2, 3]);
        assert_eq!((t.len(), t.bytes()), (0, 0));
    }

    #[test]
    fn expiry_stops_at_the_first_live_entry_and_the_queue_stays_bounded() {
        let mut t: Table<u32> = Table::new(1000, usize::MAX);
        let mut none = |_| unreachable!();
        for k in 0..10 {
            t.insert(k, k as u32, 0, &mut none);
        }
        let mut gone = Vec::new();
        t.expire(|v| *v < 4, |v| gone.push(v));
        assert_eq!(gone, vec![0, 1, 2, 3]);
        // Touching one key over and over leaves stale items, which compaction bounds.
        for _ in 0..10_000 {
            t.touch(5);
        }
        assert!(t.order.len() <= 2 * t.len() + 65);
        assert_eq!(t.get(5), Some(&5));
        assert_eq!(t.drain(), vec![4, 6, 7, 8, 9, 5]);
    }
}
