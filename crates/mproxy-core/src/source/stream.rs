//! A byte stream (regular file, FIFO, character device such as a serial receiver, or stdin)
//! read until its end and framed into datagrams.
//!
//! Regular files are read back to back, so datagrams are packed full. Anything else may
//! pause: when no more input is ready the complete lines go out at once, and a partial
//! line follows after `linger`, so interactive and serial input is never held back.
//!
//! How each kind ends:
//! - a regular file at its end (`complete`), unless it is followed ([`StreamSpec::follow`],
//!   like `tail -F`): then only a stop ends it;
//! - a FIFO or stdin when its writer closes it;
//! - a character device named by its path (a serial receiver) never by itself: when it
//!   hangs up (its end, or a read failing with EIO, ENXIO or ENODEV: a USB receiver
//!   unplugged) what was framed is flushed, "X hung up; waiting for it to come back" is
//!   logged once, and the path is opened again every [`REOPEN_INTERVAL`] (no log per
//!   attempt) until it works; "X is back" is logged once the device reads (data, or open
//!   and quiet), raw mode and speed are set again, and the same counters go on.

use std::fs::File;
use std::io::{self, IsTerminal as _};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{describe_os_error, Error, Result};
use crate::event::{Outcome, Reporter};
use crate::poller::Wait;
use crate::sink::Fanout;
use crate::source::file_input::FileInput;
use crate::source::follow::{Change, FollowInput};
use crate::source::framed::{ByteInput, End, Framed, FramingSpec, Read, READ_SIZE};
use crate::source::FiniteSources;
use crate::stats::{Endpoint, Registry};
use crate::stop::StopToken;
use crate::sys::{self, RawTerminal};

#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// A path, or "-" for stdin.
    pub path: String,
    /// How the bytes become datagrams, and the pace they are sent at.
    pub framing: FramingSpec,
    /// Line speed (bits per second, input and output) of a serial device, set with raw
    /// mode; `None` keeps the port's. A speed the system does not know, or a path that is
    /// not a terminal, fails the start.
    pub baud: Option<u32>,
    /// A regular file named by its path is followed like `tail -F`: read to its end, then
    /// waited on for more, and read from the start again when it is replaced or truncated.
    /// No effect on other inputs.
    pub follow: bool,
}

impl StreamSpec {
    /// A path read with `framing`: no speed set, not followed.
    pub fn new(path: impl Into<String>, framing: FramingSpec) -> Self {
        StreamSpec {
            path: path.into(),
            framing,
            baud: None,
            follow: false,
        }
    }
}

pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

/// How often a device that hung up is looked for again.
pub(crate) const REOPEN_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) struct StreamSource {
    pub thread: JoinHandle<()>,
}

/// What the input is, which decides how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    /// A character device named by its path: reopened after a hang-up.
    Device,
    /// A FIFO, a socket, stdin that is not a regular file.
    Other,
}

pub(crate) fn start(
    spec: &StreamSpec,
    fanout: Fanout,
    registry: &Registry,
    reporter: Reporter,
    stop: StopToken,
    finite: FiniteSources,
) -> Result<StreamSource> {
    if let Some(baud) = spec.baud {
        if !sys::baud_supported(baud) {
            return Err(Error::invalid(format!(
                "{{baud}}: {baud} is not a speed this system supports"
            )));
        }
        if spec.path == "-" {
            return Err(Error::invalid(format!(
                "{{baud}}: {baud} needs a serial device, not stdin"
            )));
        }
    }
    let (file, kind) = open(&spec.path)?;
    let name = if spec.path == "-" {
        "stdin".to_string()
    } else {
        spec.path.clone()
    };
    // Only devices named by --path are put in raw mode; a terminal on stdin is a person
    // typing. Set before the input takes the file (a blocking reader thread may own it);
    // restored when this guard drops.
    let raw = if spec.path == "-" {
        None
    } else {
        raw_mode(&file, spec)?
    };
    let input = if spec.follow && kind == Kind::Regular && spec.path != "-" {
        Input::Follow(FollowInput::new(&spec.path, file, &stop))
    } else {
        Input::Plain(FileInput::new(file, kind == Kind::Regular, &stop, &name)?)
    };
    let endpoint = registry.register("input", name.clone());
    let spec = spec.clone();
    let thread = std::thread::Builder::new()
        .name(format!("mproxy-input {}", spec.path))
        .spawn(move || {
            let mut reader = Reader {
                spec,
                name,
                kind,
                endpoint,
                fanout,
                reporter,
                stop,
            };
            let outcome = reader.run(input, raw);
            finite.one_ended(outcome);
        })
        .map_err(|e| Error::os("cannot start an input thread", &e))?;
    Ok(StreamSource { thread })
}

fn open(path: &str) -> Result<(File, Kind)> {
    if path == "-" {
        let stdin = sys::stdin().map_err(|e| Error::file("stdin", &e))?;
        // `< file` makes stdin a regular file: read back to back like one.
        let kind = if stdin.metadata().is_ok_and(|m| m.is_file()) {
            Kind::Regular
        } else {
            Kind::Other
        };
        return Ok((stdin, kind));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, &e))?;
    if meta.is_dir() {
        return Err(Error::new(
            crate::ErrorKind::File,
            format!("cannot open {path}: it is a directory"),
        ));
    }
    let file = sys::open_input(path).map_err(|e| Error::file(path, &e))?;
    let kind = if meta.is_file() {
        Kind::Regular
    } else if sys::is_char_device(&meta) {
        Kind::Device
    } else {
        Kind::Other
    };
    Ok((file, kind))
}

/// Raw mode (and the speed asked for) on a terminal; nothing on anything else, where a
/// speed is an error.
fn raw_mode(file: &File, spec: &StreamSpec) -> Result<Option<RawTerminal>> {
    let path = &spec.path;
    match spec.baud {
        None => RawTerminal::enter(file, None).map_err(|e| Error::file(path, &e)),
        Some(baud) if !file.is_terminal() => Err(Error::invalid(format!(
            "{{baud}}: {baud} needs a serial device; {path} is not a terminal"
        ))),
        Some(baud) => RawTerminal::enter(file, Some(baud)).map_err(|e| {
            Error::new(
                crate::ErrorKind::File,
                format!(
                    "cannot set {path} to {baud} bits/s: {}",
                    describe_os_error(&e)
                ),
            )
        }),
    }
}

enum Input {
    Plain(FileInput),
    Follow(FollowInput),
}

impl ByteInput for Input {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        match self {
            Input::Plain(i) => i.read_now(buf),
            Input::Follow(i) => i.read_now(buf),
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        match self {
            Input::Plain(i) => i.wait(timeout),
            Input::Follow(i) => i.wait(timeout),
        }
    }
}

/// How long a reopened device that brought no data yet must stay open before it counts as
/// back.
const SETTLE: Duration = Duration::from_millis(250);

/// Passes reads through, and says "X is back" once a reopened device proves it is there: a
/// read that brought data, or [`SETTLE`] open without ending or failing. A device that ends
/// or fails at once (a node that is there with nothing behind it) is not back, and says
/// nothing.
struct Announcing<'a> {
    input: &'a mut Input,
    /// False from a hang-up until the device is back.
    alive: &'a mut bool,
    /// When the device was reopened.
    opened: Instant,
    reporter: &'a Reporter,
    name: &'a str,
}

impl ByteInput for Announcing<'_> {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        let read = self.input.read_now(buf);
        let proved = match read {
            Ok(Read::Data(n)) => n > 0,
            Ok(Read::Pending) => self.opened.elapsed() >= SETTLE,
            _ => false,
        };
        if !*self.alive && proved {
            *self.alive = true;
            self.reporter.info(format!("{} is back", self.name));
        }
        read
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Wait {
        if *self.alive {
            return self.input.wait(timeout);
        }
        // Wake when the settling time is over, to say the device is back.
        let settle = SETTLE
            .saturating_sub(self.opened.elapsed())
            .max(Duration::from_millis(1));
        self.input
            .wait(Some(timeout.map_or(settle, |t| t.min(settle))))
    }
}

struct Reader {
    spec: StreamSpec,
    name: String,
    kind: Kind,
    endpoint: Arc<Endpoint>,
    fanout: Fanout,
    reporter: Reporter,
    stop: StopToken,
}

impl Reader {
    fn run(&mut self, mut input: Input, mut raw: Option<RawTerminal>) -> Outcome {
        // One framer and one set of counters for the whole life of the input, across
        // hang-ups and replaced files.
        let mut framed = Framed::new(
            &self.spec.framing,
            self.fanout.clone(),
            self.endpoint.clone(),
            self.stop.clone(),
        );
        let mut buf = vec![0u8; READ_SIZE];
        let mut alive = true;
        let mut opened = Instant::now();
        loop {
            let mut watched = Announcing {
                input: &mut input,
                alive: &mut alive,
                opened,
                reporter: &self.reporter,
                name: &self.name,
            };
            // What was framed is flushed when pump returns.
            match framed.pump(&mut watched, &mut buf) {
                Ok(End::Stopped) => return Outcome::Stopped,
                Ok(End::Input) => {
                    if let Input::Follow(followed) = &mut input {
                        match followed.take_change() {
                            Some(Change::Replaced) => self.reporter.info(format!(
                                "{} was replaced; reading the new file from its start",
                                self.name
                            )),
                            Some(Change::Truncated) => self.reporter.info(format!(
                                "{} was truncated; reading it again from its start",
                                self.name
                            )),
                            None => return Outcome::Complete,
                        }
                        continue;
                    }
                    if self.kind != Kind::Device {
                        return Outcome::Complete;
                    }
                }
                Err(e) if self.kind == Kind::Device && sys::is_hangup(&e) => {}
                Err(e) => {
                    self.reporter.error(format!(
                        "reading {} failed: {}",
                        self.name,
                        describe_os_error(&e)
                    ));
                    return Outcome::Failed;
                }
            }
            // The device hung up. Its settings are put back (where it still takes them)
            // before it closes.
            if let Some(terminal) = raw.take() {
                terminal.restore();
            }
            drop(input);
            if alive {
                alive = false;
                self.reporter.warn(format!(
                    "{} hung up; waiting for it to come back",
                    self.name
                ));
            }
            match self.reopen_device() {
                Some((reopened, terminal)) => {
                    input = Input::Plain(reopened);
                    raw = terminal;
                    opened = Instant::now();
                }
                None => return Outcome::Stopped,
            }
        }
    }

    /// Opens the device's path again every [`REOPEN_INTERVAL`] until it is a device
    /// again and takes raw mode (and the speed); `None` when the route stops first. The
    /// first failure other than "not there" is logged once, so a device that came back
    /// with the wrong permissions does not go unexplained.
    fn reopen_device(&self) -> Option<(FileInput, Option<RawTerminal>)> {
        let mut noted = false;
        let note = |noted: &mut bool, why: String| {
            if !std::mem::replace(noted, true) {
                self.reporter
                    .warn(format!("{}: cannot reopen it yet: {why}", self.name));
            }
        };
        loop {
            if !self.stop.sleep(REOPEN_INTERVAL) {
                return None;
            }
            let file = match sys::open_input(&self.spec.path) {
                Ok(file) => file,
                Err(e) => {
                    if !sys::is_absent(&e) {
                        note(&mut noted, describe_os_error(&e));
                    }
                    continue;
                }
            };
            if !file.metadata().is_ok_and(|m| sys::is_char_device(&m)) {
                note(&mut noted, "it is not a device now".into());
                continue;
            }
            let raw = match RawTerminal::enter(&file, self.spec.baud) {
                Ok(raw) => raw,
                Err(e) => {
                    note(
                        &mut noted,
                        format!("cannot set its speed: {}", describe_os_error(&e)),
                    );
                    continue;
                }
            };
            match FileInput::new(file, false, &self.stop, &self.name) {
                Ok(input) => return Some((input, raw)),
                Err(e) => note(&mut noted, e.message),
            }
        }
    }
}
