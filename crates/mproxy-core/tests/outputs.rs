#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly
//! Every kind of output through the one output description: plain UDP destinations sharing
//! one sink wherever they are listed, a file and a TCP output with rules and stages, a
//! balance group with a rate cap; the endpoints in the order they have always had; and a bad
//! rule that releases what was opened before it.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{destination, receive_datagrams, udp_sink, wait_until, TempDir};
use mproxy_core::event::Reporter;
use mproxy_core::Wire;
use mproxy_core::{Balance, OutputShaping, RateCap, RuleSpec, TcpOutputSpec, WriterSpec};
use mproxy_core::{ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};

fn tcp_output() -> TcpOutputSpec {
    TcpOutputSpec {
        addr: "127.0.0.1:0".parse().unwrap(),
        max_clients: 4,
        client_queue_bytes: 1 << 20,
        access: Default::default(),
        tls: None,
        preamble: None,
        keep_alive: None,
    }
}

fn listener() -> ListenSpec {
    ListenSpec {
        addr: "127.0.0.1:0".parse().unwrap(),
        interface: None,
        recv_buffer: DEFAULT_SOCKET_BUFFER,
        wire: Wire::Sealed,
    }
}

#[test]
fn every_kind_of_output_is_built_one_way_and_listed_as_before() {
    let dir = TempDir::new("every-kind");
    let [a, b, c, d] = [udp_sink(), udp_sink(), udp_sink(), udp_sink()];
    let file = dir.text("ais.log");
    let prefix = RuleSpec {
        prefix: Some(b"$GPGGA".to_vec()),
        ..Default::default()
    };
    let spec = RouteSpec {
        udp_listeners: vec![listener()],
        outputs: vec![
            OutputSpec::udp(vec![destination(&a)]),
            OutputSpec::writer(WriterSpec::new(file.clone())).with_rules(prefix.clone()),
            OutputSpec::tcp_listen(tcp_output()).with_shaping(OutputShaping {
                strip_tag_blocks: true,
                ..Default::default()
            }),
            // Listed later, still in the shared plain sink.
            OutputSpec::udp(vec![destination(&b)]),
            OutputSpec::balanced(vec![destination(&c), destination(&d)], Balance::RoundRobin)
                .with_shaping(OutputShaping {
                    rate_cap: Some(RateCap {
                        bytes_per_second: 0,
                        datagrams_per_second: 1_000_000,
                        burst: Duration::from_secs(1),
                        queue_bytes: 1 << 20,
                    }),
                    ..Default::default()
                }),
        ],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let tcp = route.tcp_output_addrs()[0];
    let mut client = TcpStream::connect(tcp).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    wait_until("the TCP client accepted", || {
        route
            .stats()
            .iter()
            .any(|e| e.kind == "tcp-output" && e.counters.connects == 1)
    });
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let listen = route.listen_addrs()[0];
    let lines: [&[u8]; 2] = [b"\\s:r1*00\\!AIVDM,1\n", b"$GPGGA,2\n"];
    for line in lines {
        sender.send_to(line, listen).unwrap();
        // One at a time, so the balance members get one each whatever the batching.
        receive_datagrams(&a, line.len());
    }
    assert_eq!(
        receive_datagrams(&b, lines[0].len() + lines[1].len()),
        lines.map(<[u8]>::to_vec)
    );
    assert_eq!(
        receive_datagrams(&c, lines[0].len()),
        vec![lines[0].to_vec()]
    );
    assert_eq!(
        receive_datagrams(&d, lines[1].len()),
        vec![lines[1].to_vec()]
    );
    // The TCP client gets both lines, the TAG block stripped.
    let mut got = vec![0u8; 18];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, b"!AIVDM,1\n$GPGGA,2\n");
    route.stop();
    assert_eq!(std::fs::read(&file).unwrap(), lines[1]);

    let names: Vec<String> = route
        .stats()
        .iter()
        .map(|e| format!("{} {}", e.kind, e.name))
        .collect();
    let [a, b, c, d] = [&a, &b, &c, &d].map(|s| s.local_addr().unwrap().to_string());
    assert_eq!(
        names,
        vec![
            format!("udp-destination {a}"),
            format!("udp-destination {b}"),
            format!("file {file}"),
            format!("rule {file} prefix $GPGGA"),
            format!("tcp-output {tcp}"),
            format!("stage {tcp} strip-tag-blocks"),
            format!("udp-destination {c}"),
            format!("udp-destination {d}"),
            format!("stage {c} max-datagram-rate 1000000/s"),
            format!("stage {d} max-datagram-rate 1000000/s"),
            format!("rule {c},{d} round-robin"),
            format!("udp-listener {listen}"),
        ]
    );
}

#[test]
fn a_bad_rule_fails_the_start_and_releases_the_outputs_made_before_it() {
    let bad = RuleSpec {
        pattern: Some("([".into()),
        ..Default::default()
    };
    // A port to ask for again: free now, taken by the output while the start runs.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spec = RouteSpec {
        outputs: vec![
            OutputSpec::tcp_listen(TcpOutputSpec {
                addr: port,
                ..tcp_output()
            }),
            OutputSpec::tcp_listen(tcp_output()).with_rules(bad),
        ],
        ..Default::default()
    };
    let err = Route::start(&spec, Reporter::silent()).err().unwrap();
    assert_eq!(
        err.message,
        "match: not a valid regular expression (unclosed character class)"
    );
    // Both listeners were closed: the first one's port can be bound again.
    TcpListener::bind(port).unwrap();
}
