//! Bounded fuzzing (proptest) of what reads untrusted input: the framing of byte streams,
//! interface and scope parsing, and the bus key's decoder. Each property runs a few
//! thousand cases at most so `cargo test` stays quick; a failure prints the case to replay.
//! (cargo-fuzz needs a nightly toolchain and its own corpus; proptest runs on stable, in CI,
//! with the rest of the tests, and longer with `MPROXY_FUZZ_CASES`.)

use std::sync::Arc;

use mproxy_core::Batch;
use mproxy_core::{open_bus_batch, Keyring, ReplayGuard, Sealer, BUS_KEY_LEN};
use mproxy_core::{Framer, Framing};
use proptest::prelude::*;

/// 500 cases per property in ordinary test runs; `MPROXY_FUZZ_CASES=N` for a longer run
/// (the scheduled audit workflow runs 20000).
fn fuzz_config() -> ProptestConfig {
    let cases = std::env::var("MPROXY_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Packed),
        Just(Framing::Line),
        Just(Framing::Raw)
    ]
}

proptest! {
    #![proptest_config(fuzz_config())]

    /// Whatever arrives, the framer holds back at most `max` bytes (memory stays bounded by
    /// the datagram size, not the stream), never emits an empty or oversized datagram, and
    /// gives the stream back byte for byte.
    #[test]
    fn framing_holds_back_at_most_one_datagram(
        mode in framing(),
        max in 1usize..3000,
        read_lens in proptest::collection::vec(0usize..5000, 0..12),
        seed in any::<u64>(),
        newline_every in 2u64..200,
        flushes in proptest::collection::vec(any::<bool>(), 12),
    ) {
        // The bytes come from a cheap generator (proptest's per-byte strategies are slow in
        // debug builds), with newlines about every `newline_every` bytes.
        let mut x = seed | 1;
        let reads: Vec<Vec<u8>> = read_lens
            .iter()
            .map(|&len| {
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if x % newline_every == 0 { b'\n' } else { (x >> 32) as u8 }
                    })
                    .collect()
            })
            .collect();
        let mut f = Framer::new(mode, max);
        let mut out = Batch::default();
        let mut input = Vec::new();
        for (i, read) in reads.iter().enumerate() {
            f.push(read, &mut out);
            input.extend_from_slice(read);
            prop_assert!(f.pending_len() <= max, "{:?} holds {} > {}", mode, f.pending_len(), max);
            if flushes[i] {
                f.flush_lines(&mut out);
            }
        }
        f.flush_all(&mut out);
        prop_assert_eq!(f.pending_len(), 0);
        let mut joined = Vec::new();
        for d in out.datagrams() {
            prop_assert!(!d.is_empty() && d.len() <= max);
            joined.extend_from_slice(d);
        }
        prop_assert_eq!(joined, input);
    }

    /// Interface specs of any shape resolve or fail with one line naming them.
    #[test]
    fn interface_specs_resolve_or_fail_with_one_line(spec in prop_oneof![
        ".{0,40}",
        "[0-9]{1,12}",
        "[a-z]{1,16}[0-9]{0,3}",
        "(fe80::[0-9a-f]{1,4}|[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})",
    ]) {
        match mproxy_core::resolve_interface(&spec) {
            Ok(iface) => prop_assert!(iface.index > 0),
            Err(e) => prop_assert!(!e.message.contains('\n') && !e.message.is_empty(), "{}", e.message),
        }
    }

    /// Socket address text as the binding parses it, then scoped: no panic whatever it is.
    #[test]
    fn address_text_parses_or_is_refused(text in prop_oneof![
        ".{0,60}",
        "\\[[0-9a-f:%a-z]{0,40}\\]:[0-9]{0,6}",
        "[0-9.]{0,20}:[0-9]{0,6}",
    ], scope in proptest::option::of("[a-z0-9]{0,8}")) {
        if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
            match mproxy_core::with_scope(addr, &scope) {
                Ok(scoped) => prop_assert_eq!(scoped.port(), addr.port()),
                Err(e) => prop_assert!(!e.message.contains('\n')),
            }
        }
    }

    /// The bus key's decoder on arbitrary bytes, and on sealed datagrams with random damage:
    /// never a panic, never a delivery, never more memory than the input.
    #[test]
    fn bus_key_decoder_refuses_garbage_and_damage(
        garbage in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 0..16),
        plain in proptest::collection::vec(any::<u8>(), 0..1500),
        flip_at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let keys = Arc::new(Keyring::new(&[9; BUS_KEY_LEN], Some(&[10; BUS_KEY_LEN])).map_err(|e| TestCaseError::fail(e.message))?);
        let mut guard = ReplayGuard::default();
        let mut batch = Batch::default();
        for g in &garbage {
            batch.push(g);
        }
        let mut out = Batch::default();
        let outcome = open_bus_batch(&keys, &mut guard, &batch, &mut out);
        prop_assert_eq!(outcome.auth_failures as usize, garbage.len());
        prop_assert!(out.is_empty());
        prop_assert!(out.buf.capacity() <= 2 * batch.buf.len() + 64);

        let sealer = Sealer::new(keys.clone()).map_err(|e| TestCaseError::fail(e.message))?;
        let mut one = Batch::default();
        one.push(&plain);
        let mut sealed = Batch::default();
        prop_assert!(sealer.seal_batch(&one, &mut sealed));
        let at = flip_at.index(sealed.buf.len());
        sealed.buf[at] ^= flip;
        let damaged = open_bus_batch(&keys, &mut guard, &sealed, &mut out);
        prop_assert_eq!(damaged.auth_failures, 1);
        prop_assert!(out.is_empty());
        prop_assert_eq!(guard.senders(), 0);
    }
}
