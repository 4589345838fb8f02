//! A UDP listener: receives batches with one syscall each and hands them on. On stop it
//! reads what is still queued in the socket before it exits, so nothing received is lost.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::batch::Batch;
use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::io::{Receiver, RecvOutcome};
use crate::sink::Fanout;
use crate::socket::{self, ListenSpec};
use crate::stats::{Counters, Endpoint, Registry};
use crate::waker::{Interest, Wait, Waker};

pub struct UdpSource {
    pub local_addr: SocketAddr,
    pub thread: JoinHandle<()>,
}

pub fn start(
    spec: &ListenSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    waker: Waker,
) -> Result<UdpSource> {
    let listener = socket::bind_listener(spec)?;
    let endpoint = registry.register("udp-listener", listener.local_addr.to_string());
    endpoint.set_buffer_bytes(listener.recv_buffer as u64);
    if listener.recv_buffer < spec.recv_buffer {
        reporter.info(format!(
            "{}: receive buffer {} bytes (asked for {})",
            listener.local_addr, listener.recv_buffer, spec.recv_buffer
        ));
    }
    let local_addr = listener.local_addr;
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-udp {local_addr}"))
        .spawn(move || receive_loop(listener.socket, endpoint, fanout, reporter, waker))
        .map_err(|e| Error::os("cannot start a listener thread", &e))?;
    Ok(UdpSource { local_addr, thread })
}

fn account(endpoint: &Endpoint, outcome: &RecvOutcome) {
    let c = &endpoint.counters;
    c.add_in(outcome.datagrams as u64, outcome.bytes as u64);
    if outcome.truncated > 0 {
        Counters::add(&c.truncated, outcome.truncated as u64);
    }
    if let Some(total) = outcome.kernel_drops_total {
        Counters::raise_to(&c.kernel_drops, total);
    }
}

fn receive_loop(
    socket: socket2::Socket,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    waker: Waker,
) {
    let mut receiver = Receiver::new();
    let mut batch = Batch::default();
    let mut reported_drops = 0u64;
    #[cfg(unix)]
    let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
    #[cfg(not(unix))]
    let fd = 0i64;
    loop {
        match receiver.recv(&socket, &mut batch) {
            Ok(outcome) => {
                account(&endpoint, &outcome);
                fanout.deliver(&batch);
                let drops = endpoint.counters.kernel_drops.load(Ordering::Relaxed);
                if drops > reported_drops {
                    if reported_drops == 0 {
                        reporter.warn(format!(
                            "{}: the kernel dropped datagrams (socket buffer full); see stats().kernelDrops",
                            endpoint.name
                        ));
                    }
                    reported_drops = drops;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if waker.wait(fd, Interest::Read, None) == Wait::Stopped {
                    break;
                }
            }
            Err(e) => {
                reporter.warn(format!(
                    "{}: receive failed: {}",
                    endpoint.name,
                    describe_os_error(&e)
                ));
                if waker.wait(fd, Interest::Read, Some(Duration::from_millis(100))) == Wait::Stopped
                {
                    break;
                }
            }
        }
    }
    // Whatever the kernel already holds was received: hand it on before exiting. A short
    // batch means the queue ran empty; the deadline keeps a sender that never pauses from
    // holding the stop forever.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while let Ok(outcome) = receiver.recv(&socket, &mut batch) {
        account(&endpoint, &outcome);
        fanout.deliver(&batch);
        if outcome.datagrams < crate::io::RECV_BATCH || std::time::Instant::now() >= deadline {
            break;
        }
    }
}
