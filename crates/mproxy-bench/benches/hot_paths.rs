//! Instruction counts of the hot paths (see the crate's doc): each benchmark runs once under
//! Callgrind, and iai-callgrind reports its instructions and the change since the last run
//! (`--save-baseline` / `--baseline` compare two revisions).
//!
//! - `framing`: 1 MiB of AIS lines into datagrams, packed and one line each;
//! - `seal` / `open`: a batch of 64 datagrams of 100 bytes sealed with a bus key, and opened;
//! - `rules`: the same batch through a prefix rule and a regular expression;
//! - `fan_out`: a batch delivered to three outputs;
//! - `relay`: 5,000 datagrams of 100 bytes through a route (UDP listener to UDP destination)
//!   on loopback, one at a time (each sent when the one before has arrived): the relay's
//!   whole user-space path per datagram (wake-up, receive, fan-out, send), its threads
//!   included; the whole process is counted, the route's start and stop with it. One at a
//!   time because how datagrams fall into batches depends on the machine's load, and with it
//!   the count (by 10% between runs of rounds of 100 on a busy machine); a batch of one each
//!   is the same on every run, and the dearest case per datagram.

// A benchmark that cannot set up has nothing to measure: it stops, saying why.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod benches {
    use std::hint::black_box;
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use iai_callgrind::{
        library_benchmark, library_benchmark_group, Callgrind, EntryPoint, LibraryBenchmarkConfig,
    };
    use mproxy_bench::{ais_text, mixed_batch};
    use mproxy_core::bench_support::{fan_out as deliver_to_all, relay_spec, ruled};
    use mproxy_core::event::Reporter;
    use mproxy_core::{
        open_bus_batch, Batch, Framer, Framing, Keyring, ReplayGuard, Route, RuleSpec, Sealer, Sink,
    };

    /// A sink that only counts what it gets.
    #[derive(Default)]
    struct Count(AtomicU64);

    impl Sink for Count {
        fn deliver(&self, batch: &Batch) {
            self.0
                .fetch_add(batch.datagram_count() as u64, Ordering::Relaxed);
        }
        fn finish(&self) {}
    }

    fn frame(mode: Framing) -> usize {
        let text = ais_text(1 << 20 >> 6);
        let mut framer = Framer::new(mode, 1472);
        let mut out = Batch::default();
        let mut datagrams = 0;
        for chunk in text.chunks(64 * 1024) {
            framer.push(black_box(chunk), &mut out);
            datagrams += out.datagram_count();
            out.clear();
        }
        framer.flush_all(&mut out);
        datagrams + out.datagram_count()
    }

    #[library_benchmark]
    fn framing_packed() -> usize {
        black_box(frame(Framing::Packed))
    }

    #[library_benchmark]
    fn framing_line() -> usize {
        black_box(frame(Framing::Line))
    }

    fn keys() -> Arc<Keyring> {
        Arc::new(Keyring::new(&[7; 32], None).expect("keyring"))
    }

    fn sealed(keys: &Arc<Keyring>) -> Batch {
        let sealer = Sealer::new(keys.clone()).expect("sealer");
        let mut out = Batch::default();
        assert!(sealer.seal_batch(&mixed_batch(64, 100), &mut out));
        out
    }

    #[library_benchmark]
    fn seal() -> usize {
        let keys = keys();
        let sealer = Sealer::new(keys).expect("sealer");
        let plain = mixed_batch(64, 100);
        let mut out = Batch::default();
        for _ in 0..100 {
            out.clear();
            assert!(sealer.seal_batch(black_box(&plain), &mut out));
        }
        out.datagram_count()
    }

    #[library_benchmark]
    fn open() -> u64 {
        let keys = keys();
        // Sealed once, opened by 100 listeners each (a guard per listener: no replays).
        let batch = sealed(&keys);
        let mut out = Batch::default();
        let mut refused = 0;
        for _ in 0..100 {
            let mut guard = ReplayGuard::default();
            let outcome = open_bus_batch(&keys, &mut guard, black_box(&batch), &mut out);
            refused += outcome.auth_failures + outcome.replays;
        }
        assert_eq!(refused, 0);
        out.datagram_count() as u64
    }

    #[library_benchmark]
    fn rules() -> u64 {
        let count = Arc::new(Count::default());
        let spec = RuleSpec {
            prefix: Some(b"!AIVDM".to_vec()),
            pattern: Some("^!AIVDM".into()),
            ..Default::default()
        };
        let sink = ruled(&spec, count.clone()).expect("rules");
        let batch = mixed_batch(64, 100);
        for _ in 0..100 {
            sink.deliver(black_box(&batch));
        }
        let kept = count.0.load(Ordering::Relaxed);
        assert_eq!(kept, 100 * 48);
        kept
    }

    #[library_benchmark]
    fn fan_out() -> u64 {
        let outputs: Vec<Arc<Count>> = (0..3).map(|_| Arc::new(Count::default())).collect();
        let batch = mixed_batch(64, 100);
        let sinks: Vec<Arc<dyn Sink>> =
            outputs.iter().map(|c| c.clone() as Arc<dyn Sink>).collect();
        for _ in 0..100 {
            deliver_to_all(sinks.clone(), black_box(&batch));
        }
        outputs.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    const RELAYED: usize = 5_000;
    const ROUND: usize = 1;

    // The relay's work is on the route's threads, which the default (counting inside this
    // function, on its thread) would miss: the whole process is counted, the route's start
    // and stop included (the same on both sides of a comparison).
    #[library_benchmark(
        config = LibraryBenchmarkConfig::default()
            .tool(Callgrind::with_args(["--collect-atstart=yes"]).entry_point(EntryPoint::None))
    )]
    fn relay() -> usize {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        // A lost datagram would hang the round: a generous limit ends the benchmark instead.
        receiver
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let spec = relay_spec(
            "127.0.0.1:0".parse().expect("setup"),
            receiver.local_addr().expect("setup"),
        );
        let mut route = Route::start(&spec, Reporter::silent()).expect("route");
        let to = route.listen_addrs()[0];
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let datagram = [b'x'; 100];
        let mut buf = [0u8; 2048];
        let mut received = 0;
        while received < RELAYED {
            for _ in 0..ROUND {
                sender.send_to(&datagram, to).expect("send");
            }
            for _ in 0..ROUND {
                let n = receiver.recv(&mut buf).expect("relay lost a datagram");
                assert_eq!(n, 100);
                received += 1;
            }
        }
        route.stop();
        received
    }

    library_benchmark_group!(
        name = hot_paths;
        benchmarks = framing_packed, framing_line, seal, open, rules, fan_out, relay
    );
}

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
use benches::hot_paths;

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
iai_callgrind::main!(library_benchmark_groups = hot_paths);

/// Measured on x86_64 Linux (glibc) only: elsewhere there is nothing to run.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
fn main() {}
