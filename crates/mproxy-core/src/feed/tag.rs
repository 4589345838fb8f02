//! The tag stage: a TAG block (NMEA 4.10) in front of every sentence with `s:` (the route's
//! station name) and/or `c:` (the receive time, UNIX seconds or milliseconds). A line that
//! has a TAG block keeps its fields and gets only those it lacks, after them; its checksum
//! is computed anew. Lines that are not `$`/`!` sentences are left as they are.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::nmea::checksum::{append, split_tag, xor};
use crate::nmea::sentence::Line;

/// The unit of the `c:` receive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum TagTime {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
}

/// What the tag stage adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    /// `s:` (one name for the route: every input's lines get it).
    pub station: Option<String>,
    /// `c:`, the time a batch was received.
    pub time: Option<TagTime>,
}

impl TagSpec {
    /// A station name fit for a TAG block: printable ASCII without `,` `*` `\` (they end a
    /// field, the block's checksum, the block), at most 64 characters (NMEA's block is 80).
    pub fn station_problem(station: &str) -> Option<String> {
        if station.is_empty() || station.len() > 64 {
            return Some(format!("{station:?} must be 1 to 64 characters"));
        }
        station
            .chars()
            .find(|c| !c.is_ascii_graphic() || matches!(c, ',' | '*' | '\\'))
            .map(|c| format!("{station:?} has \"{c}\"; a station name is printable ASCII without , * \\ or spaces"))
    }
}

/// The `c:` value for `at`.
pub(crate) fn time_text(time: TagTime, at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    match time {
        TagTime::Seconds => since.as_secs().to_string(),
        TagTime::Millis => since.as_millis().to_string(),
    }
}

/// Writes `line` with the fields it lacks into `out`; false (and `out` untouched) when it
/// needs none or is not a sentence.
pub(crate) fn add(
    line: &[u8],
    station: Option<&[u8]>,
    time: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> bool {
    let parts = Line::parse(line);
    if parts.sentence().is_none() {
        return false;
    }
    let fields = parts.tag.map(|t| split_tag(t).0).unwrap_or_default();
    let has = |name: &[u8]| fields.split(|&b| b == b',').any(|f| f.starts_with(name));
    let station = station.filter(|_| !has(b"s:"));
    let time = time.filter(|_| !has(b"c:"));
    if station.is_none() && time.is_none() {
        return false;
    }
    out.clear();
    out.push(b'\\');
    out.extend_from_slice(fields);
    for (name, value) in [(&b"s:"[..], station), (&b"c:"[..], time)] {
        if let Some(value) = value {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(name);
            out.extend_from_slice(value);
        }
    }
    let sum = xor(&out[1..]);
    append(out, sum);
    out.push(b'\\');
    out.extend_from_slice(parts.text);
    out.extend_from_slice(parts.ending);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::checksum::is_right;
    use std::time::Duration;

    #[test]
    fn a_tag_block_is_added_or_completed_with_a_right_checksum() {
        let mut out = Vec::new();
        let s = b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n";
        assert!(add(s, Some(b"kplex"), Some(b"1423133048"), &mut out));
        assert_eq!(
            out,
            b"\\s:kplex,c:1423133048*5F\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n"
        );
        assert!(is_right(&out));
        // A block with c: keeps it and gets s: after it.
        let tagged = b"\\c:1423133048*50\\$GPGGA,1*00\n";
        assert!(add(tagged, Some(b"r1"), Some(b"99"), &mut out));
        assert_eq!(out, b"\\c:1423133048,s:r1*76\\$GPGGA,1*00\n");
        let block = crate::nmea::tag_block::split(&out).0.map(split_tag);
        let right = block.map(|(f, s)| crate::nmea::checksum::verdict(f, s));
        assert_eq!(right, Some(crate::nmea::checksum::Verdict::Right));
        // Nothing lacking, or not a sentence: unchanged.
        assert!(!add(
            b"\\s:a,c:1*00\\$GPGGA*00\n",
            Some(b"r1"),
            Some(b"2"),
            &mut out
        ));
        assert!(!add(b"hello\n", Some(b"r1"), None, &mut out));
        assert!(add(b"$GPGGA,1*00", None, Some(b"7"), &mut out));
        assert_eq!(out, b"\\c:7*6E\\$GPGGA,1*00");
    }

    #[test]
    fn times_and_station_names() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(time_text(TagTime::Seconds, at), "1700000000");
        assert_eq!(time_text(TagTime::Millis, at), "1700000000123");
        assert_eq!(TagSpec::station_problem("rcv-1"), None);
        assert!(TagSpec::station_problem("a,b").is_some());
        assert!(TagSpec::station_problem("a b").is_some());
        assert!(TagSpec::station_problem("").is_some());
    }
}
