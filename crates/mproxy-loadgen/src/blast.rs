//! `blast`: send same-sized UDP datagrams to one loopback address, either as fast as the
//! kernel accepts them or paced at a fixed rate, then print what was sent as one JSON line.

use std::io;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::args::Flags;
use crate::sys::{self, SendBatch};
use crate::Failure;

pub const FLAGS: &[&str] = &["to", "size", "seconds", "rate", "batch", "sndbuf"];

pub const USAGE: &str = "mproxy-loadgen blast --to 127.0.0.1:PORT --size BYTES --seconds S \
[--rate DATAGRAMS_PER_SECOND (0 = as fast as possible, default)] [--batch N (1..1024, default 64)] \
[--sndbuf BYTES (default 8388608)]";

/// Largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD: usize = 65_507;
/// sendmmsg accepts at most UIO_MAXIOV messages per call.
const MAX_BATCH: usize = 1024;
/// How often the paced sender wakes up. One millisecond keeps bursts small (rate/1000
/// datagrams) while staying well above the sleep granularity of a busy 2-core machine.
const PACE_TICK: Duration = Duration::from_millis(1);

struct Plan {
    to: SocketAddr,
    size: usize,
    duration: Duration,
    /// Datagrams per second, `None` = unpaced.
    rate: Option<u64>,
    batch: usize,
    sndbuf: usize,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    /// Calls that failed with ECONNREFUSED: an ICMP port-unreachable came back for an
    /// earlier datagram (nobody listening yet). Those datagrams are simply not counted.
    refused: u64,
    /// Calls that failed with ENOBUFS/EAGAIN (local queue full); we back off and retry.
    no_buffer: u64,
}

fn plan(flags: &Flags) -> Result<Plan, String> {
    let to: SocketAddr = flags
        .required("to")?
        .parse()
        .map_err(|_| "--to must be IP:PORT, e.g. 127.0.0.1:9000".to_string())?;
    // A load generator aimed at the wrong host is a denial-of-service tool; this one only
    // ever talks to the local machine.
    if !to.ip().is_loopback() || to.port() == 0 {
        return Err(format!(
            "--to {to}: only loopback addresses with a non-zero port are allowed"
        ));
    }
    let size: usize = flags.number("size", 0)?;
    if !(1..=MAX_UDP_PAYLOAD).contains(&size) {
        return Err(format!("--size must be 1..={MAX_UDP_PAYLOAD} bytes"));
    }
    let seconds: f64 = flags.number("seconds", 0.0)?;
    if !(seconds > 0.0 && seconds <= 600.0) {
        return Err("--seconds must be more than 0 and at most 600".to_string());
    }
    let rate: u64 = flags.number("rate", 0)?;
    let batch: usize = flags.number("batch", 64)?;
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(format!("--batch must be 1..={MAX_BATCH}"));
    }
    Ok(Plan {
        to,
        size,
        duration: Duration::from_secs_f64(seconds),
        rate: (rate > 0).then_some(rate),
        batch,
        sndbuf: flags.number("sndbuf", 8 << 20)?,
    })
}

/// Payload bytes: a recognisable repeating pattern rather than zeros, so a capture of the
/// bench traffic is easy to tell apart from anything else.
fn payload(size: usize) -> Vec<u8> {
    b"mproxy-loadgen "
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// One sendmmsg call with the error cases of a loopback blast folded into the tally.
/// Returns Err only for errors that make carrying on pointless.
fn send_some(
    batch: &mut SendBatch,
    socket: &Socket,
    count: usize,
    tally: &mut Tally,
) -> Result<usize, String> {
    match batch.send(socket, count) {
        Ok(n) => {
            tally.sent += n as u64;
            Ok(n)
        }
        Err(err) => match err.raw_os_error() {
            Some(libc::EINTR) => Ok(0),
            Some(libc::ECONNREFUSED) => {
                tally.refused += 1;
                Ok(0)
            }
            Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                tally.no_buffer += 1;
                // Give the receiver a moment instead of spinning on a full queue.
                thread::yield_now();
                Ok(0)
            }
            _ => Err(format!("sendmmsg to {}: {err}", socket_peer(socket))),
        },
    }
}

fn socket_peer(socket: &Socket) -> String {
    socket
        .peer_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map_or_else(|| "?".to_string(), |a| a.to_string())
}

fn open_socket(plan: &Plan) -> io::Result<(Socket, usize)> {
    let socket = Socket::new(
        Domain::for_address(plan.to),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    let granted = sys::grow_send_buffer(&socket, plan.sndbuf);
    // connect() fixes the destination once, so each datagram skips the route lookup and the
    // batch needs no per-message address.
    socket.connect(&SockAddr::from(plan.to))?;
    Ok((socket, granted))
}

/// Unpaced: keep the kernel busy with full batches until the time is up.
fn blast_flat_out(
    plan: &Plan,
    socket: &Socket,
    batch: &mut SendBatch,
    tally: &mut Tally,
) -> Result<(), String> {
    let start = Instant::now();
    let full = batch.capacity();
    while start.elapsed() < plan.duration {
        send_some(batch, socket, full, tally)?;
    }
    Ok(())
}

/// Paced: a token bucket checked every tick. At each wake-up we send exactly the datagrams
/// that became due since the start (floor(elapsed * rate) minus what went out), so oversleeping
/// one tick is caught up on the next instead of lowering the rate, and the offered load
/// stays honest.
fn blast_paced(
    plan: &Plan,
    rate: u64,
    socket: &Socket,
    batch: &mut SendBatch,
    tally: &mut Tally,
) -> Result<(), String> {
    let start = Instant::now();
    // At low rates wake once per datagram instead of uselessly every millisecond.
    let tick = PACE_TICK.max(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let mut next_wake = start;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= plan.duration {
            break;
        }
        let due_total = (elapsed.as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
        // `attempted` counts refused/failed datagrams too, so an error is not retried
        // forever and the bucket does not grow without bound.
        let mut attempted = tally.sent;
        while attempted < due_total {
            let want = usize::try_from(due_total - attempted).unwrap_or(usize::MAX);
            let want = want.min(batch.capacity());
            let before = tally.sent;
            send_some(batch, socket, want, tally)?;
            let progressed = tally.sent - before;
            attempted += if progressed == 0 {
                want as u64
            } else {
                progressed
            };
            if plan.duration <= start.elapsed() {
                break;
            }
        }
        next_wake += tick;
        let now = Instant::now();
        if next_wake > now {
            thread::sleep(next_wake - now);
        } else {
            // We are late (the machine is busy); do not try to catch up on sleep ticks.
            next_wake = now;
        }
    }
    Ok(())
}

pub fn run(args: &[String]) -> Result<(), Failure> {
    let plan = Flags::parse(args, FLAGS)
        .and_then(|flags| plan(&flags))
        .map_err(Failure::Usage)?;
    send_all(&plan).map_err(Failure::Runtime)
}

fn send_all(plan: &Plan) -> Result<(), String> {
    let (socket, sndbuf) = open_socket(plan).map_err(|e| format!("socket to {}: {e}", plan.to))?;
    let mut batch = SendBatch::new(payload(plan.size), plan.batch);
    let mut tally = Tally::default();
    let start = Instant::now();
    match plan.rate {
        None => blast_flat_out(plan, &socket, &mut batch, &mut tally)?,
        Some(rate) => blast_paced(plan, rate, &socket, &mut batch, &mut tally)?,
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate_target = plan
        .rate
        .map_or_else(|| "null".to_string(), |r| r.to_string());
    crate::print_line(&format!(
        "{{\"event\":\"done\",\"to\":\"{}\",\"size\":{},\"sent\":{},\"bytes\":{},\"seconds\":{:.6},\
\"rate_target\":{},\"rate_achieved\":{:.1},\"refused\":{},\"no_buffer\":{},\"sndbuf\":{}}}",
        plan.to,
        plan.size,
        tally.sent,
        tally.sent * plan.size as u64,
        seconds,
        rate_target,
        tally.sent as f64 / seconds.max(1e-9),
        tally.refused,
        tally.no_buffer,
        sndbuf,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic: that is how they fail
mod tests {
    use super::*;

    #[test]
    fn payload_has_requested_size() {
        assert_eq!(payload(1).len(), 1);
        assert_eq!(payload(1400).len(), 1400);
    }

    #[test]
    fn refuses_non_loopback() {
        let args: Vec<String> = ["--to", "192.0.2.1:9", "--size", "10", "--seconds", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let flags = Flags::parse(&args, FLAGS);
        assert!(flags.is_ok_and(|f| plan(&f).is_err()));
    }
}
