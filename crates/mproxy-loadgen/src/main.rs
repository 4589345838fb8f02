//! UDP load generator and counting sink for mproxy's benchmark (`npm run bench`).
//!
//! Two subcommands, both Linux-only because they rely on `sendmmsg`/`recvmmsg` to keep the
//! measuring tools far cheaper per datagram than the relays they measure:
//! - `blast`: send fixed-size datagrams to a loopback address, flat out or paced;
//! - `sink`: count what arrives and report counts on request.
//!
//! Every result is a single JSON object per stdout line; errors go to stderr with exit code
//! 1 (runtime) or 2 (usage).

#[cfg(target_os = "linux")]
mod args;
#[cfg(target_os = "linux")]
mod blast;
#[cfg(target_os = "linux")]
mod sink;
#[cfg(target_os = "linux")]
mod sys;

use std::io::Write;
use std::process::ExitCode;

const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Why a subcommand failed, which decides the exit code.
pub enum Failure {
    /// Bad flags: nothing was opened or sent (exit 2).
    Usage(String),
    /// The system refused or failed (exit 1).
    Runtime(String),
}

/// Writes one line to stdout and flushes it at once: the parent reads our output line by
/// line as a protocol, so nothing may sit in a buffer. Failing to write (parent gone) is an
/// error the caller turns into an exit.
pub fn print_line(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

fn usage() -> String {
    #[cfg(target_os = "linux")]
    {
        format!("usage:\n  {}\n  {}", blast::USAGE, sink::USAGE)
    }
    #[cfg(not(target_os = "linux"))]
    {
        "usage: mproxy-loadgen blast|sink ... (Linux only)".to_string()
    }
}

#[cfg(target_os = "linux")]
fn dispatch(command: &str, rest: &[String]) -> Option<Result<(), Failure>> {
    match command {
        "blast" => Some(blast::run(rest)),
        "sink" => Some(sink::run(rest)),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
fn dispatch(_command: &str, _rest: &[String]) -> Option<Result<(), Failure>> {
    Some(Err(Failure::Runtime(
        "mproxy-loadgen needs Linux (sendmmsg/recvmmsg)".to_string(),
    )))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{}", usage());
        return ExitCode::from(EXIT_USAGE);
    };
    if command == "-h" || command == "--help" || command == "help" {
        return match print_line(&usage()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(EXIT_RUNTIME),
        };
    }
    match dispatch(command, rest) {
        None => {
            eprintln!("mproxy-loadgen: unknown command '{command}'\n{}", usage());
            ExitCode::from(EXIT_USAGE)
        }
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(Failure::Usage(message))) => {
            eprintln!("mproxy-loadgen {command}: {message}\n{}", usage());
            ExitCode::from(EXIT_USAGE)
        }
        Some(Err(Failure::Runtime(message))) => {
            eprintln!("mproxy-loadgen {command}: {message}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
