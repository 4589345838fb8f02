//! A running route as JavaScript holds it (`NativeRoute`): its bound addresses, counters,
//! taps, `inject` and `close`; and the two ways in, `startRoute` and `checkRoute`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mproxy_core::event::Reporter;
use mproxy_core::stats::Registry;
use mproxy_core::Batch;
use mproxy_core::Route;
use mproxy_core::Taps;
use mproxy_core::{Injector, Offer};
use napi::bindgen_prelude::{Env, Object, Status};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::errors::{NativeError, Result};
use crate::events::{reporter_for, RouteEvent};
use crate::guard::{self, guarded};
use crate::options::{route_spec, RouteOptions};
use crate::stats::{endpoint_stats, EndpointStats};
use crate::taps::NativeTap;

/// A running route. While it runs, its event callback keeps the Node process alive;
/// `close()` stops every thread and releases the callback.
#[napi]
pub struct NativeRoute {
    route: Arc<Mutex<Option<Route>>>,
    /// Started by the first `inject`; not the route's own, so injecting never waits for a
    /// route that is stopping.
    injector: Mutex<Option<Injector>>,
    /// The route's counters, kept when the route is taken to be stopped.
    counters: Registry,
    listen_addresses: Vec<String>,
    tcp_listen_addresses: Vec<String>,
    tcp_output_addresses: Vec<String>,
}

fn closed_error() -> NativeError {
    NativeError::usage("send(): the handle is closed")
}

fn failed_handle() -> NativeError {
    NativeError::internal("internal error: send(): the handle failed")
}

#[napi]
impl NativeRoute {
    /// Bound listener addresses, in the order given (port 0 replaced by the real port).
    #[napi(getter)]
    pub fn listen_addresses(&self, env: &Env) -> napi::Result<Vec<String>> {
        guarded(env, || Ok(self.listen_addresses.clone()))
    }

    /// Bound TCP listeners (inputs), in the order given.
    #[napi(getter)]
    pub fn tcp_listen_addresses(&self, env: &Env) -> napi::Result<Vec<String>> {
        guarded(env, || Ok(self.tcp_listen_addresses.clone()))
    }

    /// Bound TCP output listeners, in the order given.
    #[napi(getter)]
    pub fn tcp_output_addresses(&self, env: &Env) -> napi::Result<Vec<String>> {
        guarded(env, || Ok(self.tcp_output_addresses.clone()))
    }

    /// Current counters; after `close()`, the final ones.
    #[napi]
    pub fn stats(&self, env: &Env) -> napi::Result<Vec<EndpointStats>> {
        // From the registry the route's endpoints count into: live while it runs, while it
        // stops (a drain takes a moment) and after.
        guarded(env, || {
            self.counters
                .snapshot()
                .into_iter()
                .map(endpoint_stats)
                .collect()
        })
    }

    /// Every file output (outputs, tee, copy) closes and reopens its path before its next
    /// write (for logrotate's `postrotate`, or SIGHUP): what is delivered from now on goes
    /// to the file now at the path. Returns at once; a no-op after `close()`.
    #[napi]
    pub fn reopen_outputs(&self, env: &Env) -> napi::Result<()> {
        guarded(env, || {
            if let Some(route) = self.route.lock().ok().as_ref().and_then(|g| g.as_ref()) {
                route.reopen_outputs();
            }
            Ok(())
        })
    }

    /// Attaches a tap holding at most `high_water_mark` datagrams. `on_ready` is called
    /// (with the tap's id) when a `take()` that found nothing has something to take, or the
    /// tap has ended. On a closed route the tap has already ended.
    #[napi]
    pub fn open_tap(
        &self,
        env: &Env,
        high_water_mark: u32,
        on_ready: ThreadsafeFunction<u32, (), u32, Status, false>,
    ) -> napi::Result<NativeTap> {
        guarded(env, move || {
            let taps = self
                .route
                .lock()
                .ok()
                .and_then(|g| g.as_ref().map(Route::taps));
            let taps = taps.unwrap_or_else(|| {
                // A closed route: a tap that ends at once.
                let t = Taps::new(&Registry::default(), Reporter::silent());
                mproxy_core::Sink::finish(&t);
                Arc::new(t)
            });
            let tap = taps.attach(
                high_water_mark as usize,
                Box::new(move || {
                    on_ready.call(0, ThreadsafeFunctionCallMode::NonBlocking);
                }),
            );
            Ok(NativeTap {
                id: tap.id() as u32,
                tap,
                taps: Arc::downgrade(&taps),
            })
        })
    }

    /// Starts the queue `inject` fills (once; later calls do nothing). `on_room` is called
    /// when a queue `inject` found full has room again, or has closed. Throws once the
    /// route is closed.
    #[napi]
    pub fn open_injector(
        &self,
        env: &Env,
        on_room: ThreadsafeFunction<u32, (), u32, Status, false>,
    ) -> napi::Result<()> {
        guarded(env, move || {
            let mut slot = self.injector.lock().map_err(|_| failed_handle())?;
            if slot.is_some() {
                return Ok(());
            }
            let mut guard = self.route.lock().map_err(|_| failed_handle())?;
            let Some(route) = guard.as_mut() else {
                return Err(closed_error());
            };
            let injector = route.injector(Box::new(move || {
                on_room.call(0, ThreadsafeFunctionCallMode::NonBlocking);
            }))?;
            *slot = Some(injector);
            Ok(())
        })
    }

    /// Queues datagrams for the route's sinks, as if received: `data` holds them back to
    /// back, `lengths` their sizes. Returns false when the queue is full: offer them again
    /// once `on_room` was called. Throws once the route is closed.
    #[napi]
    pub fn inject(&self, env: &Env, data: &[u8], lengths: &[u32]) -> napi::Result<bool> {
        guarded(env, || {
            // In u64, checked: on a 32-bit target a usize sum of u32 lengths can wrap around
            // to the data's length and then slice past its end.
            let total = lengths
                .iter()
                .try_fold(0u64, |sum, &l| sum.checked_add(u64::from(l)));
            if total.and_then(|t| usize::try_from(t).ok()) != Some(data.len()) {
                let total = total.map_or_else(|| "more than 2^64".into(), |t| t.to_string());
                return Err(NativeError::usage(format!(
                    "send(): lengths add up to {total} bytes, the data has {}",
                    data.len()
                )));
            }
            let injector = self
                .injector
                .lock()
                .ok()
                .and_then(|slot| slot.clone())
                .ok_or_else(closed_error)?;
            let mut batch = Batch::with_capacity(data.len(), lengths.len());
            let mut offset = 0;
            for &len in lengths {
                let end = offset + len as usize;
                // Within the data: the lengths add up to its length (checked above).
                let Some(datagram) = data.get(offset..end) else {
                    return Err(NativeError::usage("send(): the lengths overrun the data"));
                };
                batch.push(datagram);
                offset = end;
            }
            match injector.offer(batch) {
                Offer::Queued => Ok(true),
                Offer::Full => Ok(false),
                Offer::Closed => Err(closed_error()),
            }
        })
    }

    /// Stops the route off the JavaScript thread; resolves once every thread has ended and
    /// everything received was delivered.
    ///
    /// The stop runs on a thread of its own, not on libuv's thread pool: Node joins the pool
    /// when the process exits, so a stop still draining (a writer stalled on a full pipe, up
    /// to its 5 s limit) would hold `process.exit()` back, and a second SIGINT would not exit
    /// at once. A thread of our own is simply abandoned at exit.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        guarded(env, || {
            let (deferred, promise) = env.create_deferred::<(), _>()?;
            let route = self.route.clone();
            let spawned = std::thread::Builder::new()
                .name("mproxy-close".into())
                .spawn(move || {
                    // Not a JavaScript call, but a panic here would leave the promise pending forever.
                    let stopped = guard::catch(
                        || {
                            let taken = route.lock().ok().and_then(|mut g| g.take());
                            if let Some(mut route) = taken {
                                route.stop();
                                // Dropping the route drops the last reporters, releasing the JS
                                // callback.
                            }
                            Ok(())
                        },
                        NativeError::internal,
                    );
                    // Settled on the JavaScript thread, where the error object can be built.
                    deferred.resolve(move |env| stopped.map_err(|e| e.into_js(&env)));
                });
            match spawned {
                Ok(_) => Ok(promise),
                Err(e) => Err(NativeError::from(mproxy_core::Error::os(
                    "cannot start a thread to stop the route",
                    &e,
                ))),
            }
        })
    }
}

/// Starts a route. Throws an error whose `code` says why (`EMPROXY_*`) if any address,
/// interface or file is bad; nothing is left running then.
#[napi]
pub fn start_route(
    env: &Env,
    options: RouteOptions,
    on_event: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> napi::Result<NativeRoute> {
    guarded(env, move || start_route_now(&options, on_event))
}

/// Converts and checks the options as `startRoute` does (addresses, rules, the bus key's
/// files), without opening a socket or a data file: the start path of `mproxy check`.
#[napi]
pub fn check_route(env: &Env, options: RouteOptions) -> napi::Result<()> {
    guarded(env, || route_spec(&options).map(|_| ()))
}

fn start_route_now(
    options: &RouteOptions,
    on_event: ThreadsafeFunction<RouteEvent, (), RouteEvent, Status, false>,
) -> Result<NativeRoute> {
    let spec = route_spec(options)?;
    let route = Route::start(&spec, reporter_for(on_event))?;
    let strings = |addrs: &[SocketAddr]| addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let listen_addresses = strings(route.listen_addrs());
    let tcp_listen_addresses = strings(route.tcp_listen_addrs());
    let tcp_output_addresses = strings(route.tcp_output_addrs());
    let counters = route.registry();
    Ok(NativeRoute {
        route: Arc::new(Mutex::new(Some(route))),
        injector: Mutex::new(None),
        counters,
        listen_addresses,
        tcp_listen_addresses,
        tcp_output_addresses,
    })
}
