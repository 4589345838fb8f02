//! Datagrams handed in by the route's owner (JavaScript's `handle.send()`), delivered to
//! the route's sinks as if a socket had received them.
//!
//! The owner's thread only appends to a bounded queue ([`Injector::offer`]); a thread of the
//! route's own takes batches off it in order and delivers them, so a slow output never
//! blocks the owner, and the owner is told when a full queue has room again (backpressure
//! instead of loss: nothing offered is ever dropped).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::sink::Fanout;
use crate::stats::{Endpoint, Registry};

/// Datagrams queued for delivery before `offer` says the queue is full.
pub(crate) const DEFAULT_INJECT_DATAGRAMS: usize = 16 * 1024;
/// Bytes queued before `offer` says the queue is full.
pub(crate) const DEFAULT_INJECT_BYTES: usize = 16 * 1024 * 1024;
/// What injected datagrams name as their sender.
pub(crate) const INJECTED_ORIGIN: &str = "js";

/// Tells the owner that a queue it found full has room again (or has closed).
pub(crate) type RoomFn = Box<dyn Fn() + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// No room now: the room function is called when there is; offer it again then.
    Full,
    /// The route is stopping: nothing more is taken.
    Closed,
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<Batch>,
    datagrams: usize,
    bytes: usize,
    closed: bool,
    /// The owner was told "full" and waits for room.
    want_room: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    room: Mutex<Option<RoomFn>>,
    endpoint: Arc<Endpoint>,
}

/// The owner's side of an injection queue.
#[derive(Clone)]
pub struct Injector {
    shared: Arc<Shared>,
}

impl Injector {
    /// Starts the delivering thread; `room` is called when a full queue has room again.
    pub fn start(
        fanout: Fanout,
        registry: &Registry,
        room: RoomFn,
    ) -> Result<(Injector, JoinHandle<()>)> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            room: Mutex::new(Some(room)),
            endpoint: registry.register("send", "send()"),
        });
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mproxy-send".into())
            .spawn(move || deliver_loop(&inner, &fanout))
            .map_err(|e| Error::os("cannot start the send() thread", &e))?;
        Ok((Injector { shared }, thread))
    }

    /// Queues `datagrams` (one batch, delivered together, in the order offered). A batch
    /// larger than the whole queue is taken when the queue is empty, so any batch gets in.
    pub fn offer(&self, mut batch: Batch) -> Offer {
        if batch.is_empty() {
            return Offer::Queued;
        }
        let n = batch.datagram_count();
        let bytes = batch.byte_count();
        let Ok(mut q) = self.shared.queue.lock() else {
            return Offer::Closed;
        };
        if q.closed {
            return Offer::Closed;
        }
        let empty = q.batches.is_empty();
        if !empty
            && (q.datagrams + n > DEFAULT_INJECT_DATAGRAMS
                || q.bytes + bytes > DEFAULT_INJECT_BYTES)
        {
            q.want_room = true;
            return Offer::Full;
        }
        batch.origin = Some(INJECTED_ORIGIN.into());
        q.datagrams += n;
        q.bytes += bytes;
        q.batches.push_back(batch);
        drop(q);
        self.shared.endpoint.counters.add_in(n as u64, bytes as u64);
        self.shared.ready.notify_one();
        Offer::Queued
    }

    /// Takes nothing more; what is queued is still delivered, then the thread ends. A
    /// waiting owner is told (it finds the queue closed), then the room function is
    /// released. Idempotent.
    pub fn close(&self) {
        let want_room = match self.shared.queue.lock() {
            Ok(mut q) => {
                q.closed = true;
                std::mem::take(&mut q.want_room)
            }
            Err(_) => false,
        };
        self.shared.ready.notify_all();
        if want_room {
            self.shared.call_room();
        }
        if let Ok(mut r) = self.shared.room.lock() {
            r.take();
        }
    }
}

impl Shared {
    fn call_room(&self) {
        if let Ok(r) = self.room.lock() {
            if let Some(r) = r.as_ref() {
                r();
            }
        }
    }
}

fn deliver_loop(shared: &Shared, fanout: &Fanout) {
    loop {
        let batch = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if let Some(b) = q.batches.pop_front() {
                    break b;
                }
                if q.closed {
                    return;
                }
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        fanout.deliver(&batch);
        let (n, bytes) = (batch.datagram_count(), batch.byte_count());
        shared.endpoint.counters.add_out(n as u64, bytes as u64);
        let want_room = match shared.queue.lock() {
            Ok(mut q) => {
                q.datagrams -= n;
                q.bytes -= bytes;
                std::mem::take(&mut q.want_room)
            }
            Err(_) => false,
        };
        if want_room {
            shared.call_room();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Sink;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Each datagram delivered, with its batch's origin.
    type Delivered = Vec<(Vec<u8>, Option<Arc<str>>)>;

    struct Collect(Mutex<Delivered>);

    impl Sink for Collect {
        fn deliver(&self, batch: &Batch) {
            let mut all = self.0.lock().unwrap();
            for d in batch.datagrams() {
                all.push((d.to_vec(), batch.origin.clone()));
            }
        }
        fn finish(&self) {}
    }

    #[test]
    fn injected_batches_arrive_in_order_and_close_drains_them() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let registry = Registry::default();
        let rooms = Arc::new(AtomicUsize::new(0));
        let r = rooms.clone();
        let (injector, thread) = Injector::start(
            Fanout::new(vec![sink.clone()]),
            &registry,
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        let mut sent = 0;
        for i in 0..200u32 {
            let mut b = Batch::default();
            for j in 0..300u32 {
                b.push(format!("{i}.{j}").as_bytes());
            }
            // A full queue is offered again once there is room, like send() does.
            while injector.offer(b.clone()) == Offer::Full {
                std::thread::yield_now();
            }
            sent += 300;
        }
        injector.close();
        assert_eq!(injector.offer(Batch::default()), Offer::Queued);
        let mut late = Batch::default();
        late.push(b"late");
        assert_eq!(injector.offer(late), Offer::Closed);
        thread.join().unwrap();
        let got = sink.0.lock().unwrap();
        assert_eq!(got.len(), sent);
        for (k, (bytes, origin)) in got.iter().enumerate() {
            assert_eq!(bytes, format!("{}.{}", k / 300, k % 300).as_bytes());
            assert_eq!(origin.as_deref(), Some("js"));
        }
        let s = &registry.snapshot()[0];
        assert_eq!((s.kind, s.name.as_str()), ("send", "send()"));
        assert_eq!(s.counters.datagrams_in, sent as u64);
        assert_eq!(s.counters.datagrams_out, sent as u64);
    }
}
