//! Replaying a recorded log at its recorded timing (what gpsfake and NMEA simulators do): the
//! time of each line, and when it is due. Times come from the line's TAG block `c:` field
//! (UNIX seconds, or milliseconds when the number is too large for seconds), or from a leading
//! field the user names: ISO 8601 (`2024-05-01T12:00:00.250Z`) or UNIX seconds
//! (`1714564800.25`), ended by one space, tab or `;`, and removed before the line is sent. A
//! line that starts as NMEA lines do (`$`, `!`, a TAG block's `\`) or is blank has no such
//! field; any other start must be a time.
//!
//! The first timed line is due at once; each later one at its offset from the first divided by
//! the speed, and never before the line ahead of it (times that go backwards do not reorder or
//! hurry the replay). A line without a time is due with the line before it. The state is two
//! numbers: memory does not grow with the log.
//!
//! The ISO 8601 reader is our own (a dozen lines over the proleptic Gregorian calendar): the
//! one form recorders write, with `Z` or a `±HH:MM` offset, is all it takes, and a date crate
//! would bring time zones and locales for nothing.
//!
//! The framed source (`source/framed.rs`) reads the lines and waits for each to be due.

use std::time::Duration;

use crate::nmea::tag_block;

/// Where a line's recorded time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The TAG block's `c:` field; the line is sent as it is.
    Tag,
    /// A leading ISO 8601 field, removed with its separator.
    Iso,
    /// A leading UNIX-seconds field, removed with its separator.
    Unix,
}

impl TimeSource {
    /// Its name in options and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Tag => "tag",
            TimeSource::Iso => "iso",
            TimeSource::Unix => "unix",
        }
    }
}

/// A line's time (seconds since 1970, UTC) and what is to be sent of it.
#[derive(Debug, PartialEq)]
pub(crate) struct Timed<'a> {
    pub(crate) time: Option<f64>,
    pub(crate) send: &'a [u8],
}

/// A leading field that is not a time: the line is refused with one line naming the option.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadTime(pub(crate) String);

/// UNIX seconds above this are taken as milliseconds (year 5138 in seconds).
const MILLIS_ABOVE: f64 = 1e11;

/// The time of `line` by `source`, and the bytes to send.
pub(crate) fn time_of(line: &[u8], source: TimeSource) -> Result<Timed<'_>, BadTime> {
    match source {
        TimeSource::Tag => {
            let (tag, _) = tag_block::split(line);
            let time = tag.and_then(tag_time);
            Ok(Timed { time, send: line })
        }
        TimeSource::Iso | TimeSource::Unix => {
            // A line that starts as NMEA lines do (a sentence, a TAG block) or is blank has
            // no time field: it goes right after the line before it.
            if matches!(line.first(), Some(b'$' | b'!' | b'\\'))
                || line.iter().all(u8::is_ascii_whitespace)
            {
                return Ok(Timed {
                    time: None,
                    send: line,
                });
            }
            let end = line.iter().position(|&b| matches!(b, b' ' | b'\t' | b';'));
            let Some(end) = end else {
                return Err(BadTime(format!(
                    "{} has no time field ended by a space, tab or ;",
                    shown(line)
                )));
            };
            let field = &line[..end];
            let time = match source {
                TimeSource::Iso => iso8601(field),
                _ => unix_seconds(field),
            };
            match time {
                Some(t) => Ok(Timed {
                    time: Some(t),
                    send: &line[end + 1..],
                }),
                None => Err(BadTime(format!(
                    "{} is not {}",
                    shown(field),
                    if source == TimeSource::Iso {
                        "an ISO 8601 time (e.g. 2024-05-01T12:00:00.250Z)"
                    } else {
                        "UNIX seconds (e.g. 1714564800.25)"
                    }
                ))),
            }
        }
    }
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
    format!("{:?}", text.trim_end())
}

/// `c:` of a TAG block's contents (`s:rcv1,c:1700000000*5A`).
fn tag_time(tag: &[u8]) -> Option<f64> {
    let body = tag.split(|&b| b == b'*').next()?;
    body.split(|&b| b == b',')
        .find_map(|f| f.strip_prefix(b"c:"))
        .and_then(unix_seconds)
        .map(|t| if t > MILLIS_ABOVE { t / 1000.0 } else { t })
}

fn unix_seconds(field: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(field).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    text.parse::<f64>().ok().filter(|t| t.is_finite())
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`, `T` or a space between date and time.
fn iso8601(field: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(field).ok()?;
    // Every index below is a byte's: in ASCII it is a character's too (no slice can split a
    // character and panic).
    if !text.is_ascii() {
        return None;
    }
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if text.len() < 20 || !matches!(&text[10..11], "T" | "t") {
        return None;
    }
    let (y, mo, d) = (
        num(text.get(0..4)?)?,
        num(text.get(5..7)?)?,
        num(text.get(8..10)?)?,
    );
    let (h, mi, s) = (
        num(text.get(11..13)?)?,
        num(text.get(14..16)?)?,
        num(text.get(17..19)?)?,
    );
    if &text[4..5] != "-" || &text[7..8] != "-" || &text[13..14] != ":" || &text[16..17] != ":" {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!("0.{}", &after[..digits]).parse().ok()?;
        rest = &after[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[0..1], "+" | "-") && &rest[3..4] == ":" => {
            let minutes = num(&rest[1..3])? * 60 + num(&rest[4..6])?;
            if &rest[0..1] == "+" {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let seconds = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    Some(seconds as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// When each line is due, as an offset from the replay's start.
#[derive(Debug)]
pub(crate) struct ReplayClock {
    speed: f64,
    /// The first timed line's time.
    first: Option<f64>,
    /// The last line's due offset: no line is due before it.
    last_due: Duration,
}

impl ReplayClock {
    /// `speed`: 1 is the recorded timing, 2 twice as fast (positive, finite).
    pub(crate) fn new(speed: f64) -> Self {
        ReplayClock {
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
            first: None,
            last_due: Duration::ZERO,
        }
    }

    /// The due offset of a line recorded at `time` (None: due with the line before it).
    pub(crate) fn due(&mut self, time: Option<f64>) -> Duration {
        let Some(t) = time else {
            return self.last_due;
        };
        let first = *self.first.get_or_insert(t);
        let offset = ((t - first) / self.speed).max(0.0);
        // Within Duration's range (a log spanning past it is due at its end).
        let due = Duration::try_from_secs_f64(offset).unwrap_or(Duration::MAX);
        self.last_due = self.last_due.max(due);
        self.last_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_block_times_in_seconds_and_milliseconds() {
        let line = b"\\s:rcv1,c:1714564800*5A\\!AIVDM,1,1,,A,x,0*00\n";
        assert_eq!(
            time_of(line, TimeSource::Tag),
            Ok(Timed {
                time: Some(1_714_564_800.0),
                send: &line[..]
            })
        );
        let ms = b"\\c:1714564800250*00\\$GPGGA,1*00\n";
        assert_eq!(
            time_of(ms, TimeSource::Tag).unwrap().time,
            Some(1_714_564_800.25)
        );
        assert_eq!(
            time_of(b"$GPGGA,1*00\n", TimeSource::Tag).unwrap().time,
            None
        );
    }

    #[test]
    fn leading_fields_are_read_and_removed() {
        let iso = b"2024-05-01T12:00:00.250Z !AIVDM,1,1,,A,x,0*00\n";
        assert_eq!(
            time_of(iso, TimeSource::Iso),
            Ok(Timed {
                time: Some(1_714_564_800.25),
                send: &b"!AIVDM,1,1,,A,x,0*00\n"[..]
            })
        );
        let offset = b"2024-05-01T14:00:00+02:00\t$GPGGA\n";
        assert_eq!(
            time_of(offset, TimeSource::Iso).unwrap().time,
            Some(1_714_564_800.0)
        );
        let unix = b"1714564800.25;$GPGGA,1*00\n";
        assert_eq!(
            time_of(unix, TimeSource::Unix),
            Ok(Timed {
                time: Some(1_714_564_800.25),
                send: &b"$GPGGA,1*00\n"[..]
            })
        );
        assert_eq!(time_of(b"\n", TimeSource::Unix).unwrap().time, None);
    }

    #[test]
    fn a_bad_time_field_says_what_it_is_not() {
        assert_eq!(
            time_of(b"yesterday !AIVDM\n", TimeSource::Unix),
            Err(BadTime(
                "\"yesterday\" is not UNIX seconds (e.g. 1714564800.25)".into()
            ))
        );
        assert_eq!(
            time_of(b"2024-13-01T00:00:00Z $X\n", TimeSource::Iso),
            Err(BadTime(
                "\"2024-13-01T00:00:00Z\" is not an ISO 8601 time (e.g. 2024-05-01T12:00:00.250Z)"
                    .into()
            ))
        );
        // A character of several bytes where the format has one: refused, not a panic.
        for line in ["2024-05-01é2:00:00Z $X\n", "2024-05-01T12:00:00é0:00 $X\n"] {
            assert!(matches!(
                time_of(line.as_bytes(), TimeSource::Iso),
                Err(BadTime(_))
            ));
        }
        assert_eq!(
            time_of(b"GPGGA-without-a-field\n", TimeSource::Iso),
            Err(BadTime(
                "\"GPGGA-without-a-field\" has no time field ended by a space, tab or ;".into()
            ))
        );
        // Lines as NMEA starts them have no time field: sent whole, after the line before.
        for line in [
            &b"!AIVDM,1,1,,A,x,0*00\n"[..],
            b"$GPGGA,1*00\n",
            b"\\c:1*00\\$X\n",
            b"\r\n",
        ] {
            assert_eq!(
                time_of(line, TimeSource::Unix),
                Ok(Timed {
                    time: None,
                    send: line
                })
            );
        }
    }

    #[test]
    fn lines_are_due_at_their_offset_over_the_speed_and_never_before_the_one_ahead() {
        let mut clock = ReplayClock::new(2.0);
        assert_eq!(clock.due(Some(100.0)), Duration::ZERO);
        assert_eq!(clock.due(Some(101.0)), Duration::from_millis(500));
        // Without a time: with the line before it.
        assert_eq!(clock.due(None), Duration::from_millis(500));
        // Backwards: not earlier than the line ahead.
        assert_eq!(clock.due(Some(100.2)), Duration::from_millis(500));
        assert_eq!(clock.due(Some(104.0)), Duration::from_secs(2));
        // Far past Duration's range: due at its end, no panic.
        assert_eq!(clock.due(Some(f64::MAX)), Duration::MAX);
    }
}
