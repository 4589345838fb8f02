//! PEM files (certificates, keys, the bus key), read only when they are regular files of at
//! most [`MAX_PEM_BYTES`], so a wrong path (`/dev/zero`, a FIFO with no writer, a log file)
//! fails at once with a line instead of filling memory or hanging the start.

use std::io::Read as _;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{describe_os_error, Error, ErrorKind, Result};

/// The largest PEM file read. A chain of certificates or a key is a few KiB; a file above
/// this is not what the option wants, and reading it whole would cost its size in memory.
pub(crate) const MAX_PEM_BYTES: u64 = 1024 * 1024;

fn file_problem(what: &str, path: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::File, format!("cannot read {what} {path}: {why}"))
}

/// A file the system would not let us read (with the OS's error number, for `error.errno`).
/// `syscall`: the call that failed, as Node names its own (`stat`, `open`).
fn os_file_problem(what: &str, path: &str, syscall: &'static str, err: &std::io::Error) -> Error {
    Error {
        errno: err.raw_os_error(),
        ..file_problem(what, path, describe_os_error(err)).at(syscall, path)
    }
}

fn too_large(what: &str, path: &str, size: u64) -> Error {
    file_problem(
        what,
        path,
        format!(
            "it is larger than 1 MiB ({size} bytes); a PEM file of certificates or a key is a few KiB"
        ),
    )
}

/// Reads a whole PEM file, if it is a regular file of at most [`MAX_PEM_BYTES`].
///
/// The file is opened without blocking (a FIFO that turns up in place of the file between
/// a check and the open must not hang the start) and checked through the opened descriptor,
/// and the read itself is bounded too: files such as those in /proc report a size of 0.
pub(crate) fn read_pem(path: &str, what: &str) -> Result<Vec<u8>> {
    // Checked before opening as well: opening some devices has effects of its own.
    let meta = std::fs::metadata(path).map_err(|e| os_file_problem(what, path, "stat", &e))?;
    if !meta.is_file() {
        return Err(file_problem(
            what,
            path,
            crate::sys::not_a_regular_file(&meta),
        ));
    }
    let file = crate::sys::open_input(path).map_err(|e| os_file_problem(what, path, "open", &e))?;
    let meta = file
        .metadata()
        .map_err(|e| file_problem(what, path, describe_os_error(&e)))?;
    if !meta.is_file() {
        return Err(file_problem(
            what,
            path,
            crate::sys::not_a_regular_file(&meta),
        ));
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(too_large(what, path, meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_problem(what, path, describe_os_error(&e)))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(too_large(what, path, bytes.len() as u64));
    }
    Ok(bytes)
}

/// A PEM parse failure in words ("the base64 text is damaged").
fn pem_problem(what: &str, path: &str, err: rustls::pki_types::pem::Error) -> Error {
    use rustls::pki_types::pem::Error as Pem;
    let why = match err {
        Pem::MissingSectionEnd { .. } => "a PEM section has no END line".to_string(),
        Pem::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".to_string(),
        Pem::Base64Decode(_) => "the base64 text of a PEM section is damaged".to_string(),
        Pem::Io(io) => describe_os_error(&io),
        _ => "it is not a valid PEM file".to_string(),
    };
    file_problem(what, path, why)
}

pub(crate) fn read_certs(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read_pem(path, what)?;
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs = certs.map_err(|e| pem_problem(what, path, e))?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::File,
            format!("{what} {path} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

pub(crate) fn read_key(path: &str, what: &str) -> Result<PrivateKeyDer<'static>> {
    let bytes = read_pem(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => Error::new(
            ErrorKind::File,
            format!("{what} {path} holds no PEM private key"),
        ),
        other => pem_problem(what, path, other),
    })
}
