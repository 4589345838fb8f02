//! Serial receivers that hang up and come back (real pseudo-terminals reached through a
//! symlink, as udev names a USB receiver), line speeds, and files followed like `tail -F`.
//! Devices are Unix only (pseudo-terminals, termios); following a file runs everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::{counters, reporter, wait_until, Events, TempDir};
use mproxy_core::event::{Level, Outcome};
use mproxy_core::Framing;
use mproxy_core::FramingSpec;
use mproxy_core::WriterSpec;
use mproxy_core::{OutputSpec, Route, RouteSpec};
use mproxy_core::{StreamSpec, DEFAULT_LINGER};

/// These tests count the route threads of the process, so they run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Threads of this process whose name says they belong to a route (where /proc tells).
fn route_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with("mproxy-"))
            .count(),
    )
}

fn input(path: &Path) -> StreamSpec {
    StreamSpec::new(
        path.to_string_lossy(),
        FramingSpec {
            framing: Framing::Packed,
            max_datagram: 1472,
            linger: DEFAULT_LINGER,
            rate: 0,
            datagram_rate: 0,
            replay: None,
        },
    )
}

fn start(input: StreamSpec, out: &Path) -> (Route, Events) {
    let (reporter, events) = reporter();
    let spec = RouteSpec {
        stream_inputs: vec![input],
        outputs: vec![OutputSpec::writer(WriterSpec::new(out.to_string_lossy()))],
        ..Default::default()
    };
    (Route::start(&spec, reporter).unwrap(), events)
}

fn lines(tag: &str, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("!AIVDM,1,1,,{tag},{i:06},0*5C\r\n").into_bytes())
        .collect()
}

/// Serial devices: pseudo-terminals and termios, Unix only.
#[cfg(unix)]
mod devices {
    use std::path::PathBuf;
    use std::time::Instant;

    use mproxy_core::event::Reporter;

    use super::*;
    use nix::sys::termios;
    use std::os::fd::OwnedFd;

    /// A pseudo-terminal: the test writes to the master, the route reads the slave (through a
    /// symlink). Raw from the start, so bytes written before the route opens it are kept as
    /// they are.
    struct Pty {
        master: File,
        slave: OwnedFd,
        slave_path: PathBuf,
    }

    impl Pty {
        fn new() -> Pty {
            let pty = nix::pty::openpty(None, None).unwrap();
            let mut t = termios::tcgetattr(&pty.slave).unwrap();
            termios::cfmakeraw(&mut t);
            termios::tcsetattr(&pty.slave, termios::SetArg::TCSANOW, &t).unwrap();
            let slave_path = nix::unistd::ttyname(&pty.slave).unwrap();
            Pty {
                master: File::from(pty.master),
                slave: pty.slave,
                slave_path,
            }
        }

        fn write(&mut self, bytes: &[u8]) {
            self.master.write_all(bytes).unwrap();
        }
    }

    #[test]
    fn a_serial_receiver_that_hangs_up_is_reopened_when_it_comes_back() {
        let _serial = one_at_a_time();
        let threads_before = route_threads();
        let dir = TempDir::new("hangup");
        let link = dir.path("ttyAIS");
        let out = dir.path("out.log");
        let mut pty = Pty::new();
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        let (mut route, mut events) = start(input(&link), &out);
        // (A thread names itself once it runs.)
        wait_until("route threads to be seen", || {
            route_threads() > threads_before || threads_before.is_none()
        });
        let name = link.to_string_lossy().into_owned();

        let first = lines("A", 200);
        pty.write(&first);
        wait_until("the first lines", || {
            counters(&route, "file").bytes_out == first.len() as u64
        });

        // Unplugged: the device hangs up and its node disappears.
        drop(pty);
        std::fs::remove_file(&link).unwrap();
        events.wait_for_log(&format!("{name} hung up; waiting for it to come back"));
        // A node with nothing behind it (ends at once) is not "back", and says nothing.
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::remove_file(&link).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(events.logs().len(), 1, "{:?}", events.logs());

        // Plugged in again: a new device at the same name.
        let mut pty = Pty::new();
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        events.wait_for_log(&format!("{name} is back"));
        let second = lines("B", 300);
        pty.write(&second);
        let total = (first.len() + second.len()) as u64;
        wait_until("the second lines", || {
            counters(&route, "file").bytes_out == total
        });
        assert!(events.finished().is_empty(), "the input ended by itself");
        route.stop();
        drop(pty);

        assert_eq!(std::fs::read(&out).unwrap(), [first, second].concat());
        let input = counters(&route, "input");
        assert_eq!(input.bytes_in, total);
        assert_eq!(input.bytes_out, total);
        let stats = route.stats();
        assert_eq!(stats.iter().filter(|e| e.kind == "input").count(), 1);
        assert_eq!(
            events.logs(),
            vec![
                (
                    Level::Warn,
                    format!("{name} hung up; waiting for it to come back")
                ),
                (Level::Info, format!("{name} is back")),
            ]
        );
        assert_eq!(events.finished(), vec![Outcome::Stopped]);
        assert_eq!(route_threads(), threads_before, "threads left running");
    }

    #[test]
    fn a_device_that_is_gone_stops_at_once_on_request() {
        let _serial = one_at_a_time();
        let threads_before = route_threads();
        let dir = TempDir::new("gone");
        let link = dir.path("ttyAIS");
        let out = dir.path("out.log");
        let pty = Pty::new();
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        let (mut route, mut events) = start(input(&link), &out);
        drop(pty);
        std::fs::remove_file(&link).unwrap();
        events.wait_for_log(&format!(
            "{} hung up; waiting for it to come back",
            link.display()
        ));
        let asked = Instant::now();
        route.stop();
        assert!(
            asked.elapsed() < Duration::from_millis(300),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(events.finished(), vec![Outcome::Stopped]);
        assert_eq!(route_threads(), threads_before, "threads left running");
    }

    #[test]
    fn baud_is_set_on_a_terminal_and_refused_elsewhere() {
        let _serial = one_at_a_time();
        let dir = TempDir::new("baud");
        let link = dir.path("ttyAIS");
        let out = dir.path("out.log");
        let mut pty = Pty::new();
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        let before =
            mproxy_core::os::terminal_speed(&File::from(pty.slave.try_clone().unwrap())).unwrap();
        let want = if before == Some(38400) { 4800 } else { 38400 };

        let (mut route, _events) = start(
            StreamSpec {
                baud: Some(want),
                ..input(&link)
            },
            &out,
        );
        let slave = File::from(pty.slave.try_clone().unwrap());
        assert_eq!(mproxy_core::os::terminal_speed(&slave).unwrap(), Some(want));
        let t = termios::tcgetattr(&slave).unwrap();
        assert!(
            !t.local_flags.contains(termios::LocalFlags::ECHO),
            "not raw"
        );
        pty.write(b"at speed\n");
        wait_until("data", || counters(&route, "file").bytes_out == 9);
        route.stop();
        // The port's settings come back when reading ends.
        assert_eq!(mproxy_core::os::terminal_speed(&slave).unwrap(), before);

        let refused = |spec: StreamSpec| {
            let spec = RouteSpec {
                stream_inputs: vec![spec],
                ..Default::default()
            };
            Route::start(&spec, Reporter::silent())
                .err()
                .map(|e| (e.code(), e.message))
        };
        assert_eq!(
            refused(StreamSpec {
                baud: Some(12345),
                ..input(&link)
            }),
            Some((
                "EMPROXY_INVALID_ARGUMENT",
                "{baud}: 12345 is not a speed this system supports".into()
            ))
        );
        std::fs::write(&out, b"a file\n").unwrap();
        assert_eq!(
            refused(StreamSpec {
                baud: Some(9600),
                ..input(&out)
            }),
            Some((
                "EMPROXY_INVALID_ARGUMENT",
                format!(
                    "{{baud}}: 9600 needs a serial device; {} is not a terminal",
                    out.display()
                )
            ))
        );
        assert_eq!(
            refused(StreamSpec {
                baud: Some(9600),
                ..input(Path::new("-"))
            }),
            Some((
                "EMPROXY_INVALID_ARGUMENT",
                "{baud}: 9600 needs a serial device, not stdin".into()
            ))
        );
        assert!(!mproxy_core::os::baud_supported(0));
        assert!(mproxy_core::os::baud_supported(115200));
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = File::options().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn a_followed_file_is_read_as_it_grows_and_again_when_replaced_or_truncated() {
    let _serial = one_at_a_time();
    let threads_before = route_threads();
    let dir = TempDir::new("follow");
    let feed = dir.path("feed.log");
    let out = dir.path("out.log");
    let start_lines = lines("A", 1000);
    std::fs::write(&feed, &start_lines).unwrap();
    let (mut route, mut events) = start(
        StreamSpec {
            follow: true,
            ..input(&feed)
        },
        &out,
    );
    let mut expected = start_lines.clone();
    let written = |route: &Route| counters(route, "file").bytes_out;
    wait_until("the file as it was", || {
        written(&route) == expected.len() as u64
    });

    // Appended after its end: read, including a line written in two parts.
    let more = lines("B", 50);
    append(&feed, &more);
    append(&feed, b"half a li");
    std::thread::sleep(Duration::from_millis(50));
    append(&feed, b"ne\n");
    expected.extend_from_slice(&more);
    expected.extend_from_slice(b"half a line\n");
    wait_until("the appended lines", || {
        written(&route) == expected.len() as u64
    });

    // Replaced: renamed away (and appended to once more), then created anew. Only where a
    // file's identity tells (Unix); Windows does not rename a file that is open.
    #[cfg(unix)]
    {
        let old = dir.path("feed.log.1");
        std::fs::rename(&feed, &old).unwrap();
        let late = lines("C", 5);
        append(&old, &late);
        let new = lines("D", 20);
        std::fs::write(&feed, &new).unwrap();
        expected.extend_from_slice(&late);
        expected.extend_from_slice(&new);
        wait_until("the new file", || written(&route) == expected.len() as u64);
    }

    // Truncated in place (copytruncate), then written again.
    std::fs::write(&feed, b"").unwrap();
    std::thread::sleep(Duration::from_millis(450));
    let after = lines("E", 3);
    append(&feed, &after);
    expected.extend_from_slice(&after);
    wait_until("the truncated file", || {
        written(&route) == expected.len() as u64
    });

    assert!(events.finished().is_empty(), "a followed file ended");
    route.stop();
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "the output differs"
    );
    let name = feed.display();
    let mut logs = vec![(
        Level::Info,
        format!("{name} was truncated; reading it again from its start"),
    )];
    if cfg!(unix) {
        logs.insert(
            0,
            (
                Level::Info,
                format!("{name} was replaced; reading the new file from its start"),
            ),
        );
    }
    assert_eq!(events.logs(), logs);
    assert_eq!(events.finished(), vec![Outcome::Stopped]);
    assert_eq!(route_threads(), threads_before, "threads left running");
}

#[test]
fn a_regular_file_not_followed_still_completes() {
    let _serial = one_at_a_time();
    let dir = TempDir::new("complete");
    let feed = dir.path("feed.log");
    let out = dir.path("out.log");
    let content = lines("A", 100);
    std::fs::write(&feed, &content).unwrap();
    let (mut route, mut events) = start(input(&feed), &out);
    wait_until("complete", || events.finished() == vec![Outcome::Complete]);
    route.stop();
    assert_eq!(std::fs::read(&out).unwrap(), content);
}
