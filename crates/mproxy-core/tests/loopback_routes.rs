//! Routes end to end over loopback unicast with real sockets and files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use std::time::Duration;

use common::{destination, receive_datagrams, reporter, udp_sink, Events, TempDir};
use mproxy_core::event::Outcome;
use mproxy_core::event::Reporter;
use mproxy_core::Framing;
use mproxy_core::FramingSpec;
use mproxy_core::Wire;
use mproxy_core::{DestinationSpec, ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};
use mproxy_core::{Overflow, WriterSpec, DEFAULT_QUEUE_BYTES};
use mproxy_core::{StreamSpec, DEFAULT_LINGER};

/// A file of this test process in the temporary directory (each test removes its own).
fn text(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        out.extend_from_slice(
            format!(
                "!AIVDM,1,1,,A,{i:08},0*{:02X} line of varying length {}\n",
                i % 256,
                "x".repeat(i % 97)
            )
            .as_bytes(),
        );
    }
    out
}

fn server(listen: &str, out: &std::path::Path) -> Route {
    let spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: listen.parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::writer(WriterSpec {
            overflow: Overflow::Drop,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            ..WriterSpec::new(out.to_string_lossy())
        })],
        ..Default::default()
    };
    Route::start(&spec, Reporter::silent()).unwrap()
}

/// Where the kernel counts its drops (Linux), the client sends 60,000 lines (6 MB) unpaced
/// and any drop fails the test by name. Elsewhere a receiver that falls behind loses
/// datagrams with nothing to say so: under Wine on a busy machine the receiving thread may
/// not read at all while 6 MB go by (3,640 of 4,329 datagrams arrive: what its 8 MiB buffer
/// holds). There the client sends 20,000 lines (2 MB, well inside that buffer, whenever the
/// receiver reads) at the programs' default pace (--rate 80M), as users' clients do.
fn client_rate() -> u64 {
    if mproxy_core::stats::KERNEL_DROPS_COUNTED {
        0
    } else {
        80_000_000
    }
}

fn transfer_lines() -> usize {
    if mproxy_core::stats::KERNEL_DROPS_COUNTED {
        60_000
    } else {
        20_000
    }
}

fn client(
    input: &std::path::Path,
    dest: std::net::SocketAddr,
    framing: Framing,
    max: usize,
) -> (Route, Events) {
    let (reporter, events) = reporter();
    let spec = RouteSpec {
        stream_inputs: vec![StreamSpec {
            path: input.to_string_lossy().into(),
            framing: FramingSpec {
                framing,
                max_datagram: max,
                linger: DEFAULT_LINGER,
                rate: client_rate(),
                datagram_rate: 0,
                replay: None,
            },
            baud: None,
            follow: false,
        }],
        outputs: vec![OutputSpec::udp(vec![DestinationSpec {
            addr: dest,
            interface: None,
            ttl: 1,
            multicast_loop: true,
        }])],
        send_buffer: DEFAULT_SOCKET_BUFFER,
        ..Default::default()
    };
    (Route::start(&spec, reporter).unwrap(), events)
}

#[test]
fn a_file_crosses_loopback_byte_for_byte_over_ipv4_and_ipv6() {
    for (family, listen) in [("v4", "127.0.0.1:0"), ("v6", "[::1]:0")] {
        let dir = TempDir::new(&format!("transfer-{family}"));
        let input = dir.path("in.txt");
        let output = dir.path("out.txt");
        let data = text(
            std::env::var("MPROXY_TEST_LINES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(transfer_lines),
        );
        std::fs::write(&input, &data).unwrap();
        let mut srv = server(listen, &output);
        let addr = srv.listen_addrs()[0];
        let (mut cli, mut events) = client(&input, addr, Framing::Packed, 1452);
        assert_eq!(events.wait_finished(), Outcome::Complete);
        cli.stop();
        let sent = cli.stats();
        // Let the last datagrams land, then stop: the server drains its socket and queue.
        std::thread::sleep(Duration::from_millis(100));
        srv.stop();
        let got = std::fs::read(&output).unwrap();
        let stats = srv.stats();
        assert_eq!(
            stats[0].counters.kernel_drops,
            mproxy_core::stats::KERNEL_DROPS_COUNTED.then_some(0),
            "{family}: kernel dropped datagrams"
        );
        assert_eq!(
            got.len(),
            data.len(),
            "{family}: length differs; received {stats:?}, sent {:?}",
            sent.iter().find(|e| e.kind == "udp-destination")
        );
        assert!(got == data, "{family}: content differs");
        let dest = sent.iter().find(|e| e.kind == "udp-destination").unwrap();
        assert_eq!(dest.counters.bytes_out, data.len() as u64);
        assert_eq!(stats[0].counters.datagrams_in, dest.counters.datagrams_out);
    }
}

/// Equal-sized datagrams go out as GSO runs; through a relay and out again (GSO again),
/// every datagram keeps its own boundary.
#[test]
fn datagram_boundaries_survive_gso() {
    // Reads wait up to the hang limit: under qemu-user on a busy machine the chain takes
    // seconds.
    let sink = udp_sink();
    let relay_spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::udp(vec![destination(&sink)])],
        ..Default::default()
    };
    let mut relay = Route::start(&relay_spec, Reporter::silent()).unwrap();
    // 3000 bytes in raw chunks of 100: thirty equal datagrams, a GSO run.
    let dir = TempDir::new("gso");
    let input = dir.path("gso.bin");
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let (mut client, mut events) = client(&input, relay.listen_addrs()[0], Framing::Raw, 100);
    assert_eq!(events.wait_finished(), Outcome::Complete);
    let got = receive_datagrams(&sink, data.len());
    client.stop();
    relay.stop();
    assert!(
        got.iter().all(|d| d.len() == 100),
        "sizes {:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(got.concat(), data);
    let relayed = relay.stats();
    let listener = relayed.iter().find(|e| e.kind == "udp-listener").unwrap();
    assert_eq!(listener.counters.datagrams_in, 30);
}
