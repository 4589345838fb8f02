//! Node-API binding for mproxy-core: starts and stops routes, reads their counters, and
//! forwards route events (state changes, survived faults) to one JavaScript callback.
//! Datagrams cross into JavaScript only through taps and `inject`, a whole batch per call.
//!
//! One module per concern: `options` (what JavaScript gives, converted to the core's
//! `RouteSpec`), `route` (a running route's handle), `events`, `stats`, `taps`, `errors`
//! (the JavaScript errors thrown) and `guard` (no panic ever unwinds into Node). Below: the
//! small checks the option layer asks of the core, and the service manager's notification.

use mproxy_core::Error as CoreError;
use napi::bindgen_prelude::Env;
use napi_derive::napi;

mod errors;
pub mod events;
mod guard;
pub mod options;
pub mod route;
pub mod stats;
pub mod taps;

use errors::Result;
use guard::guarded;

/// Reads and checks a bus key file (private, 64 hex digits); used to validate options
/// early, so the message can name the option. The key stays in Rust.
#[napi]
pub fn check_bus_key(env: &Env, path: String) -> napi::Result<()> {
    guarded(env, || {
        mproxy_core::read_key_file(&path)?;
        Ok(())
    })
}

/// Resolves an interface name, address or index; used to validate options early.
#[napi]
pub fn resolve_interface(env: &Env, spec: String) -> napi::Result<u32> {
    guarded(env, || Ok(mproxy_core::resolve_interface(&spec)?.index))
}

/// What is wrong with a routing rule's `match` pattern (in the core's regex dialect, within
/// its size limit), or nothing: lets option checks name the option's path.
#[napi]
pub fn rule_pattern_problem(env: &Env, pattern: String) -> napi::Result<Option<String>> {
    guarded(env, || Ok(mproxy_core::compile_pattern(&pattern).err()))
}

/// What is wrong with a network written for an allow list or a rule by source (`10.0.0.0/8`,
/// `::ffff:127.0.0.1`), or nothing: the core's one CIDR parser, so the schema and the core
/// cannot disagree on what a block is.
#[napi]
pub fn cidr_problem(env: &Env, text: String) -> napi::Result<Option<String>> {
    guarded(env, || Ok(mproxy_core::Cidr::parse(&text).err()))
}

/// Tells the service manager (systemd, `Type=notify`) the service's state: `READY=1`,
/// `RELOADING=1` (sent with the `MONOTONIC_USEC=` line systemd 253 and newer want),
/// `STOPPING=1`, or other `KEY=VALUE` lines. `socket` is `NOTIFY_SOCKET`: a path, or `@name`
/// for an abstract socket. Node has no unix datagram sockets, hence this. A no-op on Windows.
#[napi]
pub fn notify_service_manager(env: &Env, socket: String, state: String) -> napi::Result<()> {
    guarded(env, move || notify_now(socket, state))
}

fn notify_now(socket: String, state: String) -> Result<()> {
    let io_error = |e: std::io::Error| {
        CoreError::os(format!("cannot notify the service manager at {socket}"), &e)
            .at("sendto", &socket)
    };
    let message = if state.lines().any(|l| l == "RELOADING=1") {
        let usec = mproxy_core::os::monotonic_usec().map_err(io_error)?;
        format!("{state}\nMONOTONIC_USEC={usec}")
    } else {
        state
    };
    mproxy_core::os::notify_service_manager(&socket, &message).map_err(io_error)?;
    Ok(())
}
