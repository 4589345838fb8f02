//! A route's taps and injector end to end: real UDP sockets and a real output file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempDir;
use mproxy_core::event::Reporter;
use mproxy_core::Batch;
use mproxy_core::Offer;
use mproxy_core::Wire;
use mproxy_core::WriterSpec;
use mproxy_core::{ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};
use mproxy_core::{Take, TapChunk};

/// Takes from `take` until `n` datagrams arrived (or fails after 10 s).
fn take_n(take: impl Fn() -> Take, n: usize) -> Vec<(Vec<u8>, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} datagrams",
            got.len()
        );
        match take() {
            Take::Chunk(TapChunk {
                data,
                lengths,
                sources,
                source_of,
            }) => {
                let mut offset = 0;
                for (len, source) in lengths.iter().zip(&source_of) {
                    let end = offset + *len as usize;
                    got.push((
                        data[offset..end].to_vec(),
                        sources[*source as usize].clone(),
                    ));
                    offset = end;
                }
            }
            Take::Empty => std::thread::sleep(Duration::from_millis(5)),
            Take::Ended => panic!("the tap ended"),
        }
    }
    got
}

#[test]
fn a_tap_sees_received_and_injected_datagrams_and_the_file_gets_both() {
    let dir = TempDir::new("taps");
    let out = dir.path("out.txt");
    let spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::writer(WriterSpec::new(
            out.to_string_lossy().into_owned(),
        ))],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let listen = route.listen_addrs()[0];
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let taps = route.taps();
    let tap = taps.attach(
        1000,
        Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }),
    );
    assert_eq!(taps.len(), 1);

    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..10 {
        sender
            .send_to(format!("udp {i}\n").as_bytes(), listen)
            .unwrap();
    }
    let got = take_n(|| tap.take(), 10);
    let from = sender.local_addr().unwrap().to_string();
    for (i, (data, source)) in got.iter().enumerate() {
        assert_eq!(data, format!("udp {i}\n").as_bytes());
        assert_eq!(source, &from);
    }

    let injector = route.injector(Box::new(|| {})).unwrap();
    let mut batch = Batch::default();
    batch.push(b"js 1\n");
    batch.push(b"js 2\n");
    assert_eq!(injector.offer(batch), Offer::Queued);
    let got = take_n(|| tap.take(), 2);
    assert_eq!(
        got,
        vec![
            (b"js 1\n".to_vec(), "js".to_string()),
            (b"js 2\n".to_vec(), "js".to_string())
        ]
    );

    taps.detach(&tap);
    assert!(taps.is_empty());
    assert!(matches!(tap.take(), Take::Ended));
    route.stop();
    let mut expected: Vec<u8> = (0..10)
        .flat_map(|i| format!("udp {i}\n").into_bytes())
        .collect();
    expected.extend_from_slice(b"js 1\njs 2\n");
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    let tap_endpoint = route.stats().into_iter().find(|e| e.kind == "tap").unwrap();
    assert_eq!(tap_endpoint.counters.datagrams_out, 12);
    assert_eq!(tap_endpoint.counters.tap_drops, 0);
    let mut late = Batch::default();
    late.push(b"late");
    assert_eq!(injector.offer(late), Offer::Closed);
}
