#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly
//! TCP sources and sinks in routes, over loopback with real sockets.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{destination, packed, receive_datagrams, udp_sink};
use mproxy_core::event::Reporter;
use mproxy_core::TcpConnectSpec;
use mproxy_core::TcpListenSpec;
use mproxy_core::TcpOutputSpec;
use mproxy_core::Wire;
use mproxy_core::{ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};

#[test]
fn tcp_clients_are_framed_each_on_their_own() {
    let sink = udp_sink();
    let spec = RouteSpec {
        tcp_listeners: vec![TcpListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            framing: packed(64),
            max_clients: 8,
            access: Default::default(),
            idle_timeout: None,
            tls: None,
        }],
        outputs: vec![OutputSpec::udp(vec![destination(&sink)])],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let addr = route.tcp_listen_addrs()[0];
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    // Interleaved writes of partial lines from two clients.
    for i in 0..50 {
        a.write_all(format!("aaaa{i:03}").as_bytes()).unwrap();
        b.write_all(format!("bbbb{i:03}").as_bytes()).unwrap();
        a.write_all(b"aa\n").unwrap();
        b.write_all(b"bb\n").unwrap();
    }
    drop(a);
    drop(b);
    let got = receive_datagrams(&sink, 2 * 50 * 10);
    route.stop();
    let (mut text_a, mut text_b) = (Vec::new(), Vec::new());
    for d in &got {
        assert!(d.len() <= 64);
        let letters: std::collections::BTreeSet<u8> =
            d.iter().copied().filter(u8::is_ascii_alphabetic).collect();
        assert!(
            letters.len() <= 1,
            "datagram mixes clients: {:?}",
            String::from_utf8_lossy(d)
        );
        if letters.contains(&b'a') {
            text_a.extend_from_slice(d)
        } else {
            text_b.extend_from_slice(d)
        }
    }
    let expect = |c: char| {
        (0..50)
            .map(|i| format!("{0}{0}{0}{0}{i:03}{0}{0}\n", c))
            .collect::<String>()
    };
    assert_eq!(String::from_utf8(text_a).unwrap(), expect('a'));
    assert_eq!(String::from_utf8(text_b).unwrap(), expect('b'));
}

#[test]
fn every_tcp_output_client_gets_the_stream() {
    let spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::tcp_listen(TcpOutputSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            max_clients: 4,
            client_queue_bytes: 1 << 20,
            access: Default::default(),
            tls: None,
            preamble: None,
            keep_alive: None,
        })],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let out = route.tcp_output_addrs()[0];
    let mut readers: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(out).unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while route
        .stats()
        .iter()
        .find(|e| e.kind == "tcp-output")
        .unwrap()
        .counters
        .connects
        < 3
    {
        assert!(Instant::now() < deadline, "clients not accepted");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut expected = Vec::new();
    for i in 0..200 {
        let msg = format!("datagram {i}\n");
        sender
            .send_to(msg.as_bytes(), route.listen_addrs()[0])
            .unwrap();
        expected.extend_from_slice(msg.as_bytes());
    }
    for r in &mut readers {
        r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = vec![0u8; expected.len()];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, expected);
    }
    route.stop();
}

#[test]
fn a_lost_tcp_connection_is_made_again() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let sink = udp_sink();
    let spec = RouteSpec {
        tcp_connects: vec![TcpConnectSpec {
            host: "127.0.0.1".into(),
            port: addr.port(),
            addr,
            tls: None,
            framing: packed(1472),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            preamble: None,
            keep_alive: None,
        }],
        outputs: vec![OutputSpec::udp(vec![destination(&sink)])],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    for round in 0..2 {
        let (mut conn, _) = server.accept().unwrap();
        conn.write_all(format!("round {round}\n").as_bytes())
            .unwrap();
        let got = receive_datagrams(&sink, 8);
        assert_eq!(got.concat(), format!("round {round}\n").into_bytes());
        drop(conn);
    }
    route.stop();
    let stats = route.stats();
    let c = &stats
        .iter()
        .find(|e| e.kind == "tcp-connection")
        .unwrap()
        .counters;
    assert_eq!(c.connects, 2);
    assert!(c.disconnects >= 1);
}

/// Reads from `stream` until `want` bytes came (or the peer closed).
fn read_exactly(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = vec![0u8; want];
    stream.read_exact(&mut got).unwrap();
    got
}

#[test]
fn a_connect_out_output_sends_its_preamble_at_every_connect_then_the_stream() {
    use mproxy_core::{line_bytes, TcpConnectOutputSpec};
    let aggregator = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = aggregator.local_addr().unwrap();
    let spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::tcp_connect(TcpConnectOutputSpec {
            host: "127.0.0.1".into(),
            port: addr.port(),
            addr,
            tls: None,
            queue_bytes: 1 << 20,
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            preamble: Some(line_bytes("KEY").unwrap()),
            keep_alive: None,
        })],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let input = route.listen_addrs()[0];
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (mut first, _) = aggregator.accept().unwrap();
    assert_eq!(read_exactly(&mut first, 5), b"KEY\r\n");
    sender.send_to(b"one\n", input).unwrap();
    assert_eq!(read_exactly(&mut first, 4), b"one\n");
    drop(first);
    let (mut second, _) = aggregator.accept().unwrap();
    assert_eq!(read_exactly(&mut second, 5), b"KEY\r\n");
    sender.send_to(b"two\n", input).unwrap();
    assert_eq!(read_exactly(&mut second, 4), b"two\n");
    route.stop();
    let stats = route.stats();
    let out = stats
        .iter()
        .find(|e| e.kind == "tcp-connect-output")
        .unwrap();
    assert_eq!(out.name, format!("{addr}"));
    assert_eq!(out.counters.preambles, 2);
    assert_eq!(out.counters.datagrams_in, 2);
    assert_eq!(out.counters.bytes_out, 5 + 4 + 5 + 4);
    assert_eq!(out.counters.connects, 2);
    assert_eq!(out.counters.disconnects, 1);
}
