//! The one place a panic may meet JavaScript. Node runs every export on its main thread, so a
//! panic that unwinds out of an export aborts the whole process (exit 134, with a Rust
//! backtrace on stderr). Every export's body runs inside [`guarded`]: a panic there becomes
//! an ordinary thrown error, `internal error: <message>` with the code `EMPROXY_INTERNAL`
//! (see `errors.rs`), which the TypeScript layer turns into an `MproxyError`.
//!
//! While a guarded body runs, the panic hook stays quiet (the message goes into the error,
//! not onto stderr as a second, multi-line report); panics anywhere else (the engine's own
//! threads) are reported by the hook that was there before.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use napi::bindgen_prelude::Env;

use crate::errors::{NativeError, Result};

thread_local! {
    /// How many guarded calls this thread is in (an export may call back into JavaScript,
    /// which may call another export).
    // The initializer is const; clippy still asks for it on windows-gnu, whose
    // thread_local! expands otherwise (a false positive there).
    #[allow(clippy::missing_const_for_thread_local)]
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Keeps the default report for unguarded panics, and silences it inside a guard.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    };
    // One line: the error is printed as one.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The message of the `EMPROXY_INTERNAL` error a caught panic becomes.
pub(crate) fn internal_message(payload: &(dyn Any + Send)) -> String {
    format!("internal error: {}", panic_message(payload))
}

/// Runs `body`, turning a panic in it into `Err` with [`internal_message`] (via `to_error`).
pub(crate) fn catch<T, E>(
    body: impl FnOnce() -> std::result::Result<T, E>,
    to_error: impl FnOnce(String) -> E,
) -> std::result::Result<T, E> {
    install_hook();
    DEPTH.with(|d| d.set(d.get().saturating_add(1)));
    // Unwind safety: after a panic nothing of the body's is used again but the error.
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(to_error(internal_message(&*payload))),
    }
}

/// [`catch`] for an export: an error, or a panic, becomes a thrown JavaScript error built
/// in `env`.
pub(crate) fn guarded<T>(env: &Env, body: impl FnOnce() -> Result<T>) -> napi::Result<T> {
    catch(body, NativeError::internal).map_err(|e| e.into_js(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_one_line_of_error() {
        let caught: std::result::Result<(), String> = catch(|| panic!("it broke\n  here"), |m| m);
        assert_eq!(caught, Err("internal error: it broke here".into()));
        let formatted: std::result::Result<(), String> = catch(|| panic!("{} of {}", 3, 4), |m| m);
        assert_eq!(formatted, Err("internal error: 3 of 4".into()));
        let native: Result<()> = catch(|| panic!("boom"), NativeError::internal);
        assert_eq!(native.err().map(|e| e.code), Some(crate::errors::INTERNAL));
        // The guard is left: an error returned normally passes through untouched.
        assert_eq!(
            catch(|| Err::<(), _>("plain".to_string()), |m| m),
            Err("plain".into())
        );
        assert_eq!(catch(|| Ok::<_, String>(5), |m| m), Ok(5));
        assert_eq!(DEPTH.with(Cell::get), 0);
    }

    #[test]
    fn a_real_core_panic_is_caught() {
        // The crash of issue #15: a duration too long for `Duration`.
        let caught: std::result::Result<std::time::Duration, String> =
            catch(|| Ok(std::time::Duration::from_secs_f64(2.4e19)), |m| m);
        let message = caught.err().unwrap_or_default();
        assert!(message.starts_with("internal error: "), "{message}");
        assert!(!message.contains('\n'));
    }
}
