//! The client's replay through a real route: a recorded file to a UDP socket on loopback.
//! What the JavaScript tests cannot reach easily: a line longer than replay holds (sent in
//! parts, whole and in order), and a route stopped while a line waits for its time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{destination, receive_bytes, receive_datagrams, reporter, udp_sink, TempDir};
use mproxy_core::event::Outcome;
use mproxy_core::{Framing, FramingSpec, ReplaySpec, TimeSource};
use mproxy_core::{OutputSpec, Route, RouteSpec, StreamSpec, DEFAULT_SOCKET_BUFFER};

fn replaying(
    input: &std::path::Path,
    sink: &std::net::UdpSocket,
    framing: Framing,
    times: TimeSource,
) -> (Route, common::Events) {
    let (reporter, events) = reporter();
    let spec = RouteSpec {
        stream_inputs: vec![StreamSpec {
            path: input.to_string_lossy().into(),
            framing: FramingSpec {
                framing,
                max_datagram: 1400,
                linger: Duration::from_millis(20),
                rate: 0,
                datagram_rate: 0,
                replay: Some(ReplaySpec { times, speed: 1.0 }),
            },
            baud: None,
            follow: false,
        }],
        outputs: vec![OutputSpec::udp(vec![destination(sink)])],
        send_buffer: DEFAULT_SOCKET_BUFFER,
        ..Default::default()
    };
    (Route::start(&spec, reporter).unwrap(), events)
}

#[test]
fn a_line_longer_than_replay_holds_is_sent_whole_in_order_after_its_time() {
    let dir = TempDir::new("replay-long");
    let input = dir.path("recorded.log");
    // 200 KiB of sentence after the time: more than the 64 KiB held at once.
    let long: String = (0..200 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    std::fs::write(&input, format!("100.0 ${long}\n100.2 $GPGGA,next*00\n")).unwrap();
    let expected = format!("${long}\n$GPGGA,next*00\n");
    let sink = udp_sink();
    let before = Instant::now();
    let (mut route, mut events) = replaying(&input, &sink, Framing::Line, TimeSource::Unix);
    let got = receive_datagrams(&sink, expected.len());
    let arrived = before.elapsed();
    assert_eq!(got.concat(), expected.as_bytes());
    assert_eq!(got.last().unwrap(), b"$GPGGA,next*00\n");
    assert!(
        arrived >= Duration::from_millis(200),
        "the last line came after {arrived:?}, due at 200 ms"
    );
    assert_eq!(events.wait_finished(), Outcome::Complete);
    route.stop();
}

#[test]
fn a_route_stopped_while_a_line_waits_stops_at_once_having_sent_the_lines_due() {
    let dir = TempDir::new("replay-stop");
    let input = dir.path("recorded.log");
    // The second line is due in an hour.
    std::fs::write(
        &input,
        "\\c:1714564800*00\\$GPGGA,now*00\n\\c:1714568400*00\\$GPGGA,later*00\n",
    )
    .unwrap();
    let sink = udp_sink();
    let (mut route, mut events) = replaying(&input, &sink, Framing::Packed, TimeSource::Tag);
    assert_eq!(
        receive_bytes(&sink, 31),
        b"\\c:1714564800*00\\$GPGGA,now*00\n"
    );
    let stopping = Instant::now();
    route.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "stop waited for the line due in an hour"
    );
    assert_eq!(events.wait_finished(), Outcome::Stopped);
    let input_stats = route
        .stats()
        .into_iter()
        .find(|e| e.kind == "input")
        .unwrap();
    assert_eq!(input_stats.counters.datagrams_out, 1);
}
