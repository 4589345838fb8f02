//! A byte stream (regular file, FIFO, character device such as a serial receiver, or stdin)
//! read until its end and framed into datagrams.
//!
//! Regular files are read back to back, so datagrams are packed full. Anything else may
//! pause: when no more input is ready the complete lines go out at once, and a partial
//! line follows after `linger`, so interactive and serial input is never held back.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{describe_os_error, Error, Result};
use crate::event::{Outcome, Reporter};
use crate::sink::Fanout;
use crate::source::file_input::FileInput;
use crate::source::framed::{End, Framed, FramingSpec, READ_SIZE};
use crate::source::FiniteSources;
use crate::stats::{Endpoint, Registry};
use crate::stop::StopToken;
use crate::sys;

#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// A path, or "-" for stdin.
    pub path: String,
    /// How the bytes become datagrams, and the pace they are sent at.
    pub framing: FramingSpec,
}

pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

pub struct StreamSource {
    pub thread: JoinHandle<()>,
}

pub fn start(
    spec: &StreamSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
    finite: FiniteSources,
) -> Result<StreamSource> {
    let (file, regular) = open(&spec.path)?;
    let name = if spec.path == "-" {
        "stdin".to_string()
    } else {
        spec.path.clone()
    };
    let input = FileInput::new(file, regular, &stop, &name)?;
    let endpoint = registry.register("input", name);
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-input {}", spec.path))
        .spawn(move || {
            let mut reader = Reader {
                spec,
                endpoint,
                fanout,
                reporter,
                stop,
            };
            let outcome = reader.run(input);
            finite.one_ended(outcome);
        })
        .map_err(|e| Error::os("cannot start an input thread", &e))?;
    Ok(StreamSource { thread })
}

fn open(path: &str) -> Result<(std::fs::File, bool)> {
    if path == "-" {
        let stdin = sys::stdin().map_err(|e| Error::file("stdin", &e))?;
        // `< file` makes stdin a regular file: read back to back like one.
        let regular = stdin.metadata().is_ok_and(|m| m.is_file());
        return Ok((stdin, regular));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, &e))?;
    if meta.is_dir() {
        return Err(Error::new(
            crate::ErrorKind::File,
            format!("cannot open {path}: it is a directory"),
        ));
    }
    let file = sys::open_input(path).map_err(|e| Error::file(path, &e))?;
    Ok((file, meta.is_file()))
}

struct Reader {
    spec: StreamSpec,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    stop: StopToken,
}

impl Reader {
    fn run(&mut self, mut input: FileInput) -> Outcome {
        // Only devices named by --path are put in raw mode; a terminal on stdin is a person
        // typing. Restored when this guard drops, before the input closes.
        let _raw = if self.spec.path == "-" {
            None
        } else {
            input.file().and_then(sys::RawTerminal::enter)
        };
        let mut framed = Framed::new(
            &self.spec.framing,
            self.fanout.clone(),
            self.endpoint.clone(),
            self.stop.clone(),
        );
        let mut buf = vec![0u8; READ_SIZE];
        match framed.pump(&mut input, &mut buf) {
            Ok(End::Input) => Outcome::Complete,
            Ok(End::Stopped) => Outcome::Stopped,
            Err(e) => {
                self.reporter.error(format!(
                    "reading {} failed: {}",
                    self.endpoint.name,
                    describe_os_error(&e)
                ));
                Outcome::Failed
            }
        }
    }
}
