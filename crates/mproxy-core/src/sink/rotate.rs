//! Rotation and retention of file outputs, and reopening on request.
//!
//! The active file is always the configured path. At a boundary the writer renames it to a
//! dated name next to it and opens a new file at the path, between two chunks (a chunk is
//! one batch), so no datagram is split, lost or written twice across files.
//!
//! **Names.** A rotated file is named for the UTC time its data begins (the first write into
//! it; for a file that was already there at start, its creation time, or its modification
//! time where the file system keeps no creation time):
//! - [`Rotate::Hourly`]: `ais.log.2026-11-27T17` (the hour);
//! - [`Rotate::Daily`]: `ais.log.2026-11-27` (the day);
//! - [`Rotate::Size`]: `ais.log.2026-11-27T17-42-10` (the second).
//!
//! If that name is taken (a file rotated in the same second, a clock set back), `.1`, `.2`,
//! ... is appended: one past the highest number that stamp has (retention may have removed
//! lower ones), so rotated files sort by time, then by that number.
//! Names never contain `:`, so they are valid everywhere.
//!
//! **Boundaries.** Hourly and daily: when the UTC hour or day of the clock is no longer the
//! one the active file's data began in, checked before each chunk and, while no data comes,
//! at the boundary itself; an empty file is never rotated. By size: before a chunk that
//! would take the active file past the limit, so a rotated file holds at most the limit,
//! unless a single chunk (one received batch, at most 64 datagrams, or one read of a
//! stream) is larger than the limit by itself: then it is written whole, alone in its file.
//!
//! **Retention** ([`Keep`]) looks only at files in the path's directory named exactly
//! `<file name>.<stamp>` or `<file name>.<stamp>.<n>` with a stamp of one of the three
//! forms above, so nothing else is ever removed (not the active file, not `ais.log.1`
//! renamed by logrotate, not `ais.log.2026-11-27.gz`). `Files(n)` keeps the newest `n`
//! (by stamp, then number); `Age(d)` removes those last modified more than `d` ago. It runs
//! at start, after each rotation and, with `Age`, every ten minutes.
//!
//! **Failures** (a rename, an open, a removal refused) are reported once, with "works
//! again" when they stop; writing goes on to the file that is open (nothing is lost), and a
//! failed rotation is tried again a minute later.

use std::fmt;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{describe_os_error, Error, Result};
use crate::event::Reporter;
use crate::sys;

/// When the active file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotate {
    /// At each UTC hour.
    Hourly,
    /// At each UTC midnight.
    Daily,
    /// Before a chunk that would take the file past this many bytes.
    Size(u64),
}

impl Rotate {
    /// The length of a time period, for time-based rotation.
    fn period(self) -> Option<u64> {
        match self {
            Rotate::Hourly => Some(3600),
            Rotate::Daily => Some(86_400),
            Rotate::Size(_) => None,
        }
    }
}

/// Which rotated files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The newest this many.
    Files(usize),
    /// Those modified less than this long ago.
    Age(Duration),
}

/// Where "now" comes from: the system clock, or a function a test drives (so an hourly
/// rotation can be tested without waiting an hour).
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> SystemTime + Send + Sync>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Clock {
        Clock(Some(Arc::new(now)))
    }

    pub fn now(&self) -> SystemTime {
        match &self.0 {
            Some(now) => now(),
            None => SystemTime::now(),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(test)"
        } else {
            "Clock(system)"
        })
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The UTC date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The stamp a file whose data began at `start` gets, for `rotate`.
pub fn stamp(start: SystemTime, rotate: Rotate) -> String {
    let secs = unix_seconds(start);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    let (hh, mm, ss) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    match rotate {
        Rotate::Daily => format!("{y:04}-{m:02}-{d:02}"),
        Rotate::Hourly => format!("{y:04}-{m:02}-{d:02}T{hh:02}"),
        Rotate::Size(_) => format!("{y:04}-{m:02}-{d:02}T{hh:02}-{mm:02}-{ss:02}"),
    }
}

/// Whether `text` is a stamp of one of the three forms (digits where digits go).
fn is_stamp(text: &str) -> bool {
    const DAY: &str = "dddd-dd-dd";
    const HOUR: &str = "dddd-dd-ddTdd";
    const SECOND: &str = "dddd-dd-ddTdd-dd-dd";
    [DAY, HOUR, SECOND].iter().any(|form| {
        form.len() == text.len()
            && form.bytes().zip(text.bytes()).all(|(f, t)| match f {
                b'd' => t.is_ascii_digit(),
                _ => f == t,
            })
    })
}

/// For a name in the output's directory: its stamp and clash number when it is a file this
/// writer rotated (`<base>.<stamp>` or `<base>.<stamp>.<n>`), else `None`.
pub fn parse_rotated<'a>(base: &str, name: &'a str) -> Option<(&'a str, u64)> {
    let rest = name.strip_prefix(base)?.strip_prefix('.')?;
    let (stamp, n) = match rest.split_once('.') {
        None => (rest, 0),
        Some((stamp, n)) => {
            let valid =
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0');
            if !valid {
                return None;
            }
            (stamp, n.parse().ok()?)
        }
    };
    is_stamp(stamp).then_some((stamp, n))
}

/// The name for a file rotated with `stamp`: the first free one after the highest number
/// that stamp already has. Retention may have removed the lower ones, and a name reused below
/// a kept one would sort before it: taken for older, it would be the next one pruned.
fn free_name(path: &Path, stamp: &str) -> io::Result<PathBuf> {
    let mut base = path.as_os_str().to_owned();
    base.push(".");
    base.push(stamp);
    let start = highest_number(path, stamp).map_or(0, |n| n.saturating_add(1));
    for n in start..start.saturating_add(10_000) {
        let mut candidate = base.clone();
        if n > 0 {
            candidate.push(format!(".{n}"));
        }
        let candidate = PathBuf::from(candidate);
        match std::fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(candidate),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name is left for files rotated with this time stamp",
    ))
}

/// The highest number among the rotated files of `path` with `stamp` (0 for the bare name).
fn highest_number(path: &Path, stamp: &str) -> Option<u64> {
    let file_name = path.file_name()?.to_str()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let (s, n) = parse_rotated(file_name, &name)?;
            (s == stamp).then_some(n)
        })
        .max()
}

/// When the data of a file that is already there began.
fn began(meta: &Metadata) -> Option<SystemTime> {
    if meta.len() == 0 {
        return None;
    }
    meta.created().or_else(|_| meta.modified()).ok()
}

/// The rotated files of `path` (by stamp, then number, oldest first).
fn rotated_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(base) = path.file_name().and_then(|b| b.to_str()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((stamp, n)) = parse_rotated(base, name) {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                found.push((stamp.to_string(), n, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// A failure reported once, and its end.
#[derive(Default)]
struct Fault {
    active: bool,
}

impl Fault {
    fn fail(&mut self, reporter: &Reporter, message: String) {
        if !std::mem::replace(&mut self.active, true) {
            reporter.error(message);
        }
    }

    fn fail_quietly(&mut self, reporter: &Reporter, message: String) {
        if !std::mem::replace(&mut self.active, true) {
            reporter.warn(message);
        }
    }

    fn ok(&mut self, reporter: &Reporter, message: impl FnOnce() -> String) {
        if std::mem::replace(&mut self.active, false) {
            reporter.info(message());
        }
    }
}

/// How long after a failed rotation it is tried again.
const ROTATE_RETRY: Duration = Duration::from_secs(60);
/// How long after a failed reopen it is tried again (at the next chunk after that).
const REOPEN_RETRY: Duration = Duration::from_secs(1);
/// How often retention by age looks for old files when nothing rotates.
const AGE_PRUNE_EVERY: Duration = Duration::from_secs(600);
/// The longest a writer waiting for data sleeps before looking at the clock again (a clock
/// set forward, a machine that slept).
const LONGEST_NAP: Duration = Duration::from_secs(60);

struct Rotation {
    rotate: Rotate,
    keep: Option<Keep>,
    clock: Clock,
    /// Bytes in the active file.
    size: u64,
    /// When the active file's data began; `None` while it is empty.
    began: Option<SystemTime>,
    retry_at: Option<SystemTime>,
    next_prune: Instant,
    rotate_fault: Fault,
    prune_fault: Fault,
}

/// The file a writer writes to: stdout, or a path that may be rotated and reopened.
pub(crate) struct Output {
    pub file: File,
    /// `None` for stdout.
    path: Option<PathBuf>,
    name: String,
    rotation: Option<Rotation>,
    reporter: Reporter,
    /// A reopen that failed, tried again at the first chunk after this.
    reopen_at: Option<Instant>,
    reopen_fault: Fault,
}

impl Output {
    /// Opens the output (so a bad path fails the start). Rotation and retention need a
    /// path to a regular file (or to none yet).
    pub(crate) fn open(
        path: &str,
        rotate: Option<Rotate>,
        keep: Option<Keep>,
        clock: Clock,
        reporter: Reporter,
    ) -> Result<Output> {
        if path == "-" {
            if rotate.is_some() || keep.is_some() {
                return Err(Error::invalid(
                    "rotation and retention need a file path, not stdout",
                ));
            }
            return Ok(Output {
                file: sys::stdout().map_err(|e| Error::file("stdout", &e))?,
                path: None,
                name: "stdout".into(),
                rotation: None,
                reporter,
                reopen_at: None,
                reopen_fault: Fault::default(),
            });
        }
        if keep.is_some() && rotate.is_none() {
            return Err(Error::invalid(format!(
                "{path}: keeping old files needs rotation (hourly, daily or by size)"
            )));
        }
        match rotate {
            Some(Rotate::Size(0)) => {
                return Err(Error::invalid(format!(
                    "{path}: the rotation size must be at least 1 byte"
                )))
            }
            _ if keep == Some(Keep::Files(0)) => {
                return Err(Error::invalid(format!(
                    "{path}: keep at least 1 rotated file"
                )))
            }
            _ => {}
        }
        if rotate.is_some() {
            if let Ok(meta) = std::fs::metadata(path) {
                if !meta.is_file() {
                    return Err(Error::invalid(format!(
                        "{path}: only a regular file can be rotated"
                    )));
                }
            }
        }
        let file = sys::open_output(path).map_err(|e| Error::file(path, &e))?;
        let rotation = rotate.map(|rotate| {
            let meta = file.metadata().ok();
            Rotation {
                rotate,
                keep,
                clock,
                size: meta.as_ref().map_or(0, |m| m.len()),
                began: meta.as_ref().and_then(began),
                retry_at: None,
                next_prune: Instant::now(),
                rotate_fault: Fault::default(),
                prune_fault: Fault::default(),
            }
        });
        Ok(Output {
            file,
            path: Some(PathBuf::from(path)),
            name: path.to_string(),
            rotation,
            reporter,
            reopen_at: None,
            reopen_fault: Fault::default(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Closes the path and opens it again (logrotate moved it away): the next write goes
    /// to the file now at the path. Stdout stays as it is. On failure the old file is
    /// kept (nothing is lost) and the reopen is tried again at a later chunk.
    pub(crate) fn reopen(&mut self) {
        let Some(path) = &self.path else { return };
        match sys::open_output(&path.to_string_lossy()) {
            Ok(file) => {
                if let Some(r) = &mut self.rotation {
                    let meta = file.metadata().ok();
                    r.size = meta.as_ref().map_or(0, |m| m.len());
                    r.began = meta.as_ref().and_then(began);
                }
                self.file = file;
                self.reopen_at = None;
                let name = &self.name;
                self.reopen_fault
                    .ok(&self.reporter, || format!("reopened {name}"));
            }
            Err(e) => {
                self.reopen_at = Some(Instant::now() + REOPEN_RETRY);
                self.reopen_fault.fail(
                    &self.reporter,
                    format!(
                        "cannot reopen {}: {} (writing on to the file open before, will try again)",
                        self.name,
                        describe_os_error(&e)
                    ),
                );
            }
        }
    }

    /// Before a chunk of `len` bytes: a reopen that failed is tried again, and the file is
    /// rotated if the chunk would cross a boundary.
    pub(crate) fn before_write(&mut self, len: usize) {
        if self.reopen_at.is_some_and(|at| Instant::now() >= at) {
            self.reopen();
        }
        let Some(r) = &self.rotation else { return };
        let now = r.clock.now();
        let due = match r.rotate {
            Rotate::Size(limit) => r.size > 0 && r.size.saturating_add(len as u64) > limit,
            _ => r.size > 0 && crossed(r, now),
        };
        if due && retry_due(r, now) {
            self.rotate(now);
        }
        self.prune_if_due();
    }

    /// After `written` bytes went to the file.
    pub(crate) fn after_write(&mut self, written: usize) {
        if let Some(r) = &mut self.rotation {
            if written > 0 {
                r.size += written as u64;
                if r.began.is_none() {
                    r.began = Some(r.clock.now());
                }
            }
        }
    }

    /// While no data comes: a time boundary passed, retention by age is due.
    pub(crate) fn tick(&mut self) {
        let Some(r) = &self.rotation else { return };
        let now = r.clock.now();
        if r.rotate.period().is_some() && r.size > 0 && crossed(r, now) && retry_due(r, now) {
            self.rotate(now);
        }
        self.prune_if_due();
    }

    /// How long a writer with nothing to write may sleep before [`Output::tick`] has work:
    /// `None` when only a chunk can bring any.
    pub(crate) fn next_tick(&self) -> Option<Duration> {
        let r = self.rotation.as_ref()?;
        let mut nap = match (r.rotate.period(), r.began) {
            (Some(period), Some(began)) if r.size > 0 => {
                let boundary =
                    UNIX_EPOCH + Duration::from_secs((unix_seconds(began) / period + 1) * period);
                // Not before a failed rotation may be tried again.
                let due = r.retry_at.map_or(boundary, |retry| retry.max(boundary));
                // A few milliseconds late, so the clock is surely past it on waking.
                due.duration_since(r.clock.now()).unwrap_or(Duration::ZERO)
                    + Duration::from_millis(5)
            }
            _ => LONGEST_NAP,
        };
        if matches!(r.keep, Some(Keep::Age(_))) {
            nap = nap.min(r.next_prune.saturating_duration_since(Instant::now()));
        }
        Some(nap.clamp(Duration::from_millis(10), LONGEST_NAP))
    }

    fn rotate(&mut self, now: SystemTime) {
        let (Some(path), Some(r)) = (&self.path, &mut self.rotation) else {
            return;
        };
        let start = r.began.unwrap_or(now);
        let result = (|| -> io::Result<File> {
            let target = free_name(path, &stamp(start, r.rotate))?;
            std::fs::rename(path, &target)?;
            match sys::open_output(&path.to_string_lossy()) {
                Ok(file) => Ok(file),
                Err(e) => {
                    // Put the file back, so the path keeps its data and the next try finds
                    // things as they were.
                    let _ = std::fs::rename(&target, path);
                    Err(e)
                }
            }
        })();
        match result {
            Ok(file) => {
                self.file = file;
                let meta = self.file.metadata().ok();
                r.size = meta.as_ref().map_or(0, |m| m.len());
                r.began = meta.as_ref().and_then(began);
                r.retry_at = None;
                let name = &self.name;
                r.rotate_fault
                    .ok(&self.reporter, || format!("rotating {name} works again"));
                r.next_prune = Instant::now();
            }
            Err(e) => {
                r.retry_at = Some(now + ROTATE_RETRY);
                r.rotate_fault.fail(
                    &self.reporter,
                    format!(
                        "cannot rotate {}: {} (writing on to it, will try again)",
                        self.name,
                        describe_os_error(&e)
                    ),
                );
            }
        }
    }

    fn prune_if_due(&mut self) {
        let (Some(path), Some(r)) = (&self.path, &mut self.rotation) else {
            return;
        };
        let Some(keep) = r.keep else { return };
        if Instant::now() < r.next_prune {
            return;
        }
        r.next_prune = Instant::now() + AGE_PRUNE_EVERY;
        let now = r.clock.now();
        let result = (|| -> io::Result<()> {
            let files = rotated_files(path)?;
            let doomed: Vec<&PathBuf> = match keep {
                Keep::Files(n) => files.iter().rev().skip(n).collect(),
                Keep::Age(age) => files
                    .iter()
                    .filter(|f| {
                        std::fs::metadata(f)
                            .and_then(|m| m.modified())
                            .is_ok_and(|m| now.duration_since(m).is_ok_and(|a| a > age))
                    })
                    .collect(),
            };
            let mut first_error = None;
            for f in doomed {
                match std::fs::remove_file(f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        first_error.get_or_insert_with(|| {
                            io::Error::new(
                                e.kind(),
                                format!("{}: {}", f.display(), describe_os_error(&e)),
                            )
                        });
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        })();
        let name = &self.name;
        match result {
            Ok(()) => r.prune_fault.ok(&self.reporter, || {
                format!("removing old files of {name} works again")
            }),
            Err(e) => r.prune_fault.fail_quietly(
                &self.reporter,
                format!(
                    "cannot remove old files of {name}: {} (will try again)",
                    describe_os_error(&e)
                ),
            ),
        }
    }
}

/// Whether a rotation may be tried (none failed, or the wait after a failure is over).
fn retry_due(r: &Rotation, now: SystemTime) -> bool {
    match r.retry_at {
        None => true,
        Some(at) => now >= at,
    }
}

/// Whether `now` is in another period than the one the active file's data began in.
fn crossed(r: &Rotation, now: SystemTime) -> bool {
    match (r.rotate.period(), r.began) {
        (Some(period), Some(began)) => unix_seconds(began) / period != unix_seconds(now) / period,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_new_name_comes_after_the_highest_kept_number_of_its_stamp() {
        let dir = std::env::temp_dir().join(format!("mproxy-rotate-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ais.log");
        let stamp = "2026-11-27T17-42-10";
        let name = |n: &str| dir.join(format!("ais.log.{stamp}{n}"));
        assert_eq!(free_name(&path, stamp).unwrap(), name(""));
        // Retention removed the bare name and .1; .2 and .3 are kept.
        std::fs::write(name(".2"), b"x").unwrap();
        std::fs::write(name(".3"), b"x").unwrap();
        assert_eq!(free_name(&path, stamp).unwrap(), name(".4"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stamps_are_utc_dates() {
        // 2026-11-27T17:42:10Z
        let t = at(1_795_801_330);
        assert_eq!(stamp(t, Rotate::Daily), "2026-11-27");
        assert_eq!(stamp(t, Rotate::Hourly), "2026-11-27T17");
        assert_eq!(stamp(t, Rotate::Size(1)), "2026-11-27T17-42-10");
        assert_eq!(stamp(at(0), Rotate::Size(1)), "1970-01-01T00-00-00");
        // A leap day, and the last second of a year.
        assert_eq!(stamp(at(951_782_400), Rotate::Daily), "2000-02-29");
        assert_eq!(
            stamp(at(1_798_761_599), Rotate::Size(1)),
            "2026-12-31T23-59-59"
        );
    }

    #[test]
    fn only_our_names_are_rotated_files() {
        let base = "ais.log";
        assert_eq!(
            parse_rotated(base, "ais.log.2026-11-27"),
            Some(("2026-11-27", 0))
        );
        assert_eq!(
            parse_rotated(base, "ais.log.2026-11-27T17.12"),
            Some(("2026-11-27T17", 12))
        );
        assert_eq!(
            parse_rotated(base, "ais.log.2026-11-27T17-42-10.1"),
            Some(("2026-11-27T17-42-10", 1))
        );
        for other in [
            "ais.log",
            "ais.log.1",
            "ais.log.2026-11-27.gz",
            "ais.log.2026-11-27.01",
            "ais.log.2026-11-27.",
            "ais.log.2026-11-2x",
            "ais.log.2026-11-27T1",
            "ais.logx.2026-11-27",
            "other.log.2026-11-27",
        ] {
            assert_eq!(parse_rotated(base, other), None, "{other}");
        }
    }
}
