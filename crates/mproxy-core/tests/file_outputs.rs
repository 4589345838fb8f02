//! File outputs with rotation, retention and reopening, with real files: every byte
//! delivered is found exactly once, in order, across the rotated files and the active one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{reporter, wait_until, Events, TempDir};
use mproxy_core::event::{Level, Reporter};
use mproxy_core::stats::Registry;
use mproxy_core::Batch;
use mproxy_core::Sink;
use mproxy_core::StopToken;
use mproxy_core::Wire;
use mproxy_core::{parse_rotated, rotation_stamp as stamp};
use mproxy_core::{Clock, Keep, Overflow, Rotate, WriterSink, WriterSpec};
use mproxy_core::{ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};

/// A clock the test sets (seconds since the epoch, with milliseconds).
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn at(t: SystemTime) -> TestClock {
        let c = TestClock(Arc::new(AtomicU64::new(0)));
        c.set(t);
        c
    }

    fn set(&self, t: SystemTime) {
        let ms = t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        self.0.store(ms, Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let ms = self.0.clone();
        Clock::from_fn(move || UNIX_EPOCH + Duration::from_millis(ms.load(Ordering::SeqCst)))
    }
}

fn utc(text: &str) -> SystemTime {
    // "YYYY-MM-DDTHH:MM:SS", for readable tests.
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss) = (n(11, 13), n(14, 16), n(17, 19));
    // days_from_civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs((days * 86_400 + hh * 3600 + mm * 60 + ss) as u64)
}

/// A batch of datagrams, each one a numbered line, `bytes` long in all (roughly).
fn batch(seq: &mut u64, bytes: usize) -> Batch {
    let mut b = Batch::default();
    let mut total = 0;
    while total < bytes {
        let line = format!("{:08} {}\n", *seq, "x".repeat((*seq % 90) as usize));
        *seq += 1;
        total += line.len();
        b.push(line.as_bytes());
    }
    b
}

fn payload(b: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    b.append_payload_to(&mut out);
    out
}

struct Writer {
    sink: WriterSink,
    registry: Registry,
}

impl Writer {
    fn start(spec: &WriterSpec, reporter: Reporter) -> Writer {
        let registry = Registry::default();
        let sink = WriterSink::new(spec, "file", &registry, reporter, StopToken::new()).unwrap();
        Writer { sink, registry }
    }

    fn written(&self) -> u64 {
        self.registry.snapshot()[0].counters.bytes_out
    }

    /// Delivers and waits until the writer wrote it.
    fn put(&self, b: &Batch) {
        let before = self.written();
        self.sink.deliver(b);
        let want = before + b.byte_count() as u64;
        wait_until("the chunk to be written", || self.written() == want);
    }
}

/// The rotated files of `active`, oldest first (by stamp, then clash number).
fn rotated(active: &Path) -> Vec<PathBuf> {
    let base = active.file_name().unwrap().to_str().unwrap();
    let mut found: Vec<(String, u64, PathBuf)> = std::fs::read_dir(active.parent().unwrap())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_str().unwrap().to_string();
            parse_rotated(base, &name).map(|(s, n)| (s.to_string(), n, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, _, p)| p).collect()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

#[test]
fn rotation_by_size_keeps_every_byte_once_and_every_chunk_whole() {
    let dir = TempDir::new("size");
    let path = dir.path("ais.log");
    let clock = TestClock::at(utc("2026-11-27T17:42:10"));
    let limit = 10_000;
    let spec = WriterSpec {
        overflow: Overflow::Wait,
        rotate: Some(Rotate::Size(limit)),
        clock: clock.clock(),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, mut events) = reporter();
    let w = Writer::start(&spec, reporter);
    let mut seq = 0;
    let mut delivered = Vec::new();
    let mut chunk_ends = vec![0usize];
    let sizes = [
        3000, 3000, 3000, 3000, 100, 9999, 2500, 15_000, 1, 4000, 4000, 4000, 700, 9000, 2000,
    ];
    for (i, size) in sizes.iter().cycle().take(60).enumerate() {
        let b = batch(&mut seq, *size);
        delivered.extend_from_slice(&payload(&b));
        chunk_ends.push(delivered.len());
        // Later files start a second later each: the stamps move on, and some clash.
        if i % 7 == 6 {
            clock.set(utc("2026-11-27T17:42:10") + Duration::from_secs(i as u64 / 7));
        }
        w.put(&b);
    }
    w.sink.finish();

    let files = rotated(&path);
    assert!(files.len() > 20, "{} rotated files", files.len());
    let mut all = Vec::new();
    for f in files.iter().chain([&path]) {
        let content = read(f);
        let start = all.len();
        all.extend_from_slice(&content);
        // A file starts and ends at chunk boundaries, so no datagram is ever split.
        assert!(
            chunk_ends.contains(&start),
            "{} starts mid-chunk",
            f.display()
        );
        assert!(
            chunk_ends.contains(&all.len()),
            "{} ends mid-chunk",
            f.display()
        );
        // Within the limit, unless it holds one chunk larger than the limit alone.
        let chunks_in = chunk_ends
            .iter()
            .filter(|e| **e > start && **e <= all.len())
            .count();
        assert!(
            content.len() as u64 <= limit || chunks_in == 1,
            "{}: {} bytes in {chunks_in} chunks",
            f.display(),
            content.len()
        );
    }
    assert_eq!(all.len(), delivered.len());
    assert!(
        all == delivered,
        "the files together differ from what was delivered"
    );
    // Named for the second the data began, with a clash number when taken.
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name(&files[0]), "ais.log.2026-11-27T17-42-10");
    assert_eq!(name(&files[1]), "ais.log.2026-11-27T17-42-10.1");
    let c = w.registry.snapshot()[0].counters;
    assert_eq!(c.bytes_in, delivered.len() as u64);
    assert_eq!(c.bytes_out, delivered.len() as u64);
    assert_eq!(c.queue_drops + c.write_errors + c.bytes_dropped, 0);
    assert_eq!(events.logs(), vec![]);
}

#[test]
fn hourly_rotation_follows_the_clock_also_when_no_data_comes() {
    let dir = TempDir::new("hourly");
    let path = dir.path("ais.log");
    let clock = TestClock::at(utc("2026-11-27T16:59:58"));
    let spec = WriterSpec {
        rotate: Some(Rotate::Hourly),
        clock: clock.clock(),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, mut events) = reporter();
    let w = Writer::start(&spec, reporter);
    let mut seq = 0;
    let (a, b, c) = (
        batch(&mut seq, 500),
        batch(&mut seq, 700),
        batch(&mut seq, 900),
    );
    w.put(&a);
    // The next chunk comes in the next hour: the file of 16:00 is closed before it.
    clock.set(utc("2026-11-27T17:00:01"));
    w.put(&b);
    assert_eq!(read(&dir.path("ais.log.2026-11-27T16")), payload(&a));
    assert_eq!(read(&path), payload(&b));
    clock.set(utc("2026-11-27T17:59:59"));
    w.put(&c);
    // 18:00 passes with no data: the writer rotates at the boundary by itself.
    clock.set(utc("2026-11-27T18:00:00"));
    let hour17 = dir.path("ais.log.2026-11-27T17");
    wait_until("the idle rotation", || hour17.exists());
    assert_eq!(read(&hour17), [payload(&b), payload(&c)].concat());
    assert_eq!(read(&path), b"");
    // An empty active file is not rotated at the next boundary.
    clock.set(utc("2026-11-27T19:00:01"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(rotated(&path).len(), 2);
    w.sink.finish();
    assert_eq!(events.logs(), vec![]);
}

#[test]
fn daily_rotation_at_utc_midnight_and_a_file_left_from_an_earlier_day() {
    let dir = TempDir::new("daily");
    let path = dir.path("feed.log");
    // A file from before the start, written to now (real time): its data began when it
    // was created.
    std::fs::write(&path, b"left over\n").unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let began = meta.created().or_else(|_| meta.modified()).unwrap();
    let clock = TestClock::at(SystemTime::now() + Duration::from_secs(3 * 86_400));
    let spec = WriterSpec {
        rotate: Some(Rotate::Daily),
        clock: clock.clock(),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, _events) = reporter();
    let w = Writer::start(&spec, reporter);
    let earlier = dir.path(&format!("feed.log.{}", stamp(began, Rotate::Daily)));
    wait_until("the left-over file to be rotated at start", || {
        earlier.exists()
    });
    assert_eq!(read(&earlier), b"left over\n");

    // Far from the real date, so the left-over file's name cannot clash.
    clock.set(utc("2019-06-30T23:59:59"));
    let mut seq = 0;
    let (a, b) = (batch(&mut seq, 300), batch(&mut seq, 300));
    w.put(&a);
    clock.set(utc("2019-07-01T00:00:00"));
    w.put(&b);
    w.sink.finish();
    assert_eq!(read(&dir.path("feed.log.2019-06-30")), payload(&a));
    assert_eq!(read(&path), payload(&b));
}

#[test]
fn retention_keeps_the_newest_n_and_touches_nothing_else() {
    let dir = TempDir::new("keep-n");
    let path = dir.path("ais.log");
    let others = [
        "ais.log.1",
        "ais.log.2020-01-01.gz",
        "ais.log.old",
        "other.log.2020-01-01",
    ];
    for o in others {
        std::fs::write(dir.path(o), o).unwrap();
    }
    // Rotated by an earlier run: older than anything this run makes.
    std::fs::write(dir.path("ais.log.2020-01-01T00-00-00"), b"old").unwrap();
    let clock = TestClock::at(utc("2026-11-27T17:42:10"));
    let spec = WriterSpec {
        rotate: Some(Rotate::Size(1000)),
        keep: Some(Keep::Files(3)),
        clock: clock.clock(),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, mut events) = reporter();
    let w = Writer::start(&spec, reporter);
    let mut seq = 0;
    let mut chunks = Vec::new();
    for i in 0..10 {
        clock.set(utc("2026-11-27T17:42:10") + Duration::from_secs(i));
        let b = batch(&mut seq, 900);
        chunks.push(payload(&b));
        w.put(&b);
    }
    w.sink.finish();
    // Ten chunks of 900-odd bytes: nine rotated, one active; the newest three kept.
    let kept = rotated(&path);
    let names: Vec<String> = kept
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "ais.log.2026-11-27T17-42-16",
            "ais.log.2026-11-27T17-42-17",
            "ais.log.2026-11-27T17-42-18"
        ]
    );
    for (i, p) in kept.iter().enumerate() {
        assert_eq!(read(p), chunks[6 + i]);
    }
    assert_eq!(read(&path), chunks[9]);
    for o in others {
        assert_eq!(read(&dir.path(o)), o.as_bytes(), "{o} was touched");
    }
    assert_eq!(events.logs(), vec![]);
}

#[test]
fn retention_by_age_removes_old_rotated_files_at_start() {
    let dir = TempDir::new("keep-age");
    let path = dir.path("ais.log");
    let now = SystemTime::now();
    let make = |name: &str, age_days: u64| {
        let p = dir.path(name);
        std::fs::write(&p, name).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(now - Duration::from_secs(age_days * 86_400))
            .unwrap();
        p
    };
    let old = [
        make("ais.log.2026-11-20", 8),
        make("ais.log.2026-11-21T03", 7),
        make("ais.log.2026-11-22T03-04-05.2", 6),
    ];
    let recent = [make("ais.log.2026-11-26", 1), make("ais.log.2026-11-27", 0)];
    let unrelated = make("ais.log.bak", 30);
    let spec = WriterSpec {
        rotate: Some(Rotate::Daily),
        keep: Some(Keep::Age(Duration::from_secs(5 * 86_400))),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, mut events) = reporter();
    let w = Writer::start(&spec, reporter);
    wait_until("old files to go", || old.iter().all(|p| !p.exists()));
    w.sink.finish();
    for p in recent.iter().chain([&unrelated]) {
        assert!(p.exists(), "{} was removed", p.display());
    }
    assert_eq!(events.logs(), vec![]);
}

/// Writes 6 batches of 90 bytes with a 100-byte size limit, calling `break_rotation` after
/// the first, and checks that the failed rotation is reported once, as an error, and that
/// nothing is lost or counted as a write error.
fn rotation_fails_once_and_writing_goes_on(name: &str, break_rotation: impl FnOnce(&Path)) {
    let dir = TempDir::new(name);
    let sub = dir.path("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("ais.log");
    let clock = TestClock::at(utc("2026-11-27T17:00:00"));
    let spec = WriterSpec {
        rotate: Some(Rotate::Size(100)),
        clock: clock.clock(),
        ..WriterSpec::new(path.to_string_lossy())
    };
    let (reporter, mut events) = reporter();
    let w = Writer::start(&spec, reporter);
    let mut seq = 0;
    w.put(&batch(&mut seq, 90));
    break_rotation(&path);
    for i in 0..5 {
        clock.set(utc("2026-11-27T17:00:00") + Duration::from_secs(i * 30));
        w.put(&batch(&mut seq, 90));
    }
    w.sink.finish();
    let logs = events.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].0, Level::Error);
    assert!(
        logs[0]
            .1
            .starts_with(&format!("cannot rotate {}: ", path.display()))
            && logs[0].1.ends_with("(writing on to it, will try again)"),
        "{}",
        logs[0].1
    );
    let c = w.registry.snapshot()[0].counters;
    assert_eq!(c.write_errors + c.bytes_dropped, 0);
}

#[test]
fn a_rotation_that_finds_no_free_name_is_reported_once_and_writing_goes_on() {
    // A rotated file with the highest number there is: no name is left after it for the
    // stamp the file's data began with (every OS refuses nothing else here).
    rotation_fails_once_and_writing_goes_on("no-name", |path| {
        let mut blocker = path.as_os_str().to_owned();
        blocker.push(format!(
            ".{}.{}",
            stamp(utc("2026-11-27T17:00:00"), Rotate::Size(100)),
            u64::MAX
        ));
        std::fs::write(blocker, b"").unwrap();
    });
}

/// Only where a directory holding an open file can be removed (POSIX; Windows refuses).
#[cfg(unix)]
#[test]
fn a_rotation_whose_directory_went_away_is_reported_once_and_writing_goes_on() {
    rotation_fails_once_and_writing_goes_on("gone", |path| {
        // The directory goes away under the writer: the rename cannot be done.
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    });
}

#[test]
fn bad_rotation_settings_fail_the_start() {
    let dir = TempDir::new("bad");
    let registry = Registry::default();
    let start = |spec: WriterSpec| {
        WriterSink::new(
            &spec,
            "file",
            &registry,
            Reporter::silent(),
            StopToken::new(),
        )
        .err()
        .map(|e| e.message)
    };
    let file = dir.path("out.log").to_string_lossy().into_owned();
    assert_eq!(
        start(WriterSpec {
            rotate: Some(Rotate::Hourly),
            ..WriterSpec::new("-")
        }),
        Some("rotation and retention need a file path, not stdout".into())
    );
    assert_eq!(
        start(WriterSpec {
            keep: Some(Keep::Files(3)),
            ..WriterSpec::new(file.clone())
        }),
        Some(format!(
            "{file}: keeping old files needs rotation (hourly, daily or by size)"
        ))
    );
    assert_eq!(
        start(WriterSpec {
            rotate: Some(Rotate::Daily),
            keep: Some(Keep::Files(0)),
            ..WriterSpec::new(file.clone())
        }),
        Some(format!("{file}: keep at least 1 rotated file"))
    );
    let d = dir.text("");
    assert!(start(WriterSpec {
        rotate: Some(Rotate::Daily),
        ..WriterSpec::new(d.clone())
    })
    .is_some_and(|m| m == format!("{d}: only a regular file can be rotated")));
}

fn udp_to_file(out: &Path, copy: Option<&Path>) -> (Route, Events) {
    let spec = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::writer(WriterSpec::new(out.to_string_lossy()))],
        copy: copy.map(|c| WriterSpec {
            rotate: Some(Rotate::Daily),
            keep: Some(Keep::Files(7)),
            ..WriterSpec::new(c.to_string_lossy())
        }),
        ..Default::default()
    };
    let (reporter, events) = reporter();
    (Route::start(&spec, reporter).unwrap(), events)
}

fn send_lines(route: &Route, tag: &str, n: usize) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = Vec::new();
    for i in 0..n {
        let line = format!("{tag} {i:05}\n");
        socket
            .send_to(line.as_bytes(), route.listen_addrs()[0])
            .unwrap();
        sent.extend_from_slice(line.as_bytes());
        if i % 50 == 49 {
            // Loopback: no loss as long as the listener's buffer is not outrun.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    sent
}

fn bytes_written(route: &Route, kind: &str) -> u64 {
    route
        .stats()
        .iter()
        .find(|e| e.kind == kind)
        .unwrap()
        .counters
        .bytes_out
}

#[test]
fn reopen_after_logrotate_moved_the_file_away() {
    let dir = TempDir::new("reopen");
    let out = dir.path("server.log");
    let moved = dir.path("server.log.1");
    let copy = dir.path("copy.log");
    let (mut route, mut events) = udp_to_file(&out, Some(&copy));
    let first = send_lines(&route, "before", 500);
    wait_until("the first lines", || {
        bytes_written(&route, "file") == first.len() as u64
    });
    // logrotate: mv, then postrotate asks for a reopen.
    std::fs::rename(&out, &moved).unwrap();
    route.reopen_outputs();
    let second = send_lines(&route, "after", 700);
    let total = (first.len() + second.len()) as u64;
    wait_until("the second lines", || {
        bytes_written(&route, "file") == total
    });
    route.stop();
    assert_eq!(read(&moved), first);
    assert_eq!(read(&out), second);
    // The copy (not moved away) reopened the same path and holds everything once.
    assert_eq!(read(&copy), [first, second].concat());
    let stats = route.stats();
    for e in stats
        .iter()
        .filter(|e| e.kind == "file" || e.kind == "copy")
    {
        assert_eq!(e.counters.bytes_out, total, "{}", e.name);
        assert_eq!(e.counters.bytes_dropped + e.counters.write_errors, 0);
    }
    assert_eq!(stats.iter().filter(|e| e.kind == "copy").count(), 1);
    assert_eq!(events.logs(), vec![]);
}

#[test]
fn a_reopen_that_fails_keeps_the_old_file_and_is_tried_again() {
    let dir = TempDir::new("reopen-fail");
    let sub = dir.path("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("server.log");
    let (reporter, mut events) = reporter();
    let w = Writer::start(&WriterSpec::new(path.to_string_lossy()), reporter);
    let mut seq = 0;
    let a = batch(&mut seq, 1000);
    w.put(&a);
    // The directory is moved away whole: the path cannot be opened again.
    let moved = dir.path("moved");
    std::fs::rename(&sub, &moved).unwrap();
    w.sink.reopen();
    let b = batch(&mut seq, 1000);
    w.put(&b);
    // Back again: the next chunk, a second or more later, goes to a new file there.
    std::fs::create_dir(&sub).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let c = batch(&mut seq, 1000);
    w.put(&c);
    w.sink.finish();
    assert_eq!(
        read(&moved.join("server.log")),
        [payload(&a), payload(&b)].concat()
    );
    assert_eq!(read(&path), payload(&c));
    let logs = events.logs();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[0].0, Level::Error);
    assert!(
        logs[0]
            .1
            .starts_with(&format!("cannot reopen {}: ", path.display())),
        "{}",
        logs[0].1
    );
    assert_eq!(
        logs[1],
        (Level::Info, format!("reopened {}", path.display()))
    );
}
