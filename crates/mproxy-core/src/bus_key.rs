//! The bus key: authenticated encryption of every datagram one mproxy sends another over
//! UDP (a reverse proxy's group, client → server, proxy → proxy, proxy → reverse proxy).
//! Without it anyone on the link reads the group and injects into it; with it a datagram is
//! delivered only if it was sealed under a key the receiver holds, and only once.
//!
//! The cipher is ChaCha20-Poly1305 from `ring` (already linked for rustls, maintained, and
//! constant-time in software, so it stays fast and safe on small ARM hosts without AES
//! instructions, where AIS receivers often run).
//!
//! # Wire format (version 1)
//!
//! ```text
//! offset  size  field
//!      0     1  version      = 1
//!      1     1  key id       first byte of SHA-256(key): picks the key to try
//!      2     8  sender id    random, chosen when the sender starts
//!     10     4  counter      big-endian, 0, 1, 2, ... per sender id
//!     14     n  ciphertext   the datagram, encrypted (n = its length)
//!   14+n    16  tag          Poly1305 tag over the header (bytes 0..14) and the ciphertext
//! ```
//!
//! [`OVERHEAD`] = 30 bytes per datagram. The 12-byte nonce is the sender id followed by the
//! counter, so nonces never repeat: each sender (each start of a program, each sealing
//! sink) picks a fresh random 64-bit id, and when its 32-bit counter would wrap it picks
//! another. The header is authenticated, so a changed id or counter fails the tag.
//!
//! # Receiving
//!
//! Anything that does not verify — a plaintext datagram, one sealed under another key, a
//! damaged one, an unknown version — is dropped and counted as an auth failure. A datagram
//! that verifies but whose (sender id, counter) was already delivered, or lies more than
//! [`REPLAY_WINDOW`] counters behind the newest of its sender, is dropped and counted as a
//! replay. The window is a sliding bitmap per sender id; at most [`MAX_SENDERS`] sender ids
//! are tracked per listener, the one heard from least recently making room for a new one
//! (a datagram of a sender forgotten that way could be replayed once: it takes that many
//! other key holders, or restarts, in between).
//!
//! # Keys and rotation
//!
//! A key file holds 32 random bytes as 64 hexadecimal digits on one line (`openssl rand
//! -hex 32`), is a regular file of at most 1 MiB like the TLS files, and must not be
//! readable by group or others. A program holds its current key, which it seals with, and
//! optionally a next key, which it also opens with: to rotate, give every receiver the new
//! key as next, then every sender the new key as current, then drop the old one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::batch::{Batch, Entry};
use crate::error::{Error, ErrorKind, Result};
use crate::event::Reporter;
use crate::stats::{Counters, Endpoint};

pub(crate) const VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 14;
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a sealed datagram is longer than the plain one.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
pub const KEY_LEN: usize = 32;
/// How far behind a sender's newest counter a datagram may arrive and still be taken.
pub(crate) const REPLAY_WINDOW: u32 = 1024;
/// Sender ids tracked per listener for replays.
pub(crate) const MAX_SENDERS: usize = 256;

const WINDOW_WORDS: usize = REPLAY_WINDOW as usize / 64;

struct Key {
    id: u8,
    aead: LessSafeKey,
}

impl Key {
    fn new(bytes: &[u8; KEY_LEN]) -> Result<Key> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| Error::invalid("the bus key is not a ChaCha20-Poly1305 key"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        Ok(Key {
            id: digest.as_ref()[0],
            aead: LessSafeKey::new(unbound),
        })
    }
}

/// The keys a program holds: the current one (sealing and opening) and maybe the next one
/// (opening only, during a rotation).
pub struct Keyring {
    current: Key,
    next: Option<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Keyring")
            .field("current_id", &self.current.id)
            .field("next_id", &self.next.as_ref().map(|k| k.id))
            .finish()
    }
}

impl Keyring {
    pub fn new(current: &[u8; KEY_LEN], next: Option<&[u8; KEY_LEN]>) -> Result<Keyring> {
        Ok(Keyring {
            current: Key::new(current)?,
            next: next.map(Key::new).transpose()?,
        })
    }

    /// Reads the key files (see the module doc for their format and checks).
    pub fn load(current: &str, next: Option<&str>) -> Result<Keyring> {
        let current = read_key_file(current)?;
        let next = next.map(read_key_file).transpose()?;
        Keyring::new(&current, next.as_ref())
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(self.next.as_ref())
    }
}

fn key_problem(path: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::File, format!("bus key {path}: {why}"))
}

/// Reads and checks one key file: a private regular file holding 64 hex digits.
pub fn read_key_file(path: &str) -> Result<[u8; KEY_LEN]> {
    let bytes = crate::tls::read_pem(path, "bus key")?;
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, &e))?;
    if let Some(why) = crate::sys::shared_file_problem(&meta) {
        return Err(key_problem(path, why));
    }
    parse_key(&bytes).map_err(|why| key_problem(path, why))
}

/// The key in a key file's text: 64 hex digits, surrounding white space ignored.
pub(crate) fn parse_key(text: &[u8]) -> std::result::Result<[u8; KEY_LEN], String> {
    let text = text.trim_ascii();
    let expected =
        "it must hold 64 hexadecimal digits (32 random bytes, e.g. from `openssl rand -hex 32`)";
    if text.len() != 2 * KEY_LEN {
        return Err(format!("{expected}, not {} characters", text.len()));
    }
    let mut key = [0u8; KEY_LEN];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let hi = hex_value(pair[0]);
        let lo = hex_value(pair[1]);
        match (hi, lo) {
            (Some(hi), Some(lo)) => key[i] = hi << 4 | lo,
            _ => return Err(format!("{expected}; it holds other characters")),
        }
    }
    Ok(key)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn nonce(sender: &[u8; 8], counter: u32) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(sender);
    n[8..].copy_from_slice(&counter.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// Where a sender is in its nonce sequence.
struct SenderState {
    id: [u8; 8],
    next: u64,
}

/// Seals datagrams under the current key. Shared by every thread delivering to a sink:
/// each batch reserves its run of counters under a lock taken once per batch.
pub struct Sealer {
    keys: Arc<Keyring>,
    rng: SystemRandom,
    state: Mutex<SenderState>,
}

impl Sealer {
    pub fn new(keys: Arc<Keyring>) -> Result<Sealer> {
        let rng = SystemRandom::new();
        let id = random_id(&rng)?;
        Ok(Sealer {
            keys,
            rng,
            state: Mutex::new(SenderState { id, next: 0 }),
        })
    }

    /// Reserves `n` counters: the sender id and the first counter of the run.
    fn reserve(&self, n: usize) -> Result<([u8; 8], u32)> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::invalid("bus key state poisoned"))?;
        if state.next + n as u64 > u64::from(u32::MAX) + 1 {
            // The counter would wrap: a new id starts a new nonce sequence.
            state.id = random_id(&self.rng)?;
            state.next = 0;
        }
        let first = state.next as u32;
        state.next += n as u64;
        Ok((state.id, first))
    }

    /// Seals every datagram of `batch` into `out` (cleared first; its buffers are reused,
    /// so steady state allocates nothing). Returns false if no randomness was to be had
    /// (the batch is then not sent).
    pub fn seal_batch(&self, batch: &Batch, out: &mut Batch) -> bool {
        out.clear();
        let Ok((sender, mut counter)) = self.reserve(batch.datagram_count()) else {
            return false;
        };
        let key = &self.keys.current;
        for entry in &batch.entries {
            let bytes = batch.entry_bytes(entry);
            let step = if entry.segment == 0 {
                bytes.len().max(1)
            } else {
                entry.segment
            };
            let mut pieces = bytes.chunks(step).peekable();
            if pieces.peek().is_none() {
                seal_one(key, &sender, counter, b"", entry.from, out);
                counter = counter.wrapping_add(1);
            }
            for plain in pieces {
                seal_one(key, &sender, counter, plain, entry.from, out);
                counter = counter.wrapping_add(1);
            }
        }
        true
    }
}

fn random_id(rng: &SystemRandom) -> Result<[u8; 8]> {
    let mut id = [0u8; 8];
    rng.fill(&mut id)
        .map_err(|_| Error::new(ErrorKind::Io, "no randomness for the bus key's sender id"))?;
    Ok(id)
}

fn seal_one(
    key: &Key,
    sender: &[u8; 8],
    counter: u32,
    plain: &[u8],
    from: Option<std::net::SocketAddr>,
    out: &mut Batch,
) {
    let offset = out.buf.len();
    out.buf.push(VERSION);
    out.buf.push(key.id);
    out.buf.extend_from_slice(sender);
    out.buf.extend_from_slice(&counter.to_be_bytes());
    out.buf.extend_from_slice(plain);
    let (header, body) = out.buf[offset..].split_at_mut(HEADER_LEN);
    match key
        .aead
        .seal_in_place_separate_tag(nonce(sender, counter), Aad::from(&*header), body)
    {
        Ok(tag) => {
            out.buf.extend_from_slice(tag.as_ref());
            out.entries.push(Entry {
                offset,
                len: out.buf.len() - offset,
                segment: 0,
                from,
            });
        }
        // Only for inputs beyond ChaCha20's 256 GiB limit, which a datagram never reaches.
        Err(_) => out.buf.truncate(offset),
    }
}

/// Why a datagram was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not sealed under a key held here (or damaged, or not sealed at all).
    AuthFailure,
    /// Sealed correctly, but already delivered or too old.
    Replay,
}

/// One sender id's sliding window: the newest counter seen and which of the
/// [`REPLAY_WINDOW`] counters before it were.
struct Window {
    newest: u32,
    /// Bit i: counter `newest - i` was delivered.
    seen: [u64; WINDOW_WORDS],
    /// When it was last heard from, in datagrams opened by this guard.
    last_heard: u64,
}

impl Window {
    fn check(&self, counter: u32) -> bool {
        if counter > self.newest {
            return true;
        }
        let behind = self.newest - counter;
        behind < REPLAY_WINDOW && !self.bit(behind)
    }

    fn bit(&self, behind: u32) -> bool {
        let b = behind as usize;
        self.seen[b / 64] >> (b % 64) & 1 == 1
    }

    fn mark(&mut self, counter: u32) {
        if counter > self.newest {
            self.shift(counter - self.newest);
            self.newest = counter;
        }
        let b = (self.newest - counter) as usize;
        self.seen[b / 64] |= 1 << (b % 64);
    }

    /// Moves the window forward by `by` counters.
    fn shift(&mut self, by: u32) {
        if by >= REPLAY_WINDOW {
            self.seen = [0; WINDOW_WORDS];
            return;
        }
        let (words, bits) = ((by / 64) as usize, by % 64);
        for i in (0..WINDOW_WORDS).rev() {
            let low = i.checked_sub(words).map_or(0, |j| self.seen[j]);
            let lower = i.checked_sub(words + 1).map_or(0, |j| self.seen[j]);
            self.seen[i] = if bits == 0 {
                low
            } else {
                low << bits | lower >> (64 - bits)
            };
        }
    }
}

/// The replay windows of one listener.
#[derive(Default)]
pub struct ReplayGuard {
    windows: HashMap<[u8; 8], Window>,
    opened: u64,
}

impl ReplayGuard {
    fn check(&self, sender: &[u8; 8], counter: u32) -> bool {
        match self.windows.get(sender) {
            Some(w) => w.check(counter),
            None => true,
        }
    }

    fn mark(&mut self, sender: [u8; 8], counter: u32) {
        self.opened += 1;
        let now = self.opened;
        if !self.windows.contains_key(&sender) && self.windows.len() >= MAX_SENDERS {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.last_heard)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.windows.remove(&id);
            }
        }
        let window = self.windows.entry(sender).or_insert(Window {
            newest: counter,
            seen: [0; WINDOW_WORDS],
            last_heard: now,
        });
        window.last_heard = now;
        window.mark(counter);
    }

    pub fn senders(&self) -> usize {
        self.windows.len()
    }
}

/// What opening a batch refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpenOutcome {
    pub auth_failures: u64,
    pub replays: u64,
}

/// Opens one datagram into the end of `out`. On refusal `out` is left as it was.
pub(crate) fn open_into(
    keys: &Keyring,
    guard: &mut ReplayGuard,
    sealed: &[u8],
    from: Option<std::net::SocketAddr>,
    out: &mut Batch,
) -> std::result::Result<(), Refusal> {
    if sealed.len() < OVERHEAD || sealed[0] != VERSION {
        return Err(Refusal::AuthFailure);
    }
    let key_id = sealed[1];
    let mut sender = [0u8; 8];
    sender.copy_from_slice(&sealed[2..10]);
    let counter = u32::from_be_bytes([sealed[10], sealed[11], sealed[12], sealed[13]]);
    let header = &sealed[..HEADER_LEN];
    let replayed = !guard.check(&sender, counter);
    let offset = out.buf.len();
    for key in keys.keys().filter(|k| k.id == key_id) {
        out.buf.truncate(offset);
        out.buf.extend_from_slice(&sealed[HEADER_LEN..]);
        let opened = key
            .aead
            .open_in_place(
                nonce(&sender, counter),
                Aad::from(header),
                &mut out.buf[offset..],
            )
            .map(|plain| plain.len());
        if let Ok(len) = opened {
            if replayed {
                out.buf.truncate(offset);
                return Err(Refusal::Replay);
            }
            guard.mark(sender, counter);
            out.buf.truncate(offset + len);
            out.entries.push(Entry {
                offset,
                len,
                segment: 0,
                from,
            });
            return Ok(());
        }
    }
    out.buf.truncate(offset);
    Err(Refusal::AuthFailure)
}

/// Opens every datagram of `batch` into `out` (cleared first, buffers reused).
pub fn open_batch(
    keys: &Keyring,
    guard: &mut ReplayGuard,
    batch: &Batch,
    out: &mut Batch,
) -> OpenOutcome {
    out.clear();
    let mut outcome = OpenOutcome::default();
    for entry in &batch.entries {
        let bytes = batch.entry_bytes(entry);
        let step = if entry.segment == 0 {
            bytes.len().max(1)
        } else {
            entry.segment
        };
        for sealed in bytes.chunks(step) {
            match open_into(keys, guard, sealed, entry.from, out) {
                Ok(()) => {}
                Err(Refusal::AuthFailure) => outcome.auth_failures += 1,
                Err(Refusal::Replay) => outcome.replays += 1,
            }
        }
        if bytes.is_empty() {
            outcome.auth_failures += 1;
        }
    }
    outcome
}

/// The receive side of one thread of UDP listeners: opens each listener's batches with the
/// listener's own replay windows (the same sealed datagram may rightly reach two listeners),
/// counts refusals on the listener, and says once per listener when they begin.
pub(crate) struct Opener {
    keys: Arc<Keyring>,
    listeners: Vec<ListenerState>,
    out: Batch,
}

#[derive(Default)]
struct ListenerState {
    guard: ReplayGuard,
    warned_auth: bool,
    warned_replay: bool,
}

impl Opener {
    pub(crate) fn new(keys: Arc<Keyring>, listeners: usize) -> Opener {
        Opener {
            keys,
            listeners: (0..listeners).map(|_| ListenerState::default()).collect(),
            out: Batch::default(),
        }
    }

    /// Opens the batch listener `i` received; returns what is to be delivered.
    pub(crate) fn open(
        &mut self,
        i: usize,
        batch: &Batch,
        endpoint: &Endpoint,
        reporter: &Reporter,
    ) -> &Batch {
        let Some(state) = self.listeners.get_mut(i) else {
            self.out.clear();
            return &self.out;
        };
        let outcome = open_batch(&self.keys, &mut state.guard, batch, &mut self.out);
        let c = &endpoint.counters;
        if outcome.auth_failures > 0 {
            Counters::add(&c.auth_failures, outcome.auth_failures);
            if !std::mem::replace(&mut state.warned_auth, true) {
                reporter.warn(format!(
                    "{}: dropping datagrams that are not sealed with the bus key (plain, another key, or damaged); see stats().authFailures",
                    endpoint.name
                ));
            }
        }
        if outcome.replays > 0 {
            Counters::add(&c.replays, outcome.replays);
            if !std::mem::replace(&mut state.warned_replay, true) {
                reporter.warn(format!(
                    "{}: dropping replayed datagrams (sealed correctly, but received before or too late); see stats().replays",
                    endpoint.name
                ));
            }
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring_of(a: u8, b: Option<u8>) -> Arc<Keyring> {
        let ka = [a; KEY_LEN];
        let kb = b.map(|b| [b; KEY_LEN]);
        Arc::new(Keyring::new(&ka, kb.as_ref()).unwrap_or_else(|_| unreachable!()))
    }

    fn batch_of(datagrams: &[&[u8]]) -> Batch {
        let mut b = Batch::default();
        for d in datagrams {
            b.push(d);
        }
        b
    }

    fn plain(b: &Batch) -> Vec<Vec<u8>> {
        b.datagrams().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn sealed_datagrams_open_to_the_same_bytes_and_carry_the_documented_header() {
        let keys = ring_of(1, None);
        let sealer = Sealer::new(keys.clone()).unwrap_or_else(|_| unreachable!());
        let input = batch_of(&[
            b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n",
            b"",
            b"x",
        ]);
        let mut sealed = Batch::default();
        assert!(sealer.seal_batch(&input, &mut sealed));
        let lens: Vec<usize> = sealed.entries.iter().map(|e| e.len).collect();
        assert_eq!(
            lens,
            vec![input.entries[0].len + OVERHEAD, OVERHEAD, 1 + OVERHEAD]
        );
        let first = sealed.entry_bytes(&sealed.entries[0]);
        assert_eq!(first[0], VERSION);
        assert_eq!(&first[10..14], &[0, 0, 0, 0]);
        assert_eq!(
            &sealed.entry_bytes(&sealed.entries[2])[10..14],
            &[0, 0, 0, 2]
        );
        assert!(
            !first.windows(6).any(|w| w == b"AIVDM,"),
            "no plaintext on the wire"
        );
        let mut guard = ReplayGuard::default();
        let mut opened = Batch::default();
        let outcome = open_batch(&keys, &mut guard, &sealed, &mut opened);
        assert_eq!(outcome, OpenOutcome::default());
        assert_eq!(plain(&opened), plain(&input));
        // The same datagrams again are replays, every one.
        let again = open_batch(&keys, &mut guard, &sealed, &mut opened);
        assert_eq!(
            again,
            OpenOutcome {
                auth_failures: 0,
                replays: 3
            }
        );
        assert!(opened.is_empty());
    }

    #[test]
    fn plaintext_wrong_keys_and_tampering_fail_authentication() {
        let keys = ring_of(1, None);
        let other = Sealer::new(ring_of(2, None)).unwrap_or_else(|_| unreachable!());
        let mine = Sealer::new(keys.clone()).unwrap_or_else(|_| unreachable!());
        let mut guard = ReplayGuard::default();
        let mut out = Batch::default();
        let line: &[u8] = b"plain text that is long enough to look like a sealed datagram\n";
        assert_eq!(
            open_batch(&keys, &mut guard, &batch_of(&[line]), &mut out).auth_failures,
            1
        );
        let mut foreign = Batch::default();
        other.seal_batch(&batch_of(&[line]), &mut foreign);
        assert_eq!(
            open_batch(&keys, &mut guard, &foreign, &mut out).auth_failures,
            1
        );
        let mut sealed = Batch::default();
        mine.seal_batch(&batch_of(&[line]), &mut sealed);
        for at in [0, 1, 2, 11, 14, sealed.buf.len() - 1] {
            let mut damaged = sealed.clone();
            damaged.buf[at] ^= 0x40;
            let o = open_batch(&keys, &mut guard, &damaged, &mut out);
            assert_eq!(o.auth_failures, 1, "byte {at} changed");
        }
        assert!(out.is_empty());
        assert_eq!(guard.senders(), 0, "nothing unauthenticated is remembered");
        assert_eq!(
            open_batch(&keys, &mut guard, &sealed, &mut out),
            OpenOutcome::default()
        );
        assert_eq!(plain(&out), vec![line.to_vec()]);
    }

    #[test]
    fn a_receiver_holding_the_next_key_opens_both_during_a_rotation() {
        let receiver = ring_of(1, Some(2));
        let old = Sealer::new(ring_of(1, None)).unwrap_or_else(|_| unreachable!());
        let new = Sealer::new(ring_of(2, Some(1))).unwrap_or_else(|_| unreachable!());
        let mut guard = ReplayGuard::default();
        let (mut a, mut b, mut out) = (Batch::default(), Batch::default(), Batch::default());
        old.seal_batch(&batch_of(&[b"before"]), &mut a);
        new.seal_batch(&batch_of(&[b"after"]), &mut b);
        assert_eq!(
            open_batch(&receiver, &mut guard, &a, &mut out),
            OpenOutcome::default()
        );
        assert_eq!(plain(&out), vec![b"before".to_vec()]);
        assert_eq!(
            open_batch(&receiver, &mut guard, &b, &mut out),
            OpenOutcome::default()
        );
        assert_eq!(plain(&out), vec![b"after".to_vec()]);
        // A receiver that only has the old key refuses the new one's datagrams.
        let only_old = ring_of(1, None);
        let o = open_batch(&only_old, &mut ReplayGuard::default(), &b, &mut out);
        assert_eq!(o.auth_failures, 1);
    }

    #[test]
    fn the_window_takes_reordering_and_refuses_repeats_and_the_too_old() {
        let mut w = Window {
            newest: 0,
            seen: [0; WINDOW_WORDS],
            last_heard: 0,
        };
        w.mark(0);
        for c in [5u32, 3, 4, 1, 2, 70, 64, 200] {
            assert!(w.check(c), "{c} is new");
            w.mark(c);
            assert!(!w.check(c), "{c} is now seen");
        }
        for c in 0..=5 {
            assert!(!w.check(c));
        }
        assert!(w.check(6) && w.check(63) && w.check(199));
        w.mark(200 + REPLAY_WINDOW);
        assert!(!w.check(200), "out of the window");
        assert!(w.check(201), "inside the window, never seen");
    }

    #[test]
    fn sender_ids_change_before_the_counter_wraps() {
        let sealer = Sealer::new(ring_of(1, None)).unwrap_or_else(|_| unreachable!());
        let (id, first) = sealer.reserve(10).unwrap_or_else(|_| unreachable!());
        assert_eq!(first, 0);
        if let Ok(mut s) = sealer.state.lock() {
            s.next = u64::from(u32::MAX) - 1;
        }
        let (same, at) = sealer.reserve(2).unwrap_or_else(|_| unreachable!());
        assert_eq!((same, at), (id, u32::MAX - 1));
        let (fresh, restart) = sealer.reserve(1).unwrap_or_else(|_| unreachable!());
        assert_ne!(fresh, id);
        assert_eq!(restart, 0);
    }

    #[test]
    fn tracked_senders_are_bounded() {
        let keys = ring_of(1, None);
        let mut guard = ReplayGuard::default();
        let mut out = Batch::default();
        for _ in 0..MAX_SENDERS + 10 {
            let sealer = Sealer::new(keys.clone()).unwrap_or_else(|_| unreachable!());
            let mut sealed = Batch::default();
            sealer.seal_batch(&batch_of(&[b"x"]), &mut sealed);
            assert_eq!(
                open_batch(&keys, &mut guard, &sealed, &mut out),
                OpenOutcome::default()
            );
        }
        assert_eq!(guard.senders(), MAX_SENDERS);
    }

    #[test]
    fn key_files_hold_64_hex_digits() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
        let key = parse_key(hex.as_bytes()).unwrap_or_else(|_| unreachable!());
        assert_eq!(key[1], 0x11);
        assert_eq!(key[31], 0xff);
        assert!(parse_key(b"0011").is_err_and(|e| e.contains("not 4 characters")));
        let bad = "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(parse_key(bad.as_bytes()).is_err_and(|e| e.contains("other characters")));
    }

    proptest! {
        // MPROXY_FUZZ_CASES as in tests/fuzz.rs: fewer under emulation (check:platforms).
        #![proptest_config(ProptestConfig {
            cases: std::env::var("MPROXY_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000),
            ..ProptestConfig::default()
        })]

        /// Arbitrary bytes never panic, never deliver, never grow the output beyond them.
        #[test]
        fn opening_arbitrary_bytes_refuses_them(
            datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
            version_one in any::<bool>(),
        ) {
            let keys = ring_of(7, Some(8));
            let mut guard = ReplayGuard::default();
            let mut batch = Batch::default();
            for mut d in datagrams {
                if version_one && !d.is_empty() {
                    d[0] = VERSION;
                }
                batch.push(&d);
            }
            let mut out = Batch::default();
            let outcome = open_batch(&keys, &mut guard, &batch, &mut out);
            prop_assert!(out.is_empty());
            prop_assert_eq!(outcome.auth_failures as usize, batch.datagram_count());
            prop_assert!(out.buf.capacity() <= 2 * batch.buf.len() + 64);
            prop_assert_eq!(guard.senders(), 0);
        }

        /// Whatever is sealed opens to the same bytes, in order.
        #[test]
        fn sealing_round_trips(
            datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..30),
        ) {
            let keys = ring_of(3, None);
            let sealer = Sealer::new(keys.clone()).unwrap_or_else(|_| unreachable!());
            let refs: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
            let input = batch_of(&refs);
            let (mut sealed, mut out) = (Batch::default(), Batch::default());
            prop_assert!(sealer.seal_batch(&input, &mut sealed));
            let outcome = open_batch(&keys, &mut ReplayGuard::default(), &sealed, &mut out);
            prop_assert_eq!(outcome, OpenOutcome::default());
            prop_assert_eq!(plain(&out), datagrams);
        }
    }
}
