//! Errors as JavaScript sees them: a real `Error` whose `code` is the stable `EMPROXY_*`
//! code, with `option`, `errno`, `syscall` and `address` set where they are known. Built
//! here, in the binding, as lightningcss's `node/` builds its errors (an `Error` object with
//! fields), so that nothing in TypeScript parses a message to learn what went wrong.

use mproxy_core::Error as CoreError;
use napi::bindgen_prelude::{Env, JsObjectValue, JsValue, Status};

/// A bug in mproxy (a caught panic).
pub(crate) const INTERNAL: &str = "EMPROXY_INTERNAL";

/// What the binding throws, before it becomes a JavaScript error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeError {
    pub(crate) code: &'static str,
    /// One line, naming options as `{optionName}` (the TypeScript layer writes each as the
    /// caller names it: a flag or a config path).
    pub(crate) message: String,
    /// The option concerned, by its API name, where one is.
    pub(crate) option: Option<String>,
    pub(crate) errno: Option<i32>,
    pub(crate) syscall: Option<&'static str>,
    pub(crate) address: Option<String>,
}

pub(crate) type Result<T> = std::result::Result<T, NativeError>;

impl NativeError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        NativeError {
            code,
            option: subject_option(&message),
            message,
            errno: None,
            syscall: None,
            address: None,
        }
    }

    /// A value the binding cannot take (the schema lets through only what it can, so this is
    /// a last line of defence), naming `{option}`.
    pub(crate) fn invalid(option: &str, problem: impl std::fmt::Display) -> Self {
        NativeError::new(
            mproxy_core::ErrorKind::InvalidArgument.code(),
            format!("{{{option}}}: {problem}"),
        )
    }

    /// A usage error of a handle method (`send()` on a closed handle, ...).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        NativeError::new(mproxy_core::ErrorKind::InvalidArgument.code(), message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        NativeError::new(INTERNAL, message)
    }

    /// The JavaScript error, built in `env`.
    pub(crate) fn into_js(self, env: &Env) -> napi::Error {
        let fallback = napi::Error::new(Status::GenericFailure, self.message.clone());
        self.build(env).unwrap_or(fallback)
    }

    fn build(self, env: &Env) -> napi::Result<napi::Error> {
        let mut error = env.create_error(napi::Error::new(Status::GenericFailure, self.message))?;
        error.set_named_property("code", self.code)?;
        if let Some(option) = self.option {
            error.set_named_property("option", option)?;
        }
        if let Some(errno) = self.errno {
            error.set_named_property("errno", errno)?;
        }
        if let Some(syscall) = self.syscall {
            error.set_named_property("syscall", syscall)?;
        }
        if let Some(address) = self.address {
            error.set_named_property("address", address)?;
        }
        Ok(napi::Error::from(error.to_unknown()))
    }
}

impl From<CoreError> for NativeError {
    fn from(err: CoreError) -> Self {
        NativeError {
            errno: err.errno,
            syscall: err.syscall,
            address: err.address,
            ..NativeError::new(err.kind.code(), err.message)
        }
    }
}

/// A failure of Node-API itself (creating a promise, ...): not the user's doing.
impl From<napi::Error> for NativeError {
    fn from(err: napi::Error) -> Self {
        NativeError::internal(format!("internal error: {}", err.reason))
    }
}

/// The option a message is about: the core writes option names as `{optionName}` (it cannot
/// know whether a flag or an API option was used), and a message about an option starts with
/// it (`{baud}: 7 is not a speed`). A name further on is advice (`name one with
/// {multicastInterface}`), not the option at fault, and braces in a path are no option.
fn subject_option(message: &str) -> Option<String> {
    let rest = message.strip_prefix('{')?;
    let (name, after) = rest.split_once('}')?;
    let is_name = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    (is_name && after.starts_with(':')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_name_a_message_starts_with() {
        assert_eq!(
            subject_option("{baud}: 7 is not a speed"),
            Some("baud".into())
        );
        // Advice further on names no option at fault; nor do braces in a path.
        assert_eq!(
            subject_option("no interface reaches 239.1.1.1; name one with {multicastInterface}"),
            None
        );
        assert_eq!(
            subject_option("cannot open /srv/{site}/x.log: denied"),
            None
        );
        assert_eq!(subject_option("{keep} without a colon"), None);
        assert_eq!(subject_option("{Upper}: x"), None);
        assert_eq!(subject_option("{"), None);
    }

    #[test]
    fn core_errors_keep_their_fields() {
        let err = CoreError::os(
            "cannot listen on 127.0.0.1:9",
            &std::io::Error::from_raw_os_error(98),
        )
        .at("bind", "127.0.0.1:9");
        let native = NativeError::from(err);
        assert_eq!(native.errno, Some(98));
        assert_eq!(native.syscall, Some("bind"));
        assert_eq!(native.address.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(native.option, None);
    }
}
