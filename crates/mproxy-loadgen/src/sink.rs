//! `sink`: bind a UDP socket, count every datagram that arrives, and answer questions about
//! the count on stdin so one sink can serve many back-to-back trials.
//!
//! Protocol (one JSON object per stdout line):
//! - first line: `{"event":"listening","addr":"127.0.0.1:PORT","port":PORT,"rcvbuf":N}`
//! - stdin line `report` -> `{"event":"report",...counters...}` (cumulative since start)
//! - stdin `quit`, stdin closed, SIGTERM/SIGINT, `--max-seconds` or `--idle-exit-seconds`
//!   reached -> `{"event":"final",...counters...}`, exit 0.
//!
//! Counters are cumulative so the caller takes differences; each line carries the sink's own
//! clock `t` (seconds since bind), which lets the caller compute rates over exact intervals
//! regardless of how late it read the reply.

use std::io::{self, BufRead};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::args::Flags;
use crate::sys::{self, RecvBatch};
use crate::Failure;

pub const FLAGS: &[&str] = &[
    "listen",
    "rcvbuf",
    "batch",
    "buffer-size",
    "max-seconds",
    "idle-exit-seconds",
];

pub const USAGE: &str = "mproxy-loadgen sink [--listen 127.0.0.1:0] [--rcvbuf BYTES (default 33554432)] \
[--batch N (default 256)] [--buffer-size BYTES per datagram (default 2048; larger ones are counted as truncated)] \
[--max-seconds S (0 = no limit)] [--idle-exit-seconds S (0 = never)]";

/// How long one receive call may block before the loop looks at the stop flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Shared between the receive loop (writer) and the stdin thread (reader of reports).
#[derive(Default)]
struct Counters {
    datagrams: AtomicU64,
    bytes: AtomicU64,
    truncated: AtomicU64,
    /// Nanoseconds since start at which the latest datagram batch was taken in.
    last_rx_ns: AtomicU64,
}

struct Reporter {
    counters: Arc<Counters>,
    /// A duplicate of the receiving socket's descriptor, used only to read its drop counter.
    socket: Socket,
    start: Instant,
}

impl Reporter {
    fn line(&self, event: &str) -> String {
        let c = &self.counters;
        let drops =
            sys::socket_drops(&self.socket).map_or_else(|| "null".to_string(), |d| d.to_string());
        format!(
            "{{\"event\":\"{event}\",\"datagrams\":{},\"bytes\":{},\"truncated\":{},\"drops\":{},\
\"t\":{:.6},\"last_rx_t\":{:.6}}}",
            c.datagrams.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
            c.truncated.load(Ordering::Relaxed),
            drops,
            self.start.elapsed().as_secs_f64(),
            c.last_rx_ns.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

/// Reads commands until stdin ends. Closing stdin is how a parent that dies without
/// cleaning up still stops the sink.
fn serve_stdin(reporter: Reporter) {
    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let reply = match line.trim() {
            "" => continue,
            "report" => reporter.line("report"),
            "quit" | "stop" => break,
            other => format!(
                "{{\"event\":\"error\",\"message\":\"unknown command '{}'\"}}",
                other.escape_default()
            ),
        };
        if crate::print_line(&reply).is_err() {
            break;
        }
    }
    sys::request_stop();
}

fn open_socket(listen: SocketAddr, rcvbuf: usize) -> io::Result<(Socket, usize)> {
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // Grow before bind so no datagram ever meets the small default buffer.
    let granted = sys::grow_recv_buffer(&socket, rcvbuf);
    socket.bind(&SockAddr::from(listen))?;
    // Bounded blocking so the loop notices stop requests promptly even with no traffic.
    socket.set_read_timeout(Some(POLL_INTERVAL))?;
    Ok((socket, granted))
}

/// What the flags ask for.
struct Settings {
    listen: SocketAddr,
    rcvbuf: usize,
    batch: usize,
    buffer_size: usize,
    max_run: Option<Duration>,
    idle_limit: Option<Duration>,
}

fn settings(flags: &Flags) -> Result<Settings, String> {
    let listen: SocketAddr = flags
        .text("listen")
        .unwrap_or("127.0.0.1:0")
        .parse()
        .map_err(|_| "--listen must be IP:PORT, e.g. 127.0.0.1:0".to_string())?;
    let rcvbuf: usize = flags.number("rcvbuf", 32 << 20)?;
    let batch: usize = flags.number("batch", 256)?;
    if !(1..=1024).contains(&batch) {
        return Err("--batch must be 1..=1024".to_string());
    }
    let buffer_size: usize = flags.number("buffer-size", 2048)?;
    if !(1..=65_536).contains(&buffer_size) {
        return Err("--buffer-size must be 1..=65536".to_string());
    }
    let max_seconds: f64 = flags.number("max-seconds", 0.0)?;
    let idle_exit_seconds: f64 = flags.number("idle-exit-seconds", 0.0)?;
    if max_seconds < 0.0 || idle_exit_seconds < 0.0 {
        return Err("--max-seconds and --idle-exit-seconds must not be negative".to_string());
    }
    Ok(Settings {
        listen,
        rcvbuf,
        batch,
        buffer_size,
        max_run: (max_seconds > 0.0).then(|| Duration::from_secs_f64(max_seconds)),
        idle_limit: (idle_exit_seconds > 0.0).then(|| Duration::from_secs_f64(idle_exit_seconds)),
    })
}

pub fn run(args: &[String]) -> Result<(), Failure> {
    let settings = Flags::parse(args, FLAGS)
        .and_then(|flags| settings(&flags))
        .map_err(Failure::Usage)?;
    receive_all(&settings).map_err(Failure::Runtime)
}

fn receive_all(settings: &Settings) -> Result<(), String> {
    let listen = settings.listen;

    sys::install_stop_signals().map_err(|e| format!("installing signal handlers: {e}"))?;
    let (socket, granted) =
        open_socket(listen, settings.rcvbuf).map_err(|e| format!("binding {listen}: {e}"))?;
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or_else(|| "could not read the bound address".to_string())?;
    let start = Instant::now();
    let counters = Arc::new(Counters::default());
    let reporter = Reporter {
        counters: Arc::clone(&counters),
        socket: socket.try_clone().map_err(|e| format!("dup socket: {e}"))?,
        start,
    };
    crate::print_line(&format!(
        "{{\"event\":\"listening\",\"addr\":\"{bound}\",\"port\":{},\"rcvbuf\":{granted}}}",
        bound.port()
    ))?;

    let final_reporter = Reporter {
        counters: Arc::clone(&counters),
        socket: socket.try_clone().map_err(|e| format!("dup socket: {e}"))?,
        start,
    };
    thread::Builder::new()
        .name("stdin".into())
        .spawn(move || serve_stdin(reporter))
        .map_err(|e| format!("starting the stdin thread: {e}"))?;

    let (max_run, idle_limit) = (settings.max_run, settings.idle_limit);
    let mut last_activity = Instant::now();
    let mut batch = RecvBatch::new(settings.batch, settings.buffer_size);
    while !sys::stop_requested() {
        match batch.receive(&socket) {
            Ok(got) => {
                counters
                    .datagrams
                    .fetch_add(got.datagrams, Ordering::Relaxed);
                counters.bytes.fetch_add(got.bytes, Ordering::Relaxed);
                counters
                    .truncated
                    .fetch_add(got.truncated, Ordering::Relaxed);
                let now = Instant::now();
                let since_start =
                    u64::try_from(now.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
                counters.last_rx_ns.store(since_start, Ordering::Relaxed);
                last_activity = now;
            }
            Err(err) => match err.raw_os_error() {
                // Timeout or signal: fall through to the limit checks below.
                Some(libc::EAGAIN) | Some(libc::EINTR) => {}
                _ => return Err(format!("recvmmsg on {bound}: {err}")),
            },
        }
        if max_run.is_some_and(|limit| start.elapsed() >= limit) {
            break;
        }
        if idle_limit.is_some_and(|limit| last_activity.elapsed() >= limit) {
            break;
        }
    }
    crate::print_line(&final_reporter.line("final"))
}
